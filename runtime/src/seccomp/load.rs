//! Installing a compiled filter with seccomp(2).

use std::io;

use super::bpf::SockFilter;
use super::{Filter, SeccompError};

/// `SECCOMP_SET_MODE_FILTER`.
const SECCOMP_SET_MODE_FILTER: libc::c_ulong = 1;

/// The kernel's `struct sock_fprog`.
#[repr(C)]
struct SockFprog {
    len: libc::c_ushort,
    filter: *const SockFilter,
}

/// Installs `filter` on the calling thread (on every thread of the process
/// with `SECCOMP_FILTER_FLAG_TSYNC`), with the flags of the spec.
///
/// The caller must have set no_new_privs (`prctl(PR_SET_NO_NEW_PRIVS)`) or
/// hold CAP_SYS_ADMIN in its user namespace; otherwise the kernel refuses
/// with EACCES. The filter is inherited across fork, clone and execve and
/// cannot be removed.
///
/// Makes exactly one system call and does not allocate, so it is safe to
/// call between fork and execve.
pub fn load(filter: &Filter) -> Result<(), SeccompError> {
    let program = filter.program();
    let prog = SockFprog {
        // compile() never builds more than 4096 instructions.
        len: program.len() as libc::c_ushort,
        filter: program.as_ptr(),
    };
    // SAFETY: `prog` describes `program.len()` initialised instructions in
    // the layout of `struct sock_filter`, alive for the whole call; the
    // kernel copies them and keeps no pointer.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            SECCOMP_SET_MODE_FILTER,
            libc::c_ulong::from(filter.flags()),
            &prog as *const SockFprog,
        )
    };
    match rc {
        0 => Ok(()),
        tid if tid > 0 => Err(SeccompError::Tsync(tid)),
        _ => {
            let source = io::Error::last_os_error();
            let reason = match source.raw_os_error() {
                Some(libc::EACCES) => "the caller has neither no_new_privs set nor CAP_SYS_ADMIN",
                Some(libc::EINVAL) => {
                    "the kernel refused the program or one of its flags \
                     (a flag newer than the kernel?)"
                }
                Some(libc::ENOMEM) => "the stacked filters exceed the kernel's size limit",
                Some(libc::ENOSYS) => "the kernel has no seccomp filter support",
                _ => "seccomp(SECCOMP_SET_MODE_FILTER) failed",
            };
            Err(SeccompError::Load { reason, source })
        }
    }
}
