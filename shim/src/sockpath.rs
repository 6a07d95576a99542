//! Unix socket paths longer than sun_path allows (108 bytes): such a path
//! is reached through `/proc/self/fd/N/NAME` of its opened directory.

use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};

/// Longest path bound or connected to directly.
const MAX_DIRECT: usize = 100;

fn via_dir<T>(path: &Path, f: impl FnOnce(&Path) -> io::Result<T>) -> io::Result<T> {
    use std::os::unix::ffi::OsStrExt;
    if path.as_os_str().as_bytes().len() <= MAX_DIRECT {
        return f(path);
    }
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path.file_name().ok_or_else(|| {
        io::Error::new(io::ErrorKind::InvalidInput, "socket path has no file name")
    })?;
    let d: OwnedFd = std::fs::File::open(dir)?.into();
    let short = PathBuf::from(format!("/proc/self/fd/{}", d.as_raw_fd())).join(name);
    f(&short)
}

/// Binds a listening socket at `path`, replacing a stale socket file.
pub fn bind(path: &Path) -> io::Result<UnixListener> {
    use std::os::unix::fs::FileTypeExt;
    if std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_socket()) {
        std::fs::remove_file(path)?;
    }
    via_dir(path, |p| UnixListener::bind(p))
}

/// Connects to the socket at `path`.
pub fn connect(path: &Path) -> io::Result<UnixStream> {
    via_dir(path, |p| UnixStream::connect(p))
}

/// The path a process sharing this fd table can pass to `connect` for the
/// socket at `path` while `dir` (its directory, opened) stays open.
pub fn short_path(dir: &OwnedFd, path: &Path) -> PathBuf {
    use std::os::unix::ffi::OsStrExt;
    if path.as_os_str().as_bytes().len() <= MAX_DIRECT {
        return path.to_owned();
    }
    let name = path.file_name().unwrap_or_default();
    PathBuf::from(format!("/proc/self/fd/{}", dir.as_raw_fd())).join(name)
}
