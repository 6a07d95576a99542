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
        /// What the runtime printed as warnings.
        warnings: String,
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
                    let len = proto::i32_at(&p, 4).unwrap_or(0).max(0) as usize;
                    let json = p.get(8..8 + len).unwrap_or_default();
                    let cgroup = serde_json::from_slice(json).unwrap_or_default();
                    let warnings =
                        String::from_utf8_lossy(p.get(8 + len..).unwrap_or_default()).into_owned();
                    return Ok(Created::Ok {
                        pid,
                        cgroup,
                        warnings,
                    });
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
    for &fd in close {
        sys::close_raw(fd);
    }
    // The runtime's warnings (stderr) are collected for the caller, not
    // mixed into the container's output.
    let warnings = sys::memfd("husk-shim-warnings").ok();
    if let Some(w) = &warnings {
        let _ = sys::dup2(std::os::fd::AsRawFd::as_raw_fd(w), 2);
    }
    let result = StateRoot::open(&cfg.state_root).and_then(|root| {
        container::create(
            &root,
            &CreateOptions {
                id: cfg.id.clone(),
                bundle: cfg.bundle.clone(),
                pid_file: cfg.container_pid_file.clone(),
                console_socket,
                stdio: Some(stdio),
                ..CreateOptions::default()
            },
        )
    });
    let sent = match result {
        Ok(st) => {
            let json = serde_json::to_vec(&st.cgroup).unwrap_or_default();
            let mut p = proto::two_i32(st.pid, json.len() as i32).to_vec();
            p.extend(json);
            if let Some(w) = warnings {
                let mut f = std::fs::File::from(w);
                use std::io::{Read, Seek};
                let _ = f.seek(std::io::SeekFrom::Start(0));
                let _ = f.take(4096).read_to_end(&mut p);
            }
            proto::write_frame(report.as_fd(), proto::CREATED, &p)
        }
        Err(e) => proto::write_frame(report.as_fd(), proto::FAILED, e.to_string().as_bytes()),
    };
    sys::exit_now(i32::from(sent.is_err()))
}
