//! cgroups for containers on pure cgroup v2, hybrid (v1 controllers plus a
//! cgroup2 mount at /sys/fs/cgroup/unified, as on this project's test host)
//! and v1-only hosts: placement, freezing for pause/resume, killing every
//! process for delete --force, and removal.

mod freeze;
pub mod layout;
mod paths;
pub mod resources;
pub mod warm;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub use layout::{Layout, CGROUP_ROOT};
pub use paths::resolve_path;

use crate::error::{Result, RuntimeError, SysContext};

/// A container's cgroup: one directory on the unified hierarchy and one per
/// v1 controller, whichever the host has.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cgroup {
    /// The cgroup v2 directory (pure v2, or the hybrid host's unified mount).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unified: Option<PathBuf>,
    /// Whether the unified directory carries the controllers (pure v2).
    #[serde(default)]
    pub unified_controllers: bool,
    /// v1 controller name -> directory.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub v1: BTreeMap<String, PathBuf>,
}

/// v1 controllers a container joins when the host mounts them.
pub const V1_CONTROLLERS: [&str; 9] = [
    "freezer", "memory", "pids", "cpu", "cpuacct", "cpuset", "blkio", "devices", "hugetlb",
];

impl Cgroup {
    /// Whether there is no directory at all (rootless without delegation).
    pub fn is_empty(&self) -> bool {
        self.unified.is_none() && self.v1.is_empty()
    }

    /// Every directory of this cgroup.
    pub fn dirs(&self) -> impl Iterator<Item = &PathBuf> {
        self.unified.iter().chain(self.v1.values())
    }

    /// Creates every directory (parents too). On failure, removes what it
    /// made, so bad input leaves no cgroup behind.
    pub fn create(&self) -> Result<()> {
        let mut made: Vec<PathBuf> = Vec::new();
        for dir in self.dirs() {
            let mut missing = Vec::new();
            let mut p = dir.as_path();
            while !p.exists() {
                missing.push(p.to_path_buf());
                match p.parent() {
                    Some(parent) => p = parent,
                    None => break,
                }
            }
            if let Err(e) = std::fs::create_dir_all(dir) {
                for m in made.iter().rev() {
                    let _ = std::fs::remove_dir(m);
                }
                return Err(RuntimeError::sys(
                    format!("creating cgroup {}", dir.display()),
                    e,
                ));
            }
            missing.reverse();
            made.extend(missing);
        }
        if let Some(cpuset) = self.v1.get("cpuset") {
            paths::init_cpuset(cpuset)?;
        }
        Ok(())
    }

    /// Moves `pid` into every v1 directory (and the unified one unless the
    /// process was born there with CLONE_INTO_CGROUP).
    pub fn add(&self, pid: i32, skip_unified: bool) -> Result<()> {
        let targets = self
            .v1
            .values()
            .chain(self.unified.iter().filter(|_| !skip_unified));
        for dir in targets {
            let procs = dir.join("cgroup.procs");
            std::fs::write(&procs, pid.to_string())
                .ctx(|| format!("adding pid {pid} to {}", procs.display()))?;
        }
        Ok(())
    }

    /// Pids in the cgroup (from the first directory that lists them).
    pub fn pids(&self) -> Vec<i32> {
        for dir in self.dirs() {
            if let Ok(text) = std::fs::read_to_string(dir.join("cgroup.procs")) {
                let mut v: Vec<i32> = text.lines().filter_map(|l| l.trim().parse().ok()).collect();
                v.sort();
                return v;
            }
        }
        Vec::new()
    }

    /// Freezes (`true`) or thaws every process, waiting until the kernel
    /// reports the new state.
    pub fn set_frozen(&self, frozen: bool) -> Result<()> {
        if let Some(dir) = self.v1.get("freezer") {
            return freeze::v1(dir, frozen);
        }
        if let Some(dir) = &self.unified {
            return freeze::v2(dir, frozen);
        }
        Err(RuntimeError::Spec(
            "the container has no cgroup with a freezer (rootless without a delegated cgroup)"
                .into(),
        ))
    }

    /// Whether the cgroup is frozen.
    pub fn is_frozen(&self) -> bool {
        if let Some(dir) = self.v1.get("freezer") {
            return std::fs::read_to_string(dir.join("freezer.state"))
                .is_ok_and(|s| s.trim() == "FROZEN");
        }
        if let Some(dir) = &self.unified {
            return std::fs::read_to_string(dir.join("cgroup.freeze"))
                .is_ok_and(|s| s.trim() == "1");
        }
        false
    }

    /// Sends SIGKILL to every process: cgroup.kill where the kernel has it,
    /// else to each listed pid (thawing first, so frozen tasks can die).
    pub fn kill_all(&self) -> Result<()> {
        // A task frozen by the v1 freezer dies only once thawed; SIGKILL is
        // queued first so nothing runs user code in between.
        let frozen = self.is_frozen();
        let killed_by_kernel = self.unified.as_ref().is_some_and(|dir| {
            let kill = dir.join("cgroup.kill");
            kill.exists() && std::fs::write(&kill, "1").is_ok()
        });
        if !killed_by_kernel {
            self.signal_all(nix::sys::signal::Signal::SIGKILL);
        }
        if frozen {
            let _ = self.set_frozen(false);
            if !killed_by_kernel {
                // Tasks that forked while we listed them.
                self.signal_all(nix::sys::signal::Signal::SIGKILL);
            }
        }
        Ok(())
    }

    fn signal_all(&self, sig: nix::sys::signal::Signal) {
        for pid in self.pids() {
            let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), sig);
        }
    }

    /// Removes every directory (they must be empty of processes), retrying
    /// briefly while the kernel finishes tearing down exited tasks.
    pub fn remove(&self) -> Result<()> {
        for dir in self.dirs() {
            remove_dir_retry(dir)?;
        }
        Ok(())
    }
}

fn remove_dir_retry(dir: &Path) -> Result<()> {
    for attempt in 0..500 {
        match std::fs::remove_dir(dir) {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) if e.raw_os_error() == Some(libc::EBUSY) && attempt < 499 => {
                std::thread::sleep(std::time::Duration::from_millis(2));
            }
            Err(e) => {
                return Err(RuntimeError::sys(
                    format!("removing cgroup {}", dir.display()),
                    e,
                ))
            }
        }
    }
    Ok(())
}
