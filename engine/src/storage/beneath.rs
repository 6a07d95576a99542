//! Opening a relative path inside a directory fd so that the lookup can
//! never leave it: openat2(2) with RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS
//! (no symbolic link anywhere on the path) or RESOLVE_IN_ROOT (links are
//! followed, but `..` and absolute targets stay clamped to the directory, as
//! inside a chroot). Kernels before 5.6 have no openat2; there the
//! no-symlinks form walks component by component with O_NOFOLLOW.

use std::ffi::CStr;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicU8, Ordering};

use super::sys::{self, cstr};

#[repr(C)]
struct OpenHow {
    flags: u64,
    mode: u64,
    resolve: u64,
}

const RESOLVE_NO_MAGICLINKS: u64 = 0x02;
const RESOLVE_NO_SYMLINKS: u64 = 0x04;
const RESOLVE_BENEATH: u64 = 0x08;
const RESOLVE_IN_ROOT: u64 = 0x10;

/// How symbolic links on the path are treated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Resolve {
    /// Any symbolic link on the path (the last component included) is an
    /// error (ELOOP). Used while unpacking and reading layers.
    NoSymlinks,
    /// Links are followed as if `root` were `/`. Used for paths a user gives
    /// inside a container (`husk cp`).
    InRoot,
}

const UNKNOWN: u8 = 0;
const YES: u8 = 1;
const NO: u8 = 2;
static HAVE_OPENAT2: AtomicU8 = AtomicU8::new(UNKNOWN);

fn openat2(root: BorrowedFd, path: &CStr, flags: i32, resolve: u64) -> io::Result<OwnedFd> {
    let how = OpenHow {
        flags: (flags | libc::O_CLOEXEC) as u64,
        mode: 0,
        resolve,
    };
    // The kernel answers EAGAIN when a concurrent rename raced the lookup;
    // repeating it is safe.
    for _ in 0..64 {
        // SAFETY: `path` is a valid C string and `how` a valid open_how of the
        // size passed; both outlive the call.
        let fd = unsafe {
            libc::syscall(
                libc::SYS_openat2,
                root.as_raw_fd(),
                path.as_ptr(),
                &how as *const OpenHow,
                std::mem::size_of::<OpenHow>(),
            )
        };
        if fd >= 0 {
            // SAFETY: the kernel just returned this fd and nothing else owns it.
            return Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) });
        }
        let e = io::Error::last_os_error();
        if e.raw_os_error() != Some(libc::EAGAIN) {
            return Err(e);
        }
    }
    Err(io::Error::from_raw_os_error(libc::EAGAIN))
}

/// Opens `rel` beneath `root` with open flags `flags`. `rel` is relative,
/// `/`-separated and has no `..` component (callers check names first); an
/// empty `rel` is `root` itself.
pub(crate) fn open(root: BorrowedFd, rel: &[u8], flags: i32, how: Resolve) -> io::Result<OwnedFd> {
    let rel = if rel.is_empty() { &b"."[..] } else { rel };
    if HAVE_OPENAT2.load(Ordering::Relaxed) != NO {
        let c = cstr(rel)?;
        let resolve = match how {
            Resolve::NoSymlinks => RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
            Resolve::InRoot => RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
        };
        match openat2(root, &c, flags, resolve) {
            Err(e) if e.raw_os_error() == Some(libc::ENOSYS) => {
                HAVE_OPENAT2.store(NO, Ordering::Relaxed);
            }
            r => {
                HAVE_OPENAT2.store(YES, Ordering::Relaxed);
                return r;
            }
        }
    }
    match how {
        Resolve::NoSymlinks => open_by_components(root, rel, flags),
        // Following links safely without openat2 means resolving each one by
        // hand; only `husk cp` needs it, and it says what is missing.
        Resolve::InRoot => Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "resolving paths inside a container needs openat2 (Linux 5.6 or later)",
        )),
    }
}

/// The no-symlinks lookup without openat2: every directory on the way is
/// opened with O_NOFOLLOW | O_DIRECTORY, the last component with `flags`
/// plus O_NOFOLLOW.
pub(crate) fn open_by_components(root: BorrowedFd, rel: &[u8], flags: i32) -> io::Result<OwnedFd> {
    let comps: Vec<&[u8]> = rel
        .split(|&b| b == b'/')
        .filter(|c| !c.is_empty() && *c != b".")
        .collect();
    if comps.iter().any(|c| *c == b"..") {
        return Err(io::Error::from_raw_os_error(libc::EXDEV));
    }
    let Some((last, dirs)) = comps.split_last() else {
        return sys::openat(root, c".", flags, 0);
    };
    let mut cur: Option<OwnedFd> = None;
    for d in dirs {
        let at = cur.as_ref().map_or(root, |f| f.as_fd());
        let next = sys::open_dir_at(at, &cstr(d)?)?;
        cur = Some(next);
    }
    let at = cur.as_ref().map_or(root, |f| f.as_fd());
    sys::openat(at, &cstr(last)?, flags | libc::O_NOFOLLOW, 0)
}

/// After a no-symlinks lookup of `rel` failed with ELOOP or ENOTDIR: the
/// first component that is a symbolic link (`Ok(Some((prefix, true)))`) or
/// not a directory (`Ok(Some((prefix, false)))`), for the error message.
pub(crate) fn find_blocker(root: BorrowedFd, rel: &[u8]) -> io::Result<Option<(String, bool)>> {
    let comps: Vec<&[u8]> = rel
        .split(|&b| b == b'/')
        .filter(|c| !c.is_empty() && *c != b".")
        .collect();
    let mut cur: Option<OwnedFd> = None;
    for (i, c) in comps.iter().enumerate() {
        let at = cur.as_ref().map_or(root, |f| f.as_fd());
        let name = cstr(c)?;
        let st = match sys::lstatat(at, &name) {
            Ok(st) => st,
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => return Ok(None),
            Err(e) => return Err(e),
        };
        let prefix = || String::from_utf8_lossy(&comps[..=i].join(&b'/')).into_owned();
        match sys::Kind::of(st.st_mode) {
            sys::Kind::Symlink => return Ok(Some((prefix(), true))),
            sys::Kind::Dir => cur = Some(sys::open_dir_at(at, &name)?),
            _ if i + 1 < comps.len() => return Ok(Some((prefix(), false))),
            _ => return Ok(None),
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn dir() -> (tempfile::TempDir, OwnedFd) {
        let t = tempfile::tempdir().unwrap();
        let fd = sys::open_dir(t.path()).unwrap();
        (t, fd)
    }

    #[test]
    fn refuses_symlinks_both_ways() {
        let (t, root) = dir();
        std::fs::create_dir_all(t.path().join("a/b")).unwrap();
        symlink("/tmp", t.path().join("l")).unwrap();
        symlink("a", t.path().join("rel")).unwrap();
        let flags = libc::O_RDONLY | libc::O_DIRECTORY;
        type Walk = fn(BorrowedFd, &[u8], i32) -> io::Result<OwnedFd>;
        let walks: [Walk; 2] = [
            |r, p, f| open(r, p, f, Resolve::NoSymlinks),
            open_by_components,
        ];
        for walk in walks {
            assert!(walk(root.as_fd(), b"a/b", flags).is_ok());
            assert!(walk(root.as_fd(), b"", flags).is_ok());
            for bad in [&b"l"[..], b"l/x", b"rel/b"] {
                let e = walk(root.as_fd(), bad, flags).unwrap_err();
                assert!(
                    matches!(e.raw_os_error(), Some(libc::ELOOP) | Some(libc::ENOTDIR)),
                    "{e}"
                );
            }
        }
        assert_eq!(
            find_blocker(root.as_fd(), b"rel/b/c").unwrap(),
            Some(("rel".into(), true))
        );
        std::fs::write(t.path().join("a/f"), "").unwrap();
        assert_eq!(
            find_blocker(root.as_fd(), b"a/f/c").unwrap(),
            Some(("a/f".into(), false))
        );
    }

    #[test]
    fn in_root_clamps_absolute_links() {
        let (t, root) = dir();
        std::fs::create_dir_all(t.path().join("etc")).unwrap();
        std::fs::write(t.path().join("etc/inside"), "x").unwrap();
        symlink("/etc", t.path().join("link")).unwrap();
        let f = open(
            root.as_fd(),
            b"link/inside",
            libc::O_RDONLY,
            Resolve::InRoot,
        )
        .unwrap();
        let st = sys::fstat(f.as_fd()).unwrap();
        assert_eq!(st.st_size, 1);
        assert!(open(
            root.as_fd(),
            b"link/passwd",
            libc::O_RDONLY,
            Resolve::InRoot
        )
        .is_err());
    }
}
