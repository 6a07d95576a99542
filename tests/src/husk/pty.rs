//! Running a command on a pseudo-terminal, as a user at a shell would: the
//! child is a session leader whose controlling terminal is the pty slave on
//! stdin, stdout and stderr; the test writes keystrokes to the master and
//! reads what the terminal shows.

use std::fs::File;
use std::io::Write;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use crate::bundle::wait_readable;

/// Rows and columns the terminal starts with.
pub const PTY_SIZE: (u16, u16) = (24, 80);

/// A command running on a pty.
#[derive(Debug)]
pub struct PtySession {
    master: OwnedFd,
    child: Child,
    seen: Vec<u8>,
    status: Option<ExitStatus>,
}

fn last_os_error(what: &str) -> std::io::Error {
    let e = std::io::Error::last_os_error();
    std::io::Error::new(e.kind(), format!("{what}: {e}"))
}

/// Opens a pty pair sized [`PTY_SIZE`]; the slave is chowned to `owner`
/// when given (so a rootless engine may reopen it).
fn open_pty(owner: Option<(u32, u32)>) -> std::io::Result<(OwnedFd, OwnedFd)> {
    // SAFETY: posix_openpt has no memory preconditions; the fd it returns
    // is owned below.
    let m = unsafe { libc::posix_openpt(libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC) };
    if m < 0 {
        return Err(last_os_error("posix_openpt"));
    }
    // SAFETY: m is a fresh fd we own.
    let master = unsafe { OwnedFd::from_raw_fd(m) };
    // SAFETY: master is a valid pty master fd.
    let granted = unsafe { libc::grantpt(master.as_raw_fd()) } == 0;
    // SAFETY: as above.
    let unlocked = granted && unsafe { libc::unlockpt(master.as_raw_fd()) } == 0;
    if !unlocked {
        return Err(last_os_error("grantpt/unlockpt"));
    }
    let mut name = [0 as libc::c_char; 128];
    // SAFETY: name is a writable buffer of the length given.
    if unsafe { libc::ptsname_r(master.as_raw_fd(), name.as_mut_ptr(), name.len()) } != 0 {
        return Err(last_os_error("ptsname_r"));
    }
    // SAFETY: ptsname_r wrote a NUL-terminated path into name.
    let s = unsafe {
        libc::open(
            name.as_ptr(),
            libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC,
        )
    };
    if s < 0 {
        return Err(last_os_error("opening the pty slave"));
    }
    // SAFETY: s is a fresh fd we own.
    let slave = unsafe { OwnedFd::from_raw_fd(s) };
    if let Some((uid, gid)) = owner {
        // SAFETY: slave is a valid fd; fchown has no memory effects.
        if unsafe { libc::fchown(slave.as_raw_fd(), uid, gid) } != 0 {
            return Err(last_os_error("chowning the pty slave"));
        }
    }
    let ws = libc::winsize {
        ws_row: PTY_SIZE.0,
        ws_col: PTY_SIZE.1,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCSWINSZ reads a winsize from the pointer given.
    if unsafe { libc::ioctl(master.as_raw_fd(), libc::TIOCSWINSZ, &ws) } != 0 {
        return Err(last_os_error("TIOCSWINSZ"));
    }
    Ok((master, slave))
}

impl PtySession {
    /// Spawns `cmd` with the pty slave as its stdio and controlling
    /// terminal; `owner` gets the slave (the rootless test user's ids).
    pub fn spawn(mut cmd: Command, owner: Option<(u32, u32)>) -> PtySession {
        let (master, slave) = open_pty(owner).expect("opening a pty");
        let stdio = |fd: &OwnedFd| Stdio::from(fd.try_clone().expect("dup of the pty slave"));
        cmd.stdin(stdio(&slave))
            .stdout(stdio(&slave))
            .stderr(stdio(&slave));
        // SAFETY: setsid and ioctl(TIOCSCTTY) are async-signal-safe and
        // touch only the child's own session and its stdin.
        unsafe {
            cmd.pre_exec(|| {
                if libc::setsid() < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                if libc::ioctl(0, libc::TIOCSCTTY, 0) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = cmd.spawn().expect("spawning a command on a pty");
        drop(slave);
        PtySession {
            master,
            child,
            seen: Vec::new(),
            status: None,
        }
    }

    /// The child's pid.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Types `bytes` at the terminal.
    pub fn send(&mut self, bytes: &[u8]) {
        // SAFETY: the dup'ed fd is owned by the File and closed with it.
        let fd = unsafe { libc::dup(self.master.as_raw_fd()) };
        assert!(fd >= 0, "dup of the pty master failed");
        // SAFETY: fd is a fresh fd we own.
        let mut f = unsafe { File::from_raw_fd(fd) };
        f.write_all(bytes).expect("writing to the pty");
    }

    /// Reads for up to `max`, returning early once `want` has been seen
    /// (in everything read so far) or the terminal is closed. Returns
    /// whether `want` was seen. `max` only bounds a hang; it is not an
    /// assertion on speed.
    pub fn expect(&mut self, want: &str, max: Duration) -> bool {
        let deadline = Instant::now() + max;
        loop {
            if String::from_utf8_lossy(&self.seen).contains(want) {
                return true;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            if !self.read_some(left.min(Duration::from_millis(200))) && self.exited() {
                while self.read_some(Duration::from_millis(100)) {}
                return String::from_utf8_lossy(&self.seen).contains(want);
            }
        }
    }

    /// One read of whatever is available within `wait`; false when nothing
    /// came (timeout, EOF or EIO once the slave is closed).
    fn read_some(&mut self, wait: Duration) -> bool {
        if wait_readable(self.master.as_raw_fd(), wait).is_err() {
            return false;
        }
        let mut buf = [0u8; 4096];
        // SAFETY: buf is a valid writable buffer of the length given.
        let n = unsafe { libc::read(self.master.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
        if n <= 0 {
            return false;
        }
        self.seen.extend_from_slice(&buf[..n as usize]);
        true
    }

    fn exited(&mut self) -> bool {
        if self.status.is_none() {
            self.status = self.child.try_wait().ok().flatten();
        }
        self.status.is_some()
    }

    /// Everything the terminal showed so far, lossily decoded.
    pub fn output(&self) -> String {
        String::from_utf8_lossy(&self.seen).into_owned()
    }

    /// Waits (up to `max`, else kills it) for the child to exit, draining
    /// the terminal meanwhile; returns its status and everything shown.
    pub fn wait(mut self, max: Duration) -> (ExitStatus, String) {
        let deadline = Instant::now() + max;
        while !self.exited() {
            if Instant::now() >= deadline {
                let _ = self.child.kill();
                let status = self.child.wait().expect("waiting for the killed child");
                panic!(
                    "command on the pty did not exit within {max:?} (killed: {status}); it showed:\n{}",
                    self.output()
                );
            }
            self.read_some(Duration::from_millis(100));
        }
        // Drain what is still buffered; containers that outlive the
        // command may hold the slave open, so stop once it goes quiet.
        while self.read_some(Duration::from_millis(300)) {}
        let status = self.status.expect("exited");
        let out = self.output();
        (status, out)
    }
}

impl Drop for PtySession {
    fn drop(&mut self) {
        if self.status.is_none() && matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
