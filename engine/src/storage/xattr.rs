//! Extended attributes by fd, or by name in a directory fd for inodes that
//! cannot be opened for I/O (symbolic links, fifos, devices): those go
//! through `/proc/self/fd/<dir>/<name>` with the l* calls, so the directory
//! is the one we hold and the last component is never followed.

use std::ffi::{CStr, CString};
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd};

use super::sys::cstr;

/// The opaque-directory attribute of privileged overlay.
pub const TRUSTED_OPAQUE: &str = "trusted.overlay.opaque";
/// The opaque-directory attribute of overlay mounted with `userxattr`.
pub const USER_OPAQUE: &str = "user.overlay.opaque";

/// Whether an attribute belongs to overlayfs itself (`trusted.overlay.*`,
/// `user.overlay.*`). Layers never carry these in from a tar, and exports
/// never write them out: they would steer overlay (redirects, opaque
/// markers) instead of describing a file.
pub fn is_overlay_private(name: &[u8]) -> bool {
    name.starts_with(b"trusted.overlay.") || name.starts_with(b"user.overlay.")
}

fn proc_path(dir: BorrowedFd, name: &CStr) -> io::Result<CString> {
    let mut p = format!("/proc/self/fd/{}/", dir.as_raw_fd()).into_bytes();
    p.extend_from_slice(name.to_bytes());
    cstr(&p)
}

/// fsetxattr(2).
pub(crate) fn fset(fd: BorrowedFd, name: &CStr, value: &[u8]) -> io::Result<()> {
    // SAFETY: `name` is a valid C string and `value` a readable buffer of the
    // length passed; both outlive the call.
    let r = unsafe {
        libc::fsetxattr(
            fd.as_raw_fd(),
            name.as_ptr(),
            value.as_ptr().cast(),
            value.len(),
            0,
        )
    };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// lsetxattr(2) on `name` in `dir`.
pub(crate) fn set_at(dir: BorrowedFd, name: &CStr, attr: &CStr, value: &[u8]) -> io::Result<()> {
    let p = proc_path(dir, name)?;
    // SAFETY: both strings are valid C strings and `value` a readable buffer
    // of the length passed; all outlive the call.
    let r = unsafe {
        libc::lsetxattr(
            p.as_ptr(),
            attr.as_ptr(),
            value.as_ptr().cast(),
            value.len(),
            0,
        )
    };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Which inode an attribute call addresses.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Target<'a> {
    /// An fd opened for I/O (regular file or directory).
    Fd(BorrowedFd<'a>),
    /// `name` in the directory `dir`, not followed.
    At(BorrowedFd<'a>, &'a CStr),
}

fn sized_call(mut call: impl FnMut(&mut [u8]) -> isize) -> io::Result<Option<Vec<u8>>> {
    let mut buf = vec![0u8; 256];
    loop {
        let n = call(&mut buf);
        if n >= 0 {
            buf.truncate(n as usize);
            return Ok(Some(buf));
        }
        let e = io::Error::last_os_error();
        match e.raw_os_error() {
            Some(libc::ERANGE) if buf.len() < (1 << 20) => buf.resize(buf.len() * 4, 0),
            Some(libc::ENODATA) => return Ok(None),
            _ => return Err(e),
        }
    }
}

/// The value of attribute `attr`, or None when it is not set.
pub(crate) fn get(target: Target, attr: &CStr) -> io::Result<Option<Vec<u8>>> {
    match target {
        Target::Fd(fd) => sized_call(|buf| {
            // SAFETY: `attr` is a valid C string and `buf` a writable buffer of
            // the length passed; both outlive the call.
            unsafe {
                libc::fgetxattr(
                    fd.as_raw_fd(),
                    attr.as_ptr(),
                    buf.as_mut_ptr().cast(),
                    buf.len(),
                )
            }
        }),
        Target::At(dir, name) => {
            let p = proc_path(dir, name)?;
            sized_call(|buf| {
                // SAFETY: both strings are valid C strings and `buf` a writable
                // buffer of the length passed; all outlive the call.
                unsafe {
                    libc::lgetxattr(
                        p.as_ptr(),
                        attr.as_ptr(),
                        buf.as_mut_ptr().cast(),
                        buf.len(),
                    )
                }
            })
        }
    }
}

/// The names of every attribute set, sorted. A filesystem without xattr
/// support yields none.
pub(crate) fn list(target: Target) -> io::Result<Vec<CString>> {
    let raw = match target {
        Target::Fd(fd) => sized_call(|buf| {
            // SAFETY: `buf` is a writable buffer of the length passed.
            unsafe { libc::flistxattr(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) }
        }),
        Target::At(dir, name) => {
            let p = proc_path(dir, name)?;
            sized_call(|buf| {
                // SAFETY: `p` is a valid C string and `buf` a writable buffer
                // of the length passed; both outlive the call.
                unsafe { libc::llistxattr(p.as_ptr(), buf.as_mut_ptr().cast(), buf.len()) }
            })
        }
    };
    let raw = match raw {
        Ok(r) => r.unwrap_or_default(),
        Err(e) if e.raw_os_error() == Some(libc::ENOTSUP) => Vec::new(),
        Err(e) => return Err(e),
    };
    let mut names: Vec<CString> = raw
        .split(|&b| b == 0)
        .filter(|n| !n.is_empty())
        .filter_map(|n| CString::new(n).ok())
        .collect();
    names.sort();
    Ok(names)
}

/// Every attribute with its value, sorted by name, without overlay's own.
pub(crate) fn read_all(target: Target) -> io::Result<Vec<(CString, Vec<u8>)>> {
    let mut out = Vec::new();
    for n in list(target)? {
        if is_overlay_private(n.to_bytes()) {
            continue;
        }
        if let Some(v) = get(target, &n)? {
            out.push((n, v));
        }
    }
    Ok(out)
}

/// Sets an attribute on a target.
pub(crate) fn set(target: Target, attr: &CStr, value: &[u8]) -> io::Result<()> {
    match target {
        Target::Fd(fd) => fset(fd, attr, value),
        Target::At(dir, name) => set_at(dir, name, attr, value),
    }
}

/// Whether a directory is marked opaque for overlay in either form.
pub(crate) fn is_opaque(dir: BorrowedFd) -> io::Result<bool> {
    for attr in [c"trusted.overlay.opaque", c"user.overlay.opaque"] {
        match get(Target::Fd(dir), attr) {
            Ok(Some(v)) if v == b"y" => return Ok(true),
            Ok(_) => {}
            Err(e) if matches!(e.raw_os_error(), Some(libc::ENOTSUP) | Some(libc::EPERM)) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overlay_private_names() {
        assert!(is_overlay_private(b"trusted.overlay.opaque"));
        assert!(is_overlay_private(b"user.overlay.redirect"));
        assert!(!is_overlay_private(b"user.husk"));
        assert!(!is_overlay_private(b"security.capability"));
        assert!(!is_overlay_private(b"trusted.overlayx"));
    }
}
