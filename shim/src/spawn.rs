//! The caller's side of starting a shim: re-execute the husk binary in shim
//! mode with the spawn socket as fd 3, send the configuration, and wait for
//! the container's pid or the runtime's error.

use std::os::fd::{AsFd, AsRawFd};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};

use crate::config::ShimConfig;
use crate::error::{Result, ShimError};
use crate::{proto, sys, SHIM_MODE_ARG};

/// The fd number the spawn socket has in the shim process.
pub const SPAWN_FD: i32 = 3;

/// The argv[2] of the internal monitor mode.
pub const MONITOR_ARG: &str = "monitor";

/// A created container and the shim that holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Spawned {
    /// The container's init pid (waiting on its exec fifo until started).
    pub container_pid: i32,
    /// The shim (monitor) pid.
    pub shim_pid: i32,
    /// Warnings the runtime printed while creating it (e.g. running
    /// rootless without a cgroup), for the caller to show.
    pub warnings: String,
}

/// Starts a shim for `cfg` by re-executing `husk_exe` in shim mode, and
/// returns once the container is created (not started: the caller starts
/// it with `husk_runtime::container::start`). On failure the error carries
/// the runtime's or the shim's own reason, and nothing is left behind.
pub fn spawn(husk_exe: &Path, cfg: &ShimConfig) -> Result<Spawned> {
    cfg.validate()?;
    let (ours, theirs) =
        sys::socketpair().map_err(|e| ShimError::sys("creating the spawn socket", e))?;
    let raw = theirs.as_raw_fd();
    let mut cmd = Command::new(husk_exe);
    cmd.arg(SHIM_MODE_ARG)
        .arg(MONITOR_ARG)
        .arg(&cfg.id)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    // SAFETY: the closure only calls dup2/fcntl (async-signal-safe) on an
    // fd that stays open until spawn returns.
    unsafe {
        cmd.pre_exec(move || sys::dup2(raw, SPAWN_FD));
    }
    let mut child = cmd
        .spawn()
        .map_err(|e| ShimError::path("executing the shim", husk_exe, e))?;
    drop(theirs);
    let payload = serde_json::to_vec(cfg).expect("a shim configuration serialises");
    let sent = proto::write_frame(ours.as_fd(), proto::CONFIG, &payload);
    // The first shim process exits as soon as the monitor is forked off.
    let first = child.wait();
    let shim_err = |reason: String| ShimError::Shim {
        id: cfg.id.clone(),
        reason,
    };
    if let Err(e) = sent {
        return Err(shim_err(format!("sending the configuration: {e}")));
    }
    match proto::read_frame(ours.as_fd(), proto::MAX_SPAWN_PAYLOAD) {
        Ok(Some((proto::CREATED, p))) => match (proto::i32_at(&p, 0), proto::i32_at(&p, 4)) {
            (Some(container_pid), Some(shim_pid)) => Ok(Spawned {
                container_pid,
                shim_pid,
                warnings: String::from_utf8_lossy(&p[8..]).into_owned(),
            }),
            _ => Err(shim_err("malformed report".into())),
        },
        Ok(Some((proto::FAILED, p))) => {
            // The monitor's fds close as it exits: once the socket reads
            // end-of-file, no shim process is left behind.
            let mut pfd = [libc::pollfd {
                fd: ours.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            }];
            let _ = sys::poll(&mut pfd, 10_000);
            Err(ShimError::Reported(
                String::from_utf8_lossy(&p).into_owned(),
            ))
        }
        Ok(Some((ty, _))) => Err(shim_err(format!("unexpected report type {ty}"))),
        Ok(None) | Err(_) => Err(shim_err(format!(
            "the shim ended without reporting ({})",
            match first {
                Ok(st) => st.to_string(),
                Err(e) => e.to_string(),
            }
        ))),
    }
}
