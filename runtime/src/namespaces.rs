//! Which namespaces a container gets, and in which order they are joined.

use std::fs::File;
use std::os::fd::AsFd;
use std::path::PathBuf;

use nix::sched::{setns, CloneFlags};
use oci_spec::runtime::{LinuxNamespaceType, Spec};

use crate::error::{Result, RuntimeError, SysContext};

/// A namespace to join, given by path in the spec.
#[derive(Debug, Clone)]
pub struct JoinNs {
    /// The namespace type.
    pub kind: LinuxNamespaceType,
    /// The path given in the spec (e.g. /proc/123/ns/net).
    pub path: PathBuf,
}

/// The namespace layout of a container.
#[derive(Debug, Clone)]
pub struct NamespacePlan {
    /// Namespaces to create (CLONE_NEW* flags).
    pub new: CloneFlags,
    /// Namespaces to join, in the order they must be joined (user first).
    pub join: Vec<JoinNs>,
}

/// The clone flag of a namespace type.
pub fn clone_flag(kind: LinuxNamespaceType) -> CloneFlags {
    match kind {
        LinuxNamespaceType::Mount => CloneFlags::CLONE_NEWNS,
        LinuxNamespaceType::Cgroup => CloneFlags::CLONE_NEWCGROUP,
        LinuxNamespaceType::Uts => CloneFlags::CLONE_NEWUTS,
        LinuxNamespaceType::Ipc => CloneFlags::CLONE_NEWIPC,
        LinuxNamespaceType::User => CloneFlags::CLONE_NEWUSER,
        LinuxNamespaceType::Pid => CloneFlags::CLONE_NEWPID,
        LinuxNamespaceType::Network => CloneFlags::CLONE_NEWNET,
        // CLONE_NEWTIME shares its value with CSIGNAL's bit 7.
        LinuxNamespaceType::Time => CloneFlags::from_bits_retain(libc::CLONE_NEWTIME),
    }
}

/// The /proc/PID/ns file name of a namespace type.
pub fn proc_name(kind: LinuxNamespaceType) -> &'static str {
    match kind {
        LinuxNamespaceType::Mount => "mnt",
        LinuxNamespaceType::Cgroup => "cgroup",
        LinuxNamespaceType::Uts => "uts",
        LinuxNamespaceType::Ipc => "ipc",
        LinuxNamespaceType::User => "user",
        LinuxNamespaceType::Pid => "pid",
        LinuxNamespaceType::Network => "net",
        LinuxNamespaceType::Time => "time",
    }
}

// The kernel needs the user namespace first (it grants the capabilities the
// other joins check against) and the mount namespace last (joining it changes
// the root the other paths would be resolved in).
fn join_rank(kind: LinuxNamespaceType) -> u8 {
    match kind {
        LinuxNamespaceType::User => 0,
        LinuxNamespaceType::Mount => 9,
        _ => 5,
    }
}

impl NamespacePlan {
    /// Builds the plan from the spec, refusing duplicates.
    pub fn from_spec(spec: &Spec) -> Result<NamespacePlan> {
        let mut plan = NamespacePlan {
            new: CloneFlags::empty(),
            join: Vec::new(),
        };
        let mut seen = CloneFlags::empty();
        let nss = spec
            .linux()
            .as_ref()
            .and_then(|l| l.namespaces().clone())
            .unwrap_or_default();
        for ns in nss {
            let flag = clone_flag(ns.typ());
            if seen.contains(flag) {
                return Err(RuntimeError::Spec(format!(
                    "namespace {} is listed twice",
                    proc_name(ns.typ())
                )));
            }
            seen |= flag;
            match ns.path() {
                Some(p) if !p.as_os_str().is_empty() => plan.join.push(JoinNs {
                    kind: ns.typ(),
                    path: p.clone(),
                }),
                _ => plan.new |= flag,
            }
        }
        plan.join.sort_by_key(|j| join_rank(j.kind));
        Ok(plan)
    }

    /// Whether a new user namespace is created.
    pub fn new_user(&self) -> bool {
        self.new.contains(CloneFlags::CLONE_NEWUSER)
    }

    /// Whether the container is in a pid namespace of its own.
    pub fn new_pid(&self) -> bool {
        self.new.contains(CloneFlags::CLONE_NEWPID)
    }

    /// Whether a user namespace is joined by path.
    pub fn joins_user(&self) -> bool {
        self.join.iter().any(|j| j.kind == LinuxNamespaceType::User)
    }

    /// Whether a pid namespace is joined by path.
    pub fn joins_pid(&self) -> bool {
        self.join.iter().any(|j| j.kind == LinuxNamespaceType::Pid)
    }

    /// Opens every namespace to join, so that a bad path fails before any
    /// process is created.
    pub fn open_joins(&self) -> Result<Vec<(LinuxNamespaceType, File)>> {
        self.join
            .iter()
            .map(|j| {
                File::open(&j.path)
                    .ctx(|| {
                        format!(
                            "opening {} namespace {}",
                            proc_name(j.kind),
                            j.path.display()
                        )
                    })
                    .map(|f| (j.kind, f))
            })
            .collect()
    }
}

/// Joins the opened namespaces in order.
pub fn join_all(files: &[(LinuxNamespaceType, File)]) -> Result<()> {
    for (kind, f) in files {
        setns(f.as_fd(), clone_flag(*kind))
            .ctx(|| format!("joining {} namespace", proc_name(*kind)))?;
    }
    Ok(())
}
