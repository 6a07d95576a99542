//! Starting the kernel's cgroup-migration grace period early.
//!
//! On cgroup v1 (and hybrid) hosts, moving a process into a cgroup takes
//! the kernel's `cgroup_threadgroup_rwsem` for writing; when no migration
//! happened for a while, the first writer waits a full RCU grace period
//! (about 10-15 ms here) before it gets it, and writers soon after pay
//! nothing. A no-op migration (this process into the cgroup it is already
//! in) started on a background thread as early as possible lets that wait
//! overlap the rest of the start path, instead of stalling the container's
//! placement. Pure cgroup v2 hosts do not pay it (CLONE_INTO_CGROUP only
//! takes the semaphore as a reader), so nothing is done there.

use std::path::PathBuf;

use super::layout::{Layout, CGROUP_ROOT};

/// The cgroup.procs file of this process's own cgroup on the first v1
/// hierarchy it can write to, if any.
fn own_procs_file() -> Option<PathBuf> {
    let text = std::fs::read_to_string("/proc/self/cgroup").ok()?;
    for line in text.lines() {
        let mut f = line.splitn(3, ':');
        let (_, ctrls, path) = (f.next()?, f.next()?, f.next()?);
        let Some(ctrl) = ctrls.split(',').find(|c| super::V1_CONTROLLERS.contains(c)) else {
            continue;
        };
        let dir = PathBuf::from(CGROUP_ROOT)
            .join(ctrl)
            .join(path.trim_start_matches('/'));
        let procs = dir.join("cgroup.procs");
        if procs.exists() {
            return Some(procs);
        }
    }
    None
}

/// Starts the grace period on a detached thread, on hosts with v1
/// controllers and for a caller that can migrate processes (root). Only
/// call it from a process that will not fork without exec'ing afterwards.
pub fn start() {
    if !nix::unistd::geteuid().is_root() || Layout::detect() == Layout::Unified {
        return;
    }
    let Some(procs) = own_procs_file() else {
        return;
    };
    let _ = std::thread::Builder::new()
        .name("cgroup-warm".into())
        .stack_size(64 * 1024)
        .spawn(move || {
            let _t = crate::trace::span("engine.cgroup-warm");
            // Writing our own pid where it already is: the kernel takes the
            // write lock (and pays the grace period) before it sees that
            // nothing moves.
            let _ = std::fs::write(&procs, std::process::id().to_string());
        });
}
