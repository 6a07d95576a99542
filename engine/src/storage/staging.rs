//! Staging directories under `<root>/tmp`: everything the store makes
//! (layers, container layers, probe mounts) is built in one and renamed into
//! place, so an object is either complete or absent.
//!
//! A staging entry is flock(2)ed by its creator for as long as it lives. The
//! lock dies with the process, so [`sweep`] can tell the leftovers of a
//! killed process (unlocked) from work in progress (locked) without pids or
//! timeouts. A creator that loses the race with a sweeper between mkdir and
//! flock finds its directory unlinked (`st_nlink == 0`) and starts over.

use std::ffi::CString;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use super::error::{io_err, Result, StorageError};
use super::sys::{self, cstr};

static SEQ: AtomicU64 = AtomicU64::new(0);

/// A name unique to this process and call: `<prefix>-<pid>-<seq>-<nanos>`.
/// The clock part keeps names apart across pid namespaces.
pub(crate) fn unique_name(prefix: &str) -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!(
        "{prefix}-{}-{}-{nanos:08x}",
        std::process::id(),
        SEQ.fetch_add(1, Ordering::Relaxed)
    )
}

/// A directory being built, removed on drop unless committed.
#[derive(Debug)]
pub(crate) struct Staging {
    parent: OwnedFd,
    name: CString,
    path: PathBuf,
    fd: OwnedFd,
    done: bool,
}

impl Staging {
    /// Makes and locks a new directory `<tmp>/<prefix>-...` with `mode`.
    pub(crate) fn create(tmp: &Path, prefix: &str, mode: u32) -> Result<Staging> {
        let parent = sys::open_dir(tmp).map_err(io_err("opening", tmp))?;
        loop {
            let name = unique_name(prefix);
            let path = tmp.join(&name);
            let err = |op| io_err(op, path.clone());
            let cname = cstr(name.as_bytes()).map_err(err("creating"))?;
            match sys::mkdirat(parent.as_fd(), &cname, mode) {
                Ok(()) => {}
                Err(e) if e.raw_os_error() == Some(libc::EEXIST) => continue,
                Err(e) => return Err(err("creating staging directory")(e)),
            }
            let fd = match sys::open_dir_at(parent.as_fd(), &cname) {
                Ok(fd) => fd,
                // A sweeper took it between mkdir and open.
                Err(e) if e.raw_os_error() == Some(libc::ENOENT) => continue,
                Err(e) => return Err(err("opening staging directory")(e)),
            };
            sys::flock(fd.as_fd(), true, false).map_err(err("locking"))?;
            if sys::fstat(fd.as_fd()).map_err(err("locking"))?.st_nlink == 0 {
                continue;
            }
            return Ok(Staging {
                parent,
                name: cname,
                path,
                fd,
                done: false,
            });
        }
    }

    /// The directory's host path (for messages and for mount options).
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// The directory, held open.
    pub(crate) fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    /// Renames the directory to `dest_dir/dest_name`, failing with
    /// `Ok(false)` if something is there already (the staging directory is
    /// then removed on drop as usual).
    pub(crate) fn commit(
        mut self,
        dest_dir: BorrowedFd,
        dest_name: &str,
        dest_path: &Path,
    ) -> Result<bool> {
        let dn = cstr(dest_name.as_bytes()).map_err(io_err("renaming into", dest_path))?;
        match sys::rename_noreplace(self.parent.as_fd(), &self.name, dest_dir, &dn) {
            Ok(()) => {
                self.done = true;
                Ok(true)
            }
            Err(e) if matches!(e.raw_os_error(), Some(libc::EEXIST) | Some(libc::ENOTEMPTY)) => {
                Ok(false)
            }
            Err(e) => Err(StorageError::Io {
                op: "renaming staging directory into place as",
                path: dest_path.to_owned(),
                source: e,
            }),
        }
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        if !self.done {
            let _ = sys::remove_all_at(self.parent.as_fd(), &self.name);
        }
    }
}

/// Takes an existing directory `name` in `dir` out of the store: locks it,
/// renames it into `tmp` and removes it there, so a reader never sees half a
/// tree and a kill midway leaves only an unlocked leftover for [`sweep`].
/// Returns false when there was nothing to remove.
pub(crate) fn remove_dir_atomically(
    dir: BorrowedFd,
    name: &str,
    tmp: &Path,
    what: &Path,
) -> Result<bool> {
    let err = |op| io_err(op, what.to_owned());
    let cname = cstr(name.as_bytes()).map_err(err("removing"))?;
    let fd = match sys::open_dir_at(dir, &cname) {
        Ok(fd) => fd,
        Err(e) if e.raw_os_error() == Some(libc::ENOENT) => return Ok(false),
        Err(e) => return Err(err("opening")(e)),
    };
    sys::flock(fd.as_fd(), true, false).map_err(err("locking"))?;
    let tfd = sys::open_dir(tmp).map_err(io_err("opening", tmp))?;
    let gone = unique_name(&format!("removing-{name}"));
    let gname = cstr(gone.as_bytes()).map_err(err("removing"))?;
    match sys::rename_noreplace(dir, &cname, tfd.as_fd(), &gname) {
        Ok(()) => {}
        Err(e) if e.raw_os_error() == Some(libc::ENOENT) => return Ok(false),
        Err(e) => return Err(err("moving out of the store")(e)),
    }
    sys::remove_all_at(tfd.as_fd(), &gname).map_err(io_err("removing", tmp.join(&gone)))?;
    Ok(true)
}

/// Removes every entry of `tmp` whose creator is gone (no flock held on it).
/// Returns how many were removed.
pub(crate) fn sweep(tmp: &Path) -> Result<usize> {
    let dir = match sys::open_dir(tmp) {
        Ok(d) => d,
        Err(e) if e.raw_os_error() == Some(libc::ENOENT) => return Ok(0),
        Err(e) => return Err(io_err("opening", tmp)(e)),
    };
    let mut removed = 0;
    for name in sys::list_dir(dir.as_fd()).map_err(io_err("listing", tmp))? {
        let fd = match sys::openat(
            dir.as_fd(),
            &name,
            libc::O_RDONLY | libc::O_NOFOLLOW | libc::O_NONBLOCK,
            0,
        ) {
            Ok(fd) => fd,
            // Gone already, or a symlink nobody of ours made: leave it.
            Err(_) => continue,
        };
        if !sys::flock(fd.as_fd(), true, true).unwrap_or(false) {
            continue;
        }
        let (Ok(held), Ok(now)) = (sys::fstat(fd.as_fd()), sys::lstatat(dir.as_fd(), &name)) else {
            continue;
        };
        if held.st_ino != now.st_ino || held.st_dev != now.st_dev {
            continue;
        }
        let path = tmp.join(std::ffi::OsStr::from_bytes(name.to_bytes()));
        sys::remove_all_at(dir.as_fd(), &name).map_err(io_err("removing stale", path))?;
        removed += 1;
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn staging_is_removed_unless_committed_and_sweep_spares_live_ones() {
        let t = tempfile::tempdir().unwrap();
        let tmp = t.path().join("tmp");
        std::fs::create_dir(&tmp).unwrap();
        let s = Staging::create(&tmp, "layer-x", 0o700).unwrap();
        std::fs::write(s.path().join("f"), "x").unwrap();
        let p = s.path().to_owned();
        drop(s);
        assert!(!p.exists());

        let live = Staging::create(&tmp, "live", 0o700).unwrap();
        std::fs::create_dir_all(tmp.join("dead/sub")).unwrap();
        std::fs::write(tmp.join("dead-file"), "x").unwrap();
        assert_eq!(sweep(&tmp).unwrap(), 2);
        assert!(live.path().exists());

        let dest = sys::open_dir(t.path()).unwrap();
        assert!(live
            .commit(dest.as_fd(), "final", &t.path().join("final"))
            .unwrap());
        assert!(t.path().join("final").is_dir());
        let again = Staging::create(&tmp, "live", 0o700).unwrap();
        assert!(!again
            .commit(dest.as_fd(), "final", &t.path().join("final"))
            .unwrap());
        assert_eq!(std::fs::read_dir(&tmp).unwrap().count(), 0);
    }
}
