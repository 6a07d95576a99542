//! After the container's end: the exit record, the attachers' last frame,
//! and the exit command, killed if it overruns its timeout.

use std::os::fd::AsFd;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::Instant;

use super::Monitor;
use crate::exit::ExitRecord;
use crate::proto;
use crate::sys::{self, Ended};
use crate::timestamp;

impl Monitor {
    /// Records the exit, tells the attachers, runs the exit command.
    pub(super) fn finish(&mut self) {
        let (how, at) = self
            .ended
            .unwrap_or((Ended::Exited(255), timestamp::now_nanos()));
        let oom =
            husk_runtime::cgroup::resources::memory_events(&self.cgroup).is_some_and(|n| n > 0);
        let code = how.code();
        if let Some(path) = &self.cfg.exit_file {
            let rec = ExitRecord {
                id: self.cfg.id.clone(),
                pid: self.pid,
                exit_code: code,
                signal: match how {
                    Ended::Signaled(s) => Some(s),
                    Ended::Exited(_) => None,
                },
                oom_killed: oom,
                started_at: self.started_at.map(timestamp::format_nanos),
                finished_at: timestamp::format_nanos(at),
            };
            let _ = rec.write(path);
        }
        if let Some(p) = self.cfg.attach_socket() {
            let _ = std::fs::remove_file(p);
        }
        self.listener = None;
        let mut claimers = Vec::new();
        for mut c in std::mem::take(&mut self.clients) {
            // A claim still queued counts; a client gone meanwhile does not.
            let alive = c.drain();
            // Give each attacher its last output and the code, waiting a
            // little for a slow one rather than dropping what it is owed.
            let _ = c.sock.set_nonblocking(false);
            let _ = c
                .sock
                .set_write_timeout(Some(std::time::Duration::from_secs(2)));
            let _ = sys::write_all(c.sock.as_fd(), &c.pending);
            let sent = proto::write_frame(c.sock.as_fd(), proto::EXIT, &code.to_be_bytes());
            if alive && sent.is_ok() && c.claims_cleanup {
                let _ = c
                    .sock
                    .set_read_timeout(Some(std::time::Duration::from_secs(2)));
                claimers.push(c.sock);
            }
        }
        if !self.cleaned_by(claimers) {
            self.run_exit_command();
        }
        // Whatever else has ended by now.
        while let Ok(Some(_)) = sys::try_wait(-1) {}
    }

    /// Waits (at most the exit command's timeout) for one of the clients
    /// that claimed the cleanup to report it done; `false` when all of them
    /// hang up, break the protocol or time out without that, and the exit
    /// command must run after all.
    fn cleaned_by(&self, mut claimers: Vec<std::os::unix::net::UnixStream>) -> bool {
        let deadline = Instant::now() + self.cfg.exit_command_timeout();
        while !claimers.is_empty() {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            let mut fds: Vec<libc::pollfd> = claimers
                .iter()
                .map(|c| libc::pollfd {
                    fd: std::os::fd::AsRawFd::as_raw_fd(c),
                    events: libc::POLLIN,
                    revents: 0,
                })
                .collect();
            if sys::poll(&mut fds, left.as_millis().clamp(1, 1000) as i32).is_err() {
                continue;
            }
            let mut keep = Vec::with_capacity(claimers.len());
            for (c, p) in claimers.into_iter().zip(&fds) {
                if p.revents == 0 {
                    keep.push(c);
                    continue;
                }
                // Input the client sent before it saw EXIT is skipped; end
                // of file or a broken frame leaves this client out.
                match proto::read_frame(c.as_fd(), proto::MAX_ATTACH_PAYLOAD) {
                    Ok(Some((proto::CLEANED, _))) => return true,
                    Ok(Some(_)) => keep.push(c),
                    Ok(None) | Err(_) => {}
                }
            }
            claimers = keep;
        }
        false
    }

    fn run_exit_command(&mut self) {
        let Some((prog, args)) = self.cfg.exit_command.split_first() else {
            return;
        };
        // The hook should not start with our blocked SIGCHLD.
        sys::unblock(&[libc::SIGCHLD]);
        let mut cmd = Command::new(prog);
        cmd.args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0);
        for kv in &self.cfg.exit_command_env {
            if let Some((k, v)) = kv.split_once('=') {
                cmd.env(k, v);
            }
        }
        let Ok(child) = cmd.spawn() else { return };
        let pid = child.id() as i32;
        let deadline = Instant::now() + self.cfg.exit_command_timeout();
        let pidfd = sys::pidfd_open(pid).ok();
        loop {
            // Reap the hook, and anything re-parented to us meanwhile.
            let mut hook_done = false;
            while let Ok(Some((p, _))) = sys::try_wait(-1) {
                hook_done |= p == pid;
            }
            if hook_done {
                break;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                // The whole process group: a shell's children too.
                let _ = sys::kill(-pid, libc::SIGKILL);
                let _ = sys::wait(pid);
                break;
            }
            let ms = left.as_millis().min(100) as i32;
            match &pidfd {
                Some(fd) => {
                    let mut p = [libc::pollfd {
                        fd: std::os::fd::AsRawFd::as_raw_fd(fd),
                        events: libc::POLLIN,
                        revents: 0,
                    }];
                    let _ = sys::poll(&mut p, ms);
                }
                None => std::thread::sleep(std::time::Duration::from_millis(10)),
            }
        }
    }
}
