//! Thin wrappers over the `*at` system calls the storage layer is built on.
//! Every path operation names its object relative to a directory fd and
//! never follows a symbolic link in the last component, so nothing a layer
//! planted can redirect a write.

use std::ffi::{CStr, CString};
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

fn cvt(ret: libc::c_int) -> io::Result<libc::c_int> {
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

/// A C string of some bytes; a NUL inside is an error.
pub(crate) fn cstr(bytes: &[u8]) -> io::Result<CString> {
    CString::new(bytes)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "name contains NUL"))
}

/// A C string of a path.
pub(crate) fn cpath(path: &Path) -> io::Result<CString> {
    cstr(path.as_os_str().as_bytes())
}

/// openat(2) with O_CLOEXEC added.
pub(crate) fn openat(dir: BorrowedFd, name: &CStr, flags: i32, mode: u32) -> io::Result<OwnedFd> {
    loop {
        // SAFETY: `name` is a valid NUL-terminated string that outlives the call.
        let fd = unsafe {
            libc::openat(
                dir.as_raw_fd(),
                name.as_ptr(),
                flags | libc::O_CLOEXEC,
                mode as libc::c_uint,
            )
        };
        if fd >= 0 {
            // SAFETY: the kernel just returned this fd and nothing else owns it.
            return Ok(unsafe { OwnedFd::from_raw_fd(fd) });
        }
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
}

/// Opens a directory by host path (following links: the caller names a
/// directory it owns, such as the store root).
pub(crate) fn open_dir(path: &Path) -> io::Result<OwnedFd> {
    let c = cpath(path)?;
    // SAFETY: `c` is a valid NUL-terminated string that outlives the call.
    let fd = cvt(unsafe {
        libc::open(
            c.as_ptr(),
            libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC,
        )
    })?;
    // SAFETY: the kernel just returned this fd and nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Opens the directory `name` in `dir`; fails (ELOOP/ENOTDIR) if it is a
/// symbolic link or not a directory.
pub(crate) fn open_dir_at(dir: BorrowedFd, name: &CStr) -> io::Result<OwnedFd> {
    openat(
        dir,
        name,
        libc::O_RDONLY | libc::O_DIRECTORY | libc::O_NOFOLLOW,
        0,
    )
}

/// mkdirat(2).
pub(crate) fn mkdirat(dir: BorrowedFd, name: &CStr, mode: u32) -> io::Result<()> {
    // SAFETY: `name` is a valid NUL-terminated string that outlives the call.
    cvt(unsafe { libc::mkdirat(dir.as_raw_fd(), name.as_ptr(), mode) }).map(drop)
}

/// mknodat(2): a fifo, device or (0:0 character device) overlay whiteout.
pub(crate) fn mknodat(dir: BorrowedFd, name: &CStr, mode: u32, dev: u64) -> io::Result<()> {
    // SAFETY: `name` is a valid NUL-terminated string that outlives the call.
    cvt(unsafe { libc::mknodat(dir.as_raw_fd(), name.as_ptr(), mode, dev) }).map(drop)
}

/// symlinkat(2): `name` in `dir` pointing at `target` (never resolved).
pub(crate) fn symlinkat(target: &CStr, dir: BorrowedFd, name: &CStr) -> io::Result<()> {
    // SAFETY: both strings are valid NUL-terminated strings that outlive the call.
    cvt(unsafe { libc::symlinkat(target.as_ptr(), dir.as_raw_fd(), name.as_ptr()) }).map(drop)
}

/// linkat(2) without following a symbolic link as the target.
pub(crate) fn linkat(
    odir: BorrowedFd,
    oname: &CStr,
    ndir: BorrowedFd,
    nname: &CStr,
) -> io::Result<()> {
    // SAFETY: both strings are valid NUL-terminated strings that outlive the call.
    cvt(unsafe {
        libc::linkat(
            odir.as_raw_fd(),
            oname.as_ptr(),
            ndir.as_raw_fd(),
            nname.as_ptr(),
            0,
        )
    })
    .map(drop)
}

/// Links an open file (an O_TMPFILE) under `name` in `dir`, through its
/// /proc/self/fd entry: linkat with AT_EMPTY_PATH needs CAP_DAC_READ_SEARCH,
/// the /proc form does not.
pub(crate) fn link_fd(fd: BorrowedFd, dir: BorrowedFd, name: &CStr) -> io::Result<()> {
    let proc = cstr(format!("/proc/self/fd/{}", fd.as_raw_fd()).as_bytes())?;
    // SAFETY: both strings are valid NUL-terminated strings that outlive the call.
    cvt(unsafe {
        libc::linkat(
            libc::AT_FDCWD,
            proc.as_ptr(),
            dir.as_raw_fd(),
            name.as_ptr(),
            libc::AT_SYMLINK_FOLLOW,
        )
    })
    .map(drop)
}

/// unlinkat(2); `dir_entry` removes an (empty) directory.
pub(crate) fn unlinkat(dir: BorrowedFd, name: &CStr, dir_entry: bool) -> io::Result<()> {
    let flags = if dir_entry { libc::AT_REMOVEDIR } else { 0 };
    // SAFETY: `name` is a valid NUL-terminated string that outlives the call.
    cvt(unsafe { libc::unlinkat(dir.as_raw_fd(), name.as_ptr(), flags) }).map(drop)
}

/// renameat2(2) with RENAME_NOREPLACE: fails with EEXIST instead of
/// replacing what is at the new name.
pub(crate) fn rename_noreplace(
    odir: BorrowedFd,
    oname: &CStr,
    ndir: BorrowedFd,
    nname: &CStr,
) -> io::Result<()> {
    // SAFETY: both strings are valid NUL-terminated strings that outlive the call.
    cvt(unsafe {
        libc::renameat2(
            odir.as_raw_fd(),
            oname.as_ptr(),
            ndir.as_raw_fd(),
            nname.as_ptr(),
            libc::RENAME_NOREPLACE,
        )
    })
    .map(drop)
}

/// An all-zero stat buffer.
fn zero_stat() -> libc::stat {
    // SAFETY: `stat` is a plain C struct of integers; all-zero is a valid value.
    unsafe { std::mem::zeroed() }
}

/// fstatat(2) without following a symbolic link.
pub(crate) fn lstatat(dir: BorrowedFd, name: &CStr) -> io::Result<libc::stat> {
    let mut st = zero_stat();
    // SAFETY: `name` is a valid C string and `st` a writable stat buffer; both
    // outlive the call.
    cvt(unsafe {
        libc::fstatat(
            dir.as_raw_fd(),
            name.as_ptr(),
            &mut st,
            libc::AT_SYMLINK_NOFOLLOW,
        )
    })?;
    Ok(st)
}

/// fstat(2).
pub(crate) fn fstat(fd: BorrowedFd) -> io::Result<libc::stat> {
    let mut st = zero_stat();
    // SAFETY: `st` is a writable stat buffer that outlives the call.
    cvt(unsafe { libc::fstat(fd.as_raw_fd(), &mut st) })?;
    Ok(st)
}

/// fchownat(2) without following a symbolic link.
pub(crate) fn lchownat(dir: BorrowedFd, name: &CStr, uid: u32, gid: u32) -> io::Result<()> {
    // SAFETY: `name` is a valid NUL-terminated string that outlives the call.
    cvt(unsafe {
        libc::fchownat(
            dir.as_raw_fd(),
            name.as_ptr(),
            uid,
            gid,
            libc::AT_SYMLINK_NOFOLLOW,
        )
    })
    .map(drop)
}

/// fchown(2).
pub(crate) fn fchown(fd: BorrowedFd, uid: u32, gid: u32) -> io::Result<()> {
    // SAFETY: plain syscall on an fd we hold.
    cvt(unsafe { libc::fchown(fd.as_raw_fd(), uid, gid) }).map(drop)
}

/// fchmod(2).
pub(crate) fn fchmod(fd: BorrowedFd, mode: u32) -> io::Result<()> {
    // SAFETY: plain syscall on an fd we hold.
    cvt(unsafe { libc::fchmod(fd.as_raw_fd(), mode) }).map(drop)
}

/// fchmodat(2). It follows a symbolic link in the last component, so callers
/// use it only on a node they have just created (a fifo or device).
pub(crate) fn fchmodat(dir: BorrowedFd, name: &CStr, mode: u32) -> io::Result<()> {
    // SAFETY: `name` is a valid NUL-terminated string that outlives the call.
    cvt(unsafe { libc::fchmodat(dir.as_raw_fd(), name.as_ptr(), mode, 0) }).map(drop)
}

/// A timestamp as utimensat(2) takes it.
pub(crate) fn timespec(sec: i64, nsec: i64) -> libc::timespec {
    libc::timespec {
        tv_sec: sec as libc::time_t,
        tv_nsec: nsec as _,
    }
}

/// futimens(2): access and modification time of an open file.
pub(crate) fn futimens(fd: BorrowedFd, mtime: libc::timespec) -> io::Result<()> {
    let times = [mtime, mtime];
    // SAFETY: `times` is an array of two timespecs, as the call requires.
    cvt(unsafe { libc::futimens(fd.as_raw_fd(), times.as_ptr()) }).map(drop)
}

/// utimensat(2) without following a symbolic link.
pub(crate) fn lutimensat(dir: BorrowedFd, name: &CStr, mtime: libc::timespec) -> io::Result<()> {
    let times = [mtime, mtime];
    // SAFETY: `name` is a valid C string and `times` two timespecs; both
    // outlive the call.
    cvt(unsafe {
        libc::utimensat(
            dir.as_raw_fd(),
            name.as_ptr(),
            times.as_ptr(),
            libc::AT_SYMLINK_NOFOLLOW,
        )
    })
    .map(drop)
}

/// readlinkat(2): the target of the symbolic link `name`.
pub(crate) fn readlinkat(dir: BorrowedFd, name: &CStr) -> io::Result<Vec<u8>> {
    let mut buf = vec![0u8; 256];
    loop {
        // SAFETY: `name` is a valid C string and `buf` a writable buffer of the
        // length passed; both outlive the call.
        let n = unsafe {
            libc::readlinkat(
                dir.as_raw_fd(),
                name.as_ptr(),
                buf.as_mut_ptr().cast(),
                buf.len(),
            )
        };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        let n = n as usize;
        if n < buf.len() {
            buf.truncate(n);
            return Ok(buf);
        }
        buf.resize(buf.len() * 2, 0);
    }
}

/// flock(2), retried on EINTR. `nonblock` turns contention into
/// `Ok(false)`.
pub(crate) fn flock(fd: BorrowedFd, exclusive: bool, nonblock: bool) -> io::Result<bool> {
    let mut op = if exclusive {
        libc::LOCK_EX
    } else {
        libc::LOCK_SH
    };
    if nonblock {
        op |= libc::LOCK_NB;
    }
    loop {
        // SAFETY: plain syscall on an fd we hold.
        if unsafe { libc::flock(fd.as_raw_fd(), op) } == 0 {
            return Ok(true);
        }
        let e = io::Error::last_os_error();
        match e.raw_os_error() {
            Some(libc::EINTR) => continue,
            Some(libc::EWOULDBLOCK) if nonblock => return Ok(false),
            _ => return Err(e),
        }
    }
}

/// syncfs(2): writes back everything dirty on the filesystem of `fd`.
pub(crate) fn syncfs(fd: BorrowedFd) -> io::Result<()> {
    // SAFETY: plain syscall on an fd we hold.
    cvt(unsafe { libc::syncfs(fd.as_raw_fd()) }).map(drop)
}

/// The kind of a directory entry, from its stat mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Dir,
    File,
    Symlink,
    Fifo,
    Char,
    Block,
    Socket,
}

impl Kind {
    /// The kind a stat mode names.
    pub(crate) fn of(mode: u32) -> Kind {
        match mode & libc::S_IFMT {
            libc::S_IFDIR => Kind::Dir,
            libc::S_IFLNK => Kind::Symlink,
            libc::S_IFIFO => Kind::Fifo,
            libc::S_IFCHR => Kind::Char,
            libc::S_IFBLK => Kind::Block,
            libc::S_IFSOCK => Kind::Socket,
            _ => Kind::File,
        }
    }
}

/// Whether a stat result is an overlay whiteout (a 0:0 character device).
pub(crate) fn is_whiteout(st: &libc::stat) -> bool {
    Kind::of(st.st_mode) == Kind::Char && st.st_rdev == 0
}

/// The names in a directory (without `.` and `..`), sorted bytewise so
/// walks are deterministic.
pub(crate) fn list_dir(dir: BorrowedFd) -> io::Result<Vec<CString>> {
    let fd = openat(dir, c".", libc::O_RDONLY | libc::O_DIRECTORY, 0)?;
    let raw: RawFd = std::os::fd::IntoRawFd::into_raw_fd(fd);
    let mut d = nix::dir::Dir::from_fd(raw).map_err(io::Error::from)?;
    let mut names = Vec::new();
    for e in d.iter() {
        let e = e.map_err(io::Error::from)?;
        let n = e.file_name();
        if n.to_bytes() != b"." && n.to_bytes() != b".." {
            names.push(n.to_owned());
        }
    }
    names.sort();
    Ok(names)
}

/// Removes `name` in `dir` and everything below it, without following
/// symbolic links. A missing entry is not an error.
pub(crate) fn remove_all_at(dir: BorrowedFd, name: &CStr) -> io::Result<()> {
    let st = match lstatat(dir, name) {
        Ok(st) => st,
        Err(e) if e.raw_os_error() == Some(libc::ENOENT) => return Ok(()),
        Err(e) => return Err(e),
    };
    if Kind::of(st.st_mode) != Kind::Dir {
        return match unlinkat(dir, name, false) {
            Err(e) if e.raw_os_error() != Some(libc::ENOENT) => Err(e),
            _ => Ok(()),
        };
    }
    let sub = open_dir_at(dir, name)?;
    empty_dir(sub.as_fd())?;
    drop(sub);
    match unlinkat(dir, name, true) {
        Err(e) if e.raw_os_error() != Some(libc::ENOENT) => Err(e),
        _ => Ok(()),
    }
}

/// Removes everything inside the directory `dir`.
pub(crate) fn empty_dir(dir: BorrowedFd) -> io::Result<()> {
    for n in list_dir(dir)? {
        remove_all_at(dir, &n)?;
    }
    Ok(())
}

/// Bytes of regular file data under `dir` (each inode once), without
/// following links: what `husk ps --size` shows for a container.
pub(crate) fn disk_usage(dir: BorrowedFd) -> io::Result<u64> {
    fn walk(dir: BorrowedFd, seen: &mut std::collections::HashSet<(u64, u64)>) -> io::Result<u64> {
        let mut total = 0;
        for name in list_dir(dir)? {
            let st = lstatat(dir, &name)?;
            match Kind::of(st.st_mode) {
                Kind::Dir => total += walk(open_dir_at(dir, &name)?.as_fd(), seen)?,
                Kind::File if st.st_nlink <= 1 || seen.insert((st.st_dev, st.st_ino)) => {
                    total += st.st_size as u64
                }
                _ => {}
            }
        }
        Ok(total)
    }
    walk(dir, &mut std::collections::HashSet::new())
}
