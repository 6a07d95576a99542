//! Relaying this process's terminal to a pty master (`husk exec -t`): raw
//! mode while it lasts, window size passed on at the start and on SIGWINCH,
//! until the other side closes.

use std::os::fd::{AsRawFd, OwnedFd};

/// The terminal's mode, restored on drop.
struct Raw {
    saved: libc::termios,
}

impl Raw {
    fn enter() -> Option<Raw> {
        // SAFETY: termios is plain data; tcgetattr fills it in.
        let mut t: libc::termios = unsafe { std::mem::zeroed() };
        // SAFETY: fd 0 and a valid termios.
        if unsafe { libc::tcgetattr(0, &mut t) } != 0 {
            return None;
        }
        let saved = t;
        // SAFETY: t is a valid termios.
        unsafe { libc::cfmakeraw(&mut t) };
        // SAFETY: fd 0 and a valid termios.
        unsafe { libc::tcsetattr(0, libc::TCSANOW, &t) };
        Some(Raw { saved })
    }
}

impl Drop for Raw {
    fn drop(&mut self) {
        // SAFETY: restores the termios tcgetattr returned for fd 0.
        unsafe { libc::tcsetattr(0, libc::TCSANOW, &self.saved) };
    }
}

fn copy_size(master: i32) {
    // SAFETY: winsize is plain data; both ioctls take a pointer to it.
    unsafe {
        let mut ws: libc::winsize = std::mem::zeroed();
        if libc::ioctl(0, libc::TIOCGWINSZ, &mut ws) == 0 && ws.ws_row > 0 {
            libc::ioctl(master, libc::TIOCSWINSZ, &ws);
        }
    }
}

fn write_all(fd: i32, mut buf: &[u8]) -> bool {
    while !buf.is_empty() {
        // SAFETY: writes from our buffer.
        let n = unsafe { libc::write(fd, buf.as_ptr().cast(), buf.len()) };
        if n < 0 {
            if std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            return false;
        }
        buf = &buf[n as usize..];
    }
    true
}

/// Relays fd 0/1 to `master` until the pty's other side is closed.
pub fn relay(master: &OwnedFd) {
    let m = master.as_raw_fd();
    let interactive = nix::unistd::isatty(0).unwrap_or(false);
    let _raw = if interactive { Raw::enter() } else { None };
    copy_size(m);
    let mut mask = nix::sys::signal::SigSet::empty();
    mask.add(nix::sys::signal::Signal::SIGWINCH);
    let _ = mask.thread_block();
    let mut winch = nix::sys::signalfd::SignalFd::with_flags(
        &mask,
        nix::sys::signalfd::SfdFlags::SFD_CLOEXEC | nix::sys::signalfd::SfdFlags::SFD_NONBLOCK,
    )
    .ok();
    let mut stdin_open = true;
    let mut buf = vec![0u8; 16384];
    loop {
        let mut fds = vec![libc::pollfd {
            fd: m,
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
        if let Some(w) = &winch {
            fds.push(libc::pollfd {
                fd: w.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            });
        }
        // SAFETY: fds is a valid array of pollfd of the given length.
        let n = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, -1) };
        if n < 0 {
            if std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            break;
        }
        for p in &fds {
            if p.revents == 0 {
                continue;
            }
            if p.fd == m {
                // SAFETY: reads into our buffer.
                let r = unsafe { libc::read(m, buf.as_mut_ptr().cast(), buf.len()) };
                // EIO: every process holding the pty's other side is gone.
                if r <= 0 || !write_all(1, &buf[..r as usize]) {
                    return;
                }
            } else if p.fd == 0 {
                // SAFETY: reads into our buffer.
                let r = unsafe { libc::read(0, buf.as_mut_ptr().cast(), buf.len()) };
                if r <= 0 {
                    stdin_open = false;
                    // End of input: the tty's EOF character, as a terminal
                    // would send it.
                    write_all(m, &[4]);
                } else if !write_all(m, &buf[..r as usize]) {
                    return;
                }
            } else if let Some(w) = winch.as_mut() {
                while let Ok(Some(_)) = w.read_signal() {}
                copy_size(m);
            }
        }
    }
}
