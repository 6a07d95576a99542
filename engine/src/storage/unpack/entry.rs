//! Creating one tar entry inside the layer directory. Every object is made
//! relative to its parent's directory fd, which was opened without
//! following any symbolic link, and the last component is created with
//! O_EXCL / mknodat / symlinkat, which never follow one either: a link
//! planted by an earlier entry can be replaced, never written through.

use std::ffi::CString;
use std::io::{Read, Write};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::rc::Rc;

use crate::storage::beneath::{self, Resolve};
use crate::storage::error::EntryError;
use crate::storage::idmap::Ranges;
use crate::storage::sys::{self, cstr, Kind};
use crate::storage::xattr::{self, Target};

use super::name::{self, Whiteout};
use super::{DevicePolicy, UnpackOptions, WhiteoutFormat};

/// Owner, mode, times and xattrs of an entry, already mapped to stored ids.
#[derive(Debug)]
pub(super) struct Meta {
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub mtime: libc::timespec,
    pub xattrs: Vec<(CString, Vec<u8>)>,
}

/// One entry to create, its name normalised.
#[derive(Debug)]
pub(super) struct Item<'a> {
    pub rel: &'a [u8],
    pub kind: EntryKind,
    pub meta: Meta,
    pub link: Option<&'a [u8]>,
    pub device: (u32, u32),
    pub size: u64,
}

/// What a tar entry is, as far as creating it goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum EntryKind {
    File,
    Dir,
    Symlink,
    Hardlink,
    Fifo,
    Char,
    Block,
}

fn io(op: &'static str) -> impl FnOnce(std::io::Error) -> EntryError {
    move |source| EntryError::Io { op, source }
}

fn errno(e: &std::io::Error) -> i32 {
    e.raw_os_error().unwrap_or(0)
}

/// The state of one layer's unpacking.
pub(super) struct Unpacker<'a> {
    root: Rc<OwnedFd>,
    opts: &'a UnpackOptions,
    /// The parent directory of the previous entry: tars list siblings
    /// together, so most entries reuse it.
    cached: Option<(Vec<u8>, Rc<OwnedFd>)>,
    /// Directories whose mtime is set at the end (creating entries inside
    /// them changes it).
    dirs: Vec<(Vec<u8>, libc::timespec)>,
    buf: Vec<u8>,
    pub entries: u64,
    pub disk_size: u64,
}

const COPY_BUF: usize = 256 * 1024;

impl<'a> Unpacker<'a> {
    pub(super) fn new(root: OwnedFd, opts: &'a UnpackOptions) -> Self {
        Unpacker {
            root: Rc::new(root),
            opts,
            cached: None,
            dirs: Vec::new(),
            buf: vec![0; COPY_BUF],
            entries: 0,
            disk_size: 0,
        }
    }

    /// Maps the tar's owner to stored ids, refusing ids the store cannot
    /// hold.
    pub(super) fn owner(&self, uid: u64, gid: u64) -> Result<(u32, u32), EntryError> {
        let ids = &self.opts.ids;
        let u = ids.uid(uid).ok_or_else(|| EntryError::Unmapped {
            which: "uid",
            id: uid,
            range: Ranges(&ids.uids).to_string(),
        })?;
        let g = ids.gid(gid).ok_or_else(|| EntryError::Unmapped {
            which: "gid",
            id: gid,
            range: Ranges(&ids.gids).to_string(),
        })?;
        Ok((u, g))
    }

    /// Creates one entry; `data` yields a regular file's content.
    pub(super) fn create(&mut self, item: &Item, data: &mut dyn Read) -> Result<(), EntryError> {
        let Item {
            rel,
            kind,
            ref meta,
            link,
            device,
            size,
        } = *item;
        self.entries += 1;
        if rel.is_empty() {
            if kind != EntryKind::Dir {
                return Err(EntryError::Unsupported(
                    "other than a directory for the layer root".into(),
                ));
            }
            let root = Rc::clone(&self.root);
            self.dir_meta(root.as_fd(), meta)?;
            self.dirs.push((Vec::new(), meta.mtime));
            return Ok(());
        }
        let (parent, base) = name::split(rel);
        let pfd = self.parent_dir(parent)?;
        let pfd = pfd.as_fd();
        let cname = cstr(base).map_err(io("naming"))?;
        match name::classify(base)? {
            Whiteout::Meta => return Ok(()),
            Whiteout::Opaque => return self.opaque(pfd, &cname),
            Whiteout::Remove(target) => return self.whiteout(pfd, &cname, target),
            Whiteout::No => {}
        }
        match kind {
            EntryKind::File => self.file(pfd, &cname, meta, size, data),
            EntryKind::Dir => self.dir(pfd, &cname, rel, meta),
            EntryKind::Symlink => self.symlink(pfd, &cname, meta, link.unwrap_or_default()),
            EntryKind::Hardlink => self.hardlink(pfd, &cname, rel, link.unwrap_or_default()),
            EntryKind::Fifo => self.node(pfd, &cname, meta, libc::S_IFIFO, 0),
            EntryKind::Char | EntryKind::Block => {
                let (major, minor) = device;
                let (kind_name, ifmt) = if kind == EntryKind::Char {
                    ("character", libc::S_IFCHR)
                } else {
                    ("block", libc::S_IFBLK)
                };
                if self.opts.devices == DevicePolicy::Refuse {
                    return Err(EntryError::Device {
                        kind: kind_name,
                        major,
                        minor,
                        hint: "; a rootful caller may allow them with DevicePolicy::Create",
                    });
                }
                self.node(pfd, &cname, meta, ifmt, libc::makedev(major, minor))
            }
        }
    }

    /// Sets the deferred directory mtimes, deepest first.
    pub(super) fn finish(mut self) -> Result<(), (String, EntryError)> {
        let dirs = std::mem::take(&mut self.dirs);
        for (rel, mtime) in dirs.iter().rev() {
            let show = || String::from_utf8_lossy(rel).into_owned();
            let fd = beneath::open(
                self.root.as_fd(),
                rel,
                libc::O_RDONLY | libc::O_DIRECTORY,
                Resolve::NoSymlinks,
            );
            match fd {
                Ok(fd) => sys::futimens(fd.as_fd(), *mtime)
                    .map_err(|e| (show(), io("setting the mtime")(e)))?,
                // Replaced by a later entry of another kind: nothing to date.
                Err(e) if matches!(errno(&e), libc::ENOENT | libc::ELOOP | libc::ENOTDIR) => {}
                Err(e) => return Err((show(), io("opening to set the mtime")(e))),
            }
        }
        Ok(())
    }

    /// Opens (creating missing directories, 0755 and owned by the image's
    /// root, as other engines do) the parent directory `rel`, refusing
    /// symlinks and non-directories on the way.
    fn parent_dir(&mut self, rel: &[u8]) -> Result<Rc<OwnedFd>, EntryError> {
        if rel.is_empty() {
            return Ok(Rc::clone(&self.root));
        }
        if let Some((p, fd)) = &self.cached {
            if p == rel {
                return Ok(Rc::clone(fd));
            }
        }
        let flags = libc::O_RDONLY | libc::O_DIRECTORY;
        let fd = match beneath::open(self.root.as_fd(), rel, flags, Resolve::NoSymlinks) {
            Ok(fd) => fd,
            Err(e) if errno(&e) == libc::ENOENT => self.make_parents(rel)?,
            Err(e) => return Err(self.path_error(rel, e)),
        };
        let fd = Rc::new(fd);
        self.cached = Some((rel.to_vec(), Rc::clone(&fd)));
        Ok(fd)
    }

    fn make_parents(&mut self, rel: &[u8]) -> Result<OwnedFd, EntryError> {
        let mut cur: Option<OwnedFd> = None;
        for comp in rel.split(|&b| b == b'/') {
            let c = cstr(comp).map_err(io("naming"))?;
            let at = cur.as_ref().map_or(self.root.as_fd(), |f| f.as_fd());
            let next = match sys::open_dir_at(at, &c) {
                Ok(fd) => fd,
                Err(e) if errno(&e) == libc::ENOENT => {
                    match sys::mkdirat(at, &c, 0o755) {
                        Ok(()) => {}
                        Err(e) if errno(&e) == libc::EEXIST => {}
                        Err(e) => return Err(io("creating a parent directory")(e)),
                    }
                    let fd = sys::open_dir_at(at, &c).map_err(|e| self.path_error(rel, e))?;
                    if let Some((uid, gid)) = self.opts.ids.shifted_root() {
                        sys::fchown(fd.as_fd(), uid, gid).map_err(io("setting the owner"))?;
                    }
                    fd
                }
                Err(e) => return Err(self.path_error(rel, e)),
            };
            cur = Some(next);
        }
        cur.ok_or_else(|| EntryError::Unsupported("an empty parent path".into()))
    }

    fn path_error(&self, rel: &[u8], e: std::io::Error) -> EntryError {
        if matches!(errno(&e), libc::ELOOP | libc::ENOTDIR) {
            match beneath::find_blocker(self.root.as_fd(), rel) {
                Ok(Some((p, true))) => return EntryError::ThroughSymlink(p),
                Ok(Some((p, false))) => return EntryError::NotADirectory(p),
                _ => {}
            }
        }
        io("opening the parent directory")(e)
    }

    /// Removes whatever is at `name` (a directory with its content), so a
    /// later entry replaces an earlier one as tar semantics say. Returns the
    /// kind that was there.
    fn clear(&mut self, dir: BorrowedFd, name: &CString) -> Result<Option<Kind>, EntryError> {
        let st = match sys::lstatat(dir, name) {
            Ok(st) => st,
            Err(e) if errno(&e) == libc::ENOENT => return Ok(None),
            Err(e) => return Err(io("inspecting the existing entry")(e)),
        };
        let kind = Kind::of(st.st_mode);
        if kind == Kind::Dir {
            // Cached parent fds may point into the tree going away.
            self.cached = None;
            sys::remove_all_at(dir, name).map_err(io("replacing the existing directory"))?;
        } else {
            sys::unlinkat(dir, name, false).map_err(io("replacing the existing entry"))?;
        }
        Ok(Some(kind))
    }

    fn file(
        &mut self,
        dir: BorrowedFd,
        name: &CString,
        meta: &Meta,
        size: u64,
        data: &mut dyn Read,
    ) -> Result<(), EntryError> {
        let flags = libc::O_WRONLY | libc::O_CREAT | libc::O_EXCL | libc::O_NOFOLLOW;
        let fd = match sys::openat(dir, name, flags, 0o600) {
            Ok(fd) => fd,
            Err(e) if errno(&e) == libc::EEXIST => {
                self.clear(dir, name)?;
                sys::openat(dir, name, flags, 0o600).map_err(io("creating the file"))?
            }
            Err(e) => return Err(io("creating the file")(e)),
        };
        let mut file = std::fs::File::from(fd);
        let mut copied = 0u64;
        loop {
            let n = match data.read(&mut self.buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(io("reading the file's data from the layer")(e)),
            };
            file.write_all(&self.buf[..n])
                .map_err(io("writing the file"))?;
            copied += n as u64;
        }
        if copied != size {
            return Err(EntryError::Truncated {
                expected: size,
                actual: copied,
            });
        }
        self.disk_size += size;
        let fd = file.as_fd();
        sys::fchown(fd, meta.uid, meta.gid).map_err(io("setting the owner"))?;
        sys::fchmod(fd, meta.mode).map_err(io("setting the mode"))?;
        self.xattrs(Target::Fd(fd), meta)?;
        sys::futimens(fd, meta.mtime).map_err(io("setting the mtime"))
    }

    fn dir(
        &mut self,
        parent: BorrowedFd,
        name: &CString,
        rel: &[u8],
        meta: &Meta,
    ) -> Result<(), EntryError> {
        match sys::mkdirat(parent, name, 0o700) {
            Ok(()) => {}
            Err(e) if errno(&e) == libc::EEXIST => {
                // An existing directory is merged; anything else replaced.
                if self.clear_unless_dir(parent, name)? {
                    sys::mkdirat(parent, name, 0o700).map_err(io("creating the directory"))?;
                }
            }
            Err(e) => return Err(io("creating the directory")(e)),
        }
        let fd = sys::open_dir_at(parent, name).map_err(io("opening the directory"))?;
        self.dir_meta(fd.as_fd(), meta)?;
        self.dirs.push((rel.to_vec(), meta.mtime));
        Ok(())
    }

    /// Removes a non-directory at `name`; true if it did.
    fn clear_unless_dir(&mut self, dir: BorrowedFd, name: &CString) -> Result<bool, EntryError> {
        let st = sys::lstatat(dir, name).map_err(io("inspecting the existing entry"))?;
        if Kind::of(st.st_mode) == Kind::Dir {
            return Ok(false);
        }
        self.clear(dir, name)?;
        Ok(true)
    }

    fn dir_meta(&self, fd: BorrowedFd, meta: &Meta) -> Result<(), EntryError> {
        sys::fchown(fd, meta.uid, meta.gid).map_err(io("setting the owner"))?;
        sys::fchmod(fd, meta.mode).map_err(io("setting the mode"))?;
        self.xattrs(Target::Fd(fd), meta)
    }

    fn symlink(
        &mut self,
        dir: BorrowedFd,
        name: &CString,
        meta: &Meta,
        target: &[u8],
    ) -> Result<(), EntryError> {
        let t = cstr(target).map_err(io("reading the link target"))?;
        match sys::symlinkat(&t, dir, name) {
            Ok(()) => {}
            Err(e) if errno(&e) == libc::EEXIST => {
                self.clear(dir, name)?;
                sys::symlinkat(&t, dir, name).map_err(io("creating the symbolic link"))?;
            }
            Err(e) => return Err(io("creating the symbolic link")(e)),
        }
        sys::lchownat(dir, name, meta.uid, meta.gid).map_err(io("setting the owner"))?;
        self.xattrs(Target::At(dir, name), meta)?;
        sys::lutimensat(dir, name, meta.mtime).map_err(io("setting the mtime"))
    }

    fn hardlink(
        &mut self,
        dir: BorrowedFd,
        name: &CString,
        rel: &[u8],
        raw_target: &[u8],
    ) -> Result<(), EntryError> {
        let shown = || String::from_utf8_lossy(raw_target).into_owned();
        let bad = |reason| EntryError::HardlinkTarget {
            target: shown(),
            reason,
        };
        let target = match name::normalize(raw_target) {
            Ok(t) if t.is_empty() => return Err(bad("names the layer root")),
            Ok(t) => t,
            Err(EntryError::DotDot) => return Err(bad("leaves the layer (`..`); refused")),
            Err(e) => return Err(e),
        };
        if target.as_slice() == rel {
            return Ok(());
        }
        let (tparent, tbase) = name::split(&target);
        let tdir = match beneath::open(
            self.root.as_fd(),
            tparent,
            libc::O_RDONLY | libc::O_DIRECTORY,
            Resolve::NoSymlinks,
        ) {
            Ok(fd) => fd,
            Err(e) if errno(&e) == libc::ENOENT => return Err(bad("is not in this layer")),
            Err(e) if matches!(errno(&e), libc::ELOOP | libc::ENOTDIR) => {
                return Err(bad("goes through a symbolic link or non-directory"))
            }
            Err(e) => return Err(io("opening the hard link target's directory")(e)),
        };
        let tname = cstr(tbase).map_err(io("naming"))?;
        match sys::lstatat(tdir.as_fd(), &tname) {
            Ok(st) if Kind::of(st.st_mode) == Kind::Dir => return Err(bad("is a directory")),
            Ok(_) => {}
            Err(e) if errno(&e) == libc::ENOENT => return Err(bad("is not in this layer")),
            Err(e) => return Err(io("inspecting the hard link target")(e)),
        }
        match sys::linkat(tdir.as_fd(), &tname, dir, name) {
            Ok(()) => Ok(()),
            Err(e) if errno(&e) == libc::EEXIST => {
                self.clear(dir, name)?;
                sys::linkat(tdir.as_fd(), &tname, dir, name).map_err(io("creating the hard link"))
            }
            Err(e) => Err(io("creating the hard link")(e)),
        }
    }

    fn node(
        &mut self,
        dir: BorrowedFd,
        name: &CString,
        meta: &Meta,
        ifmt: u32,
        dev: u64,
    ) -> Result<(), EntryError> {
        let what = if ifmt == libc::S_IFIFO {
            "creating the fifo"
        } else {
            "creating the device node"
        };
        match sys::mknodat(dir, name, ifmt | 0o600, dev) {
            Ok(()) => {}
            Err(e) if errno(&e) == libc::EEXIST => {
                self.clear(dir, name)?;
                sys::mknodat(dir, name, ifmt | 0o600, dev).map_err(io(what))?;
            }
            Err(e) => return Err(io(what)(e)),
        }
        sys::lchownat(dir, name, meta.uid, meta.gid).map_err(io("setting the owner"))?;
        // Just created by mknodat: not a link, so following is harmless.
        sys::fchmodat(dir, name, meta.mode).map_err(io("setting the mode"))?;
        self.xattrs(Target::At(dir, name), meta)?;
        sys::lutimensat(dir, name, meta.mtime).map_err(io("setting the mtime"))
    }

    fn whiteout(
        &mut self,
        dir: BorrowedFd,
        name: &CString,
        target: &[u8],
    ) -> Result<(), EntryError> {
        if self.opts.whiteouts == WhiteoutFormat::Oci {
            return self.oci_marker(dir, name);
        }
        let t = cstr(target).map_err(io("naming"))?;
        self.clear(dir, &t)?;
        sys::mknodat(dir, &t, libc::S_IFCHR, 0).map_err(|e| EntryError::Io {
            op: "creating the overlay whiteout (a 0:0 character device; \
                 this kernel may need the vfs driver with OCI whiteouts)",
            source: e,
        })
    }

    fn opaque(&mut self, dir: BorrowedFd, name: &CString) -> Result<(), EntryError> {
        let Some(attr) = self.opts.whiteouts.opaque_xattr() else {
            return self.oci_marker(dir, name);
        };
        xattr::fset(dir, attr, b"y").map_err(|source| EntryError::Xattr {
            name: attr.to_string_lossy().into_owned(),
            source,
        })
    }

    /// An OCI whiteout kept as the empty file the tar has.
    fn oci_marker(&mut self, dir: BorrowedFd, name: &CString) -> Result<(), EntryError> {
        self.clear(dir, name)?;
        let flags = libc::O_WRONLY | libc::O_CREAT | libc::O_EXCL | libc::O_NOFOLLOW;
        sys::openat(dir, name, flags, 0).map_err(io("creating the whiteout file"))?;
        Ok(())
    }

    /// Sets the entry's xattrs: overlay's own are never taken from a tar;
    /// `user.*` and `security.capability` must succeed; other namespaces
    /// (`trusted.*`, SELinux labels) describe the host that built the image
    /// and are dropped where the kernel refuses them (EPERM, ENOTSUP).
    fn xattrs(&self, target: Target, meta: &Meta) -> Result<(), EntryError> {
        for (name, value) in &meta.xattrs {
            let n = name.to_bytes();
            if xattr::is_overlay_private(n) {
                continue;
            }
            match xattr::set(target, name, value) {
                Ok(()) => {}
                Err(e)
                    if !(n.starts_with(b"user.") || n == b"security.capability")
                        && matches!(errno(&e), libc::EPERM | libc::ENOTSUP) => {}
                Err(source) => {
                    return Err(EntryError::Xattr {
                        name: name.to_string_lossy().into_owned(),
                        source,
                    })
                }
            }
        }
        Ok(())
    }
}
