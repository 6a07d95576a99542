//! cgroupsPath semantics as runc has them: an absolute path is taken from the
//! root of each hierarchy, a relative one from the runtime's own cgroup, and
//! no path means a default per container id.

use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};

use super::layout::{Layout, CGROUP_ROOT};
use super::{Cgroup, V1_CONTROLLERS};
use crate::error::{Result, RuntimeError, SysContext};

/// The runtime's own cgroup per hierarchy, from /proc/self/cgroup: "" for
/// the v2 hierarchy, and each v1 controller name.
fn own_cgroups() -> BTreeMap<String, PathBuf> {
    let mut out = BTreeMap::new();
    let Ok(text) = std::fs::read_to_string("/proc/self/cgroup") else {
        return out;
    };
    for line in text.lines() {
        let mut parts = line.splitn(3, ':');
        let (_, ctrls, path) = (parts.next(), parts.next(), parts.next());
        let (Some(ctrls), Some(path)) = (ctrls, path) else {
            continue;
        };
        let rel = PathBuf::from(path.trim_start_matches('/'));
        if ctrls.is_empty() {
            out.insert(String::new(), rel);
        } else {
            for c in ctrls.split(',') {
                out.insert(c.to_string(), rel.clone());
            }
        }
    }
    out
}

fn check(path: &Path) -> Result<PathBuf> {
    let mut clean = PathBuf::new();
    for c in path.components() {
        match c {
            Component::RootDir | Component::CurDir => {}
            Component::Normal(n) => clean.push(n),
            Component::ParentDir | Component::Prefix(_) => {
                return Err(RuntimeError::Spec(format!(
                    "invalid cgroupsPath {}: '..' is not allowed",
                    path.display()
                )))
            }
        }
    }
    if clean.as_os_str().is_empty() {
        return Err(RuntimeError::Spec(format!(
            "invalid cgroupsPath {:?}: it names the root cgroup",
            path.display().to_string()
        )));
    }
    Ok(clean)
}

/// The cgroup of a container with `id` and the spec's `cgroups_path`.
/// Rootless, only directories this user can write are used; `None` when
/// there are none (the container then runs without a cgroup).
pub fn resolve_path(id: &str, cgroups_path: Option<&Path>, rootless: bool) -> Result<Cgroup> {
    let layout = Layout::detect();
    let own = own_cgroups();
    // A systemd-style "slice:prefix:name" path is refused until there is a
    // systemd driver; runc needs --systemd-cgroup for it too.
    if let Some(p) = cgroups_path {
        let s = p.to_string_lossy();
        if !s.starts_with('/') && s.matches(':').count() == 2 {
            return Err(RuntimeError::Spec(format!(
                "cgroupsPath {s:?} is in systemd form (slice:prefix:name); husk-runtime has no systemd cgroup driver"
            )));
        }
    }
    let (absolute, rel) = match cgroups_path {
        Some(p) if p.is_absolute() => (true, check(p)?),
        Some(p) => (false, check(p)?),
        // Rootful: a top-level tree of our own; rootless: under our cgroup.
        None if rootless => (false, PathBuf::from(format!("husk-runtime-{id}"))),
        None => (true, PathBuf::from("husk-runtime").join(id)),
    };
    let place = |mount: PathBuf, key: &str| -> PathBuf {
        if absolute {
            mount.join(&rel)
        } else {
            mount
                .join(own.get(key).cloned().unwrap_or_default())
                .join(&rel)
        }
    };
    let mut cg = Cgroup::default();
    if let Some(root) = layout.unified_root() {
        cg.unified = Some(place(root, ""));
        cg.unified_controllers = layout == Layout::Unified;
    }
    if layout != Layout::Unified {
        for c in V1_CONTROLLERS {
            let mount = Path::new(CGROUP_ROOT).join(c);
            if mount.join("cgroup.procs").exists() {
                cg.v1.insert(c.to_string(), place(mount, c));
            }
        }
    }
    if rootless {
        cg.unified = cg.unified.filter(|d| writable_ancestor(d));
        cg.v1.retain(|_, d| writable_ancestor(d));
    }
    Ok(cg)
}

/// Whether the nearest existing ancestor of `dir` (or `dir` itself) is a
/// cgroup directory this process may create children in and write to.
fn writable_ancestor(dir: &Path) -> bool {
    let mut p = dir;
    loop {
        if p.exists() {
            return nix::unistd::access(p, nix::unistd::AccessFlags::W_OK).is_ok()
                && nix::unistd::access(&p.join("cgroup.procs"), nix::unistd::AccessFlags::W_OK)
                    .is_ok();
        }
        match p.parent() {
            Some(parent) => p = parent,
            None => return false,
        }
    }
}

/// A new v1 cpuset cgroup starts with empty cpus and mems, and takes no tasks
/// until they are set: copy them down from the nearest ancestor that has them.
pub fn init_cpuset(dir: &Path) -> Result<()> {
    for file in ["cpuset.cpus", "cpuset.mems"] {
        let mut chain = vec![dir.to_path_buf()];
        let mut value = String::new();
        let mut p = dir.parent();
        while let Some(parent) = p {
            let v = std::fs::read_to_string(parent.join(file)).unwrap_or_default();
            if !v.trim().is_empty() {
                value = v.trim().to_string();
                break;
            }
            chain.push(parent.to_path_buf());
            p = parent.parent();
        }
        for d in chain.iter().rev() {
            let f = d.join(file);
            let cur = std::fs::read_to_string(&f).unwrap_or_default();
            if cur.trim().is_empty() {
                std::fs::write(&f, &value)
                    .ctx(|| format!("writing {value:?} to {}", f.display()))?;
            }
        }
    }
    Ok(())
}
