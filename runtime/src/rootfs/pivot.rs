//! Switching the root: pivot_root, or MS_MOVE plus chroot under --no-pivot
//! (for roots on ramfs, where pivot_root is not possible).

use std::path::Path;

use nix::fcntl::{open, OFlag};
use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::sys::stat::Mode;
use nix::unistd::{chdir, chroot, fchdir, pivot_root};

use crate::error::{Result, SysContext};

/// Makes `rootfs` the process's root with pivot_root(".", "."): the old root
/// is stacked under the new one and then lazily unmounted.
pub fn pivot(rootfs: &Path) -> Result<()> {
    let flags = OFlag::O_DIRECTORY | OFlag::O_RDONLY | OFlag::O_CLOEXEC;
    let new = open(rootfs, flags, Mode::empty())
        .ctx(|| format!("opening rootfs {}", rootfs.display()))?;
    fchdir(new).ctx(|| format!("entering rootfs {}", rootfs.display()))?;
    let _ = nix::unistd::close(new);
    pivot_cwd(rootfs)
}

/// pivot_root(".", ".") into the working directory, a mount point (the
/// rootfs tree [`super::detached::enter_rootfs`] attached), then detaches
/// the old root. `rootfs` only names it in errors.
pub fn pivot_cwd(rootfs: &Path) -> Result<()> {
    let flags = OFlag::O_DIRECTORY | OFlag::O_RDONLY | OFlag::O_CLOEXEC;
    let old = open("/", flags, Mode::empty()).ctx(|| "opening the old root".into())?;
    pivot_root(".", ".").ctx(|| format!("pivot_root into {}", rootfs.display()))?;
    fchdir(old).ctx(|| "entering the old root".into())?;
    // Keep the unmount of the old root from propagating to the host.
    mount(
        None::<&str>,
        ".",
        None::<&str>,
        MsFlags::MS_SLAVE | MsFlags::MS_REC,
        None::<&str>,
    )
    .ctx(|| "making the old root a slave".into())?;
    umount2(".", MntFlags::MNT_DETACH).ctx(|| "detaching the old root".into())?;
    chdir("/").ctx(|| "entering the new root".into())?;
    let _ = nix::unistd::close(old);
    Ok(())
}

/// chroot into the working directory, the rootfs tree attached over `/`
/// (`--no-pivot` with [`super::detached::enter_rootfs`]).
pub fn chroot_cwd() -> Result<()> {
    chroot(".").ctx(|| "chroot into the rootfs".into())?;
    chdir("/").ctx(|| "entering the new root".into())
}

/// Moves `rootfs` over / and chroots into it (no pivot_root).
pub fn move_root(rootfs: &Path) -> Result<()> {
    chdir(rootfs).ctx(|| format!("entering rootfs {}", rootfs.display()))?;
    mount(Some("."), "/", None::<&str>, MsFlags::MS_MOVE, None::<&str>)
        .ctx(|| format!("moving rootfs {} to /", rootfs.display()))?;
    chroot(".").ctx(|| "chroot into the rootfs".into())?;
    chdir("/").ctx(|| "entering the new root".into())
}
