//! Bringing up `lo` in a new network namespace, as runc and crun do: a fresh
//! namespace has its loopback device down, so 127.0.0.1 would not answer.

use std::os::fd::{FromRawFd, OwnedFd};

use crate::error::{Result, RuntimeError};

/// Sets IFF_UP on `lo` in the current network namespace.
pub fn up() -> Result<()> {
    // SAFETY: socket(2) with constant arguments; the fd is owned below.
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Err(RuntimeError::sys(
            "opening a socket to configure lo",
            std::io::Error::last_os_error(),
        ));
    }
    // SAFETY: socket just returned this fd.
    let sock = unsafe { OwnedFd::from_raw_fd(fd) };
    // SAFETY: ifreq is plain data; all-zero is a valid value.
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    for (d, s) in req.ifr_name.iter_mut().zip(b"lo\0") {
        *d = *s as libc::c_char;
    }
    let raw = std::os::fd::AsRawFd::as_raw_fd(&sock);
    // SAFETY: SIOCGIFFLAGS reads the flags into our ifreq.
    if unsafe { libc::ioctl(raw, libc::SIOCGIFFLAGS, &mut req) } != 0 {
        return Err(RuntimeError::sys(
            "reading the flags of lo",
            std::io::Error::last_os_error(),
        ));
    }
    // SAFETY: the flags member is the active one after SIOCGIFFLAGS.
    unsafe { req.ifr_ifru.ifru_flags |= libc::IFF_UP as libc::c_short };
    // SAFETY: SIOCSIFFLAGS reads our ifreq.
    if unsafe { libc::ioctl(raw, libc::SIOCSIFFLAGS, &req) } != 0 {
        return Err(RuntimeError::sys(
            "bringing lo up",
            std::io::Error::last_os_error(),
        ));
    }
    Ok(())
}
