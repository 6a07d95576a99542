//! Writing one blob: the bytes are hashed as they arrive and land in an
//! invisible file (O_TMPFILE in `<root>/blobs/tmp`), which becomes visible
//! under its digest only in [`BlobWriter::commit`], once digest and size
//! match. A writer dropped (or a process killed) before that leaves nothing:
//! the kernel frees an unlinked O_TMPFILE inode. Filesystems without
//! O_TMPFILE get a named temporary file, flocked by its writer so that
//! [`super::staging::sweep`] removes it once its writer is gone.

use std::ffi::CString;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};

use crate::image::digest::{Algorithm, Digest, Digester};

use super::error::{io_err, Result, StorageError};
use super::staging::unique_name;
use super::sys::{self, cstr};

/// Where the bytes of an uncommitted blob live.
#[derive(Debug)]
enum Tmp {
    /// An O_TMPFILE: no name until committed.
    Anonymous,
    /// A named file in the tmp directory.
    Named(CString),
}

/// How [`BlobWriter`] should create its temporary file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TmpMode {
    /// O_TMPFILE where the filesystem has it, else a named file.
    Auto,
    /// Always a named file (the fallback path, forced by tests).
    Named,
}

/// A blob being written; see the module docs. Implements [`Write`].
pub struct BlobWriter {
    out: Option<Digester<BufWriter<File>>>,
    tmp: Tmp,
    tmp_dir: OwnedFd,
    tmp_path: PathBuf,
    blobs: PathBuf,
    expected: Option<Digest>,
    size: Option<u64>,
    overflowed: bool,
    sync: bool,
    done: bool,
}

impl std::fmt::Debug for BlobWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlobWriter")
            .field("expected", &self.expected)
            .field("size", &self.size)
            .field("written", &self.written())
            .finish_non_exhaustive()
    }
}

/// A bigger buffer than std's 8 KiB: network reads arrive in small chunks
/// and each write(2) to the file costs more than the copy.
const BUF: usize = 256 * 1024;

impl BlobWriter {
    /// Opens a temporary file in `tmp_dir` for a blob to be committed under
    /// `blobs/<algorithm>/<hex>`.
    pub(crate) fn create(
        tmp_dir: &Path,
        blobs: &Path,
        expected: Option<&Digest>,
        size: Option<u64>,
        mode: TmpMode,
        sync: bool,
    ) -> Result<BlobWriter> {
        let dir = sys::open_dir(tmp_dir).map_err(io_err("opening", tmp_dir))?;
        let (fd, tmp) = open_tmp(&dir, tmp_dir, mode)?;
        let algorithm = expected.map_or(Algorithm::Sha256, |d| d.algorithm());
        let file = File::from(fd);
        Ok(BlobWriter {
            out: Some(Digester::new(
                BufWriter::with_capacity(BUF, file),
                algorithm,
            )),
            tmp,
            tmp_dir: dir,
            tmp_path: tmp_dir.to_owned(),
            blobs: blobs.to_owned(),
            expected: expected.cloned(),
            size,
            overflowed: false,
            sync,
            done: false,
        })
    }

    /// Bytes written so far.
    pub fn written(&self) -> u64 {
        self.out.as_ref().map_or(0, |o| o.written())
    }

    /// Whether a write went past the expected size (and was refused).
    pub fn overflowed(&self) -> bool {
        self.overflowed
    }

    /// Checks digest and size, writes the data back to disk (fdatasync: a
    /// name in the store is a promise about the content) and links the blob
    /// into place. A blob already present under the digest (another writer
    /// won) is left as it is. Returns the digest.
    pub fn commit(mut self) -> Result<Digest> {
        let what = self.expected.clone();
        let Some(mut out) = self.out.take() else {
            unreachable!("a blob writer is committed once: commit takes it by value")
        };
        out.flush().map_err(io_err("writing", &self.tmp_path))?;
        let (digest, n, buf) = out.finish();
        let file = buf
            .into_inner()
            .map_err(|e| io_err("writing", self.tmp_path.clone())(e.into_error()))?;
        if let Some(want) = self.size {
            if n != want {
                return Err(StorageError::SizeMismatch {
                    digest: what.unwrap_or(digest),
                    expected: want,
                    actual: n,
                });
            }
        }
        if let Some(want) = &self.expected {
            if *want != digest {
                return Err(StorageError::DigestMismatch {
                    expected: want.clone(),
                    actual: digest,
                    size: n,
                });
            }
        }
        let dest_dir = self.blobs.join(digest.algorithm().name());
        let dest = dest_dir.join(digest.hex());
        if self.sync {
            file.sync_data().map_err(io_err("syncing", &dest))?;
        }
        std::fs::create_dir_all(&dest_dir).map_err(io_err("creating", &dest_dir))?;
        let dfd = sys::open_dir(&dest_dir).map_err(io_err("opening", &dest_dir))?;
        let name = cstr(digest.hex().as_bytes()).map_err(io_err("committing", &dest))?;
        let linked = match &self.tmp {
            Tmp::Anonymous => sys::link_fd(file.as_fd(), dfd.as_fd(), &name),
            Tmp::Named(tmp) => sys::rename_noreplace(self.tmp_dir.as_fd(), tmp, dfd.as_fd(), &name),
        };
        match linked {
            Ok(()) => self.done = true,
            Err(e) if e.raw_os_error() == Some(libc::EEXIST) => {}
            Err(e) => return Err(io_err("committing blob as", &dest)(e)),
        }
        Ok(digest)
    }
}

fn open_tmp(dir: &OwnedFd, dir_path: &Path, mode: TmpMode) -> Result<(OwnedFd, Tmp)> {
    if mode == TmpMode::Auto {
        match sys::openat(dir.as_fd(), c".", libc::O_TMPFILE | libc::O_RDWR, 0o644) {
            Ok(fd) => return Ok((fd, Tmp::Anonymous)),
            // Filesystems without O_TMPFILE answer one of these.
            Err(e)
                if matches!(
                    e.raw_os_error(),
                    Some(libc::EOPNOTSUPP) | Some(libc::EISDIR) | Some(libc::EINVAL)
                ) => {}
            Err(e) => return Err(io_err("creating a temporary file in", dir_path)(e)),
        }
    }
    loop {
        let name = unique_name("blob");
        let cname = cstr(name.as_bytes()).map_err(io_err("creating", dir_path.join(&name)))?;
        let fd = match sys::openat(
            dir.as_fd(),
            &cname,
            libc::O_RDWR | libc::O_CREAT | libc::O_EXCL | libc::O_NOFOLLOW,
            0o644,
        ) {
            Ok(fd) => fd,
            Err(e) if e.raw_os_error() == Some(libc::EEXIST) => continue,
            Err(e) => return Err(io_err("creating", dir_path.join(&name))(e)),
        };
        sys::flock(fd.as_fd(), true, false).map_err(io_err("locking", dir_path.join(&name)))?;
        // A sweeper may have removed it between create and flock.
        if sys::fstat(fd.as_fd())
            .map_err(io_err("locking", dir_path.join(&name)))?
            .st_nlink
            == 0
        {
            continue;
        }
        return Ok((fd, Tmp::Named(cname)));
    }
}

impl Write for BlobWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if let Some(max) = self.size {
            if self.written() + buf.len() as u64 > max {
                self.overflowed = true;
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("blob is larger than the {max} bytes its descriptor states"),
                ));
            }
        }
        match &mut self.out {
            Some(o) => o.write(buf),
            None => Err(io::Error::other("blob writer already committed")),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match &mut self.out {
            Some(o) => o.flush(),
            None => Ok(()),
        }
    }
}

impl Drop for BlobWriter {
    fn drop(&mut self) {
        if let (false, Tmp::Named(name)) = (self.done, &self.tmp) {
            let _ = sys::unlinkat(self.tmp_dir.as_fd(), name, false);
        }
    }
}
