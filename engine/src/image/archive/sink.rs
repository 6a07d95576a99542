//! Where `husk save` writes: a tar stream (a file or stdout) or a
//! directory (oci-dir, docker-dir). Entries get fixed metadata (owner 0,
//! mode 0644/0755, mtime 0), so the same image saves to the same bytes.

use std::fs::File;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

/// A place to write an archive's files.
pub trait Sink {
    /// Adds a directory.
    fn dir(&mut self, name: &str) -> io::Result<()>;
    /// Adds a file of exactly `size` bytes read from `data`.
    fn file(&mut self, name: &str, size: u64, data: &mut dyn Read) -> io::Result<()>;
    /// Writes everything out.
    fn finish(self: Box<Self>) -> io::Result<()>;
}

/// A tar stream.
pub struct TarSink<W: Write> {
    builder: tar::Builder<W>,
}

impl<W: Write> std::fmt::Debug for TarSink<W> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TarSink")
    }
}

impl<W: Write> TarSink<W> {
    /// A tar written to `w`.
    pub fn new(w: W) -> Self {
        let mut builder = tar::Builder::new(w);
        builder.mode(tar::HeaderMode::Deterministic);
        TarSink { builder }
    }
}

fn header(kind: tar::EntryType, mode: u32, size: u64) -> tar::Header {
    let mut h = tar::Header::new_ustar();
    h.set_entry_type(kind);
    h.set_mode(mode);
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(0);
    h.set_size(size);
    h
}

/// Refuses a reader that gives more or fewer bytes than announced (a tar
/// entry's size is written before its data).
struct Exact<'a> {
    inner: &'a mut dyn Read,
    left: u64,
}

impl Read for Exact<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.left == 0 {
            return Ok(0);
        }
        let want = (buf.len() as u64).min(self.left) as usize;
        let n = self.inner.read(&mut buf[..want])?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!("{} bytes short of the announced size", self.left),
            ));
        }
        self.left -= n as u64;
        Ok(n)
    }
}

impl<W: Write> Sink for TarSink<W> {
    fn dir(&mut self, name: &str) -> io::Result<()> {
        let mut h = header(tar::EntryType::Directory, 0o755, 0);
        self.builder
            .append_data(&mut h, format!("{name}/"), io::empty())
    }

    fn file(&mut self, name: &str, size: u64, data: &mut dyn Read) -> io::Result<()> {
        let mut h = header(tar::EntryType::Regular, 0o644, size);
        self.builder.append_data(
            &mut h,
            name,
            Exact {
                inner: data,
                left: size,
            },
        )
    }

    fn finish(self: Box<Self>) -> io::Result<()> {
        let mut w = self.builder.into_inner()?;
        w.flush()
    }
}

/// A directory on disk.
#[derive(Debug)]
pub struct DirSink {
    root: PathBuf,
}

impl DirSink {
    /// Writes under `root` (created if missing).
    pub fn new(root: &Path) -> io::Result<DirSink> {
        std::fs::create_dir_all(root)?;
        Ok(DirSink {
            root: root.to_owned(),
        })
    }
}

impl Sink for DirSink {
    fn dir(&mut self, name: &str) -> io::Result<()> {
        std::fs::create_dir_all(self.root.join(name))
    }

    fn file(&mut self, name: &str, size: u64, data: &mut dyn Read) -> io::Result<()> {
        let mut f = File::create(self.root.join(name))?;
        io::copy(
            &mut Exact {
                inner: data,
                left: size,
            },
            &mut f,
        )?;
        f.flush()
    }

    fn finish(self: Box<Self>) -> io::Result<()> {
        Ok(())
    }
}
