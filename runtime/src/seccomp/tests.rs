//! Real-kernel tests: each loads a filter in a forked child (after
//! PR_SET_NO_NEW_PRIVS), makes system calls there and reports through its
//! exit status. The child only makes raw system calls between fork and
//! _exit, so forking from the multi-threaded test harness is safe.

use std::ffi::CString;

use oci_spec::runtime::LinuxSeccomp;
use serde_json::json;

use super::profile::{default_profile, kernel_version, to_oci};
use super::{compile, load, Filter};

#[derive(Debug, PartialEq, Eq)]
enum Outcome {
    Exited(i32),
    Signaled(i32),
}

fn filter(v: serde_json::Value) -> Filter {
    let spec: LinuxSeccomp = serde_json::from_value(v).unwrap();
    compile(&spec).unwrap()
}

fn default_filter(caps: &[&str]) -> Filter {
    let caps: Vec<String> = caps.iter().map(|c| c.to_string()).collect();
    let oci = to_oci(
        default_profile(),
        &caps,
        std::env::consts::ARCH,
        kernel_version().unwrap(),
    )
    .unwrap();
    compile(&oci).unwrap()
}

/// Forks; the child sets no_new_privs, loads `filter`, runs `body` and
/// exits with its result (100 and 101 report setup failures).
fn in_child(filter: &Filter, body: impl FnOnce() -> i32) -> Outcome {
    // SAFETY: the child runs only prctl, seccomp, the raw calls of `body`
    // and _exit, all async-signal-safe, and never returns into the harness.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork: {}", std::io::Error::last_os_error());
    if pid == 0 {
        // SAFETY: prctl with integer arguments; _exit never returns.
        unsafe {
            if libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 {
                libc::_exit(100);
            }
            if load(filter).is_err() {
                libc::_exit(101);
            }
            libc::_exit(body());
        }
    }
    let mut status = 0;
    // SAFETY: waits for our own child; `status` is a valid out pointer.
    let rc = unsafe { libc::waitpid(pid, &mut status, 0) };
    assert_eq!(rc, pid, "waitpid: {}", std::io::Error::last_os_error());
    if libc::WIFEXITED(status) {
        Outcome::Exited(libc::WEXITSTATUS(status))
    } else {
        Outcome::Signaled(libc::WTERMSIG(status))
    }
}

/// errno of a raw call that returned `rc` (0 when it succeeded).
fn errno_of(rc: libc::c_long) -> i32 {
    if rc == -1 {
        std::io::Error::last_os_error()
            .raw_os_error()
            .unwrap_or(255)
    } else {
        0
    }
}

fn getppid_with(action: &str) -> Outcome {
    let f = filter(json!({"defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["getppid"], "action": action, "errnoRet": 42}]}));
    in_child(&f, || {
        // SAFETY: getppid takes no arguments.
        let rc = unsafe { libc::syscall(libc::SYS_getppid) };
        if rc > 0 {
            0
        } else {
            errno_of(rc)
        }
    })
}

#[test]
fn seccomp_kernel_errno_action_returns_the_errno() {
    assert_eq!(getppid_with("SCMP_ACT_ERRNO"), Outcome::Exited(42));
}

#[test]
fn seccomp_kernel_kill_actions_kill_with_sigsys() {
    for action in [
        "SCMP_ACT_KILL_PROCESS",
        "SCMP_ACT_KILL",
        "SCMP_ACT_KILL_THREAD",
    ] {
        assert_eq!(
            getppid_with(action),
            Outcome::Signaled(libc::SIGSYS),
            "{action}"
        );
    }
}

#[test]
fn seccomp_kernel_trap_delivers_sigsys() {
    assert_eq!(
        getppid_with("SCMP_ACT_TRAP"),
        Outcome::Signaled(libc::SIGSYS)
    );
}

#[test]
fn seccomp_kernel_log_and_allow_let_the_call_through() {
    assert_eq!(getppid_with("SCMP_ACT_LOG"), Outcome::Exited(0));
    assert_eq!(getppid_with("SCMP_ACT_ALLOW"), Outcome::Exited(0));
}

#[test]
fn seccomp_kernel_flags_are_accepted() {
    let f = filter(json!({"defaultAction": "SCMP_ACT_ALLOW",
        "flags": ["SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_LOG"],
        "syscalls": [{"names": ["getppid"], "action": "SCMP_ACT_ERRNO", "errnoRet": 7}]}));
    let out = in_child(&f, || {
        // SAFETY: getppid takes no arguments.
        errno_of(unsafe { libc::syscall(libc::SYS_getppid) })
    });
    assert_eq!(out, Outcome::Exited(7));
}

#[test]
fn seccomp_kernel_argument_filters() {
    let f = filter(json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
        {"names": ["personality"], "action": "SCMP_ACT_ERRNO", "errnoRet": 22,
         "args": [{"index": 0, "value": 0xffff_ffffu32, "op": "SCMP_CMP_EQ"}]},
        {"names": ["socket"], "action": "SCMP_ACT_ERRNO", "errnoRet": 97,
         "args": [{"index": 0, "value": libc::AF_NETLINK, "op": "SCMP_CMP_EQ"}]}
    ]}));
    let out = in_child(&f, || {
        // SAFETY: personality and socket with integer arguments; the
        // socket, if any, is closed again.
        unsafe {
            if errno_of(libc::syscall(libc::SYS_personality, 0xffff_ffffu64)) != 22 {
                return 1;
            }
            if errno_of(libc::syscall(libc::SYS_personality, 0u64)) != 0 {
                return 2;
            }
            let nl = libc::syscall(libc::SYS_socket, libc::AF_NETLINK, libc::SOCK_RAW, 0);
            if errno_of(nl) != 97 {
                return 3;
            }
            let unix = libc::syscall(libc::SYS_socket, libc::AF_UNIX, libc::SOCK_STREAM, 0);
            if unix < 0 {
                return 4;
            }
            libc::close(unix as i32);
        }
        0
    });
    assert_eq!(out, Outcome::Exited(0));
}

#[test]
#[cfg(target_arch = "x86_64")]
fn seccomp_kernel_x32_calls_cannot_bypass_the_filter() {
    let f = filter(json!({"defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["getpid"], "action": "SCMP_ACT_ERRNO"}]}));
    let out = in_child(&f, || {
        // SAFETY: getpid through the x32 ABI takes no arguments.
        let rc = unsafe { libc::syscall(0x4000_0000 | libc::SYS_getpid) };
        errno_of(rc)
    });
    assert_eq!(out, Outcome::Signaled(libc::SIGSYS));
}

#[test]
fn seccomp_kernel_default_profile_blocks_and_allows() {
    let f = default_filter(&[]);
    let path = CString::new("/proc/self/status").unwrap();
    let out = in_child(&f, || {
        let eperm = |rc: libc::c_long| errno_of(rc) == libc::EPERM;
        // SAFETY: each call gets integer arguments or pointers to valid
        // memory (the path, the buffer); descriptors opened are closed.
        unsafe {
            let checks = [
                eperm(libc::syscall(libc::SYS_keyctl, 0, 0, 0, 0, 0)),
                eperm(libc::syscall(libc::SYS_bpf, 0, 0, 0)),
                eperm(libc::syscall(libc::SYS_userfaultfd, 0)),
                eperm(libc::syscall(libc::SYS_kexec_load, 0, 0, 0, 0)),
                eperm(libc::syscall(libc::SYS_mount, 0, 0, 0, 0, 0)),
                eperm(libc::syscall(libc::SYS_unshare, libc::CLONE_NEWUSER)),
                errno_of(libc::syscall(libc::SYS_io_uring_setup, 1, 0)) == libc::ENOSYS,
                libc::syscall(libc::SYS_getpid) > 0,
            ];
            if let Some(i) = checks.iter().position(|ok| !ok) {
                return 10 + i as i32;
            }
            let fd = libc::syscall(libc::SYS_openat, libc::AT_FDCWD, path.as_ptr(), 0);
            if fd < 0 {
                return 20;
            }
            let mut buf = [0u8; 64];
            if libc::syscall(libc::SYS_read, fd, buf.as_mut_ptr(), buf.len()) <= 0 {
                return 21;
            }
            if libc::syscall(libc::SYS_write, 1, buf.as_ptr(), 0) != 0 {
                return 22;
            }
            libc::close(fd as i32);
        }
        0
    });
    assert_eq!(out, Outcome::Exited(0));
}

/// Runs `argv` under `filter` with execv; the outcome is the program's.
fn exec_under(filter: &Filter, argv: &[&str]) -> Outcome {
    let args: Vec<CString> = argv.iter().map(|a| CString::new(*a).unwrap()).collect();
    let mut ptrs: Vec<*const libc::c_char> = args.iter().map(|a| a.as_ptr()).collect();
    ptrs.push(std::ptr::null());
    in_child(filter, || {
        // SAFETY: `ptrs` is a NULL-terminated array of C strings that
        // outlive the call.
        unsafe { libc::execv(ptrs[0], ptrs.as_ptr()) };
        102
    })
}

#[test]
fn seccomp_kernel_default_profile_runs_ordinary_programs() {
    let f = default_filter(&[]);
    let script =
        "ls / >/dev/null && id >/dev/null && ps -e >/dev/null && cat /proc/self/status >/dev/null";
    assert_eq!(
        exec_under(&f, &["/bin/sh", "-c", script]),
        Outcome::Exited(0)
    );
    if std::path::Path::new("/usr/bin/busybox").exists() {
        let bb = "busybox ls / >/dev/null && busybox id >/dev/null && busybox ps >/dev/null";
        assert_eq!(exec_under(&f, &["/bin/sh", "-c", bb]), Outcome::Exited(0));
    }
    // The filter is active in the programs run: as root, unshare -U works
    // without it; with it, the program is refused (not killed).
    let refused = "unshare -U true 2>&1 | grep -q 'Operation not permitted'";
    assert_eq!(
        exec_under(&f, &["/bin/sh", "-c", refused]),
        Outcome::Exited(0)
    );
}
