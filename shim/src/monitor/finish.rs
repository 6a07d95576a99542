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
        for c in std::mem::take(&mut self.clients) {
            // Give each attacher its last output and the code, waiting a
            // little for a slow one rather than dropping what it is owed.
            let _ = c.sock.set_nonblocking(false);
            let _ = c
                .sock
                .set_write_timeout(Some(std::time::Duration::from_secs(2)));
            let _ = sys::write_all(c.sock.as_fd(), &c.pending);
            let _ = proto::write_frame(c.sock.as_fd(), proto::EXIT, &code.to_be_bytes());
        }
        self.run_exit_command();
        // Whatever else has ended by now.
        while let Ok(Some(_)) = sys::try_wait(-1) {}
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
