//! The attach client: relays this process's stdin, stdout and stderr to a
//! container's attach socket, in raw mode when the container has a
//! terminal and stdin is one, with resizes on SIGWINCH. Detach keys are
//! detected here, in the client, so the shim keeps no per-client terminal
//! state; detaching just closes the connection.

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::path::Path;

use crate::detach::{self, DetachScanner};
use crate::error::{Result, ShimError};
use crate::{proto, sockpath, sys};

/// How to attach.
#[derive(Debug, Clone)]
pub struct AttachOptions {
    /// Detach keys in podman's syntax; empty disables detaching.
    pub detach_keys: String,
    /// Relay this process's stdin (the shim drops it unless the container
    /// was created with stdin kept open).
    pub stdin: bool,
    /// Relay the container's stdout (`-a stdout`).
    pub stdout: bool,
    /// Relay the container's stderr (`-a stderr`).
    pub stderr: bool,
}

impl Default for AttachOptions {
    fn default() -> Self {
        AttachOptions {
            detach_keys: detach::DEFAULT_DETACH_KEYS.to_owned(),
            stdin: true,
            stdout: true,
            stderr: true,
        }
    }
}

/// How an attach session ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttachOutcome {
    /// The user typed the detach keys; the container runs on.
    Detached,
    /// The container exited with this code (128 + n for signal n).
    Exited(i32),
    /// The shim closed the connection without an exit code.
    Disconnected,
}

/// Puts a terminal in raw mode and restores it when dropped.
struct RawMode {
    fd: i32,
    saved: libc::termios,
}

impl RawMode {
    fn enter(fd: i32) -> Option<RawMode> {
        // SAFETY: termios is plain data; tcgetattr fills it in.
        let mut t: libc::termios = unsafe { std::mem::zeroed() };
        // SAFETY: t is a valid termios to write into.
        if unsafe { libc::tcgetattr(fd, &mut t) } != 0 {
            return None;
        }
        let saved = t;
        // SAFETY: t is a valid termios.
        unsafe { libc::cfmakeraw(&mut t) };
        // SAFETY: t is a valid, initialised termios.
        if unsafe { libc::tcsetattr(fd, libc::TCSANOW, &t) } != 0 {
            return None;
        }
        Some(RawMode { fd, saved })
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        // SAFETY: saved is the termios tcgetattr returned for this fd.
        unsafe { libc::tcsetattr(self.fd, libc::TCSANOW, &self.saved) };
    }
}

fn send_size(sock: BorrowedFd<'_>) -> std::io::Result<()> {
    // A terminal that reports no size (0x0) says nothing worth passing on.
    let size = sys::get_winsize(0)
        .or_else(|| sys::get_winsize(1))
        .filter(|&(r, c)| r > 0 && c > 0);
    if let Some((rows, cols)) = size {
        let (r, c) = (rows.to_be_bytes(), cols.to_be_bytes());
        proto::write_frame(sock, proto::RESIZE, &[r[0], r[1], c[0], c[1]])?;
    }
    Ok(())
}

/// A connection to a container's attach socket, made before the container
/// starts so that none of its output is missed.
#[derive(Debug)]
pub struct Session {
    sock: OwnedFd,
    peer: String,
    tty: bool,
    stdin_offered: bool,
}

/// Connects to the shim listening at `socket` and reads its greeting.
/// `Ok(None)`: the shim is gone already (the container exited).
pub fn connect(socket: &Path) -> Result<Option<Session>> {
    let stream = sockpath::connect(socket).map_err(|source| ShimError::NotAttachable {
        path: socket.to_owned(),
        source,
    })?;
    let sock: OwnedFd = stream.into();
    let peer = socket.display().to_string();
    let proto_err = |reason: String| ShimError::Protocol {
        peer: peer.clone(),
        reason,
    };
    let flags = match proto::read_frame(sock.as_fd(), proto::MAX_ATTACH_PAYLOAD) {
        Ok(Some((proto::HELLO, p))) => p.first().copied().unwrap_or(0),
        Ok(Some((ty, _))) => return Err(proto_err(format!("expected HELLO, got frame type {ty}"))),
        Ok(None) => return Ok(None),
        Err(e) => return Err(proto_err(e.to_string())),
    };
    Ok(Some(Session {
        sock,
        peer,
        tty: flags & proto::HELLO_TTY != 0,
        stdin_offered: flags & proto::HELLO_STDIN != 0,
    }))
}

impl Session {
    /// Whether the container has a terminal.
    pub fn tty(&self) -> bool {
        self.tty
    }

    /// Tells the shim that this client does the exit command's work itself
    /// once the container exits: the shim then waits for [`Session::cleaned`]
    /// and runs the exit command only if this client ends without it.
    pub fn claim_cleanup(&self) -> Result<()> {
        proto::write_frame(self.sock.as_fd(), proto::CLAIM_CLEANUP, &[])
            .map_err(|e| ShimError::sys(format!("claiming the cleanup from {}", self.peer), e))
    }

    /// Reports the claimed cleanup done (the shim skips its exit command),
    /// and waits (a few seconds at most) for the shim to end.
    pub fn cleaned(self) {
        if proto::write_frame(self.sock.as_fd(), proto::CLEANED, &[]).is_err() {
            return;
        }
        let mut p = [libc::pollfd {
            fd: self.sock.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        }];
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        let mut buf = [0u8; 512];
        // The shim sends nothing more: readable means it closed its end.
        while let Some(left) = deadline.checked_duration_since(std::time::Instant::now()) {
            match sys::poll(&mut p, left.as_millis().max(1) as i32) {
                Ok(0) => return,
                Ok(_) => match sys::read(self.sock.as_fd(), &mut buf) {
                    Ok(0) | Err(_) => return,
                    Ok(_) => {}
                },
                Err(_) => {}
            }
        }
    }

    /// Relays this process's stdio until the user detaches or the container
    /// exits. `on_signal`, when given, receives the signals in `proxied`
    /// that this process gets meanwhile (the engine forwards them to the
    /// container: `--sig-proxy`).
    pub fn relay(
        &self,
        opts: &AttachOptions,
        proxied: &[i32],
        on_signal: Option<&mut dyn FnMut(i32)>,
    ) -> Result<AttachOutcome> {
        let keys = detach::parse(&opts.detach_keys)?;
        let relay_stdin = opts.stdin && self.stdin_offered;
        let _raw = if self.tty && relay_stdin && sys::isatty(0) {
            RawMode::enter(0)
        } else {
            None
        };
        let mut watched: Vec<i32> = Vec::new();
        if self.tty {
            watched.push(libc::SIGWINCH);
        }
        if on_signal.is_some() {
            watched.extend_from_slice(proxied);
        }
        let sigfd = if watched.is_empty() {
            None
        } else {
            sys::signalfd(&watched).ok()
        };
        if self.tty {
            let _ = send_size(self.sock.as_fd());
        }
        let result = relay(
            &self.sock,
            (opts.stdout, opts.stderr),
            relay_stdin,
            sigfd.as_ref(),
            self.tty,
            on_signal,
            DetachScanner::new(keys),
        )
        .map_err(|e| ShimError::sys(format!("relaying to {}", self.peer), e));
        if sigfd.is_some() {
            sys::unblock(&watched);
        }
        result
    }
}

/// Attaches to the shim listening at `socket` until the user detaches or
/// the container exits.
pub fn attach(socket: &Path, opts: &AttachOptions) -> Result<AttachOutcome> {
    // Bad keys are the caller's mistake whether or not the socket is there.
    detach::parse(&opts.detach_keys)?;
    match connect(socket)? {
        None => Ok(AttachOutcome::Disconnected),
        Some(s) => s.relay(opts, &[], None),
    }
}

fn relay(
    sock: &OwnedFd,
    (out, err): (bool, bool),
    mut stdin_open: bool,
    sigfd: Option<&OwnedFd>,
    tty: bool,
    mut on_signal: Option<&mut dyn FnMut(i32)>,
    mut scanner: DetachScanner,
) -> std::io::Result<AttachOutcome> {
    // SAFETY: fds 0, 1 and 2 are this process's stdio for its whole life.
    let (fd0, fd1, fd2) = unsafe {
        (
            BorrowedFd::borrow_raw(0),
            BorrowedFd::borrow_raw(1),
            BorrowedFd::borrow_raw(2),
        )
    };
    let mut buf = vec![0u8; 8192];
    let mut fwd = Vec::with_capacity(8192);
    loop {
        let mut fds = vec![libc::pollfd {
            fd: sock.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        }];
        if stdin_open {
            fds.push(libc::pollfd {
                fd: 0,
                events: libc::POLLIN,
                revents: 0,
            });
        }
        if let Some(w) = sigfd {
            fds.push(libc::pollfd {
                fd: w.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            });
        }
        sys::poll(&mut fds, -1)?;
        for p in &fds {
            if p.revents == 0 {
                continue;
            }
            if p.fd == sock.as_raw_fd() {
                match proto::read_frame(sock.as_fd(), proto::MAX_ATTACH_PAYLOAD)? {
                    None => return Ok(AttachOutcome::Disconnected),
                    Some((proto::STDOUT, data)) if out => sys::write_all(fd1, &data)?,
                    Some((proto::STDERR, data)) if err => sys::write_all(fd2, &data)?,
                    Some((proto::EXIT, data)) => {
                        return Ok(AttachOutcome::Exited(
                            proto::i32_at(&data, 0).unwrap_or(255),
                        ))
                    }
                    Some(_) => {}
                }
            } else if p.fd == 0 {
                let n = sys::retry(|| sys::read(fd0, &mut buf)).unwrap_or(0);
                if n == 0 {
                    stdin_open = false;
                    proto::write_frame(sock.as_fd(), proto::CLOSE_STDIN, &[])?;
                    continue;
                }
                fwd.clear();
                let detached = scanner.scan(&buf[..n], &mut fwd);
                if !fwd.is_empty() {
                    proto::write_frame(sock.as_fd(), proto::STDIN, &fwd)?;
                }
                if detached {
                    return Ok(AttachOutcome::Detached);
                }
            } else if let Some(w) = sigfd {
                let mut winch = false;
                sys::read_signals(w.as_fd(), |sig| {
                    if sig == libc::SIGWINCH {
                        winch = true;
                    } else if let Some(f) = on_signal.as_mut() {
                        f(sig);
                    }
                });
                if winch && tty {
                    send_size(sock.as_fd())?;
                }
            }
        }
    }
}
