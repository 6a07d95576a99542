//! Process creation with every new namespace in one call: clone3, falling back
//! to the classic clone syscall where clone3 is missing.

use nix::errno::Errno;
use nix::sched::CloneFlags;
use nix::unistd::Pid;

/// Which side of the clone we are on.
#[derive(Debug)]
pub enum Forked {
    /// In the parent, with the child's pid.
    Parent(Pid),
    /// In the child.
    Child,
}

/// clone3's flag to start the child in the cgroup given by fd.
const CLONE_INTO_CGROUP: u64 = 0x2_0000_0000;

#[repr(C)]
#[derive(Default)]
struct CloneArgs {
    flags: u64,
    pidfd: u64,
    child_tid: u64,
    parent_tid: u64,
    exit_signal: u64,
    stack: u64,
    stack_size: u64,
    tls: u64,
    set_tid: u64,
    set_tid_size: u64,
    cgroup: u64,
}

/// Forks with `flags` (CLONE_NEW*), like fork(2) otherwise: the child gets a
/// copy of the address space and returns here. `cgroup_fd`, when given, places
/// the child in that cgroup v2 directory as it is born (CLONE_INTO_CGROUP).
///
/// The caller must be single-threaded, as with fork.
pub fn clone_process(flags: CloneFlags, cgroup_fd: Option<i32>) -> Result<Forked, Errno> {
    let mut args = CloneArgs {
        flags: flags.bits() as u32 as u64,
        exit_signal: libc::SIGCHLD as u64,
        ..Default::default()
    };
    if let Some(fd) = cgroup_fd {
        args.flags |= CLONE_INTO_CGROUP;
        args.cgroup = fd as u64;
    }
    // SAFETY: clone3 with no stack behaves like fork: the child continues on a
    // copy of this stack. The struct is valid for the call's duration and its
    // size is passed; no pointers in it are set.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_clone3,
            &mut args as *mut CloneArgs,
            std::mem::size_of::<CloneArgs>(),
        )
    };
    let ret = if ret == -1 && Errno::last() == Errno::ENOSYS && cgroup_fd.is_none() {
        // SAFETY: the raw clone syscall with a null stack is fork with flags;
        // no pointer arguments are passed.
        unsafe {
            libc::syscall(
                libc::SYS_clone,
                (flags.bits() as u32 as libc::c_ulong) | libc::SIGCHLD as libc::c_ulong,
                0usize,
                0usize,
                0usize,
                0usize,
            )
        }
    } else {
        ret
    };
    match ret {
        -1 => Err(Errno::last()),
        0 => Ok(Forked::Child),
        pid => Ok(Forked::Parent(Pid::from_raw(pid as i32))),
    }
}
