//! Read-only commands: list, ps, features, spec.

use std::path::Path;

use anyhow::{bail, Context, Result};
use husk_runtime::container;
use husk_runtime::state::{StateRoot, OCI_VERSION};
use oci_spec::runtime::Spec;

/// `list`: a table like runc's, or a JSON array of states.
pub fn list(root: &StateRoot, format: &str, quiet: bool) -> Result<i32> {
    let mut rows = Vec::new();
    for id in root.list()? {
        // A container deleted while we list is simply not shown.
        if let Ok((st, status)) = container::load(root, &id) {
            rows.push((st, status));
        }
    }
    if quiet {
        for (st, _) in &rows {
            println!("{}", st.id);
        }
        return Ok(0);
    }
    if format == "json" {
        let v: Vec<_> = rows.iter().map(|(st, s)| st.to_oci(*s)).collect();
        println!("{}", serde_json::to_string(&v)?);
        return Ok(0);
    }
    let mut table = vec![[
        "ID".to_string(),
        "PID".into(),
        "STATUS".into(),
        "BUNDLE".into(),
        "CREATED".into(),
        "OWNER".into(),
    ]];
    for (st, status) in &rows {
        let o = st.to_oci(*status);
        table.push([
            st.id.clone(),
            o.pid.to_string(),
            status.to_string(),
            st.bundle.display().to_string(),
            st.created.clone(),
            if st.owner == 0 {
                "root".into()
            } else {
                st.owner.to_string()
            },
        ]);
    }
    let widths: Vec<usize> = (0..6)
        .map(|c| table.iter().map(|r| r[c].len()).max().unwrap_or(0))
        .collect();
    for r in &table {
        let line: Vec<String> = r
            .iter()
            .zip(&widths)
            .map(|(cell, w)| format!("{cell:<w$}"))
            .collect();
        println!("{}", line.join("   ").trim_end());
    }
    Ok(0)
}

/// `ps`: the container's pids as JSON, or ps(1) output filtered to them.
pub fn ps(root: &StateRoot, id: &str, format: &str, ps_args: &[String]) -> Result<i32> {
    let (st, _) = container::load(root, id)?;
    let pids = container::pids(&st);
    if format == "json" {
        println!("{}", serde_json::to_string(&pids)?);
        return Ok(0);
    }
    let args: Vec<String> = if ps_args.is_empty() {
        vec!["-ef".into()]
    } else {
        ps_args.to_vec()
    };
    let out = std::process::Command::new("ps")
        .args(&args)
        .output()
        .context("running ps")?;
    if !out.status.success() {
        bail!(
            "ps {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let mut lines = text.lines();
    let Some(header) = lines.next() else {
        return Ok(0);
    };
    let pid_col = header
        .split_whitespace()
        .position(|h| h == "PID")
        .context("ps output has no PID column")?;
    println!("{header}");
    for l in lines {
        let pid = l
            .split_whitespace()
            .nth(pid_col)
            .and_then(|p| p.parse::<i32>().ok());
        if pid.is_some_and(|p| pids.contains(&p)) {
            println!("{l}");
        }
    }
    Ok(0)
}

/// The OCI features document.
pub fn features() -> serde_json::Value {
    let caps: Vec<String> = caps::all()
        .iter()
        .map(|c| c.to_string())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    serde_json::json!({
        "ociVersionMin": "1.0.0",
        "ociVersionMax": OCI_VERSION,
        "hooks": ["prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"],
        "mountOptions": [
            "async", "atime", "bind", "defaults", "dev", "diratime", "dirsync", "exec",
            "loud", "mand", "noatime", "nodev", "nodiratime", "noexec", "nomand",
            "norelatime", "nostrictatime", "nosuid", "private", "rbind", "relatime",
            "remount", "ro", "rprivate", "rshared", "rslave", "runbindable", "rw",
            "shared", "silent", "slave", "strictatime", "suid", "sync", "unbindable"
        ],
        "linux": {
            "namespaces": ["cgroup", "ipc", "mount", "network", "pid", "time", "user", "uts"],
            "capabilities": caps,
            "cgroup": {"v1": true, "v2": true, "systemd": false, "systemdUser": false, "rdma": false},
            "seccomp": {
                "enabled": true,
                "actions": ["SCMP_ACT_ALLOW", "SCMP_ACT_ERRNO", "SCMP_ACT_KILL", "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_KILL_THREAD", "SCMP_ACT_LOG", "SCMP_ACT_TRACE", "SCMP_ACT_TRAP"],
                "operators": ["SCMP_CMP_EQ", "SCMP_CMP_GE", "SCMP_CMP_GT", "SCMP_CMP_LE", "SCMP_CMP_LT", "SCMP_CMP_MASKED_EQ", "SCMP_CMP_NE"],
                "archs": ["SCMP_ARCH_AARCH64", "SCMP_ARCH_X86_64"],
                "knownFlags": ["SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW", "SECCOMP_FILTER_FLAG_TSYNC"],
                "supportedFlags": ["SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW", "SECCOMP_FILTER_FLAG_TSYNC"]
            },
            "apparmor": {"enabled": false},
            "selinux": {"enabled": false},
            "intelRdt": {"enabled": false},
            "mountExtensions": {"idmap": {"enabled": false}}
        },
        "annotations": {
            "org.opencontainers.runtime-spec.features.husk.version": env!("CARGO_PKG_VERSION")
        }
    })
}

/// `spec`: writes a sample config.json, refusing to overwrite one.
pub fn write_spec(bundle: &Path, rootless: bool, seccomp: bool) -> Result<i32> {
    let path = bundle.join("config.json");
    if path.exists() {
        bail!("file {} exists: remove it first", path.display());
    }
    let spec = if rootless {
        Spec::rootless(
            nix::unistd::geteuid().as_raw(),
            nix::unistd::getegid().as_raw(),
        )
    } else {
        Spec::default()
    };
    let mut spec = spec;
    spec.set_hostname(Some("husk".into()));
    if seccomp {
        add_default_seccomp(&mut spec)?;
    }
    let text = serde_json::to_string_pretty(&spec)?;
    std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
    Ok(0)
}

/// Puts the default profile, resolved for the spec's bounding capabilities,
/// this architecture and kernel, into linux.seccomp.
fn add_default_seccomp(spec: &mut Spec) -> Result<()> {
    use husk_runtime::seccomp::profile;
    let caps: Vec<String> = spec
        .process()
        .as_ref()
        .and_then(|p| p.capabilities().as_ref())
        .and_then(|c| c.bounding().clone())
        .into_iter()
        .flatten()
        .filter_map(|c| serde_json::to_value(c).ok()?.as_str().map(str::to_string))
        .collect();
    let filter = profile::to_oci(
        profile::default_profile(),
        &caps,
        std::env::consts::ARCH,
        profile::kernel_version()?,
    )?;
    let mut linux = spec.linux().clone().unwrap_or_default();
    linux.set_seccomp(Some(filter));
    spec.set_linux(Some(linux));
    Ok(())
}
