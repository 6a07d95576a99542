//! End-to-end tests of `linux.seccomp` through `husk-runtime` as root:
//! errno, kill and trap rules, argument conditions, an allow-list filter
//! that still runs ordinary busybox applets, and bad configurations
//! refused before the container starts.
//!
//! The filters are written here in the OCI form. The allow-list test takes
//! the names of the ordinary-calls group of `seccomp-profiles/default.json`
//! (its first entry), so it also shows that group is enough for a shell.

use std::fs;
use std::path::Path;

use husk_tests::bundle::{unique, Bundle, Output, Runtime};
use serde_json::{json, Value};

/// SIGSYS is 31 on x86_64 and aarch64; a shell reports 128 + signal.
const SIGSYS_STATUS: i32 = 128 + 31;

/// Runs `args` in a busybox container whose `linux.seccomp` is `seccomp`.
fn run_with(seccomp: Value, args: &[&str]) -> (Bundle, Output) {
    let rt = Runtime::new();
    let b = Bundle::new("busybox", args);
    b.edit(|c| c["linux"]["seccomp"] = seccomp);
    let out = rt.run(&b, &unique("seccomp"));
    (b, out)
}

/// A filter that allows everything but `names`, which get `rule`.
fn deny(names: &[&str], rule: Value) -> Value {
    let mut entry = json!({ "names": names });
    entry
        .as_object_mut()
        .unwrap()
        .extend(rule.as_object().unwrap().clone());
    json!({ "defaultAction": "SCMP_ACT_ALLOW", "syscalls": [entry] })
}

#[test]
fn errno_rule_makes_mkdir_fail_with_eperm() {
    let filter = deny(&["mkdir", "mkdirat"], json!({ "action": "SCMP_ACT_ERRNO" }));
    let (b, out) = run_with(filter, &["mkdir", "/tmp/x"]);
    assert_eq!(out.code(), 1, "{out}");
    assert!(out.stderr.contains("Operation not permitted"), "{out}");
    assert!(!b.rootfs().join("tmp/x").exists(), "mkdir went through");
}

#[test]
fn errno_ret_is_the_errno_the_program_sees() {
    let filter = deny(
        &["mkdir", "mkdirat"],
        json!({ "action": "SCMP_ACT_ERRNO", "errnoRet": 28 }),
    );
    let (_, out) = run_with(filter, &["mkdir", "/tmp/x"]);
    assert_eq!(out.code(), 1, "{out}");
    assert!(out.stderr.contains("No space left on device"), "{out}");
}

// sethostname rather than uname: a static glibc binary calls uname while
// starting up. The filter acts before the kernel's capability check, so the
// missing CAP_SYS_ADMIN does not matter.
#[test]
fn kill_process_rule_kills_with_sigsys() {
    let filter = deny(
        &["sethostname"],
        json!({ "action": "SCMP_ACT_KILL_PROCESS" }),
    );
    let script = "echo before; hostname seccomp-test; echo status=$?";
    let (_, out) = run_with(filter.clone(), &["sh", "-c", script]);
    assert_eq!(out.code(), 0, "{out}");
    assert!(out.stdout.contains("before"), "{out}");
    assert!(
        out.stdout.contains(&format!("status={SIGSYS_STATUS}")),
        "{out}"
    );
    // The container's own process killed: run reports 128 + SIGSYS.
    let (_, out) = run_with(filter, &["hostname", "seccomp-test"]);
    assert_eq!(out.code(), SIGSYS_STATUS, "{out}");
}

#[test]
fn trap_rule_delivers_sigsys() {
    let filter = deny(&["sethostname"], json!({ "action": "SCMP_ACT_TRAP" }));
    let script = "hostname seccomp-test; echo status=$?";
    let (_, out) = run_with(filter, &["sh", "-c", script]);
    assert!(
        out.stdout.contains(&format!("status={SIGSYS_STATUS}")),
        "{out}"
    );
}

#[test]
fn log_rule_lets_the_call_through() {
    let filter = deny(&["uname"], json!({ "action": "SCMP_ACT_LOG" }));
    let (_, out) = run_with(filter, &["uname", "-s"]);
    assert_eq!(out.code(), 0, "{out}");
    assert_eq!(out.stdout.trim(), "Linux", "{out}");
}

#[test]
fn argument_rule_matches_only_the_given_mode() {
    // (mode & 0777) == 0700 is refused; every other mode goes through.
    let cond = |index: u64| {
        json!([{ "index": index, "value": 0o777, "valueTwo": 0o700,
        "op": "SCMP_CMP_MASKED_EQ" }])
    };
    let filter = json!({ "defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
        { "names": ["chmod"], "action": "SCMP_ACT_ERRNO", "args": cond(1) },
        { "names": ["fchmodat", "fchmodat2"], "action": "SCMP_ACT_ERRNO", "args": cond(2) }
    ]});
    let script = "touch /tmp/f && chmod 644 /tmp/f && echo first=ok; \
                  chmod 700 /tmp/f || echo second=refused; stat -c %a /tmp/f";
    let (b, out) = run_with(filter, &["sh", "-c", script]);
    assert!(out.stdout.contains("first=ok"), "{out}");
    assert!(out.stdout.contains("second=refused"), "{out}");
    assert!(out.stderr.contains("Operation not permitted"), "{out}");
    assert!(out.stdout.contains("644"), "{out}");
    let mode = fs::metadata(b.rootfs().join("tmp/f")).unwrap();
    assert_eq!(
        std::os::unix::fs::PermissionsExt::mode(&mode.permissions()) & 0o777,
        0o644
    );
}

/// The names of the default profile's first group (the ordinary calls).
fn ordinary_calls() -> Vec<String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../seccomp-profiles/default.json");
    let text = fs::read_to_string(&path).expect("reading seccomp-profiles/default.json");
    let profile: Value = serde_json::from_str(&text).unwrap();
    let first = &profile["syscalls"][0];
    assert_eq!(first["action"], "SCMP_ACT_ALLOW", "first group: {first}");
    first["names"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_str().unwrap().to_owned())
        .collect()
}

/// An allow-list filter: the ordinary calls, clone without namespace flags,
/// arch_prctl; anything else fails with ENOSYS.
fn allow_list() -> Value {
    json!({
        "defaultAction": "SCMP_ACT_ERRNO",
        "defaultErrnoRet": 38,
        "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
        "syscalls": [
            { "names": ordinary_calls(), "action": "SCMP_ACT_ALLOW" },
            { "names": ["arch_prctl"], "action": "SCMP_ACT_ALLOW" },
            { "names": ["clone"], "action": "SCMP_ACT_ALLOW", "args": [
                { "index": 0, "value": 0x7e02_0000u64, "valueTwo": 0,
                  "op": "SCMP_CMP_MASKED_EQ" }] },
            { "names": ["keyctl", "mount", "umount2", "unshare"],
              "action": "SCMP_ACT_ERRNO", "errnoRet": 1 }
        ]
    })
}

#[test]
fn allow_list_runs_ls_id_and_ps() {
    let script = "ls / && id && ps && echo done";
    let (_, out) = run_with(allow_list(), &["sh", "-c", script]);
    assert_eq!(out.code(), 0, "{out}");
    assert!(out.stdout.contains("bin"), "ls: {out}");
    assert!(out.stdout.contains("uid=0"), "id: {out}");
    assert!(out.stdout.contains("PID"), "ps: {out}");
    assert!(out.stdout.contains("done"), "{out}");
}

#[test]
fn allow_list_refuses_what_it_does_not_list() {
    // chroot is not listed (ENOSYS); unshare is refused (EPERM).
    let script = "chroot / true; echo chroot=$?; unshare -m true; echo unshare=$?";
    let (_, out) = run_with(allow_list(), &["sh", "-c", script]);
    assert_eq!(out.code(), 0, "{out}");
    assert!(out.stdout.contains("chroot=1"), "{out}");
    assert!(out.stderr.contains("Function not implemented"), "{out}");
    assert!(!out.stdout.contains("unshare=0"), "{out}");
    assert!(out.stderr.contains("Operation not permitted"), "{out}");
}

#[test]
fn notify_action_is_refused_before_start() {
    let filter = deny(&["uname"], json!({ "action": "SCMP_ACT_NOTIFY" }));
    let (b, out) = run_with(filter, &["touch", "/tmp/started"]);
    out.fails_with(&["seccomp", "SCMP_ACT_NOTIFY"]);
    assert!(!b.rootfs().join("tmp/started").exists(), "container ran");
}

#[test]
fn unknown_action_is_refused_before_start() {
    let filter = deny(&["uname"], json!({ "action": "SCMP_ACT_EXPLODE" }));
    let (b, out) = run_with(filter, &["touch", "/tmp/started"]);
    out.fails_with(&["SCMP_ACT_EXPLODE"]);
    assert!(!b.rootfs().join("tmp/started").exists(), "container ran");
}

/// The default profile as `husk-runtime spec --seccomp` resolves it for the
/// default spec's capabilities on this host.
fn default_profile() -> Value {
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(husk_tests::bundle::runtime_binary())
        .args(["spec", "--seccomp", "--bundle"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let spec: Value =
        serde_json::from_slice(&fs::read(dir.path().join("config.json")).unwrap()).unwrap();
    let seccomp = spec["linux"]["seccomp"].clone();
    assert!(
        seccomp["syscalls"]
            .as_array()
            .is_some_and(|s| !s.is_empty()),
        "{seccomp}"
    );
    seccomp
}

#[test]
fn default_profile_runs_applets_and_blocks_the_dangerous_calls() {
    let script = "ls / >/dev/null && id -u && ps >/dev/null && cat /etc/passwd >/dev/null \
                  && mkdir /tmp/d && echo applets-ok; \
                  mount -t tmpfs none /mnt 2>&1; unshare -m true 2>&1; swapon /dev/null 2>&1; \
                  echo end";
    let (_b, out) = run_with(default_profile(), &["sh", "-c", script]);
    out.ok();
    assert!(
        out.stdout.contains("applets-ok"),
        "busybox applets failed: {out}"
    );
    let unshare = out
        .stdout
        .lines()
        .find(|l| l.starts_with("unshare"))
        .unwrap_or("");
    assert!(
        unshare.contains("Operation not permitted"),
        "unshare got through: {out}"
    );
    let swapon = out
        .stdout
        .lines()
        .find(|l| l.starts_with("swapon"))
        .unwrap_or("");
    assert!(
        swapon.contains("Operation not permitted"),
        "swapon got through: {out}"
    );
    assert!(out.stdout.contains("mount:"), "mount did not fail: {out}");
    assert!(out.stdout.trim_end().ends_with("end"), "{out}");
}

#[test]
fn unknown_architecture_and_operator_are_refused_before_start() {
    let mut filter = deny(&["uname"], json!({ "action": "SCMP_ACT_ERRNO" }));
    filter["architectures"] = json!(["SCMP_ARCH_X86_64", "SCMP_ARCH_PDP11"]);
    let (b, out) = run_with(filter, &["touch", "/tmp/started"]);
    out.fails_with(&["SCMP_ARCH_PDP11"]);
    assert!(!b.rootfs().join("tmp/started").exists(), "container ran");

    let filter = deny(
        &["personality"],
        json!({ "action": "SCMP_ACT_ERRNO",
                "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_SOMETIMES"}] }),
    );
    let (b, out) = run_with(filter, &["touch", "/tmp/started"]);
    out.fails_with(&["SCMP_CMP_SOMETIMES"]);
    assert!(!b.rootfs().join("tmp/started").exists(), "container ran");
}
