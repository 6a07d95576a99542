//! Inter-process locks: flock(2) on small files under `<root>/locks/`.
//!
//! flock locks die with the process that holds them, so a `kill -9` never
//! leaves a stale lock. Per-object lock files (one per blob or layer being
//! made) are removed by their holder when it is done, so they do not pile up;
//! that is safe because every acquirer checks, once it holds the lock, that
//! the file it locked is still the one at the path (a waiter that locked an
//! unlinked file starts over).

use std::ffi::CString;
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};

use super::error::{io_err, Result};
use super::sys::{self, cstr};

/// Shared or exclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockMode {
    /// Many holders at once (readers, pulls).
    Shared,
    /// One holder (writers, garbage collection).
    Exclusive,
}

/// A held lock; dropping it releases the lock (and removes a per-object lock
/// file).
#[derive(Debug)]
pub struct Lock {
    /// Held open for the lock's life: closing it releases the flock.
    _fd: OwnedFd,
    dir: OwnedFd,
    name: CString,
    path: PathBuf,
    remove_on_drop: bool,
}

impl Lock {
    /// Takes the lock `name` in the locks directory `dir`, waiting for it.
    /// `transient` lock files are removed on release.
    pub(crate) fn acquire(dir: &Path, name: &str, mode: LockMode, transient: bool) -> Result<Lock> {
        Self::take(dir, name, mode, transient, false).map(|l| l.expect("blocking lock"))
    }

    /// Like [`Lock::acquire`], but returns None at once when another process
    /// holds the lock.
    pub(crate) fn try_acquire(
        dir: &Path,
        name: &str,
        mode: LockMode,
        transient: bool,
    ) -> Result<Option<Lock>> {
        Self::take(dir, name, mode, transient, true)
    }

    fn take(
        dir: &Path,
        name: &str,
        mode: LockMode,
        transient: bool,
        nonblock: bool,
    ) -> Result<Option<Lock>> {
        let path = dir.join(name);
        let err = |op| io_err(op, path.clone());
        let dfd = sys::open_dir(dir).map_err(err("opening lock directory of"))?;
        let cname = cstr(name.as_bytes()).map_err(err("locking"))?;
        loop {
            let fd = sys::openat(
                dfd.as_fd(),
                &cname,
                libc::O_RDWR | libc::O_CREAT | libc::O_NOFOLLOW,
                0o600,
            )
            .map_err(err("opening lock file"))?;
            let exclusive = mode == LockMode::Exclusive;
            if !sys::flock(fd.as_fd(), exclusive, nonblock).map_err(err("locking"))? {
                return Ok(None);
            }
            // Still the file at the path? A holder may have removed it
            // while we waited.
            let held = sys::fstat(fd.as_fd()).map_err(err("locking"))?;
            match sys::lstatat(dfd.as_fd(), &cname) {
                Ok(now) if now.st_ino == held.st_ino && now.st_dev == held.st_dev => {
                    return Ok(Some(Lock {
                        _fd: fd,
                        dir: dfd,
                        name: cname,
                        path,
                        remove_on_drop: transient,
                    }));
                }
                Ok(_) => continue,
                Err(e) if e.raw_os_error() == Some(libc::ENOENT) => continue,
                Err(e) => return Err(err("locking")(e)),
            }
        }
    }

    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for Lock {
    fn drop(&mut self) {
        if self.remove_on_drop {
            // Unlinked while still held: see the module docs.
            let _ = sys::unlinkat(self.dir.as_fd(), &self.name, false);
        }
    }
}

/// The lock file name for an object key (a digest, chain id or container id
/// made of path-safe characters).
pub(crate) fn lock_name(kind: &str, key: &str) -> String {
    format!("{kind}-{key}.lock")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exclusive_excludes_and_transient_files_go() {
        let t = tempfile::tempdir().unwrap();
        let a = Lock::acquire(t.path(), "x.lock", LockMode::Exclusive, true).unwrap();
        assert!(
            Lock::try_acquire(t.path(), "x.lock", LockMode::Exclusive, true)
                .unwrap()
                .is_none()
        );
        assert!(
            Lock::try_acquire(t.path(), "x.lock", LockMode::Shared, true)
                .unwrap()
                .is_none()
        );
        drop(a);
        assert!(!t.path().join("x.lock").exists());
        let s1 = Lock::acquire(t.path(), "s.lock", LockMode::Shared, false).unwrap();
        let s2 = Lock::try_acquire(t.path(), "s.lock", LockMode::Shared, false).unwrap();
        assert!(s2.is_some());
        assert!(
            Lock::try_acquire(t.path(), "s.lock", LockMode::Exclusive, false)
                .unwrap()
                .is_none()
        );
        drop((s1, s2));
        assert!(t.path().join("s.lock").exists());
    }

    #[test]
    fn a_waiter_on_a_removed_file_starts_over() {
        let t = tempfile::tempdir().unwrap();
        let dir = t.path().to_owned();
        let held = Lock::acquire(&dir, "w.lock", LockMode::Exclusive, true).unwrap();
        let d2 = dir.clone();
        let waiter = std::thread::spawn(move || {
            let l = Lock::acquire(&d2, "w.lock", LockMode::Exclusive, false).unwrap();
            // The file we hold is the one at the path.
            let a = std::fs::metadata(l.path()).unwrap();
            let b = sys::fstat(l._fd.as_fd()).unwrap();
            assert_eq!(std::os::unix::fs::MetadataExt::ino(&a), b.st_ino);
        });
        std::thread::sleep(std::time::Duration::from_millis(50));
        drop(held);
        waiter.join().unwrap();
    }
}
