//! Paths inside the container's root resolved by the kernel with
//! openat2(RESOLVE_IN_ROOT): `..` and symlinks, absolute or relative, can never
//! lead out of the rootfs. Mount targets are then named through the fd
//! (/proc/self/fd/N), so nothing can swap the path between check and use.

use std::ffi::CString;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

use nix::errno::Errno;

use crate::error::{Result, RuntimeError, SysContext};

#[repr(C)]
struct OpenHow {
    flags: u64,
    mode: u64,
    resolve: u64,
}

const RESOLVE_NO_MAGICLINKS: u64 = 0x02;
const RESOLVE_IN_ROOT: u64 = 0x10;

/// openat2(dirfd, path, flags, RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS).
pub fn openat_in_root(dirfd: RawFd, path: &Path, flags: i32, mode: u32) -> Result<OwnedFd, Errno> {
    let c = CString::new(path.as_os_str().as_bytes()).map_err(|_| Errno::EINVAL)?;
    let how = OpenHow {
        flags: (flags | libc::O_CLOEXEC) as u64,
        mode: mode as u64,
        resolve: RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
    };
    // The kernel answers EAGAIN when a rename raced the lookup (it cannot
    // then vouch for RESOLVE_IN_ROOT); the lookup is safe to repeat.
    let mut attempts = 0;
    let fd = loop {
        // SAFETY: `c` is a valid NUL-terminated string and `how` a valid
        // open_how of the size passed; both outlive the call.
        let fd = unsafe {
            libc::syscall(
                libc::SYS_openat2,
                dirfd,
                c.as_ptr(),
                &how as *const OpenHow,
                std::mem::size_of::<OpenHow>(),
            )
        };
        if fd >= 0 {
            break fd;
        }
        let e = Errno::last();
        attempts += 1;
        if e != Errno::EAGAIN || attempts >= 64 {
            return Err(e);
        }
    };
    // SAFETY: the kernel just returned this fd and nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

/// The container's root directory, held open.
#[derive(Debug)]
pub struct RootDir {
    fd: OwnedFd,
    path: PathBuf,
}

/// What to create when a mount target is missing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TargetKind {
    /// A directory (mounts of directories and filesystems).
    Dir,
    /// An empty regular file (bind mounts of files, devices).
    File,
}

/// The path of an fd in /proc, usable as a mount source or target.
pub fn fd_path(fd: &OwnedFd) -> PathBuf {
    PathBuf::from(format!("/proc/self/fd/{}", fd.as_raw_fd()))
}

fn relative(dest: &Path) -> PathBuf {
    dest.components()
        .filter(|c| matches!(c, Component::Normal(_) | Component::ParentDir))
        .collect()
}

impl RootDir {
    /// Opens the root directory `path`.
    pub fn open(path: &Path) -> Result<RootDir> {
        let fd = nix::fcntl::open(
            path,
            nix::fcntl::OFlag::O_PATH
                | nix::fcntl::OFlag::O_DIRECTORY
                | nix::fcntl::OFlag::O_CLOEXEC,
            nix::sys::stat::Mode::empty(),
        )
        .ctx(|| format!("opening rootfs {}", path.display()))?;
        // SAFETY: open just returned this fd; we take sole ownership.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        Ok(RootDir {
            fd,
            path: path.to_path_buf(),
        })
    }

    /// Opens the working directory as the root (the attached rootfs tree);
    /// `path` names it in errors.
    pub fn open_cwd(path: &Path) -> Result<RootDir> {
        let fd = nix::fcntl::open(
            ".",
            nix::fcntl::OFlag::O_PATH
                | nix::fcntl::OFlag::O_DIRECTORY
                | nix::fcntl::OFlag::O_CLOEXEC,
            nix::sys::stat::Mode::empty(),
        )
        .ctx(|| format!("opening rootfs {}", path.display()))?;
        // SAFETY: open just returned this fd; we take sole ownership.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        Ok(RootDir {
            fd,
            path: path.to_path_buf(),
        })
    }

    /// The root's host path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Opens `dest` (a container path) with O_PATH, resolved inside the root.
    pub fn open_path(&self, dest: &Path) -> Result<OwnedFd, Errno> {
        openat_in_root(self.fd.as_raw_fd(), &relative(dest), libc::O_PATH, 0)
    }

    /// Opens `dest` inside the root, creating it (and its parents as
    /// directories) when missing. Returns an O_PATH fd of the target.
    pub fn ensure(&self, dest: &Path, kind: TargetKind) -> Result<OwnedFd> {
        self.ensure_owned(dest, kind, None)
    }

    /// [`RootDir::ensure`], giving what it creates to `owner` (uid, gid).
    pub fn ensure_owned(
        &self,
        dest: &Path,
        kind: TargetKind,
        owner: Option<(u32, u32)>,
    ) -> Result<OwnedFd> {
        let rel = relative(dest);
        match self.open_path(&rel) {
            Ok(fd) => return Ok(fd),
            Err(Errno::ENOENT) => {}
            Err(e) => return Err(self.err(dest, "resolving", e)),
        }
        let mut prefix = PathBuf::new();
        let comps: Vec<_> = rel.components().collect();
        for (i, comp) in comps.iter().enumerate() {
            let last = i + 1 == comps.len();
            let parent = prefix.clone();
            prefix.push(comp);
            match self.open_path(&prefix) {
                Ok(fd) if last => return Ok(fd),
                Ok(_) => continue,
                Err(Errno::ENOENT) => {}
                Err(e) => return Err(self.err(dest, "resolving", e)),
            }
            let Component::Normal(name) = comp else {
                return Err(self.err(dest, "resolving", Errno::ENOENT));
            };
            // The root itself is ".", not the empty path (which is ENOENT).
            let parent = if parent.as_os_str().is_empty() {
                PathBuf::from(".")
            } else {
                parent
            };
            let pfd = openat_in_root(
                self.fd.as_raw_fd(),
                &parent,
                libc::O_PATH | libc::O_DIRECTORY,
                0,
            )
            .map_err(|e| self.err(dest, "opening parent of", e))?;
            if last && kind == TargetKind::File {
                let made = nix::fcntl::openat(
                    Some(pfd.as_raw_fd()),
                    *name,
                    nix::fcntl::OFlag::O_CREAT
                        | nix::fcntl::OFlag::O_EXCL
                        | nix::fcntl::OFlag::O_NOFOLLOW
                        | nix::fcntl::OFlag::O_WRONLY
                        | nix::fcntl::OFlag::O_CLOEXEC,
                    nix::sys::stat::Mode::from_bits_truncate(0o644),
                );
                match made {
                    Ok(fd) => {
                        // SAFETY: openat just returned this fd.
                        drop(unsafe { OwnedFd::from_raw_fd(fd) });
                        self.chown_made(&pfd, name, owner, dest)?;
                    }
                    Err(Errno::EEXIST) => {}
                    Err(e) => return Err(self.err(dest, "creating", e)),
                }
            } else {
                match nix::sys::stat::mkdirat(
                    Some(pfd.as_raw_fd()),
                    *name,
                    nix::sys::stat::Mode::from_bits_truncate(0o755),
                ) {
                    Ok(()) => self.chown_made(&pfd, name, owner, dest)?,
                    Err(Errno::EEXIST) => {}
                    Err(e) => return Err(self.err(dest, "creating", e)),
                }
            }
            if last {
                return self
                    .open_path(&prefix)
                    .map_err(|e| self.err(dest, "opening", e));
            }
        }
        // An empty destination is the root itself.
        self.open_path(Path::new("."))
            .map_err(|e| self.err(dest, "opening", e))
    }

    fn chown_made(
        &self,
        parent: &OwnedFd,
        name: &std::ffi::OsStr,
        owner: Option<(u32, u32)>,
        dest: &Path,
    ) -> Result<()> {
        let Some((uid, gid)) = owner else {
            return Ok(());
        };
        nix::unistd::fchownat(
            Some(parent.as_raw_fd()),
            name,
            Some(nix::unistd::Uid::from_raw(uid)),
            Some(nix::unistd::Gid::from_raw(gid)),
            nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW,
        )
        .map_err(|e| self.err(dest, "chowning", e))
    }

    /// A root held by another fd (a clone of it is kept).
    pub fn from_fd(fd: &OwnedFd, path: &Path) -> Result<RootDir> {
        let fd = fd
            .try_clone()
            .ctx(|| format!("duplicating the fd of rootfs {}", path.display()))?;
        Ok(RootDir {
            fd,
            path: path.to_path_buf(),
        })
    }

    fn err(&self, dest: &Path, what: &str, e: Errno) -> RuntimeError {
        RuntimeError::sys(
            format!(
                "{what} {} inside rootfs {}",
                dest.display(),
                self.path.display()
            ),
            e,
        )
    }
}
