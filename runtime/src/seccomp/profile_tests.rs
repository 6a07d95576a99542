//! Tests of the containers-common loader and of the default profile's
//! content (verdicts through the BPF interpreter).

use super::*;
use crate::seccomp::arch::{AARCH64, X86_64};
use crate::seccomp::bpf::run;
use crate::seccomp::compile::{compile_for, RET_ALLOW, RET_ERRNO, RET_KILL_PROCESS, RET_TRACE};
use crate::seccomp::{syscalls, Filter};

const EPERM: u32 = RET_ERRNO | 1;
const ENOSYS: u32 = RET_ERRNO | 38;

fn caps(list: &[&str]) -> Vec<String> {
    list.iter().map(|c| c.to_string()).collect()
}

fn default_filter(arch: &str, with: &[&str], kernel: (u32, u32)) -> Filter {
    let oci = to_oci(default_profile(), &caps(with), arch, kernel).unwrap();
    compile_for(&X86_64, &oci).unwrap()
}

fn verdict(f: &Filter, name: &str, args: [u64; 6]) -> u32 {
    let nr = syscalls::lookup(X86_64.table, name).unwrap();
    run(f.program(), nr, X86_64.audit_arch, args)
}

fn a0(v: u64) -> [u64; 6] {
    [v, 0, 0, 0, 0, 0]
}

const CLONE_NEWUSER: u64 = 0x1000_0000;
const CLONE_NEWNS: u64 = 0x0002_0000;
/// CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD |
/// CLONE_SYSVSEM | CLONE_SETTLS | CLONE_PARENT_SETTID | CLONE_CHILD_CLEARTID
const THREAD_FLAGS: u64 = 0x003d_0f00;

#[test]
fn seccomp_default_profile_without_caps() {
    let f = default_filter("amd64", &[], (6, 1));
    for name in [
        "getpid",
        "read",
        "write",
        "openat",
        "execve",
        "arch_prctl",
        "rseq",
        "statx",
    ] {
        assert_eq!(verdict(&f, name, [0; 6]), RET_ALLOW, "{name}");
    }
    for name in [
        "keyctl",
        "add_key",
        "request_key",
        "bpf",
        "userfaultfd",
        "kexec_load",
        "kexec_file_load",
        "mount",
        "umount2",
        "pivot_root",
        "setns",
        "perf_event_open",
        "open_by_handle_at",
        "init_module",
        "swapon",
        "syslog",
        "fsopen",
    ] {
        assert_eq!(verdict(&f, name, [0; 6]), EPERM, "{name}");
    }
    for name in [
        "io_uring_setup",
        "uselib",
        "_sysctl",
        "modify_ldt",
        "clone3",
    ] {
        assert_eq!(verdict(&f, name, [0; 6]), ENOSYS, "{name}");
    }
    assert_eq!(verdict(&f, "clone", a0(THREAD_FLAGS)), RET_ALLOW);
    assert_eq!(verdict(&f, "clone", a0(0x11)), RET_ALLOW, "fork-like clone");
    assert_eq!(verdict(&f, "clone", a0(0x11 | CLONE_NEWUSER)), EPERM);
    assert_eq!(verdict(&f, "unshare", a0(0x400)), RET_ALLOW, "CLONE_FILES");
    assert_eq!(verdict(&f, "unshare", a0(CLONE_NEWNS)), EPERM);
    assert_eq!(verdict(&f, "unshare", a0(0x80)), EPERM, "CLONE_NEWTIME");
    assert_eq!(verdict(&f, "personality", a0(0xffff_ffff)), RET_ALLOW);
    assert_eq!(verdict(&f, "personality", a0(8)), RET_ALLOW);
    assert_eq!(verdict(&f, "personality", a0(0x0040_0000)), EPERM);
    assert_eq!(verdict(&f, "ptrace", [0; 6]), RET_ALLOW, "kernel >= 4.8");
    // x32 and i386 calls never reach the rules.
    let p = f.program();
    assert_eq!(
        run(p, 0x4000_0027, X86_64.audit_arch, [0; 6]),
        RET_KILL_PROCESS
    );
    assert_eq!(run(p, 20, 0x4000_0003, [0; 6]), RET_KILL_PROCESS);
}

#[test]
fn seccomp_default_profile_with_cap_sys_admin() {
    let f = default_filter("SCMP_ARCH_X86_64", &["CAP_SYS_ADMIN", "CAP_CHOWN"], (6, 1));
    for name in [
        "mount",
        "umount2",
        "setns",
        "bpf",
        "perf_event_open",
        "clone3",
        "sethostname",
    ] {
        assert_eq!(verdict(&f, name, [0; 6]), RET_ALLOW, "{name}");
    }
    assert_eq!(verdict(&f, "clone", a0(0x11 | CLONE_NEWUSER)), RET_ALLOW);
    assert_eq!(verdict(&f, "unshare", a0(CLONE_NEWNS)), RET_ALLOW);
    for name in [
        "keyctl",
        "kexec_load",
        "userfaultfd",
        "open_by_handle_at",
        "init_module",
    ] {
        assert_eq!(verdict(&f, name, [0; 6]), EPERM, "{name}");
    }
}

#[test]
fn seccomp_default_profile_other_caps_kernels_and_arches() {
    let f = default_filter("x86_64", &["sys_ptrace", "DAC_READ_SEARCH"], (4, 4));
    assert_eq!(verdict(&f, "userfaultfd", [0; 6]), RET_ALLOW);
    assert_eq!(verdict(&f, "ptrace", [0; 6]), RET_ALLOW);
    assert_eq!(verdict(&f, "open_by_handle_at", [0; 6]), RET_ALLOW);
    let old = default_filter("amd64", &[], (4, 4));
    assert_eq!(verdict(&old, "ptrace", [0; 6]), EPERM, "ptrace before 4.8");

    let oci = to_oci(default_profile(), &[], "amd64", (6, 1)).unwrap();
    let arches: Vec<String> = oci
        .architectures()
        .iter()
        .flatten()
        .map(|a| a.to_string())
        .collect();
    assert_eq!(
        arches,
        ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"]
    );
    assert_eq!(oci.default_errno_ret(), Some(38));
    let has = |oci: &oci_spec::runtime::LinuxSeccomp, n: &str| {
        oci.syscalls()
            .iter()
            .flatten()
            .any(|s| s.names().iter().any(|x| x == n))
    };
    assert!(has(&oci, "arch_prctl"));
    assert!(!has(&oci, "cacheflush"));

    let arm = to_oci(default_profile(), &[], "arm64", (6, 1)).unwrap();
    assert!(!has(&arm, "arch_prctl"));
    assert!(has(&arm, "cacheflush"));
    let arm_arches: Vec<String> = arm
        .architectures()
        .iter()
        .flatten()
        .map(|a| a.to_string())
        .collect();
    assert_eq!(arm_arches, ["SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"]);
    let a = compile_for(&AARCH64, &arm).unwrap();
    let nr = |n| syscalls::lookup(AARCH64.table, n).unwrap();
    assert_eq!(
        run(a.program(), nr("getpid"), AARCH64.audit_arch, [0; 6]),
        RET_ALLOW
    );
    assert_eq!(
        run(a.program(), nr("keyctl"), AARCH64.audit_arch, [0; 6]),
        EPERM
    );
}

#[test]
fn seccomp_default_profile_covers_every_native_call() {
    let profile: serde_json::Value = serde_json::from_str(default_profile()).unwrap();
    let listed: Vec<&str> = profile["syscalls"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| s["names"].as_array().unwrap())
        .map(|n| n.as_str().unwrap())
        .collect();
    // Left to the default action (ENOSYS) on purpose: obsolete, never
    // implemented, or (io_uring) too much kernel attack surface.
    let left_out = [
        "_sysctl",
        "afs_syscall",
        "create_module",
        "epoll_ctl_old",
        "epoll_wait_old",
        "get_kernel_syms",
        "getpmsg",
        "io_uring_enter",
        "io_uring_register",
        "io_uring_setup",
        "modify_ldt",
        "nfsservctl",
        "putpmsg",
        "query_module",
        "security",
        "sysfs",
        "tuxcall",
        "uselib",
        "ustat",
        "vserver",
    ];
    for table in [X86_64.table, AARCH64.table] {
        for (name, _) in table {
            assert!(
                listed.contains(name) || left_out.contains(name),
                "{name} is neither in the default profile nor deliberately left out"
            );
        }
    }
}

#[test]
fn seccomp_includes_need_all_caps_excludes_any() {
    let p = r#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
        {"names": ["mount"], "action": "SCMP_ACT_TRACE", "errnoRet": 5,
         "includes": {"caps": ["CAP_SYS_ADMIN", "CAP_NET_ADMIN"]}},
        {"name": "umount2", "action": "SCMP_ACT_KILL_PROCESS",
         "excludes": {"caps": ["CAP_SYS_ADMIN", "CAP_NET_ADMIN"], "arches": ["arm64"]}},
        {"names": ["reboot"], "action": "SCMP_ACT_ERRNO", "args": null,
         "excludes": {"minKernel": "5.10"}}
    ]}"#;
    let f =
        |c: &[&str], k| compile_for(&X86_64, &to_oci(p, &caps(c), "amd64", k).unwrap()).unwrap();
    let both = f(&["CAP_SYS_ADMIN", "CAP_NET_ADMIN"], (5, 4));
    assert_eq!(verdict(&both, "mount", [0; 6]), RET_TRACE | 5);
    assert_eq!(verdict(&both, "umount2", [0; 6]), RET_ALLOW);
    assert_eq!(verdict(&both, "reboot", [0; 6]), EPERM);
    let one = f(&["CAP_NET_ADMIN"], (5, 10));
    assert_eq!(verdict(&one, "mount", [0; 6]), RET_ALLOW);
    assert_eq!(verdict(&one, "umount2", [0; 6]), RET_ALLOW);
    assert_eq!(verdict(&one, "reboot", [0; 6]), RET_ALLOW);
    let none = f(&[], (6, 0));
    assert_eq!(verdict(&none, "umount2", [0; 6]), RET_KILL_PROCESS);
}

#[test]
fn seccomp_profile_errors_name_the_culprit() {
    let cases = [
        (
            r#"{"defaultAction": "SCMP_ACT_EXPLODE"}"#,
            "SCMP_ACT_EXPLODE",
        ),
        (
            r#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["mount"],
               "action": "SCMP_ACT_NOPE", "includes": {"caps": ["CAP_NONE"]}}]}"#,
            "SCMP_ACT_NOPE",
        ),
        (
            r#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["socket"],
               "action": "SCMP_ACT_ERRNO", "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_NEAR"}]}]}"#,
            "SCMP_CMP_NEAR",
        ),
        (
            r#"{"defaultAction": "SCMP_ACT_ALLOW", "archMap": [{"architecture": "SCMP_ARCH_VAX"}]}"#,
            "SCMP_ARCH_VAX",
        ),
        (
            r#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["mount"],
               "action": "SCMP_ACT_ALLOW", "includes": {"arches": ["pdp11"]}}]}"#,
            "pdp11",
        ),
        (
            r#"{"defaultAction": "SCMP_ACT_ALLOW", "flags": ["SECCOMP_FILTER_FLAG_MAGIC"]}"#,
            "SECCOMP_FILTER_FLAG_MAGIC",
        ),
        (
            r#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["mount"],
               "action": "SCMP_ACT_ALLOW", "includes": {"minKernel": "five"}}]}"#,
            "five",
        ),
        (r#"{"syscalls": []}"#, "defaultAction"),
    ];
    for (profile, needle) in cases {
        let err = to_oci(profile, &[], "amd64", (6, 1)).unwrap_err();
        assert!(err.to_string().contains(needle), "{needle}: {err}");
    }
    let err = to_oci(default_profile(), &[], "vax", (6, 1)).unwrap_err();
    assert!(matches!(err, SeccompError::UnknownArchitecture(_)), "{err}");
}

#[test]
fn seccomp_kernel_versions_parse() {
    assert_eq!(parse_kernel("4.8").unwrap(), (4, 8));
    assert_eq!(parse_kernel("6.18.44-fc-v669").unwrap(), (6, 18));
    assert!(parse_kernel("6").is_err());
    assert!(kernel_version().unwrap() >= (3, 17));
}

#[test]
fn seccomp_default_profile_compiles_small() {
    let f = default_filter("amd64", &[], (6, 1));
    let a = compile_for(
        &AARCH64,
        &to_oci(default_profile(), &[], "arm64", (6, 1)).unwrap(),
    )
    .unwrap();
    assert!(f.program().len() < 1500, "{}", f.program().len());
    assert!(a.program().len() < 1500, "{}", a.program().len());
}
