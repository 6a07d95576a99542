//! process.terminal: a pty made inside the container's devpts, the slave as
//! the controlling terminal and stdio, the master sent over --console-socket.

use std::io::IoSlice;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

use nix::fcntl::{open, OFlag};
use nix::pty::{grantpt, posix_openpt, ptsname_r, unlockpt};
use nix::sys::socket::{sendmsg, ControlMessage, MsgFlags};
use nix::sys::stat::Mode;
use nix::unistd::dup2;

use crate::error::{Result, RuntimeError, SysContext};

/// Rows and columns for the new terminal.
#[derive(Debug, Clone, Copy, Default)]
pub struct Size {
    /// Height.
    pub rows: u16,
    /// Width.
    pub cols: u16,
}

/// Creates a pty, makes its slave our controlling terminal and stdio, and
/// sends the master to `console_fd` (a connected unix socket).
/// The caller must already be a session leader.
pub fn setup(console_fd: RawFd, size: Option<Size>) -> Result<()> {
    let master = posix_openpt(OFlag::O_RDWR | OFlag::O_NOCTTY | OFlag::O_CLOEXEC)
        .ctx(|| "opening /dev/ptmx in the container".into())?;
    grantpt(&master).ctx(|| "grantpt".into())?;
    unlockpt(&master).ctx(|| "unlockpt".into())?;
    let name = ptsname_r(&master).ctx(|| "ptsname".into())?;
    if let Some(s) = size {
        let ws = libc::winsize {
            ws_row: s.rows,
            ws_col: s.cols,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        // SAFETY: TIOCSWINSZ reads a winsize from the valid pointer given.
        unsafe { libc::ioctl(master.as_raw_fd(), libc::TIOCSWINSZ, &ws) };
    }
    let slave = open(
        name.as_str(),
        OFlag::O_RDWR | OFlag::O_NOCTTY,
        Mode::empty(),
    )
    .ctx(|| format!("opening terminal {name}"))?;
    // SAFETY: open returned this fd; OwnedFd owns it from here.
    let slave = unsafe { OwnedFd::from_raw_fd(slave) };
    // SAFETY: TIOCSCTTY takes an integer argument; the fd is open.
    if unsafe { libc::ioctl(slave.as_raw_fd(), libc::TIOCSCTTY, 0) } < 0 {
        return Err(RuntimeError::sys(
            format!("making {name} the controlling terminal"),
            std::io::Error::last_os_error(),
        ));
    }
    for target in 0..3 {
        dup2(slave.as_raw_fd(), target).ctx(|| format!("dup2 terminal to fd {target}"))?;
    }
    send_fd(console_fd, master.as_raw_fd(), name.as_bytes())
}

/// Connects to the console socket when a terminal is wanted. A terminal
/// without a socket is refused; a socket without a terminal is ignored.
pub fn connect_console(
    socket: Option<&std::path::Path>,
    terminal: bool,
) -> Result<Option<std::os::unix::net::UnixStream>> {
    match (socket, terminal) {
        (Some(p), true) => std::os::unix::net::UnixStream::connect(p)
            .map(Some)
            .ctx(|| format!("connecting to console socket {}", p.display())),
        (None, true) => Err(RuntimeError::Spec(
            "a terminal was asked for (process.terminal): --console-socket is required".into(),
        )),
        _ => Ok(None),
    }
}

/// Sends `fd` over the unix socket `sock` with `name` as the payload.
pub fn send_fd(sock: RawFd, fd: RawFd, name: &[u8]) -> Result<()> {
    let fds = [fd];
    let iov = [IoSlice::new(name)];
    sendmsg::<()>(
        sock,
        &iov,
        &[ControlMessage::ScmRights(&fds)],
        MsgFlags::empty(),
        None,
    )
    .ctx(|| "sending the pty master over the console socket".into())?;
    Ok(())
}
