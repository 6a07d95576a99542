//! Tar export of a directory tree (`husk export`, `husk cp` out of a
//! container, and with [`ExportOptions::layer_diff`] a layer tar of an
//! overlay upper directory). Deterministic: entries in bytewise name order,
//! parents before children, numeric owners, whole-second mtimes, xattrs as
//! PAX records, hard links as links to the first name of their inode.

use std::collections::HashMap;
use std::ffi::CStr;
use std::fs::File;
use std::io::Write;
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use super::beneath::{self, Resolve};
use super::error::{io_err, Result, StorageError};
use super::idmap::IdMap;
use super::sys::{self, cstr, Kind};
use super::tar_writer::{TarHeader, TarKind, TarWriter};
use super::unpack::name::{whiteout_name, OPAQUE_MARKER};
use super::xattr::{self, Target};

/// How to export.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportOptions {
    /// Write overlay whiteouts (0:0 devices) and opaque directories as OCI
    /// `.wh.` entries, for turning an upper directory into a layer.
    pub layer_diff: bool,
    /// The store's id map: stored owners are written as container ids.
    pub ids: IdMap,
}

impl Default for ExportOptions {
    fn default() -> Self {
        ExportOptions {
            layer_diff: false,
            ids: IdMap::identity(),
        }
    }
}

/// Writes everything under `dir` (not `dir` itself) as a tar to `out`.
pub fn export_tree<W: Write>(dir: &Path, out: W, opts: &ExportOptions) -> Result<W> {
    let fd = sys::open_dir(dir).map_err(io_err("opening", dir))?;
    let mut x = Exporter::new(out, opts);
    x.children(fd.as_fd(), b"")?;
    x.finish()
}

/// Writes `path` inside the tree `root` as a tar whose one top entry is the
/// path's last component (with everything below it when a directory).
/// Links on the way are resolved as inside the container (`root` is `/`);
/// the last component itself is not followed, as `docker cp` does. The root
/// itself (`/`) exports its content.
pub fn export_path<W: Write>(root: &Path, path: &Path, out: W, opts: &ExportOptions) -> Result<W> {
    let rootfd = sys::open_dir(root).map_err(io_err("opening", root))?;
    let rel = super::unpack::name::normalize(path.as_os_str().as_bytes()).map_err(|e| {
        StorageError::Export {
            path: path.display().to_string(),
            reason: e.to_string(),
        }
    })?;
    let mut x = Exporter::new(out, opts);
    if rel.is_empty() {
        x.children(rootfd.as_fd(), b"")?;
        return x.finish();
    }
    let (parent, base) = super::unpack::name::split(&rel);
    let bad = |e: std::io::Error| StorageError::Export {
        path: path.display().to_string(),
        reason: e.to_string(),
    };
    let pfd = beneath::open(
        rootfd.as_fd(),
        parent,
        libc::O_RDONLY | libc::O_DIRECTORY,
        Resolve::InRoot,
    )
    .map_err(bad)?;
    let name = cstr(base).map_err(bad)?;
    let st = sys::lstatat(pfd.as_fd(), &name).map_err(bad)?;
    x.entry(pfd.as_fd(), &name, &st, base.to_vec())?;
    x.finish()
}

struct Exporter<'a, W: Write> {
    w: TarWriter<W>,
    opts: &'a ExportOptions,
    links: HashMap<(u64, u64), Vec<u8>>,
}

fn join(rel: &[u8], name: &[u8]) -> Vec<u8> {
    let mut v = rel.to_vec();
    if !v.is_empty() {
        v.push(b'/');
    }
    v.extend_from_slice(name);
    v
}

impl<'a, W: Write> Exporter<'a, W> {
    fn new(out: W, opts: &'a ExportOptions) -> Self {
        Exporter {
            w: TarWriter::new(out),
            opts,
            links: HashMap::new(),
        }
    }

    fn finish(self) -> Result<W> {
        self.w.finish().map_err(|e| StorageError::Export {
            path: String::new(),
            reason: format!("writing the archive: {e}"),
        })
    }

    fn children(&mut self, dir: BorrowedFd, rel: &[u8]) -> Result<()> {
        let err = |e: std::io::Error| StorageError::Export {
            path: String::from_utf8_lossy(rel).into_owned(),
            reason: e.to_string(),
        };
        if self.opts.layer_diff && xattr::is_opaque(dir).map_err(err)? {
            self.marker(&join(rel, OPAQUE_MARKER))?;
        }
        for name in sys::list_dir(dir).map_err(err)? {
            let st = sys::lstatat(dir, &name).map_err(err)?;
            self.entry(dir, &name, &st, join(rel, name.to_bytes()))?;
        }
        Ok(())
    }

    /// An empty, root-owned regular file (an OCI whiteout or marker).
    fn marker(&mut self, arcname: &[u8]) -> Result<()> {
        let h = TarHeader {
            name: arcname,
            kind: TarKind::File,
            mode: 0,
            uid: 0,
            gid: 0,
            size: 0,
            mtime: 0,
            link: b"",
            device: (0, 0),
            xattrs: &[],
        };
        self.w.append(&h, None).map_err(|e| StorageError::Export {
            path: String::from_utf8_lossy(arcname).into_owned(),
            reason: e.to_string(),
        })
    }

    fn entry(
        &mut self,
        dir: BorrowedFd,
        name: &CStr,
        st: &libc::stat,
        arcname: Vec<u8>,
    ) -> Result<()> {
        let shown = String::from_utf8_lossy(&arcname).into_owned();
        let err = |e: std::io::Error| StorageError::Export {
            path: shown.clone(),
            reason: e.to_string(),
        };
        let kind = Kind::of(st.st_mode);
        if self.opts.layer_diff && sys::is_whiteout(st) {
            let (parent, base) = super::unpack::name::split(&arcname);
            return self.marker(&join(parent, &whiteout_name(base)));
        }
        let (tkind, target) = match kind {
            Kind::Socket => return Ok(()),
            Kind::Dir => (TarKind::Dir, Vec::new()),
            Kind::Symlink => (TarKind::Symlink, sys::readlinkat(dir, name).map_err(err)?),
            Kind::Fifo => (TarKind::Fifo, Vec::new()),
            Kind::Char => (TarKind::Char, Vec::new()),
            Kind::Block => (TarKind::Block, Vec::new()),
            Kind::File => match self.links.get(&(st.st_dev, st.st_ino)) {
                Some(first) => (TarKind::Hardlink, first.clone()),
                None => (TarKind::File, Vec::new()),
            },
        };
        if tkind == TarKind::File && st.st_nlink > 1 {
            self.links.insert((st.st_dev, st.st_ino), arcname.clone());
        }
        let mut file = None;
        let xattrs = match kind {
            Kind::Dir | Kind::File => {
                let flags = if kind == Kind::Dir {
                    libc::O_RDONLY | libc::O_DIRECTORY | libc::O_NOFOLLOW
                } else {
                    libc::O_RDONLY | libc::O_NOFOLLOW
                };
                let fd = sys::openat(dir, name, flags, 0).map_err(err)?;
                let x = xattr::read_all(Target::Fd(fd.as_fd())).map_err(err)?;
                file = Some(fd);
                x
            }
            _ => xattr::read_all(Target::At(dir, name)).map_err(err)?,
        };
        let mut tar_name = arcname.clone();
        if kind == Kind::Dir {
            tar_name.push(b'/');
        }
        let size = if tkind == TarKind::File {
            st.st_size as u64
        } else {
            0
        };
        let h = TarHeader {
            name: &tar_name,
            kind: tkind,
            mode: st.st_mode & 0o7777,
            uid: u64::from(self.opts.ids.uid_back(st.st_uid).unwrap_or(st.st_uid)),
            gid: u64::from(self.opts.ids.gid_back(st.st_gid).unwrap_or(st.st_gid)),
            size,
            mtime: st.st_mtime,
            link: &target,
            device: (libc::major(st.st_rdev), libc::minor(st.st_rdev)),
            xattrs: &xattrs,
        };
        match (tkind, file) {
            (TarKind::File, Some(fd)) => {
                let mut f = File::from(fd);
                self.w.append(&h, Some(&mut f)).map_err(err)?;
            }
            (TarKind::Dir, Some(fd)) => {
                self.w.append(&h, None).map_err(err)?;
                self.children(fd.as_fd(), &arcname)?;
            }
            _ => self.w.append(&h, None).map_err(err)?,
        }
        Ok(())
    }
}
