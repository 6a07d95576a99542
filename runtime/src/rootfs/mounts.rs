//! Spec mounts: every type used in practice, with the fallbacks a user
//! namespace needs (sysfs and cgroup by rbind, devpts without gid=, mqueue by
//! bind) and the read-only remount dance for bind mounts.

use std::cell::Cell;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::mount::{mount, MsFlags};
use nix::sys::statvfs::{statvfs, FsFlags};
use oci_spec::runtime::Mount;

use super::options::{self, remount_flags, MountOptions};
use super::resolve::{fd_path, RootDir, TargetKind};
use crate::error::{Result, RuntimeError};

/// Context for mounting: where relative sources are, and whether we are in a
/// user namespace (where some filesystems cannot be mounted fresh).
#[derive(Debug)]
pub struct MountCtx<'a> {
    /// The container's root.
    pub root: &'a RootDir,
    /// The bundle directory (relative bind sources are resolved against it).
    pub bundle: &'a Path,
    /// Whether init runs in a user namespace it created.
    pub in_userns: bool,
    /// The bind sources the runtime cloned before the container process
    /// existed ([`open_bind_sources`]), by index in the spec's mounts.
    pub bind_sources: &'a [Option<OwnedFd>],
}

fn bind_options(m: &Mount) -> MountOptions {
    let o = options::parse(m.options().as_deref().unwrap_or(&[]));
    let fstype = m.typ().as_deref().unwrap_or("");
    if fstype == "bind" || fstype == "rbind" {
        MountOptions {
            bind: true,
            recursive: o.recursive || fstype == "rbind",
            ..o
        }
    } else {
        o
    }
}

/// Clones the source of every bind mount in `mounts` as a detached tree
/// (recursively for rbind), with the runtime's own credentials: init then
/// attaches the clones without looking up any host path (see
/// [`super::detached`]). Non-bind mounts get `None`. A missing source is
/// refused here, before anything exists.
pub fn open_bind_sources(mounts: &[Mount], bundle: &Path) -> Result<Vec<Option<OwnedFd>>> {
    let mut out = Vec::with_capacity(mounts.len());
    for m in mounts {
        let o = bind_options(m);
        if !o.bind {
            out.push(None);
            continue;
        }
        let src = source_path(m, bundle);
        let tree = super::detached::clone_tree(&src, o.recursive).map_err(|e| {
            if e == Errno::ENOENT {
                RuntimeError::Spec(format!(
                    "bind mount source {} for {} does not exist",
                    src.display(),
                    m.destination().display()
                ))
            } else {
                RuntimeError::sys(
                    format!(
                        "cloning bind mount source {} for {}",
                        src.display(),
                        m.destination().display()
                    ),
                    e,
                )
            }
        })?;
        out.push(Some(tree));
    }
    Ok(out)
}

fn mount_err(m: &Mount, e: Errno) -> RuntimeError {
    RuntimeError::sys(
        format!(
            "mounting {} ({}) on {}",
            m.source()
                .as_ref()
                .map(|s| s.display().to_string())
                .unwrap_or_else(|| "none".into()),
            m.typ().as_deref().unwrap_or("none"),
            m.destination().display()
        ),
        e,
    )
}

/// The mount flags the kernel has locked on the mount holding `path` (a user
/// namespace may not clear them on remount), as MsFlags.
fn locked_flags(path: &Path) -> MsFlags {
    let Ok(st) = statvfs(path) else {
        return MsFlags::empty();
    };
    let f = st.flags();
    let mut out = MsFlags::empty();
    for (fs, ms) in [
        (FsFlags::ST_RDONLY, MsFlags::MS_RDONLY),
        (FsFlags::ST_NOSUID, MsFlags::MS_NOSUID),
        (FsFlags::ST_NODEV, MsFlags::MS_NODEV),
        (FsFlags::ST_NOEXEC, MsFlags::MS_NOEXEC),
        (FsFlags::ST_NOATIME, MsFlags::MS_NOATIME),
        (FsFlags::ST_NODIRATIME, MsFlags::MS_NODIRATIME),
        (FsFlags::ST_RELATIME, MsFlags::MS_RELATIME),
    ] {
        if f.contains(fs) {
            out |= ms;
        }
    }
    out
}

/// Remounts a bind mount at `target` with `flags`, keeping flags the kernel
/// locked (nosuid, nodev, ... inherited from a mount made outside our user
/// namespace) when a plain remount is refused.
pub fn remount_bind(target: &Path, flags: MsFlags) -> Result<(), Errno> {
    let base = MsFlags::MS_REMOUNT | MsFlags::MS_BIND;
    match mount(
        None::<&str>,
        target,
        None::<&str>,
        base | flags,
        None::<&str>,
    ) {
        Err(Errno::EPERM) => {
            let locked = locked_flags(target);
            mount(
                None::<&str>,
                target,
                None::<&str>,
                base | flags | locked,
                None::<&str>,
            )
        }
        other => other,
    }
}

fn bind(src: &Path, target: &Path, o: &MountOptions) -> Result<(), Errno> {
    let mut flags = MsFlags::MS_BIND;
    if o.recursive {
        flags |= MsFlags::MS_REC;
    }
    mount(Some(src), target, None::<&str>, flags, None::<&str>)
}

/// Flags a bind mount needs applied by remount after it exists.
fn bind_remount_flags(o: &MountOptions) -> MsFlags {
    o.flags & (remount_flags() | MsFlags::MS_SYNCHRONOUS)
}

fn source_path(m: &Mount, bundle: &Path) -> PathBuf {
    let src = m.source().clone().unwrap_or_default();
    if src.is_relative() {
        bundle.join(src)
    } else {
        src
    }
}

fn target_kind(m: &Mount, o: &MountOptions, bundle: &Path, tree: Option<&OwnedFd>) -> TargetKind {
    if o.bind {
        let is_dir = match tree {
            Some(t) => nix::sys::stat::fstat(t.as_raw_fd())
                .map(|st| st.st_mode & libc::S_IFMT == libc::S_IFDIR)
                .unwrap_or(false),
            None => source_path(m, bundle).is_dir(),
        };
        if !is_dir {
            return TargetKind::File;
        }
    }
    TargetKind::Dir
}

fn apply_propagation(target: &Path, o: &MountOptions) -> Result<(), Errno> {
    for p in &o.propagation {
        mount(None::<&str>, target, None::<&str>, *p, None::<&str>)?;
    }
    Ok(())
}

fn fresh(
    source: &str,
    target: &Path,
    fstype: &str,
    o: &MountOptions,
    data: &str,
) -> Result<(), Errno> {
    let data = (!data.is_empty()).then_some(data);
    mount(Some(source), target, Some(fstype), o.flags, data)
}

/// Is the host's /sys/fs/cgroup a pure cgroup v2 mount?
pub fn host_is_cgroup2() -> bool {
    nix::sys::statfs::statfs("/sys/fs/cgroup")
        .map(|s| s.filesystem_type() == nix::sys::statfs::CGROUP2_SUPER_MAGIC)
        .unwrap_or(false)
}

fn rbind_host(host: &str, target: &Path, fell_back: &Cell<bool>) -> Result<(), Errno> {
    fell_back.set(true);
    let o = MountOptions {
        bind: true,
        recursive: true,
        ..Default::default()
    };
    bind(Path::new(host), target, &o)
}

/// Mounts spec mount number `index` inside the root.
pub fn mount_one(ctx: &MountCtx<'_>, index: usize, m: &Mount) -> Result<()> {
    let fstype = m.typ().as_deref().unwrap_or("");
    let o = bind_options(m);
    let tree = ctx.bind_sources.get(index).and_then(|t| t.as_ref());
    let fd: OwnedFd = ctx
        .root
        .ensure(m.destination(), target_kind(m, &o, ctx.bundle, tree))?;
    let target = fd_path(&fd);
    let source = m
        .source()
        .as_ref()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| fstype.to_string());
    let fb = Cell::new(false);
    let res = if let (true, Some(tree)) = (o.bind, tree) {
        // Cloned by the runtime before the container existed; a slave, so
        // mounts inside it never propagate back to the source's peers.
        super::detached::attach(tree, &fd).and_then(|()| {
            let fd = ctx.root.open_path(m.destination())?;
            mount(
                None::<&str>,
                &fd_path(&fd),
                None::<&str>,
                MsFlags::MS_SLAVE | MsFlags::MS_REC,
                None::<&str>,
            )
        })
    } else if o.bind {
        let src = source_path(m, ctx.bundle);
        if !src.exists() {
            return Err(RuntimeError::Spec(format!(
                "bind mount source {} for {} does not exist",
                src.display(),
                m.destination().display()
            )));
        }
        bind(&src, &target, &o)
    } else {
        match fstype {
            "sysfs" => fresh(&source, &target, "sysfs", &o, &o.data).or_else(|e| {
                if ctx.in_userns && matches!(e, Errno::EPERM | Errno::EACCES) {
                    rbind_host("/sys", &target, &fb)
                } else {
                    Err(e)
                }
            }),
            "mqueue" => fresh(&source, &target, "mqueue", &o, &o.data).or_else(|e| {
                if ctx.in_userns && matches!(e, Errno::EPERM | Errno::EACCES) {
                    rbind_host("/dev/mqueue", &target, &fb)
                } else {
                    Err(e)
                }
            }),
            "devpts" => fresh(&source, &target, "devpts", &o, &o.data).or_else(|e| {
                // A gid= option names a group the user namespace may not map.
                if ctx.in_userns && e == Errno::EINVAL && o.data.contains("gid=") {
                    let data: Vec<&str> = o
                        .data
                        .split(',')
                        .filter(|d| !d.starts_with("gid="))
                        .collect();
                    fresh(&source, &target, "devpts", &o, &data.join(","))
                } else {
                    Err(e)
                }
            }),
            "cgroup" | "cgroup2" => {
                let first = if fstype == "cgroup2" || host_is_cgroup2() {
                    fresh("cgroup2", &target, "cgroup2", &o, "")
                } else {
                    Err(Errno::EPERM)
                };
                // cgroup v1 or hybrid hosts, and user namespaces without a
                // cgroup namespace of their own, get the host's tree by rbind.
                first.or_else(|_| rbind_host("/sys/fs/cgroup", &target, &fb))
            }
            _ => fresh(&source, &target, fstype, &o, &o.data),
        }
    };
    res.map_err(|e| mount_err(m, e))?;
    let fell_back = fb.get();
    // The fd still names the directory under the new mount; reopen the
    // destination to reach the mount itself for remount and propagation.
    let fd = ctx
        .root
        .open_path(m.destination())
        .map_err(|e| mount_err(m, e))?;
    let target = fd_path(&fd);
    let bind_flags = bind_remount_flags(&o);
    if (o.bind || fell_back) && !bind_flags.is_empty() {
        remount_bind(&target, bind_flags).map_err(|e| mount_err(m, e))?;
    }
    apply_propagation(&target, &o).map_err(|e| mount_err(m, e))
}

/// Whether `dest` lies strictly below `base` (component-wise).
fn strictly_below(dest: &Path, base: &Path) -> bool {
    dest != base && dest.starts_with(base)
}

/// Creates, with the runtime's credentials, the mount targets missing in
/// the rootfs `root` (the parent's clone, before the container process
/// exists), giving what it creates to the container's root `owner`. A
/// container with a user namespace of its own may not be able to create
/// them itself: image files owned by ids its map lacks are not its own
/// (a missing /etc/hosts in an /etc that is host root's). Targets below
/// another mount's destination are left to init (they live in that
/// mount). Best effort: what fails here init tries again and reports.
pub fn precreate_targets(
    root: &RootDir,
    mounts: &[Mount],
    bundle: &Path,
    bind_sources: &[Option<OwnedFd>],
    owner: (u32, u32),
) {
    for (i, m) in mounts.iter().enumerate() {
        let dest = m.destination();
        if mounts[..i]
            .iter()
            .any(|e| strictly_below(dest, e.destination()) || e.destination() == dest)
        {
            continue;
        }
        let o = bind_options(m);
        let kind = target_kind(m, &o, bundle, bind_sources.get(i).and_then(|t| t.as_ref()));
        let _ = root.ensure_owned(dest, kind, Some(owner));
    }
}
