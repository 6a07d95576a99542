//! A container's filesystem from the host: `husk cp` (both directions),
//! `husk diff`, and `husk mount` / `husk unmount` (rootful).
//!
//! A running container's root is reached through `/proc/PID/root`, so the
//! same code works rootless, where its overlay is mounted only in the
//! shim's mount namespace; a stopped one's layer is mounted for the copy.
//! Rootless, these commands run in husk's user namespace, which maps the
//! same ids as the container's.

use std::io::Write;
use std::path::{Path, PathBuf};

use clap::Args;

use crate::catalog::containers::{ContainerRecord, State};
use crate::cli::ctx::Ctx;
use crate::container::{live, lookup, rootfs};
use crate::engine::Engine;
use crate::storage::{export_path, ExportOptions, UnpackOptions};

/// Finds `ctr` and the root of its filesystem for a copy, entering the
/// right namespace first: a running container's user namespace (its root is
/// then reachable as `/proc/PID/root`), else husk's storage namespace, where
/// its layer is mounted for the copy. Returns whether husk mounted it (and
/// must unmount it after).
fn enter_root<'a>(
    ctx: &'a mut Ctx,
    ctr: &str,
) -> anyhow::Result<(&'a mut Engine, ContainerRecord, PathBuf, bool)> {
    let paths = ctx.paths.clone();
    let rec = lookup::find(ctx.catalog()?, ctr)?;
    let l = live::live(&paths, &rec);
    if matches!(l.state, State::Running | State::Paused | State::Created) && l.pid > 0 {
        if paths.rootless && !crate::userns::inside() {
            crate::userns::join(l.pid)?;
        }
        let root = PathBuf::from(format!("/proc/{}/root", l.pid));
        return Ok((ctx.engine(false)?, rec, root, false));
    }
    let eng = ctx.engine(true)?;
    if rec.options.rootfs {
        return Ok((eng, rec.clone(), PathBuf::from(&rec.options.image), false));
    }
    let was = eng
        .store()?
        .containers()
        .is_mounted(&rec.id)
        .unwrap_or(false);
    let p = rootfs::mount_existing(eng, &rec.id)?;
    Ok((eng, rec, p, !was))
}

/// `husk cp` arguments.
#[derive(Debug, Args)]
pub struct CpArgs {
    /// Copy as an archive (accepted: owners are kept as the container sees them).
    #[arg(short = 'a', long)]
    pub archive: bool,
    /// Accepted for podman compatibility.
    #[arg(long)]
    pub overwrite: bool,
    /// SRC: a host path or CONTAINER:PATH (`-` for a tar on stdin).
    pub src: String,
    /// DEST: a host path or CONTAINER:PATH (`-` for a tar on stdout).
    pub dest: String,
}

/// `CONTAINER:PATH` or a host path.
fn split(s: &str) -> Option<(&str, &str)> {
    let (c, p) = s.split_once(':')?;
    (!c.is_empty() && !c.contains('/')).then_some((c, p))
}

/// `husk cp`.
pub fn cp_cmd(ctx: &mut Ctx, a: CpArgs) -> anyhow::Result<i32> {
    match (split(&a.src), split(&a.dest)) {
        (Some(_), Some(_)) => anyhow::bail!("copying between containers is not supported"),
        (None, None) => anyhow::bail!("one of the source and destination must be CONTAINER:PATH"),
        (Some((c, p)), None) => copy_out(ctx, c, p, &a.dest),
        (None, Some((c, p))) => copy_in(ctx, &a.src, c, p),
    }
}

fn copy_out(ctx: &mut Ctx, ctr: &str, path: &str, dest: &str) -> anyhow::Result<i32> {
    let (eng, rec, root, mounted) = enter_root(ctx, ctr)?;
    let path = if path.is_empty() { "/" } else { path };
    let result = (|| -> anyhow::Result<()> {
        if dest == "-" {
            let out = std::io::stdout();
            export_path(
                &root,
                Path::new(path),
                out.lock(),
                &ExportOptions::default(),
            )
            .map_err(|e| anyhow::anyhow!("{ctr}:{path}: {e}"))?
            .flush()?;
            return Ok(());
        }
        let mut tar = Vec::new();
        export_path(&root, Path::new(path), &mut tar, &ExportOptions::default()).map_err(|e| {
            if e.to_string().contains("No such file") {
                anyhow::anyhow!(
                    "{path:?} could not be found on container {ctr}: no such file or directory"
                )
            } else {
                anyhow::anyhow!("{ctr}:{path}: {e}")
            }
        })?;
        extract_on_host(&tar, Path::new(dest), path)
    })();
    if mounted {
        let _ = rootfs::unmount(eng, &rec.id);
    }
    result.map(|_| 0)
}

/// Unpacks the exported tar at `dest` as `docker cp` does: into `dest`
/// when it is a directory, else as `dest` itself. The tar comes from husk's
/// own exporter: one top entry named after the source, no `..`.
fn extract_on_host(tar: &[u8], dest: &Path, src: &str) -> anyhow::Result<()> {
    let name = Path::new(src.trim_end_matches('/'))
        .file_name()
        .map(PathBuf::from);
    let base = match &name {
        Some(n) if dest.is_dir() => dest.join(n),
        _ => dest.to_path_buf(),
    };
    if let Some(parent) = base.parent().filter(|p| !p.as_os_str().is_empty()) {
        if !parent.is_dir() {
            anyhow::bail!("{}: no such directory", parent.display());
        }
    }
    let mut ar = tar::Archive::new(tar);
    ar.set_preserve_permissions(true);
    ar.set_overwrite(true);
    for entry in ar.entries()? {
        let mut entry = entry?;
        let p = entry.path()?.into_owned();
        let rest = match &name {
            Some(n) => p.strip_prefix(n).map(Path::to_path_buf).unwrap_or(p),
            None => p,
        };
        if rest
            .components()
            .any(|c| matches!(c, std::path::Component::ParentDir))
        {
            anyhow::bail!("refusing entry {} with ..", rest.display());
        }
        let target = if rest.as_os_str().is_empty() {
            base.clone()
        } else {
            base.join(rest)
        };
        entry.unpack(&target)?;
    }
    Ok(())
}

/// Opens `rel` as a directory inside the container's root `root_fd`
/// (links resolve inside it, never out); None when it does not exist.
fn open_dir_in(root_fd: &std::os::fd::OwnedFd, rel: &str) -> anyhow::Result<Option<PathBuf>> {
    if rel.is_empty() {
        return Ok(Some(PathBuf::from(format!(
            "/proc/self/fd/{}",
            std::os::fd::AsRawFd::as_raw_fd(root_fd)
        ))));
    }
    match nix::fcntl::openat2(
        std::os::fd::AsRawFd::as_raw_fd(root_fd),
        rel,
        nix::fcntl::OpenHow::new()
            .flags(
                nix::fcntl::OFlag::O_PATH
                    | nix::fcntl::OFlag::O_DIRECTORY
                    | nix::fcntl::OFlag::O_CLOEXEC,
            )
            .resolve(nix::fcntl::ResolveFlag::RESOLVE_IN_ROOT),
    ) {
        // Leaked on purpose: the path stays valid for the unpack.
        Ok(fd) => Ok(Some(PathBuf::from(format!("/proc/self/fd/{fd}")))),
        Err(nix::errno::Errno::ENOENT | nix::errno::Errno::ENOTDIR) => Ok(None),
        Err(e) => Err(anyhow::anyhow!("{rel}: {e}")),
    }
}

/// A tar of the host path `src`, its top entry named `name`.
fn host_tar(src: &Path, name: &Path) -> anyhow::Result<Vec<u8>> {
    let mut b = tar::Builder::new(Vec::new());
    b.follow_symlinks(false);
    if src.is_dir() {
        b.append_dir_all(name, src)?;
    } else {
        b.append_path_with_name(src, name)?;
    }
    Ok(b.into_inner()?)
}

fn copy_in(ctx: &mut Ctx, src: &str, ctr: &str, path: &str) -> anyhow::Result<i32> {
    let from_stdin = src == "-";
    let s = Path::new(src);
    if !from_stdin && std::fs::symlink_metadata(s).is_err() {
        anyhow::bail!("{src:?} could not be found on the host: no such file or directory");
    }
    let (eng, rec, root, mounted) = enter_root(ctx, ctr)?;
    let result = (|| -> anyhow::Result<()> {
        let root_fd = crate::container::passwd::open_root(&root)?;
        let rel = path.trim_matches('/');
        // As `docker cp`: into DEST when it is a directory, else as DEST
        // (its parent must exist). A tar on stdin always unpacks into DEST.
        let (dir, tar) = match open_dir_in(&root_fd, rel)? {
            Some(dir) => {
                let tar = if from_stdin {
                    let mut v = Vec::new();
                    std::io::Read::read_to_end(&mut std::io::stdin(), &mut v)?;
                    v
                } else {
                    let name = s
                        .file_name()
                        .map(PathBuf::from)
                        .unwrap_or_else(|| PathBuf::from("."));
                    host_tar(s, &name)?
                };
                (dir, tar)
            }
            None if !from_stdin => {
                let (parent, last) = rel.rsplit_once('/').unwrap_or(("", rel));
                let dir = open_dir_in(&root_fd, parent)?.ok_or_else(|| {
                    anyhow::anyhow!(
                        "{:?} could not be found on container {ctr}: no such file or directory",
                        format!("/{parent}")
                    )
                })?;
                (dir, host_tar(s, Path::new(last))?)
            }
            None => anyhow::bail!(
                "{path:?} could not be found on container {ctr}: no such file or directory"
            ),
        };
        let opts = UnpackOptions {
            whiteouts: crate::storage::WhiteoutFormat::Oci,
            devices: crate::storage::DevicePolicy::Refuse,
            ids: crate::storage::IdMap::identity(),
        };
        let label = crate::image::digest::Digest::sha256_of(&tar);
        crate::storage::unpack(tar.as_slice(), &dir, &label, &opts)
            .map_err(|e| anyhow::anyhow!("copying into {ctr}:{path}: {e}"))?;
        Ok(())
    })();
    if mounted {
        let _ = rootfs::unmount(eng, &rec.id);
    }
    result.map(|_| 0)
}

/// `husk diff` arguments.
#[derive(Debug, Args)]
pub struct DiffArgs {
    /// Output format: json.
    #[arg(long, value_name = "FORMAT")]
    pub format: Option<String>,
    /// The container.
    pub container: String,
}

/// `husk diff`: the paths the container added (A), changed (C) or
/// deleted (D) against its image.
pub fn diff_cmd(ctx: &mut Ctx, a: DiffArgs) -> anyhow::Result<i32> {
    let eng = ctx.engine(true)?;
    let rec = lookup::find(&eng.catalog, &a.container)?;
    // As podman: the mount points husk bind-mounts over are not changes
    // the container made.
    const MOUNT_POINTS: [&str; 11] = [
        "/dev",
        "/etc/hostname",
        "/etc/hosts",
        "/etc/resolv.conf",
        "/proc",
        "/run",
        "/run/notify",
        "/run/.containerenv",
        "/run/secrets",
        "/sys",
        "/etc/mtab",
    ];
    let mut changes = eng.store()?.containers().changes(&rec.id)?;
    changes.retain(|c| !MOUNT_POINTS.iter().any(|m| c.path == Path::new(m)));
    // A directory shows as changed when husk made a mount point in it
    // (/etc for /etc/hosts); with those gone, drop such directories that
    // hold no other change either.
    let all: Vec<PathBuf> = changes.iter().map(|c| c.path.clone()).collect();
    changes.retain(|c| {
        let only_for_mounts = c.kind.to_string() == "C"
            && MOUNT_POINTS
                .iter()
                .any(|m| Path::new(m).parent() == Some(c.path.as_path()));
        !only_for_mounts || all.iter().any(|p| p != &c.path && p.starts_with(&c.path))
    });
    if a.format.as_deref() == Some("json") {
        let mut by: serde_json::Map<String, serde_json::Value> = Default::default();
        for (k, name) in [("A", "added"), ("C", "changed"), ("D", "deleted")] {
            let v: Vec<String> = changes
                .iter()
                .filter(|c| c.kind.to_string() == k)
                .map(|c| c.path.display().to_string())
                .collect();
            if !v.is_empty() {
                by.insert(name.into(), v.into());
            }
        }
        println!("{}", serde_json::to_string_pretty(&by)?);
        return Ok(0);
    }
    for c in changes {
        println!("{} {}", c.kind, c.path.display());
    }
    Ok(0)
}

/// `husk mount` / `husk unmount` arguments.
#[derive(Debug, Args)]
pub struct MountArgs {
    /// Every container.
    #[arg(short = 'a', long)]
    pub all: bool,
    /// Unmount even when other mounts are counted (unmount only; accepted).
    #[arg(short = 'f', long)]
    pub force: bool,
    /// The containers (none: list the mounted ones).
    pub containers: Vec<String>,
}

fn rootless_refusal(cmd: &str) -> anyhow::Error {
    anyhow::anyhow!(
        "cannot run command \"husk {cmd}\" in rootless mode, must execute `husk unshare` first"
    )
}

/// `husk mount`.
pub fn mount_cmd(ctx: &mut Ctx, a: MountArgs) -> anyhow::Result<i32> {
    // Inside `husk unshare` the mount lives as long as that session.
    if ctx.paths.rootless && !crate::userns::inside() {
        return Err(rootless_refusal("mount"));
    }
    let eng = ctx.engine(true)?;
    if a.containers.is_empty() && !a.all {
        for rec in eng.catalog.containers()? {
            if eng
                .store()?
                .containers()
                .is_mounted(&rec.id)
                .unwrap_or(false)
            {
                let p = eng
                    .store()?
                    .containers()
                    .get(&rec.id)
                    .map(|c| eng.store().map(|s| s.containers().rootfs_path(&c)));
                if let Ok(Ok(p)) = p {
                    println!("{}  {}", &rec.id[..12], p.display());
                }
            }
        }
        return Ok(0);
    }
    let recs = if a.all {
        eng.catalog.containers()?
    } else {
        a.containers
            .iter()
            .map(|n| lookup::find(&eng.catalog, n))
            .collect::<Result<_, _>>()?
    };
    for rec in recs {
        let p = rootfs::mount_existing(eng, &rec.id)?;
        println!("{}", p.display());
    }
    Ok(0)
}

/// `husk unmount`.
pub fn unmount_cmd(ctx: &mut Ctx, a: MountArgs) -> anyhow::Result<i32> {
    if ctx.paths.rootless && !crate::userns::inside() {
        return Err(rootless_refusal("unmount"));
    }
    let eng = ctx.engine(true)?;
    let recs = if a.all {
        eng.catalog.containers()?
    } else {
        a.containers
            .iter()
            .map(|n| lookup::find(&eng.catalog, n))
            .collect::<Result<_, _>>()?
    };
    for rec in recs {
        // A running container keeps its own mount (podman counts mounts:
        // this drops the explicit one, the container's stays).
        if !live::live(&eng.paths, &rec).state.is_active() {
            rootfs::unmount(eng, &rec.id)?;
        }
        println!("{}", if a.all { &rec.id } else { &rec.name });
    }
    Ok(0)
}
