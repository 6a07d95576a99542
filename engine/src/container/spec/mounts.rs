//! The mount list: podman's default mounts (what a user namespace or a host
//! namespace changes about them), the per-container files, the user's
//! mounts once realised on disk, and the final order.

use std::path::{Path, PathBuf};

use oci_spec::runtime::{Mount, MountBuilder};

use super::error::{Result, SpecError};
use super::namespaces::{Mode, Plan};
use super::volumes::{Kind, Planned};

/// podman's default /dev/shm size (containers.conf `shm_size`).
pub const DEFAULT_SHM_SIZE: i64 = 64 << 20;

/// Builds one OCI mount.
pub fn mount(dest: &str, typ: &str, source: &str, options: &[&str]) -> Mount {
    MountBuilder::default()
        .destination(dest)
        .typ(typ)
        .source(source)
        .options(options.iter().map(|o| o.to_string()).collect::<Vec<_>>())
        .build()
        .expect("all fields set")
}

fn owned(dest: &Path, typ: &str, source: &Path, options: Vec<String>) -> Mount {
    MountBuilder::default()
        .destination(dest)
        .typ(typ)
        .source(source)
        .options(options)
        .build()
        .expect("all fields set")
}

/// A tmpfs size option (`size=65536k` for whole KiB, as podman writes it).
pub fn size_option(bytes: i64) -> String {
    if bytes % 1024 == 0 {
        format!("size={}k", bytes / 1024)
    } else {
        format!("size={bytes}")
    }
}

/// What the default mounts depend on.
#[derive(Debug, Clone)]
pub struct BaseInput<'a> {
    /// Namespaces.
    pub ns: &'a Plan,
    /// husk runs rootless.
    pub rootless: bool,
    /// The container has a user namespace of its own (new or joined).
    pub own_userns: bool,
    /// `--privileged`.
    pub privileged: bool,
    /// gid 5 (tty) exists in the container's user namespace.
    pub gid5_mapped: bool,
    /// `--shm-size` (bytes).
    pub shm_size: Option<i64>,
    /// The joined IPC namespace's /dev/shm.
    pub shm_join: Option<&'a Path>,
    /// `--read-only`.
    pub read_only: bool,
    /// `--read-only-tmpfs`.
    pub read_only_tmpfs: bool,
    /// `unmask` covers /sys/fs/cgroup on a cgroup v2 host (rw cgroup).
    pub cgroup_rw: bool,
}

/// Whether a fresh sysfs can be mounted: not with the host's network
/// namespace from a user namespace, and from a user namespace of the
/// container's own only with a network namespace it creates (podman's
/// `canMountSys`).
pub fn can_mount_sys(b: &BaseInput<'_>) -> bool {
    let net = &b.ns.network;
    if *net == Mode::Host && (b.rootless || b.own_userns) {
        return false;
    }
    if b.own_userns {
        return net.is_private();
    }
    true
}

/// podman's default mounts, in podman's order, with the user-namespace and
/// host-namespace variants.
pub fn base(b: &BaseInput<'_>) -> Vec<Mount> {
    let in_userns = b.rootless || b.own_userns;
    let mut m = Vec::with_capacity(12);
    if in_userns && b.ns.pid == Mode::Host {
        m.push(mount(
            "/proc",
            "bind",
            "/proc",
            &["rbind", "nosuid", "noexec", "nodev"],
        ));
    } else {
        m.push(mount(
            "/proc",
            "proc",
            "proc",
            &["nosuid", "noexec", "nodev"],
        ));
    }
    m.push(mount(
        "/dev",
        "tmpfs",
        "tmpfs",
        &["nosuid", "noexec", "strictatime", "mode=755", "size=65536k"],
    ));
    let mut pts = vec![
        "nosuid",
        "noexec",
        "newinstance",
        "ptmxmode=0666",
        "mode=0620",
    ];
    if b.gid5_mapped {
        pts.push("gid=5");
    }
    m.push(mount("/dev/pts", "devpts", "devpts", &pts));
    if in_userns && b.ns.ipc == Mode::Host {
        m.push(mount(
            "/dev/mqueue",
            "bind",
            "/dev/mqueue",
            &["bind", "nosuid", "noexec", "nodev"],
        ));
    } else {
        m.push(mount(
            "/dev/mqueue",
            "mqueue",
            "mqueue",
            &["nosuid", "noexec", "nodev"],
        ));
    }
    let shm_ro = b.read_only && !b.read_only_tmpfs;
    let mut shm_opts = vec!["nosuid", "noexec", "nodev"];
    if shm_ro {
        shm_opts.push("ro");
    }
    match (&b.ns.ipc, b.shm_join) {
        (Mode::None, _) => {}
        (Mode::Host, _) => {
            let mut o = vec!["rbind", "rprivate"];
            o.extend(&shm_opts);
            m.push(mount("/dev/shm", "bind", "/dev/shm", &o));
        }
        (Mode::Join(_), Some(p)) => {
            let mut o: Vec<String> = vec!["rbind".into(), "rprivate".into()];
            o.extend(shm_opts.iter().map(|s| s.to_string()));
            m.push(owned(Path::new("/dev/shm"), "bind", p, o));
        }
        _ => {
            let size = size_option(b.shm_size.unwrap_or(DEFAULT_SHM_SIZE));
            let mut o = shm_opts.clone();
            o.push("mode=1777");
            o.push(&size);
            m.push(mount("/dev/shm", "tmpfs", "shm", &o));
        }
    }
    if can_mount_sys(b) {
        let perm = if b.privileged { "rw" } else { "ro" };
        m.push(mount(
            "/sys",
            "sysfs",
            "sysfs",
            &["nosuid", "noexec", "nodev", perm],
        ));
        let cg = if b.privileged || b.cgroup_rw {
            "rw"
        } else {
            "ro"
        };
        m.push(mount(
            "/sys/fs/cgroup",
            "cgroup",
            "cgroup",
            &["rprivate", "nosuid", "noexec", "nodev", "relatime", cg],
        ));
    } else {
        let perm = if b.privileged { "rw" } else { "ro" };
        let o = ["rprivate", "nosuid", "noexec", "nodev", perm, "rbind"];
        m.push(mount("/sys", "bind", "/sys", &o));
        m.push(mount("/sys/fs/cgroup", "bind", "/sys/fs/cgroup", &o));
    }
    if b.read_only && b.read_only_tmpfs {
        for d in ["/tmp", "/var/tmp", "/run"] {
            m.push(mount(
                d,
                "tmpfs",
                "tmpfs",
                &["rw", "rprivate", "nosuid", "nodev"],
            ));
        }
    }
    m
}

/// A bind of a per-container file (`/etc/hosts`...), read-only with
/// `--read-only` as podman makes them.
pub fn file_bind(dest: &str, source: &Path, read_only: bool) -> Mount {
    let mut o = vec!["bind".to_string(), "rprivate".to_string()];
    if read_only {
        o.extend(["ro", "nosuid", "noexec", "nodev"].map(String::from));
    }
    owned(Path::new(dest), "bind", source, o)
}

/// Paths created while realising mounts, removed again if generation fails
/// later (so bad input leaves nothing behind).
#[derive(Debug, Default)]
pub struct Undo {
    paths: Vec<PathBuf>,
    done: bool,
}

impl Undo {
    /// Records a created file or directory tree.
    pub fn created(&mut self, p: PathBuf) {
        self.paths.push(p);
    }

    /// Keeps everything.
    pub fn commit(mut self) {
        self.done = true;
    }
}

impl Drop for Undo {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        for p in self.paths.iter().rev() {
            let _ = std::fs::remove_file(p).or_else(|_| std::fs::remove_dir_all(p));
        }
    }
}

/// Creates `dir` and missing parents (0755); records the topmost one made.
pub fn create_dirs(dir: &Path, undo: &mut Undo) -> std::io::Result<()> {
    let mut first_missing = None;
    let mut p = Some(dir);
    while let Some(d) = p {
        if d.exists() {
            break;
        }
        first_missing = Some(d.to_path_buf());
        p = d.parent();
    }
    if let Some(top) = first_missing {
        std::fs::create_dir_all(dir)?;
        undo.created(top);
    }
    Ok(())
}

/// Whether SELinux is enabled on this host (z/Z would need relabelling).
pub fn selinux_enabled() -> bool {
    Path::new("/sys/fs/selinux/enforce").exists()
}

/// Turns a planned user mount into its OCI mount: refuses a missing
/// source (`-v`: podman's `statfs SRC: no such file or directory`), inherits nosuid/nodev/noexec
/// from the source's mount as podman does, and refuses z/Z where SELinux
/// would need a relabel husk cannot do. `U` (chown) is applied later, once
/// the user is known.
pub fn realize(p: &Planned) -> Result<Option<Mount>> {
    if p.relabel && selinux_enabled() {
        return Err(SpecError::unsupported(
            format!("relabelling (z/Z) in {} {}", p.flag, p.spec),
            "husk cannot set SELinux labels; drop z/Z or label the source yourself",
        ));
    }
    match &p.kind {
        Kind::Anonymous => Ok(None),
        Kind::Tmpfs => Ok(Some(owned(
            &p.dest,
            "tmpfs",
            Path::new("tmpfs"),
            p.options.clone(),
        ))),
        Kind::Bind { source, create } => {
            if let Err(e) = std::fs::symlink_metadata(source) {
                if !create {
                    return Err(SpecError::invalid(
                        p.flag,
                        &p.spec,
                        format!("the source {} does not exist", source.display()),
                    ));
                }
                // podman 5 creates no missing -v source: it fails statfs.
                let why = if e.kind() == std::io::ErrorKind::NotFound {
                    "no such file or directory".to_owned()
                } else {
                    e.to_string()
                };
                return Err(SpecError::Conflict(format!(
                    "statfs {}: {why}",
                    source.display()
                )));
            }
            let mut options = p.options.clone();
            if let Ok(st) = nix::sys::statvfs::statvfs(source) {
                use nix::sys::statvfs::FsFlags;
                let f = st.flags();
                if !p.set_exec && f.contains(FsFlags::ST_NOEXEC) {
                    options.push("noexec".into());
                }
                if !p.set_suid && f.contains(FsFlags::ST_NOSUID) {
                    options.push("nosuid".into());
                }
                if !p.set_dev && f.contains(FsFlags::ST_NODEV) {
                    options.push("nodev".into());
                }
            }
            Ok(Some(owned(&p.dest, "bind", source, options)))
        }
    }
}

/// Orders mounts so that no mount hides a later one: by the number of
/// components of the destination, stable (podman's `sortMounts`). Earlier
/// mounts with the same destination as a later one are dropped (user mounts
/// come last and supersede the defaults).
pub fn finalize(mut all: Vec<Mount>) -> Vec<Mount> {
    let mut keep = vec![true; all.len()];
    for i in 0..all.len() {
        if all[i + 1..]
            .iter()
            .any(|m| m.destination() == all[i].destination())
        {
            keep[i] = false;
        }
    }
    let mut k = keep.into_iter();
    all.retain(|_| k.next().unwrap_or(true));
    all.sort_by_key(|m| m.destination().components().count());
    all
}

/// Whether `path` is on one of the mounts (equal to or under a destination
/// other than `/`).
pub fn on_mount(mounts: &[Mount], path: &Path) -> bool {
    mounts.iter().any(|m| path.starts_with(m.destination()))
}

/// podman's rootfsPropagation: `shared` when any mount is (r)shared,
/// `rslave` when any is (r)slave, otherwise unset.
pub fn root_propagation(mounts: &[Mount]) -> Option<String> {
    let mut out: Option<&str> = None;
    for o in mounts.iter().flat_map(|m| m.options().iter().flatten()) {
        match o.as_str() {
            "shared" | "rshared" => out = Some("shared"),
            "slave" | "rslave" if out.is_none() => out = Some("rslave"),
            _ => {}
        }
    }
    out.map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::container::options::ContainerOptions;
    use crate::container::spec::namespaces::{plan, NamespaceJoins};

    fn input<'a>(ns: &'a Plan) -> BaseInput<'a> {
        BaseInput {
            ns,
            rootless: false,
            own_userns: false,
            privileged: false,
            gid5_mapped: true,
            shm_size: None,
            shm_join: None,
            read_only: false,
            read_only_tmpfs: true,
            cgroup_rw: false,
        }
    }

    fn find<'a>(m: &'a [Mount], d: &str) -> Option<&'a Mount> {
        m.iter().find(|x| x.destination() == Path::new(d))
    }

    fn opts(m: &Mount) -> Vec<String> {
        m.options().clone().unwrap_or_default()
    }

    fn ns(o: ContainerOptions) -> Plan {
        plan(&o, &NamespaceJoins::default(), false).unwrap()
    }

    #[test]
    fn podman_defaults() {
        let p = ns(ContainerOptions::default());
        let m = base(&input(&p));
        let dests: Vec<_> = m
            .iter()
            .map(|x| x.destination().display().to_string())
            .collect();
        assert_eq!(
            dests,
            [
                "/proc",
                "/dev",
                "/dev/pts",
                "/dev/mqueue",
                "/dev/shm",
                "/sys",
                "/sys/fs/cgroup"
            ]
        );
        assert!(opts(find(&m, "/dev/pts").unwrap()).contains(&"gid=5".to_string()));
        let shm = find(&m, "/dev/shm").unwrap();
        assert_eq!(shm.typ().as_deref(), Some("tmpfs"));
        assert_eq!(
            opts(shm),
            ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]
        );
        assert!(opts(find(&m, "/sys").unwrap()).contains(&"ro".to_string()));
    }

    #[test]
    fn user_namespace_and_host_variants() {
        let p = ns(ContainerOptions {
            network: Some("host".into()),
            pid: Some("host".into()),
            ipc: Some("host".into()),
            ..Default::default()
        });
        let mut i = input(&p);
        i.rootless = true;
        i.gid5_mapped = false;
        let m = base(&i);
        assert_eq!(find(&m, "/proc").unwrap().typ().as_deref(), Some("bind"));
        assert_eq!(
            find(&m, "/dev/mqueue").unwrap().typ().as_deref(),
            Some("bind")
        );
        assert_eq!(find(&m, "/sys").unwrap().typ().as_deref(), Some("bind"));
        assert_eq!(
            find(&m, "/sys/fs/cgroup").unwrap().typ().as_deref(),
            Some("bind")
        );
        assert_eq!(
            find(&m, "/dev/shm").unwrap().source().as_deref(),
            Some(Path::new("/dev/shm"))
        );
        assert!(!opts(find(&m, "/dev/pts").unwrap()).contains(&"gid=5".to_string()));
        // Rootful with host namespaces: fresh filesystems still work.
        i.rootless = false;
        let m = base(&i);
        assert_eq!(find(&m, "/proc").unwrap().typ().as_deref(), Some("proc"));
        assert_eq!(find(&m, "/sys").unwrap().typ().as_deref(), Some("sysfs"));
        // An own user namespace with a joined network: bind /sys.
        let p = ns(ContainerOptions {
            network: Some("ns:/run/netns/x".into()),
            ..Default::default()
        });
        let mut i = input(&p);
        i.own_userns = true;
        assert!(!can_mount_sys(&i));
    }

    #[test]
    fn ipc_none_privileged_read_only() {
        let p = ns(ContainerOptions {
            ipc: Some("none".into()),
            ..Default::default()
        });
        let mut i = input(&p);
        i.privileged = true;
        i.read_only = true;
        let m = base(&i);
        assert!(find(&m, "/dev/shm").is_none());
        assert!(opts(find(&m, "/sys").unwrap()).contains(&"rw".to_string()));
        assert!(opts(find(&m, "/sys/fs/cgroup").unwrap()).contains(&"rw".to_string()));
        for d in ["/tmp", "/var/tmp", "/run"] {
            assert_eq!(
                opts(find(&m, d).unwrap()),
                ["rw", "rprivate", "nosuid", "nodev"]
            );
        }
        let p = ns(ContainerOptions::default());
        let mut i = input(&p);
        i.read_only = true;
        i.read_only_tmpfs = false;
        i.shm_size = Some(1 << 20);
        let m = base(&i);
        assert!(find(&m, "/tmp").is_none());
        let shm = opts(find(&m, "/dev/shm").unwrap());
        assert!(shm.contains(&"ro".to_string()) && shm.contains(&"size=1024k".to_string()));
        assert_eq!(size_option(1000), "size=1000");
    }

    #[test]
    fn order_and_supersede() {
        let m = finalize(vec![
            mount("/etc/hosts", "bind", "/default", &[]),
            mount("/a/b/c", "bind", "/x", &[]),
            mount("/dev", "tmpfs", "tmpfs", &[]),
            mount("/etc/hosts", "bind", "/user", &[]),
            mount("/a", "tmpfs", "tmpfs", &[]),
        ]);
        let d: Vec<_> = m
            .iter()
            .map(|x| x.destination().display().to_string())
            .collect();
        assert_eq!(d, ["/dev", "/a", "/etc/hosts", "/a/b/c"]);
        assert_eq!(m[2].source().as_deref(), Some(Path::new("/user")));
        assert!(on_mount(&m, Path::new("/a/x")));
        assert!(!on_mount(&m, Path::new("/b")));
        assert_eq!(root_propagation(&m), None);
        let m = vec![
            mount("/x", "bind", "/x", &["rslave"]),
            mount("/y", "bind", "/y", &["rshared"]),
        ];
        assert_eq!(root_propagation(&m).as_deref(), Some("shared"));
    }

    #[test]
    fn realize_refuses_missing_sources() {
        let d = tempfile::tempdir().unwrap();
        let src = d.path().join("new/deep");
        let spec = format!("{}:/data", src.display());
        let p = super::super::volumes::parse_volume(&spec, Path::new("/")).unwrap();
        // podman 5 creates no missing -v source.
        let e = realize(&p).unwrap_err().to_string();
        assert_eq!(
            e,
            format!("statfs {}: no such file or directory", src.display())
        );
        assert!(!d.path().join("new").exists());
        std::fs::create_dir_all(&src).unwrap();
        let m = realize(&p).unwrap().unwrap();
        assert_eq!(m.typ().as_deref(), Some("bind"));
        let p = super::super::volumes::parse_mount(&format!(
            "type=bind,src={}/missing,dst=/x",
            d.path().display()
        ))
        .unwrap();
        let e = realize(&p).unwrap_err().to_string();
        assert!(
            e.contains("does not exist") && e.starts_with("invalid --mount"),
            "{e}"
        );
    }
}
