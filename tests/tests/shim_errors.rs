//! Bad input to husk-shim: each gets a clear error with exit status 125,
//! and nothing is left behind: no shim process, no state directory.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use husk_tests::bundle::{processes_with, unique, Bundle, IdMapping, Output};
use husk_tests::rootless::rootless_test;
use husk_tests::shim::ShimHost;

#[track_caller]
fn fails_cleanly(h: &ShimHost, out: &Output, id: &str, needles: &[&str]) {
    assert_eq!(out.code(), 125, "expected 125: {out}");
    assert!(out.stderr.starts_with("husk: "), "{out}");
    let lower = out.stderr.to_lowercase();
    for n in needles {
        assert!(
            lower.contains(&n.to_lowercase()),
            "stderr does not mention {n:?}: {out}"
        );
    }
    assert!(out.stdout.is_empty(), "{out}");
    let left: Vec<String> = processes_with(id)
        .iter()
        .map(|p| {
            format!(
                "{} {:?}",
                fs::read_to_string(format!("/proc/{p}/stat")).unwrap_or_default(),
                fs::read_to_string(format!("/proc/{p}/cmdline")).unwrap_or_default()
            )
        })
        .collect();
    assert!(left.is_empty(), "a shim for {id} was left behind: {left:?}");
    assert!(!h.rt.state_dir(id).exists(), "state dir left for {id}");
    assert!(!h.socket(id).exists(), "attach socket left for {id}");
    assert!(!h.exit_file(id).exists(), "exit file written for {id}");
}

#[test]
fn unwritable_log_path() {
    let h = ShimHost::new();
    let b = Bundle::new("busybox", &["true"]);
    let id = unique("badlog");
    let out = h.spawn(&b, &id, &["--log-path", "/nonexistent-dir/x.log"]);
    fails_cleanly(&h, &out, &id, &["log file", "/nonexistent-dir/x.log"]);
}

#[test]
fn missing_state_root() {
    let h = ShimHost::new();
    let b = Bundle::new("busybox", &["true"]);
    let id = unique("noroot");
    let root = h.work().join("no-such-root");
    let out = h.spawn(&b, &id, &["--root", root.to_str().unwrap()]);
    fails_cleanly(&h, &out, &id, &["state root", "does not exist"]);
    assert!(!root.exists(), "the missing root was created");
    assert!(!h.log(&id).exists(), "log file left");
}

#[test]
fn bad_config_json() {
    let h = ShimHost::new();
    let b = Bundle::new("busybox", &["true"]);
    b.write_config("{ not json");
    let id = unique("badcfg");
    let out = h.spawn(&b, &id, &[]);
    fails_cleanly(&h, &out, &id, &[&id, "config.json"]);
    assert!(!h.log(&id).exists(), "log file left");
}

#[test]
fn runtime_error_in_init_names_the_program() {
    let h = ShimHost::new();
    let b = Bundle::new("busybox", &["no-such-program"]);
    let id = unique("noprog");
    let out = h.spawn(&b, &id, &[]);
    fails_cleanly(&h, &out, &id, &["no-such-program"]);
}

#[test]
fn duplicate_id_is_refused_and_the_first_container_survives() {
    let h = ShimHost::new();
    let b = Bundle::new("busybox", &["sleep", "100"]);
    let id = unique("dup");
    let (pid, _) = h.spawn_ok(&b, &id, &[]);
    let out = h.spawn(&b, &id, &["--attach-dir", h.work().to_str().unwrap()]);
    assert_eq!(out.code(), 125, "{out}");
    assert!(out.stderr.contains("already exists"), "{out}");
    assert!(Path::new(&format!("/proc/{pid}")).exists());
    assert_eq!(
        processes_with(&id).len(),
        2,
        "one shim and its container, nothing more"
    );
    h.rt.output(&["delete", "--force", &id]).ok();
}

#[test]
fn attach_to_unknown_container() {
    let h = ShimHost::new();
    let sock = h.work().join("nobody").join("attach");
    let out = h
        .husk(&["__husk-shim", "attach"])
        .arg(&sock)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(125));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("no shim is listening") && err.contains(sock.to_str().unwrap()),
        "{err}"
    );
}

#[test]
fn invalid_detach_keys() {
    let h = ShimHost::new();
    let out = h
        .husk(&[
            "__husk-shim",
            "attach",
            "/nowhere",
            "--detach-keys",
            "ctrl-1",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(125));
    assert!(String::from_utf8_lossy(&out.stderr).contains("invalid detach keys \"ctrl-1\""));
}

#[test]
fn rootless_unwritable_log_and_bad_config() {
    let user = rootless_test("rootless_unwritable_log_and_bad_config");
    let h = ShimHost::rootless(&user);
    let b = Bundle::rootless(&user, IdMapping::Single, "busybox", &["true"]);
    let locked = h.work().join("root-only");
    fs::create_dir(&locked).unwrap();
    fs::set_permissions(&locked, fs::Permissions::from_mode(0o755)).unwrap();
    let id = unique("rl-badlog");
    let log = locked.join("x.log");
    let out = h.spawn(&b, &id, &["--log-path", log.to_str().unwrap()]);
    fails_cleanly(&h, &out, &id, &["log file", "permission denied"]);
    b.write_config("[]");
    let id = unique("rl-badcfg");
    let out = h.spawn(&b, &id, &[]);
    fails_cleanly(&h, &out, &id, &["config.json"]);
}
