//! The short-lived helper: a fork of the monitor that puts the container's
//! stdio in place and calls `husk_runtime::container::create`. Its pages
//! (the whole create path) are its own, so they never count in the
//! monitor's RSS; when it exits, the container's init is re-parented to the
//! monitor, a child subreaper.

use std::os::fd::{AsFd, OwnedFd, RawFd};
use std::path::PathBuf;

use husk_runtime::container::{self, CreateOptions};
use husk_runtime::state::StateRoot;

use crate::config::ShimConfig;
use crate::proto;
use crate::sys::{self, Fork};

/// What the helper learned: the container's pid and cgroup, or the
/// runtime's error.
pub enum Created {
    /// The container exists and waits on its exec fifo.
    Ok {
        /// Its pid.
        pid: i32,
        /// Its cgroup (for the OOM-kill count).
        cgroup: husk_runtime::cgroup::Cgroup,
    },
    /// The runtime's own error text.
    Failed(String),
}

/// Forks the helper with `stdio` as the container's fds 0, 1, 2, closing
/// `close` in it; waits for its report and reaps it.
pub fn create(
    cfg: &ShimConfig,
    stdio: [RawFd; 3],
    close: &[RawFd],
    console_socket: Option<PathBuf>,
) -> std::io::Result<Created> {
    let (report_r, report_w) = sys::pipe()?;
    match sys::fork()? {
        Fork::Child => {
            drop(report_r);
            run(cfg, stdio, close, console_socket, report_w)
        }
        Fork::Parent(pid) => {
            drop(report_w);
            let frame = proto::read_frame(report_r.as_fd(), proto::MAX_SPAWN_PAYLOAD);
            let ended = sys::wait(pid);
            let reason = match (frame, ended) {
                (Ok(Some((proto::CREATED, p))), _) => {
                    let pid = proto::i32_at(&p, 0).unwrap_or(0);
                    let cgroup = serde_json::from_slice(&p[4.min(p.len())..]).unwrap_or_default();
                    return Ok(Created::Ok { pid, cgroup });
                }
                (Ok(Some((proto::FAILED, p))), _) => String::from_utf8_lossy(&p).into_owned(),
                (_, Ok(how)) => {
                    format!("the create helper ended ({}) without a report", how.code())
                }
                (_, Err(e)) => format!("the create helper vanished: {e}"),
            };
            Ok(Created::Failed(reason))
        }
    }
}

fn run(
    cfg: &ShimConfig,
    stdio: [RawFd; 3],
    close: &[RawFd],
    console_socket: Option<PathBuf>,
    report: OwnedFd,
) -> ! {
    // The container inherits this process's signal state through clone
    // and execve.
    sys::reset_signals();
    for (target, fd) in stdio.into_iter().enumerate() {
        if sys::dup2(fd, target as RawFd).is_err() {
            let _ = proto::write_frame(
                report.as_fd(),
                proto::FAILED,
                b"setting up the container's stdio",
            );
            sys::exit_now(1);
        }
    }
    for &fd in close.iter().chain(stdio.iter()) {
        if fd > 2 {
            sys::close_raw(fd);
        }
    }
    let result = StateRoot::open(&cfg.state_root).and_then(|root| {
        container::create(
            &root,
            &CreateOptions {
                id: cfg.id.clone(),
                bundle: cfg.bundle.clone(),
                pid_file: cfg.container_pid_file.clone(),
                console_socket,
                ..CreateOptions::default()
            },
        )
    });
    let sent = match result {
        Ok(st) => {
            let mut p = st.pid.to_be_bytes().to_vec();
            p.extend(serde_json::to_vec(&st.cgroup).unwrap_or_default());
            proto::write_frame(report.as_fd(), proto::CREATED, &p)
        }
        Err(e) => proto::write_frame(report.as_fd(), proto::FAILED, e.to_string().as_bytes()),
    };
    sys::exit_now(i32::from(sent.is_err()))
}
