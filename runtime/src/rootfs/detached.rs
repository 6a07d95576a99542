//! Detached mount trees (the new mount API): the runtime clones the rootfs
//! and the bind-mount sources with `open_tree(OPEN_TREE_CLONE)` while it
//! still has its own credentials, before the container process exists, and
//! init attaches them with `move_mount` from the fds. So no host path (the
//! store's 0700 directories, the engine's userdata) is ever walked with the
//! container's credentials: a container root that is host uid 100000 needs
//! no search permission on the directories above its rootfs.

use std::ffi::CString;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use nix::errno::Errno;

use crate::error::{Result, RuntimeError};

const OPEN_TREE_CLONE: u32 = 1;
const OPEN_TREE_CLOEXEC: u32 = libc::O_CLOEXEC as u32;
const AT_RECURSIVE: u32 = 0x8000;
const MOVE_MOUNT_F_EMPTY_PATH: u32 = 0x4;
const MOVE_MOUNT_T_EMPTY_PATH: u32 = 0x40;

/// open_tree(AT_FDCWD, path, OPEN_TREE_CLONE [| AT_RECURSIVE]): a private
/// copy of the mount (or subtree) at `path`, attached nowhere.
pub fn clone_tree(path: &Path, recursive: bool) -> Result<OwnedFd, Errno> {
    let c = CString::new(path.as_os_str().as_bytes()).map_err(|_| Errno::EINVAL)?;
    let mut flags = OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC;
    if recursive {
        flags |= AT_RECURSIVE;
    }
    // SAFETY: `c` is a valid NUL-terminated path that outlives the call; the
    // other arguments are integers.
    let fd = unsafe { libc::syscall(libc::SYS_open_tree, libc::AT_FDCWD, c.as_ptr(), flags) };
    if fd < 0 {
        return Err(Errno::last());
    }
    // SAFETY: the kernel just returned this fd and nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

/// move_mount(tree, "", target, "", F_EMPTY_PATH | T_EMPTY_PATH): attaches
/// the detached `tree` on the directory or file `target` (an fd, so no path
/// is looked up).
pub fn attach(tree: &OwnedFd, target: &OwnedFd) -> Result<(), Errno> {
    move_mount(
        tree.as_raw_fd(),
        target.as_raw_fd(),
        c"",
        MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH,
    )
}

fn move_mount(from: RawFd, to_dir: RawFd, to: &std::ffi::CStr, flags: u32) -> Result<(), Errno> {
    // SAFETY: both paths are valid NUL-terminated strings that outlive the
    // call; the fds are the caller's.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_move_mount,
            from,
            c"".as_ptr(),
            to_dir,
            to.as_ptr(),
            flags,
        )
    };
    if rc != 0 {
        return Err(Errno::last());
    }
    Ok(())
}

/// Makes the detached rootfs `tree` the working directory and attaches it
/// over `/` of the current mount namespace, so that `pivot_root(".", ".")`
/// (or a chroot) can enter it. Path lookups from the old root are not
/// affected: a mount stacked on the root is only seen through the cwd.
/// The tree is then made a recursive slave, so nothing mounted in it
/// propagates to the peers of the mount it was cloned from.
pub fn enter_rootfs(tree: &OwnedFd, rootfs: &Path) -> Result<()> {
    let what =
        |step: &str, e: Errno| RuntimeError::sys(format!("{step} rootfs {}", rootfs.display()), e);
    nix::unistd::fchdir(tree.as_raw_fd()).map_err(|e| what("entering", e))?;
    move_mount(
        tree.as_raw_fd(),
        libc::AT_FDCWD,
        c"/",
        MOVE_MOUNT_F_EMPTY_PATH,
    )
    .map_err(|e| what("attaching", e))?;
    nix::mount::mount(
        None::<&str>,
        ".",
        None::<&str>,
        nix::mount::MsFlags::MS_SLAVE | nix::mount::MsFlags::MS_REC,
        None::<&str>,
    )
    .map_err(|e| what("making a slave of", e))
}

const MOUNT_ATTR_IDMAP: u64 = 0x0010_0000;
const AT_EMPTY_PATH: u32 = 0x1000;

#[repr(C)]
struct MountAttr {
    attr_set: u64,
    attr_clr: u64,
    propagation: u64,
    userns_fd: u64,
}

/// mount_setattr(tree, MOUNT_ATTR_IDMAP, userns): the detached `tree` (not
/// yet attached anywhere) shows the ids of its filesystem through the
/// mapping of the user namespace `userns` (an id stored as N is seen as the
/// host id container N maps to). The filesystem must support idmapped
/// mounts (ext4, xfs, btrfs, tmpfs since 6.3; not overlayfs itself), and
/// the caller needs CAP_SYS_ADMIN over the filesystem's user namespace.
pub fn set_idmap(tree: &OwnedFd, userns: &OwnedFd) -> Result<(), Errno> {
    let attr = MountAttr {
        attr_set: MOUNT_ATTR_IDMAP,
        attr_clr: 0,
        propagation: 0,
        userns_fd: userns.as_raw_fd() as u64,
    };
    // SAFETY: the path is a valid empty C string and `attr` a valid
    // mount_attr of the size passed; both outlive the call.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            tree.as_raw_fd(),
            c"".as_ptr(),
            AT_EMPTY_PATH,
            &attr as *const MountAttr,
            std::mem::size_of::<MountAttr>(),
        )
    };
    if rc != 0 {
        return Err(Errno::last());
    }
    Ok(())
}

/// move_mount(tree, "", AT_FDCWD, path): attaches the detached `tree` at
/// `path` in the caller's mount namespace.
pub fn attach_at(tree: &OwnedFd, path: &Path) -> Result<(), Errno> {
    let c = CString::new(path.as_os_str().as_bytes()).map_err(|_| Errno::EINVAL)?;
    move_mount(
        tree.as_raw_fd(),
        libc::AT_FDCWD,
        &c,
        MOVE_MOUNT_F_EMPTY_PATH,
    )
}
