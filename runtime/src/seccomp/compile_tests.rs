//! Unit tests of the generator, run through the BPF interpreter in
//! `bpf::run` (no kernel involved).

use oci_spec::runtime::LinuxSeccomp;
use serde_json::json;

use super::*;
use crate::seccomp::arch::{AARCH64, X86_64};
use crate::seccomp::bpf::run;

fn spec(v: serde_json::Value) -> LinuxSeccomp {
    serde_json::from_value(v).expect("valid linux.seccomp")
}

fn nr(arch: &ArchInfo, name: &str) -> u32 {
    syscalls::lookup(arch.table, name).unwrap()
}

/// The verdict of `filter` for `name(args)` on x86_64.
fn verdict(filter: &Filter, name: &str, args: [u64; 6]) -> u32 {
    run(filter.program(), nr(&X86_64, name), X86_64.audit_arch, args)
}

fn x86(v: serde_json::Value) -> Filter {
    compile_for(&X86_64, &spec(v)).unwrap()
}

#[test]
fn seccomp_every_action_compiles() {
    let cases = [
        ("SCMP_ACT_KILL", RET_KILL_THREAD),
        ("SCMP_ACT_KILL_THREAD", RET_KILL_THREAD),
        ("SCMP_ACT_KILL_PROCESS", RET_KILL_PROCESS),
        ("SCMP_ACT_TRAP", RET_TRAP),
        ("SCMP_ACT_ERRNO", RET_ERRNO | 1),
        ("SCMP_ACT_TRACE", RET_TRACE | 1),
        ("SCMP_ACT_LOG", RET_LOG),
        ("SCMP_ACT_ALLOW", RET_ALLOW),
    ];
    for (action, want) in cases {
        let f = x86(json!({
            "defaultAction": if want == RET_ALLOW { "SCMP_ACT_LOG" } else { "SCMP_ACT_ALLOW" },
            "syscalls": [{"names": ["getppid"], "action": action}]
        }));
        assert_eq!(verdict(&f, "getppid", [0; 6]), want, "{action}");
        let other = if want == RET_ALLOW {
            RET_LOG
        } else {
            RET_ALLOW
        };
        assert_eq!(verdict(&f, "getpid", [0; 6]), other, "{action}");
        let f = x86(json!({"defaultAction": action}));
        assert_eq!(verdict(&f, "getpid", [0; 6]), want, "default {action}");
    }
}

#[test]
fn seccomp_errno_ret_defaults_to_eperm_and_is_honoured() {
    let f = x86(json!({
        "defaultAction": "SCMP_ACT_ERRNO",
        "defaultErrnoRet": 38,
        "syscalls": [
            {"names": ["mkdir"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13},
            {"names": ["rmdir"], "action": "SCMP_ACT_ERRNO"},
            {"names": ["ptrace"], "action": "SCMP_ACT_TRACE", "errnoRet": 7},
            {"names": ["getpid"], "action": "SCMP_ACT_ALLOW"}
        ]
    }));
    assert_eq!(verdict(&f, "mkdir", [0; 6]), RET_ERRNO | 13);
    assert_eq!(verdict(&f, "rmdir", [0; 6]), RET_ERRNO | 1);
    assert_eq!(verdict(&f, "ptrace", [0; 6]), RET_TRACE | 7);
    assert_eq!(verdict(&f, "getpid", [0; 6]), RET_ALLOW);
    assert_eq!(verdict(&f, "keyctl", [0; 6]), RET_ERRNO | 38);
    let f = x86(json!({"defaultAction": "SCMP_ACT_ERRNO"}));
    assert_eq!(verdict(&f, "getpid", [0; 6]), RET_ERRNO | 1);
}

#[test]
fn seccomp_errors_name_what_was_wrong() {
    let notify = json!({"defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["getpid"], "action": "SCMP_ACT_NOTIFY"}]});
    let err = compile_for(&X86_64, &spec(notify)).unwrap_err();
    assert!(
        matches!(err, SeccompError::UnsupportedAction { .. }),
        "{err}"
    );
    assert!(err.to_string().contains("SCMP_ACT_NOTIFY"), "{err}");
    assert!(err.to_string().contains("getpid"), "{err}");

    let err = compile_for(&X86_64, &spec(json!({"defaultAction": "SCMP_ACT_NOTIFY"})));
    assert!(err.unwrap_err().to_string().contains("defaultAction"));

    let big = json!({"defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_ERRNO", "errnoRet": 70000}]});
    let err = compile_for(&X86_64, &spec(big)).unwrap_err();
    assert!(
        matches!(err, SeccompError::ErrnoOutOfRange { value: 70000, .. }),
        "{err}"
    );

    let index = json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["socket"],
        "action": "SCMP_ACT_ERRNO", "args": [{"index": 6, "value": 1, "op": "SCMP_CMP_EQ"}]}]});
    let err = compile_for(&X86_64, &spec(index)).unwrap_err();
    assert!(
        matches!(err, SeccompError::ArgumentIndex { index: 6, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("socket"), "{err}");

    // Unknown names of actions, operators, architectures and flags do not
    // get past the OCI parser.
    for bad in [
        json!({"defaultAction": "SCMP_ACT_EXPLODE"}),
        json!({"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_VAX"]}),
        json!({"defaultAction": "SCMP_ACT_ALLOW", "flags": ["SECCOMP_FILTER_FLAG_BOGUS"]}),
        json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["socket"],
            "action": "SCMP_ACT_ERRNO", "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_ABOUT"}]}]}),
    ] {
        assert!(
            serde_json::from_value::<LinuxSeccomp>(bad.clone()).is_err(),
            "{bad}"
        );
    }
}

#[test]
fn seccomp_unknown_syscall_names_are_skipped() {
    let f = x86(json!({
        "defaultAction": "SCMP_ACT_ERRNO",
        "syscalls": [{"names": ["no_such_call", "getpid", "arm_fadvise64_64"],
            "action": "SCMP_ACT_ALLOW"}]
    }));
    assert_eq!(verdict(&f, "getpid", [0; 6]), RET_ALLOW);
    // aarch64 has no `open`: the rule is skipped there, kept on x86_64.
    let s = spec(json!({"defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["open", "openat"], "action": "SCMP_ACT_ERRNO"}]}));
    let a = compile_for(&AARCH64, &s).unwrap();
    let openat = nr(&AARCH64, "openat");
    assert_eq!(
        run(a.program(), openat, AARCH64.audit_arch, [0; 6]),
        RET_ERRNO | 1
    );
    assert_eq!(run(a.program(), 2, AARCH64.audit_arch, [0; 6]), RET_ALLOW);
}

#[test]
fn seccomp_foreign_architectures_and_x32_are_killed() {
    let f = x86(json!({"defaultAction": "SCMP_ACT_ALLOW",
        "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"]}));
    let p = f.program();
    assert_eq!(run(p, 39, X86_64.audit_arch, [0; 6]), RET_ALLOW);
    // i386 (AUDIT_ARCH_I386) and aarch64 tokens.
    assert_eq!(run(p, 20, 0x4000_0003, [0; 6]), RET_BAD_ARCH);
    assert_eq!(run(p, 172, AARCH64.audit_arch, [0; 6]), RET_BAD_ARCH);
    // x32 getpid, and a number far past the x32 bit.
    assert_eq!(
        run(p, 0x4000_0000 | 39, X86_64.audit_arch, [0; 6]),
        RET_BAD_ARCH
    );
    assert_eq!(run(p, 0x8000_0000, X86_64.audit_arch, [0; 6]), RET_BAD_ARCH);
    // -1 (a tracer skipping a call) gets the default action.
    assert_eq!(run(p, u32::MAX, X86_64.audit_arch, [0; 6]), RET_ALLOW);
    // aarch64 has no second ABI on its token.
    let a = compile_for(&AARCH64, &spec(json!({"defaultAction": "SCMP_ACT_ALLOW"}))).unwrap();
    assert_eq!(run(a.program(), 172, AARCH64.audit_arch, [0; 6]), RET_ALLOW);
    assert_eq!(
        run(a.program(), 39, X86_64.audit_arch, [0; 6]),
        RET_BAD_ARCH
    );
}

#[test]
fn seccomp_args_are_anded_and_entries_are_ored() {
    let f = x86(json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [
            {"names": ["socket"], "action": "SCMP_ACT_ERRNO", "errnoRet": 97, "args": [
                {"index": 0, "value": 16, "op": "SCMP_CMP_EQ"},
                {"index": 1, "value": 3, "op": "SCMP_CMP_EQ"}]},
            {"names": ["socket"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13, "args": [
                {"index": 0, "value": 40, "op": "SCMP_CMP_EQ"}]}
        ]
    }));
    assert_eq!(verdict(&f, "socket", [16, 3, 0, 0, 0, 0]), RET_ERRNO | 97);
    assert_eq!(verdict(&f, "socket", [16, 2, 0, 0, 0, 0]), RET_ALLOW);
    assert_eq!(verdict(&f, "socket", [2, 3, 0, 0, 0, 0]), RET_ALLOW);
    assert_eq!(verdict(&f, "socket", [40, 1, 0, 0, 0, 0]), RET_ERRNO | 13);
}

#[test]
fn seccomp_conditional_rules_win_over_unconditional_ones() {
    let f = x86(json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [
            {"names": ["personality"], "action": "SCMP_ACT_ERRNO"},
            {"names": ["personality"], "action": "SCMP_ACT_ALLOW", "args": [
                {"index": 0, "value": 0xffff_ffffu32, "op": "SCMP_CMP_EQ"}]},
            {"names": ["clone"], "action": "SCMP_ACT_ERRNO", "args": [
                {"index": 0, "value": 0x7e02_0000u32, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"}]}
        ]
    }));
    assert_eq!(
        verdict(&f, "personality", [0xffff_ffff, 0, 0, 0, 0, 0]),
        RET_ALLOW
    );
    assert_eq!(
        verdict(&f, "personality", [8, 0, 0, 0, 0, 0]),
        RET_ERRNO | 1
    );
    assert_eq!(verdict(&f, "clone", [0x11, 0, 0, 0, 0, 0]), RET_ERRNO | 1);
    assert_eq!(
        verdict(&f, "clone", [0x1000_0011, 0, 0, 0, 0, 0]),
        RET_ALLOW
    );
}

#[test]
fn seccomp_search_tree_finds_every_syscall() {
    for arch in [&X86_64, &AARCH64] {
        let names: Vec<&str> = arch.table.iter().map(|(n, _)| *n).collect();
        // Every other call allowed, the rest left to the default.
        let allowed: Vec<&str> = names.iter().step_by(2).copied().collect();
        let s = spec(
            json!({"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 38,
            "syscalls": [{"names": allowed, "action": "SCMP_ACT_ALLOW"}]}),
        );
        let f = compile_for(arch, &s).unwrap();
        for (i, (name, n)) in arch.table.iter().enumerate() {
            let want = if i % 2 == 0 {
                RET_ALLOW
            } else {
                RET_ERRNO | 38
            };
            assert_eq!(
                run(f.program(), *n, arch.audit_arch, [0; 6]),
                want,
                "{name}"
            );
        }
        for n in [336, 400, 423, 1000, 0x3fff_ffff] {
            assert_eq!(run(f.program(), n, arch.audit_arch, [0; 6]), RET_ERRNO | 38);
        }
    }
}

#[test]
fn seccomp_flags_are_carried() {
    let f = x86(json!({"defaultAction": "SCMP_ACT_ALLOW",
        "flags": ["SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_LOG"]}));
    assert_eq!(f.flags(), 3);
}
