//! The long-lived monitor: one thread, one poll(2) loop over the container's
//! output, its stdin, attach clients, a signalfd for SIGCHLD and a pidfd for
//! the container. See docs/shim.md for the process model.

mod clients;
mod finish;
mod helper;
mod setup;

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::net::UnixListener;

use clients::{Client, Request};

use crate::config::ShimConfig;
use crate::logs::{LogWriter, Stream};
use crate::proto;
use crate::sys::{self, Ended};
use crate::timestamp::{self, Nanos};

pub use setup::run;

/// Bytes read from the container per read(2).
const CHUNK: usize = 8192;
/// After the container exits, output still held open by its leftovers is
/// read until it has been quiet this long.
const DRAIN_QUIET_MS: i32 = 1000;

/// The monitor's state once the container exists.
struct Monitor {
    cfg: ShimConfig,
    log: LogWriter,
    /// stdout pipe, or the pty master with a terminal.
    out: Option<OwnedFd>,
    /// stderr pipe (none with a terminal).
    err: Option<OwnedFd>,
    /// Where attachers' input goes: the stdin pipe, or the pty master.
    input: Option<OwnedFd>,
    input_pending: Vec<u8>,
    /// The pty master, for resizes.
    tty: Option<OwnedFd>,
    listener: Option<UnixListener>,
    clients: Vec<Client>,
    hello_flags: u8,
    signals: OwnedFd,
    pidfd: Option<OwnedFd>,
    started_watch: Option<OwnedFd>,
    /// fds whose close is left to the process's exit: closing an inotify
    /// instance waits for an SRCU grace period (about 13 ms here), which
    /// would stall the loop while the container's output waits.
    retired: Vec<OwnedFd>,
    pid: i32,
    cgroup: husk_runtime::cgroup::Cgroup,
    started_at: Option<Nanos>,
    ended: Option<(Ended, Nanos)>,
    buf: Vec<u8>,
}

/// What a poll slot is for.
#[derive(Clone, Copy)]
enum Slot {
    Signals,
    Pidfd,
    Started,
    Out,
    Err,
    Input,
    Listener,
    Client(usize),
}

impl Monitor {
    fn output_blocked(&self) -> bool {
        self.clients
            .iter()
            .any(|c| !c.gone && !c.pending.is_empty())
    }

    fn done(&self) -> bool {
        self.ended.is_some() && self.out.is_none() && self.err.is_none()
    }

    /// The loop; returns once the container has exited and its output is
    /// drained.
    fn run(&mut self) {
        let mut fds: Vec<libc::pollfd> = Vec::with_capacity(16);
        let mut slots: Vec<Slot> = Vec::with_capacity(16);
        while !self.done() {
            fds.clear();
            slots.clear();
            let mut add = |fd: BorrowedFd<'_>, events: libc::c_short, slot: Slot| {
                fds.push(libc::pollfd {
                    fd: fd.as_raw_fd(),
                    events,
                    revents: 0,
                });
                slots.push(slot);
            };
            add(self.signals.as_fd(), libc::POLLIN, Slot::Signals);
            if let Some(p) = &self.pidfd {
                add(p.as_fd(), libc::POLLIN, Slot::Pidfd);
            }
            if let Some(w) = &self.started_watch {
                add(w.as_fd(), libc::POLLIN, Slot::Started);
            }
            let blocked = self.output_blocked();
            if !blocked {
                if let Some(o) = &self.out {
                    add(o.as_fd(), libc::POLLIN, Slot::Out);
                }
                if let Some(e) = &self.err {
                    add(e.as_fd(), libc::POLLIN, Slot::Err);
                }
            }
            if let (Some(i), false) = (&self.input, self.input_pending.is_empty()) {
                add(i.as_fd(), libc::POLLOUT, Slot::Input);
            }
            if let Some(l) = &self.listener {
                add(l.as_fd(), libc::POLLIN, Slot::Listener);
            }
            for (n, c) in self.clients.iter().enumerate() {
                let mut ev = 0;
                if self.input_pending.is_empty() {
                    ev |= libc::POLLIN;
                }
                if !c.pending.is_empty() {
                    ev |= libc::POLLOUT;
                }
                add(c.sock.as_fd(), ev, Slot::Client(n));
            }
            let timeout = if self.ended.is_some() {
                DRAIN_QUIET_MS
            } else {
                -1
            };
            let ready = match sys::poll(&mut fds, timeout) {
                Ok(n) => n,
                Err(_) => continue,
            };
            if ready == 0 && self.ended.is_some() && !blocked {
                // Leftover processes hold the output open but say nothing.
                break;
            }
            for (pfd, slot) in fds.iter().zip(slots.iter()) {
                if pfd.revents == 0 {
                    continue;
                }
                match *slot {
                    Slot::Signals => {
                        sys::read_signals(self.signals.as_fd(), |_| {});
                        self.reap();
                    }
                    Slot::Pidfd => self.reap(),
                    Slot::Started => self.check_started(),
                    Slot::Out => self.read_output(Stream::Stdout),
                    Slot::Err => self.read_output(Stream::Stderr),
                    Slot::Input => self.write_input(),
                    Slot::Listener => self.accept(),
                    Slot::Client(n) => {
                        if !self.clients[n].gone && !self.serve_client(n, pfd.revents) {
                            self.clients[n].gone = true;
                        }
                    }
                }
            }
            // Only now: the slots above index `clients` as it was polled.
            self.clients.retain(|c| !c.gone);
        }
        self.log.flush();
    }

    /// Reaps every child that has ended: the container (recording how), the
    /// helper, and processes re-parented to us.
    fn reap(&mut self) {
        // Events queue in order: the fifo's close at execve comes before the
        // exit, so read them first, or a quick program looks never started.
        self.check_started();
        while let Ok(Some((pid, how))) = sys::try_wait(-1) {
            if pid == self.pid && self.ended.is_none() {
                self.ended = Some((how, timestamp::now_nanos()));
                self.pidfd = None;
            }
        }
    }

    /// The program started when init's execve closed the exec fifo it had
    /// written (close-on-exec), or when `start` removed the fifo.
    fn check_started(&mut self) {
        let Some(w) = &self.started_watch else { return };
        let fifo_name = husk_runtime::state::EXEC_FIFO.as_bytes();
        let saw = sys::inotify_saw(w.as_fd(), fifo_name);
        let fifo = self
            .cfg
            .state_root
            .join(&self.cfg.id)
            .join(husk_runtime::state::EXEC_FIFO);
        let removed = !fifo.exists();
        if self.ended.is_none() && (saw || removed) {
            self.started_at.get_or_insert_with(timestamp::now_nanos);
        }
        if self.started_at.is_some() || removed {
            self.retired.extend(self.started_watch.take());
        }
    }

    fn read_output(&mut self, stream: Stream) {
        let fd = match stream {
            Stream::Stdout => self.out.as_ref(),
            Stream::Stderr => self.err.as_ref(),
        };
        let Some(fd) = fd else { return };
        match sys::read(fd.as_fd(), &mut self.buf) {
            Ok(0) => {}
            Ok(n) => {
                let data = &self.buf[..n];
                // Output means the program runs, even before the fifo goes.
                self.started_at.get_or_insert_with(timestamp::now_nanos);
                self.log.write(stream, data, sys::now());
                let ty = match stream {
                    Stream::Stdout => proto::STDOUT,
                    Stream::Stderr => proto::STDERR,
                };
                for c in self.clients.iter_mut().filter(|c| !c.gone) {
                    c.gone = !c.send(ty, data);
                }
                return;
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => return,
            // EIO: every holder of the pty's slave has closed it.
            Err(_) => {}
        }
        match stream {
            Stream::Stdout => self.out = None,
            Stream::Stderr => self.err = None,
        }
    }

    fn write_input(&mut self) {
        let Some(fd) = &self.input else {
            self.input_pending.clear();
            return;
        };
        match sys::write(fd.as_fd(), &self.input_pending) {
            Ok(n) => {
                self.input_pending.drain(..n);
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            // The container closed its stdin: input has nowhere to go.
            Err(_) => {
                self.input = None;
                self.input_pending.clear();
            }
        }
        if self.input_pending.is_empty() && self.input_pending.capacity() > CHUNK {
            self.input_pending = Vec::new();
        }
    }

    fn accept(&mut self) {
        let Some(l) = &self.listener else { return };
        while let Ok((sock, _)) = l.accept() {
            if let Ok(c) = Client::new(sock, self.hello_flags) {
                self.clients.push(c);
            }
        }
    }

    /// Serves one client's readiness; `false` drops it.
    fn serve_client(&mut self, n: usize, revents: libc::c_short) -> bool {
        if revents & libc::POLLOUT != 0 && !self.clients[n].flush() {
            return false;
        }
        if revents & (libc::POLLIN | libc::POLLHUP | libc::POLLERR) == 0 {
            return true;
        }
        let mut buf = [0u8; 4096];
        let mut pending = std::mem::take(&mut self.input_pending);
        let (mut resize, mut close) = (None, false);
        let keep_stdin = self.cfg.stdin;
        let alive = self.clients[n].read(&mut buf, |req| match req {
            Request::Stdin(b) if keep_stdin => pending.extend_from_slice(b),
            Request::Stdin(_) => {}
            Request::Resize(r, c) => resize = Some((r, c)),
            Request::CloseStdin => close = true,
        });
        self.input_pending = pending;
        if let (Some((r, c)), Some(tty)) = (resize, &self.tty) {
            let _ = sys::set_winsize(tty.as_raw_fd(), r, c);
        }
        if !self.input_pending.is_empty() {
            self.write_input();
        }
        if close && self.tty.is_none() && self.input_pending.is_empty() {
            // As conmon does: an attacher's end of input ends the container's.
            self.input = None;
        }
        alive
    }
}
