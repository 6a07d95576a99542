//! Waiting for processes that are not our children (a container's init, a
//! shim) to exit: pidfd_open + poll, so there is no polling loop and no
//! sleep on the stop and removal paths.

use std::os::fd::{AsFd, FromRawFd, OwnedFd};
use std::time::{Duration, Instant};

use nix::poll::{PollFd, PollFlags, PollTimeout};

/// A pidfd for `pid`, or None when the process is already gone.
pub fn pidfd(pid: i32) -> Option<OwnedFd> {
    if pid <= 0 {
        return None;
    }
    // SAFETY: pidfd_open takes a pid and flags; it returns a new fd or -1.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if fd < 0 {
        return None;
    }
    // SAFETY: the kernel just gave us this fd; OwnedFd owns it from here.
    Some(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

/// Waits until the process behind `fd` exits or `timeout` passes (None:
/// forever). True when it exited.
pub fn wait_fd(fd: &OwnedFd, timeout: Option<Duration>) -> bool {
    let deadline = timeout.map(|t| Instant::now() + t);
    loop {
        let left = match deadline {
            None => PollTimeout::NONE,
            Some(d) => {
                let ms = d.saturating_duration_since(Instant::now()).as_millis();
                PollTimeout::try_from(ms.min(i32::MAX as u128) as i32).unwrap_or(PollTimeout::MAX)
            }
        };
        let mut fds = [PollFd::new(fd.as_fd(), PollFlags::POLLIN)];
        match nix::poll::poll(&mut fds, left) {
            Ok(n) if n > 0 => return true,
            Ok(_) => return false,
            Err(nix::errno::Errno::EINTR) => continue,
            Err(_) => return false,
        }
    }
}

/// Waits until `pid` exits or `timeout` passes. True when it is gone.
pub fn wait_pid(pid: i32, timeout: Option<Duration>) -> bool {
    match pidfd(pid) {
        None => true,
        Some(fd) => wait_fd(&fd, timeout),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_for_a_process() {
        let mut child = std::process::Command::new("sleep")
            .arg("0.2")
            .spawn()
            .unwrap();
        let pid = child.id() as i32;
        assert!(!wait_pid(pid, Some(Duration::from_millis(1))));
        // A pidfd reports exit even for a zombie; reaping comes after.
        assert!(wait_pid(pid, Some(Duration::from_secs(10))));
        child.wait().unwrap();
        assert!(wait_pid(pid, Some(Duration::ZERO)));
    }
}
