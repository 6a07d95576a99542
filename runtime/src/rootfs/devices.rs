//! Device nodes in the container's /dev: the default set every container gets,
//! the spec's linux.devices, and the /dev symlinks. Inside a user namespace
//! mknod is not allowed, so the host's node is bind-mounted instead.

use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

use nix::mount::{mount, MsFlags};
use nix::sys::stat::{makedev, mknodat, Mode, SFlag};
use nix::unistd::{fchownat, Gid, Uid};
use oci_spec::runtime::{LinuxDevice, LinuxDeviceType};

use super::resolve::{fd_path, RootDir, TargetKind};
use crate::error::{Result, RuntimeError, SysContext};

/// A device node to create.
#[derive(Debug, Clone)]
pub struct DeviceNode {
    /// Path inside the container.
    pub path: PathBuf,
    /// Node type (char, block, fifo).
    pub kind: SFlag,
    /// Major number.
    pub major: u64,
    /// Minor number.
    pub minor: u64,
    /// Permission bits.
    pub mode: u32,
    /// Owner uid (container view).
    pub uid: u32,
    /// Owner gid (container view).
    pub gid: u32,
}

/// The devices every container gets (the OCI spec's default list).
pub fn default_devices() -> Vec<DeviceNode> {
    [
        ("/dev/null", 1, 3),
        ("/dev/zero", 1, 5),
        ("/dev/full", 1, 7),
        ("/dev/random", 1, 8),
        ("/dev/urandom", 1, 9),
        ("/dev/tty", 5, 0),
    ]
    .into_iter()
    .map(|(p, major, minor)| DeviceNode {
        path: p.into(),
        kind: SFlag::S_IFCHR,
        major,
        minor,
        mode: 0o666,
        uid: 0,
        gid: 0,
    })
    .collect()
}

/// Converts a spec device.
pub fn from_spec(d: &LinuxDevice) -> Result<DeviceNode> {
    let kind = match d.typ() {
        LinuxDeviceType::C | LinuxDeviceType::U => SFlag::S_IFCHR,
        LinuxDeviceType::B => SFlag::S_IFBLK,
        LinuxDeviceType::P => SFlag::S_IFIFO,
        LinuxDeviceType::A => {
            return Err(RuntimeError::Spec(format!(
                "device {}: type 'a' is only valid in cgroup rules",
                d.path().display()
            )))
        }
    };
    if !d.path().starts_with("/dev") {
        return Err(RuntimeError::Spec(format!(
            "device {} is not under /dev",
            d.path().display()
        )));
    }
    Ok(DeviceNode {
        path: d.path().clone(),
        kind,
        major: d.major() as u64,
        minor: d.minor() as u64,
        mode: d.file_mode().unwrap_or(0o666) & 0o7777,
        uid: d.uid().unwrap_or(0),
        gid: d.gid().unwrap_or(0),
    })
}

fn host_node_path(dev: &DeviceNode) -> PathBuf {
    // Bind the node by its device number, not by the spec's path: the host's
    // file of that name might be something else.
    let dir = if dev.kind == SFlag::S_IFBLK {
        "block"
    } else {
        "char"
    };
    PathBuf::from(format!("/dev/{dir}/{}:{}", dev.major, dev.minor))
}

/// Creates one device inside the root.
pub fn create(root: &RootDir, dev: &DeviceNode, in_userns: bool) -> Result<()> {
    if in_userns {
        let fd = root.ensure(&dev.path, TargetKind::File)?;
        let mut src = host_node_path(dev);
        if !src.exists() {
            src = dev.path.clone();
        }
        mount(
            Some(&src),
            &fd_path(&fd),
            None::<&str>,
            MsFlags::MS_BIND,
            None::<&str>,
        )
        .ctx(|| {
            format!(
                "bind-mounting device {} from {}",
                dev.path.display(),
                src.display()
            )
        })?;
        return Ok(());
    }
    let parent = dev.path.parent().unwrap_or(Path::new("/dev"));
    let name = dev.path.file_name().ok_or_else(|| {
        RuntimeError::Spec(format!("device path {} has no name", dev.path.display()))
    })?;
    let pfd = root.ensure(parent, TargetKind::Dir)?;
    // O_PATH fds cannot be used with mknodat; reopen the directory.
    let dirfd = nix::fcntl::openat(
        Some(pfd.as_raw_fd()),
        ".",
        nix::fcntl::OFlag::O_DIRECTORY | nix::fcntl::OFlag::O_RDONLY | nix::fcntl::OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .ctx(|| format!("opening {}", parent.display()))?;
    // SAFETY: openat just returned this fd; OwnedFd closes it once.
    let dirfd = unsafe { <std::os::fd::OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(dirfd) };
    let _ = nix::unistd::unlinkat(
        Some(dirfd.as_raw_fd()),
        name,
        nix::unistd::UnlinkatFlags::NoRemoveDir,
    );
    mknodat(
        Some(dirfd.as_raw_fd()),
        name,
        dev.kind,
        Mode::from_bits_truncate(dev.mode),
        makedev(dev.major, dev.minor),
    )
    .ctx(|| format!("creating device {}", dev.path.display()))?;
    // mknod applies the umask; set the exact mode asked for.
    nix::sys::stat::fchmodat(
        Some(dirfd.as_raw_fd()),
        name,
        Mode::from_bits_truncate(dev.mode),
        nix::sys::stat::FchmodatFlags::NoFollowSymlink,
    )
    .or_else(|e| {
        if e == nix::errno::Errno::EOPNOTSUPP {
            Ok(())
        } else {
            Err(e)
        }
    })
    .ctx(|| format!("setting mode of {}", dev.path.display()))?;
    fchownat(
        Some(dirfd.as_raw_fd()),
        name,
        Some(Uid::from_raw(dev.uid)),
        Some(Gid::from_raw(dev.gid)),
        nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW,
    )
    .ctx(|| format!("chowning device {}", dev.path.display()))
}

/// Creates the standard /dev symlinks (fd, stdin, stdout, stderr, ptmx) where
/// nothing of that name exists yet. Runs after pivot_root.
pub fn create_symlinks() -> Result<()> {
    let links = [
        ("/proc/self/fd", "/dev/fd"),
        ("/proc/self/fd/0", "/dev/stdin"),
        ("/proc/self/fd/1", "/dev/stdout"),
        ("/proc/self/fd/2", "/dev/stderr"),
    ];
    for (target, link) in links {
        symlink_if_missing(target, link)?;
    }
    if Path::new("/proc/kcore").exists() {
        symlink_if_missing("/proc/kcore", "/dev/core")?;
    }
    if Path::new("/dev/pts/ptmx").exists() {
        let ptmx = Path::new("/dev/ptmx");
        // A ptmx node or bind left by devices must give way to the link into
        // the container's own devpts instance.
        if ptmx
            .symlink_metadata()
            .is_ok_and(|m| !m.file_type().is_symlink())
        {
            let _ = nix::mount::umount2(ptmx, nix::mount::MntFlags::MNT_DETACH);
            let _ = std::fs::remove_file(ptmx);
        }
        symlink_if_missing("pts/ptmx", "/dev/ptmx")?;
    }
    Ok(())
}

fn symlink_if_missing(target: &str, link: &str) -> Result<()> {
    match std::os::unix::fs::symlink(target, link) {
        Err(e) if e.kind() != std::io::ErrorKind::AlreadyExists => Err(RuntimeError::sys(
            format!("creating symlink {link} -> {target}"),
            e,
        )),
        _ => Ok(()),
    }
}
