//! The infra container: a container like any other to the lifecycle (a
//! shim, logs, stop, cleanup), whose root is an empty per-pod directory
//! with only the husk binary (and, for a dynamically linked husk, its
//! loader and libraries) bound in read-only, running husk's pause. Its
//! spec creates the namespaces the pod shares; members join them by path.
//!
//! Per-pod directories: `<root>/pods/<id>/rootfs` (the infra's root) and,
//! when the pod shares IPC, `<runroot>/pods/<id>/shm`, bound at /dev/shm
//! in the infra and in every member that joins its IPC namespace, so POSIX
//! shared memory is shared as System V IPC is. Under the run root it lives
//! on the same tmpfs as the rest of husk's runtime state on a usual host.

use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};

use super::binary;
use super::error::{PodError, Result};
use super::options::{Namespace, PodOptions};
use super::pause::PAUSE_PATH;
use crate::catalog::pods::PodRecord;
use crate::container::options::ContainerOptions;
use crate::paths::Paths;

/// The pod's persistent directory (`<root>/pods/<id>`).
pub fn pod_dir(paths: &Paths, id: &str) -> PathBuf {
    paths.root.join("pods").join(id)
}

/// The pod's runtime directory (`<runroot>/pods/<id>`).
pub fn pod_run_dir(paths: &Paths, id: &str) -> PathBuf {
    paths.runroot.join("pods").join(id)
}

/// The infra's root filesystem.
pub fn rootfs_dir(paths: &Paths, id: &str) -> PathBuf {
    pod_dir(paths, id).join("rootfs")
}

/// The pod's shared /dev/shm.
pub fn shm_dir(paths: &Paths, id: &str) -> PathBuf {
    pod_run_dir(paths, id).join("shm")
}

/// podman's infra name: the pod id's first 12 digits and `-infra`.
pub fn default_name(pod_id: &str) -> String {
    format!("{}-infra", &pod_id[..12.min(pod_id.len())])
}

fn mkdir(p: &Path, mode: u32) -> Result<()> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o755)
        .create(p)
        .map_err(|e| PodError::io("creating", p, e))?;
    // The umask must not narrow a shared /dev/shm.
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode))
        .map_err(|e| PodError::io("setting the mode of", p, e))
}

/// Makes the per-pod directories the infra needs.
pub fn make_dirs(paths: &Paths, pod: &PodRecord, opts: &PodOptions) -> Result<()> {
    mkdir(&rootfs_dir(paths, &pod.id), 0o755)?;
    if opts.shares(Namespace::Ipc) {
        mkdir(&shm_dir(paths, &pod.id), 0o1777)?;
    }
    Ok(())
}

/// Removes the per-pod directories (missing ones are fine).
pub fn remove_dirs(paths: &Paths, id: &str) -> Result<()> {
    for d in [pod_dir(paths, id), pod_run_dir(paths, id)] {
        match std::fs::remove_dir_all(&d) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(PodError::io("removing", d, e)),
        }
    }
    Ok(())
}

fn volume(source: &Path, target: &Path, mode: &str) -> Result<String> {
    for p in [source, target] {
        if p.to_string_lossy().contains(':') {
            return Err(PodError::Invalid(format!(
                "{}: the infra cannot bind a path that holds ':'",
                p.display()
            )));
        }
    }
    Ok(format!("{}:{}:{mode}", source.display(), target.display()))
}

/// The infra container's options: husk's pause (or `--infra-command`) in
/// the pod's empty root, with the namespaces the pod shares made private
/// (new) so members can join them.
pub fn options(
    paths: &Paths,
    pod: &PodRecord,
    opts: &PodOptions,
    husk_exe: &Path,
) -> Result<ContainerOptions> {
    let root = rootfs_dir(paths, &pod.id);
    let mut volumes = vec![volume(husk_exe, Path::new(PAUSE_PATH), "ro")?];
    let libs = binary::runtime_files(husk_exe)
        .map_err(|e| PodError::io("finding the libraries of", husk_exe, e))?;
    for f in libs {
        volumes.push(volume(&f.source, &f.target, "ro")?);
    }
    if opts.shares(Namespace::Ipc) {
        volumes.push(volume(
            &shm_dir(paths, &pod.id),
            Path::new("/dev/shm"),
            "rw",
        )?);
    }
    Ok(ContainerOptions {
        name: Some(
            opts.infra_name
                .clone()
                .unwrap_or_else(|| default_name(&pod.id)),
        ),
        image: root.display().to_string(),
        rootfs: true,
        entrypoint: Some(opts.infra_argv()),
        hostname: Some(super::lookup::hostname(pod)),
        detach: true,
        volumes,
        read_only_tmpfs: true,
        network: opts.network.clone(),
        cgroupns: opts.shares(Namespace::Cgroup).then(|| "private".to_owned()),
        userns: opts.userns.clone(),
        ..Default::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod() -> PodRecord {
        PodRecord {
            id: "0123456789abcdef".repeat(4),
            name: "web".into(),
            created: String::new(),
            infra_id: None,
            options: serde_json::json!({}),
            extra: serde_json::json!({}),
        }
    }

    #[test]
    fn infra_options() {
        let paths = Paths::resolve(Some(Path::new("/r")), Some(Path::new("/rr")));
        let p = pod();
        let exe = std::fs::read_link("/proc/self/exe").unwrap();
        let o = options(&paths, &p, &PodOptions::default(), &exe).unwrap();
        assert_eq!(o.name.as_deref(), Some("0123456789ab-infra"));
        assert_eq!(o.image, format!("/r/pods/{}/rootfs", p.id));
        assert!(o.rootfs && o.detach);
        assert_eq!(o.entrypoint.as_deref(), Some(&[PAUSE_PATH.to_owned()][..]));
        assert_eq!(o.hostname.as_deref(), Some("web"));
        assert_eq!(
            o.volumes[0],
            format!("{}:/run/husk-pause:ro", exe.display())
        );
        assert_eq!(
            o.volumes.last().unwrap(),
            &format!("/rr/pods/{}/shm:/dev/shm:rw", p.id)
        );
        assert_eq!(o.cgroupns, None);
        let o = options(
            &paths,
            &p,
            &PodOptions {
                share: vec![Namespace::Cgroup],
                infra_name: Some("inf".into()),
                infra_command: Some(vec!["/run/husk-pause".into(), "x".into()]),
                ..Default::default()
            },
            &exe,
        )
        .unwrap();
        assert_eq!(o.cgroupns.as_deref(), Some("private"));
        assert_eq!(o.name.as_deref(), Some("inf"));
        assert_eq!(o.entrypoint.unwrap().len(), 2);
        assert!(!o.volumes.iter().any(|v| v.contains("/dev/shm")));
        assert!(volume(Path::new("/a:b"), Path::new("/c"), "ro").is_err());
    }
}
