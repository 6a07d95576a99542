//! Loading and checking a bundle's config.json before anything is created,
//! so bad input fails without leaving state behind.

use std::path::{Path, PathBuf};

use nix::sched::CloneFlags;
use oci_spec::runtime::Spec;

use crate::error::{Result, RuntimeError};
use crate::namespaces::NamespacePlan;
use crate::timens::{self, TimeOffset};

/// A loaded, checked bundle.
#[derive(Debug)]
pub struct Bundle {
    /// Absolute bundle directory.
    pub dir: PathBuf,
    /// Absolute rootfs directory.
    pub rootfs: PathBuf,
    /// The spec.
    pub spec: Spec,
    /// Its namespace plan.
    pub plan: NamespacePlan,
    /// Clock offsets for a new time namespace.
    pub time_offsets: Vec<TimeOffset>,
    /// The compiled linux.seccomp filter, if the spec has one.
    pub seccomp: Option<crate::seccomp::Filter>,
}

impl Bundle {
    /// Whether init must create its namespaces itself and fork once more:
    /// when it joins namespaces by path (new ones must belong to a joined
    /// user namespace), or when a time namespace needs offsets (they can be
    /// set only before any process enters it).
    pub fn needs_second_fork(&self) -> bool {
        !self.plan.join.is_empty() || !self.time_offsets.is_empty()
    }
}

/// Loads `dir/config.json` and checks it.
pub fn load(dir: &Path) -> Result<Bundle> {
    let dir = std::fs::canonicalize(dir).map_err(|e| RuntimeError::Config {
        path: dir.join("config.json"),
        reason: format!("bundle directory: {e}"),
    })?;
    let path = dir.join("config.json");
    let data = std::fs::read(&path).map_err(|e| RuntimeError::Config {
        path: path.clone(),
        reason: e.to_string(),
    })?;
    let config_err = |reason: String| RuntimeError::Config {
        path: path.clone(),
        reason,
    };
    let mut value: serde_json::Value =
        serde_json::from_slice(&data).map_err(|e| config_err(e.to_string()))?;
    let time_offsets = timens::take_offsets(&mut value).map_err(config_err)?;
    crate::cgroup::resources::normalize_config(&mut value);
    let spec: Spec = serde_json::from_value(value).map_err(|e| config_err(e.to_string()))?;
    let root = spec.root().as_ref().ok_or_else(|| RuntimeError::Config {
        path: path.clone(),
        reason: "root is missing".into(),
    })?;
    let rootfs = if root.path().is_absolute() {
        root.path().clone()
    } else {
        dir.join(root.path())
    };
    let rootfs = std::fs::canonicalize(&rootfs).map_err(|e| RuntimeError::Config {
        path: path.clone(),
        reason: format!("rootfs {}: {e}", rootfs.display()),
    })?;
    if !rootfs.is_dir() {
        return Err(RuntimeError::Config {
            path,
            reason: format!("rootfs {} is not a directory", rootfs.display()),
        });
    }
    check(&spec, &path)?;
    let plan = NamespacePlan::from_spec(&spec)?;
    if !plan.new.contains(CloneFlags::CLONE_NEWNS)
        && !plan
            .join
            .iter()
            .any(|j| j.kind == oci_spec::runtime::LinuxNamespaceType::Mount)
    {
        return Err(RuntimeError::Spec(
            "a mount namespace is required (add {\"type\": \"mount\"} to linux.namespaces)".into(),
        ));
    }
    let rootless = !nix::unistd::geteuid().is_root();
    if rootless && !plan.new_user() && !plan.joins_user() {
        return Err(RuntimeError::Spec(
            "running rootless needs a user namespace (see `husk-runtime spec --rootless`)".into(),
        ));
    }
    if plan.new_user() {
        let linux = spec.linux().as_ref().expect("namespaces come from linux");
        if linux.uid_mappings().as_ref().is_none_or(|m| m.is_empty())
            || linux.gid_mappings().as_ref().is_none_or(|m| m.is_empty())
        {
            return Err(RuntimeError::Spec(
                "a new user namespace needs linux.uidMappings and linux.gidMappings".into(),
            ));
        }
    }
    let time_flag = crate::namespaces::clone_flag(oci_spec::runtime::LinuxNamespaceType::Time);
    if !time_offsets.is_empty() && !plan.new.contains(time_flag) {
        return Err(RuntimeError::Spec(
            "linux.timeOffsets needs a new time namespace (add {\"type\": \"time\"} to linux.namespaces)".into(),
        ));
    }
    if let Some(r) = spec.linux().as_ref().and_then(|l| l.resources().as_ref()) {
        crate::cgroup::resources::validate(r)?;
    }
    // Compiled here so a bad filter fails before anything is created; init
    // inherits the program through the forked memory.
    let seccomp = spec
        .linux()
        .as_ref()
        .and_then(|l| l.seccomp().as_ref())
        .map(crate::seccomp::compile)
        .transpose()?;
    Ok(Bundle {
        dir,
        rootfs,
        spec,
        plan,
        time_offsets,
        seccomp,
    })
}

fn check(spec: &Spec, path: &Path) -> Result<()> {
    let bad = |reason: String| {
        Err(RuntimeError::Config {
            path: path.to_path_buf(),
            reason,
        })
    };
    if !spec.version().starts_with("1.") {
        return bad(format!(
            "ociVersion {:?} is not supported (1.x expected)",
            spec.version()
        ));
    }
    let Some(process) = spec.process() else {
        return bad("process is missing".into());
    };
    if process.args().as_ref().is_none_or(|a| a.is_empty()) {
        return bad("process.args is empty".into());
    }
    crate::process::lsm::check(
        process.apparmor_profile().as_deref(),
        process.selinux_label().as_deref(),
    )?;
    if !process.cwd().is_absolute() {
        return bad(format!(
            "process.cwd {} is not absolute",
            process.cwd().display()
        ));
    }
    for m in spec.mounts().iter().flatten() {
        if !m.destination().is_absolute() {
            return bad(format!(
                "mount destination {} is not absolute",
                m.destination().display()
            ));
        }
    }
    Ok(())
}
