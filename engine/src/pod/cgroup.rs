//! A pod's cgroup: rootful, one cgroup per pod that holds its infra and
//! members (`<parent>/pod-<id>`, parent `/husk` unless `--cgroup-parent`
//! says otherwise), made by the runtime when the first container is
//! created in it and removed with the pod. Rootless husk runs containers
//! without cgroups unless a subtree is delegated, and pods get none.

use std::path::Path;

use super::error::Result;
use super::options::PodOptions;

/// The default parent of pod cgroups (containers outside pods live in
/// `/husk/<id>`).
pub const DEFAULT_PARENT: &str = "/husk";

/// The cgroup path of pod `id` (the members' `cgroup_parent`); `None`
/// rootless.
pub fn path(opts: &PodOptions, id: &str, rootless: bool) -> Option<String> {
    if rootless {
        return None;
    }
    let parent = opts.cgroup_parent.as_deref().unwrap_or(DEFAULT_PARENT);
    let parent = parent.trim_matches('/');
    Some(if parent.is_empty() {
        format!("/pod-{id}")
    } else {
        format!("/{parent}/pod-{id}")
    })
}

/// Removes the pod's cgroup directories (on every hierarchy); missing ones
/// are fine. The members' own cgroups must be gone already.
pub fn remove(path: &str) -> Result<()> {
    let cg = husk_runtime::cgroup::resolve_path("pod", Some(Path::new(path)), false)
        .map_err(crate::container::error::ContainerError::from)?;
    cg.remove()
        .map_err(crate::container::error::ContainerError::from)?;
    Ok(())
}

/// Whether any directory of the pod's cgroup exists (for tests and
/// checks that nothing was left behind).
pub fn exists(path: &str) -> bool {
    husk_runtime::cgroup::resolve_path("pod", Some(Path::new(path)), false)
        .map(|cg| cg.dirs().any(|d| d.exists()))
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths() {
        let o = PodOptions::default();
        assert_eq!(path(&o, "ab", false).as_deref(), Some("/husk/pod-ab"));
        assert_eq!(path(&o, "ab", true), None);
        let o = PodOptions {
            cgroup_parent: Some("mine/pods/".into()),
            ..Default::default()
        };
        assert_eq!(path(&o, "ab", false).as_deref(), Some("/mine/pods/pod-ab"));
        let o = PodOptions {
            cgroup_parent: Some("/".into()),
            ..Default::default()
        };
        assert_eq!(path(&o, "ab", false).as_deref(), Some("/pod-ab"));
    }
}
