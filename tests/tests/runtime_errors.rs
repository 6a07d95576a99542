//! `husk-runtime` given bad input: every failure exits 1 with a message
//! naming the problem, and leaves nothing behind (no state entry, no mount,
//! no process).

use std::fs;
use std::path::PathBuf;
use std::time::Duration;

use husk_tests::bundle::{
    marker_roots, mounts_under, pid_alive, processes_with, status_timeout, unique,
    wait_no_processes, Bundle, IdMapping, Output, Runtime,
};
use husk_tests::rootless::rootless_test;
use serde_json::json;

/// A bundle whose program carries a unique marker in its arguments, so a
/// stray container process can be found in /proc.
struct Case {
    rt: Runtime,
    bundle: Bundle,
    marker: String,
    id: String,
    mounts_before: usize,
}

impl Case {
    fn new() -> Case {
        let marker = unique("husk-err-marker");
        let bundle = Bundle::new("busybox", &["sh", "-c", "sleep 1000; exit 0", &marker]);
        Case::with(Runtime::new(), bundle, marker)
    }

    fn with(rt: Runtime, bundle: Bundle, marker: String) -> Case {
        let mounts_before = mounts_under(bundle.path()).len();
        Case {
            rt,
            bundle,
            marker,
            id: unique("err"),
            mounts_before,
        }
    }

    fn create(&self) -> Output {
        self.rt.create(&self.bundle, &self.id, &[])
    }

    fn run(&self) -> Output {
        self.rt.run(&self.bundle, &self.id)
    }

    /// Nothing of the container is left: no state entry, no mounts under the
    /// bundle, no process carrying the marker.
    #[track_caller]
    fn assert_clean(&self) {
        assert!(
            !self.rt.state_dir(&self.id).exists(),
            "state dir of {} left",
            self.id
        );
        assert!(
            self.rt.list_ids().is_empty(),
            "containers left: {:?}",
            self.rt.list_ids()
        );
        assert_eq!(
            mounts_under(self.bundle.path()).len(),
            self.mounts_before,
            "mounts under the bundle changed: {:?}",
            mounts_under(self.bundle.path())
        );
        let stray = wait_no_processes(&self.marker, Duration::from_secs(2));
        assert!(stray.is_empty(), "stray container processes: {stray:?}");
    }
}

/// Entries of the state root (which may not exist).
fn root_entries(rt: &Runtime) -> Vec<PathBuf> {
    fs::read_dir(rt.root())
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default()
}

#[test]
fn malformed_config_json() {
    let c = Case::new();
    c.bundle.write_config("{ this is not json");
    c.create().fails_with(&["config.json"]);
    c.assert_clean();
    c.run().fails_with(&["config.json"]);
    c.assert_clean();
}

#[test]
fn missing_config_json() {
    let c = Case::new();
    fs::remove_file(c.bundle.config_path()).unwrap();
    c.create().fails_with(&["config.json"]);
    c.assert_clean();
}

#[test]
fn unknown_namespace_type() {
    let c = Case::new();
    c.bundle.edit(|cfg| {
        cfg["linux"]["namespaces"]
            .as_array_mut()
            .unwrap()
            .push(json!({"type": "bogus"}))
    });
    let out = c.create();
    out.fails_with(&[]);
    assert!(
        out.stderr.contains("bogus") || out.stderr.to_lowercase().contains("namespace"),
        "{out}"
    );
    c.assert_clean();
}

#[test]
fn missing_rootfs() {
    let c = Case::new();
    fs::remove_dir_all(c.bundle.rootfs()).unwrap();
    c.create().fails_with(&["rootfs"]);
    c.assert_clean();
    c.run().fails_with(&["rootfs"]);
    c.assert_clean();
}

#[test]
fn missing_program() {
    let c = Case::new();
    c.bundle
        .set_args(&["no-such-program-xyz", "1000", &c.marker]);
    c.run()
        .fails_with(&["executable file not found", "no-such-program-xyz"]);
    c.assert_clean();
    c.create()
        .fails_with(&["executable file not found", "no-such-program-xyz"]);
    c.assert_clean();
}

#[test]
fn missing_or_unrunnable_absolute_program_fails_create() {
    let c = Case::new();
    c.bundle.set_args(&["/no/such/prog"]);
    c.create()
        .fails_with(&["executable file not found", "/no/such/prog"]);
    c.assert_clean();
    // A directory is not a program: refused at create, as a permission
    // error (podman's 126), not an exit of the container after start.
    c.bundle.set_args(&["/etc"]);
    c.create().fails_with(&["permission denied", "/etc"]);
    c.assert_clean();
}

#[test]
fn invalid_ids_are_refused() {
    let c = Case::new();
    let long = "x".repeat(2000);
    for id in ["../x", "", "a/b", "..", ".", "a b", long.as_str()] {
        let out = c.rt.create(&c.bundle, id, &[]);
        out.fails_with(&["invalid container id"]);
        if !id.is_empty() {
            let shown: String = id.chars().take(64).collect();
            assert!(out.stderr.contains(&shown), "{id:?} not named: {out}");
        }
        assert!(root_entries(&c.rt).is_empty(), "{:?}", root_entries(&c.rt));
        for cmd in ["state", "start", "delete", "kill"] {
            c.rt.output(&[cmd, id]).fails_with(&[]);
        }
    }
    // Nothing escaped the state root either.
    assert!(!c.rt.root().parent().unwrap().join("x").exists());
    assert!(!c.rt.root().join("a").exists());
    c.assert_clean();
}

#[test]
fn duplicate_id_is_refused_and_first_container_survives() {
    let c = Case::new();
    c.create().ok();
    let first = c.rt.state(&c.id).unwrap();
    let other = Bundle::new("busybox", &["sh", "-c", "sleep 1000; exit 0", &c.marker]);
    c.rt.create(&other, &c.id, &[])
        .fails_with(&[&c.id, "exists"]);
    let again = c.rt.state(&c.id).unwrap();
    assert_eq!(again["status"], "created");
    assert_eq!(again["pid"], first["pid"]);
    assert_eq!(again["bundle"], c.bundle.path().to_str().unwrap());
    // The first container's init still waits; the second create started
    // nothing (neither runs the program yet).
    assert!(pid_alive(first["pid"].as_i64().unwrap() as i32));
    assert!(processes_with(&c.marker).is_empty());
    c.rt.output(&["start", &c.id]).ok();
    let deadline = std::time::Instant::now() + status_timeout();
    while processes_with(&c.marker).is_empty() && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(
        marker_roots(&c.marker),
        vec![again["pid"].as_i64().unwrap() as i32]
    );
    c.rt.output(&["delete", "--force", &c.id]).ok();
    c.assert_clean();
}

#[test]
fn bind_mount_of_missing_source() {
    let c = Case::new();
    let source = format!("/nonexistent-{}", unique("src"));
    c.bundle.add_mount(json!({
        "destination": "/run/x", "type": "bind", "source": source,
        "options": ["bind"]
    }));
    let out = c.create();
    out.fails_with(&[]);
    assert!(
        out.stderr.contains(&source) || out.stderr.contains("/run/x"),
        "names neither source nor destination: {out}"
    );
    c.assert_clean();
    c.run().fails_with(&[]);
    c.assert_clean();
}

#[test]
fn mount_of_unknown_filesystem_type() {
    let c = Case::new();
    c.bundle.add_mount(json!({
        "destination": "/run/y", "type": "nosuchfs", "source": "none"
    }));
    let out = c.create();
    out.fails_with(&[]);
    assert!(
        out.stderr.contains("nosuchfs") || out.stderr.contains("/run/y"),
        "{out}"
    );
    c.assert_clean();
}

#[test]
fn failure_after_earlier_mounts_unwinds() {
    // The bad mount comes last, after the default ones succeeded.
    let c = Case::new();
    let host = tempfile::tempdir().unwrap();
    c.bundle.add_mount(json!({
        "destination": "/run/ok", "type": "bind", "source": host.path(),
        "options": ["bind"]
    }));
    c.bundle.add_mount(json!({
        "destination": "/run/bad", "type": "nosuchfs", "source": "none"
    }));
    let host_mounts = mounts_under(host.path()).len();
    c.create().fails_with(&[]);
    c.assert_clean();
    assert_eq!(mounts_under(host.path()).len(), host_mounts);
}

#[test]
fn unknown_id_for_every_command() {
    let rt = Runtime::new();
    let id = unique("ghost");
    for args in [
        vec!["state", id.as_str()],
        vec!["start", &id],
        vec!["kill", &id],
        vec!["kill", &id, "KILL"],
        vec!["delete", &id],
        vec!["ps", &id],
        vec!["exec", &id, "true"],
    ] {
        rt.output(&args).fails_with(&[&id, "does not exist"]);
    }
    // Like runc, a forced delete of a container that is not there succeeds.
    rt.output(&["delete", "--force", &id]).ok();
    assert!(root_entries(&rt).is_empty(), "{:?}", root_entries(&rt));
}

#[test]
fn exec_into_stopped_container_and_bad_signal() {
    let c = Case::new();
    c.bundle.set_args(&["true", &c.marker]);
    c.create().ok();
    c.rt.output(&["kill", &c.id, "NOTASIGNAL"])
        .fails_with(&["NOTASIGNAL"]);
    c.rt.output(&["start", &c.id]).ok();
    assert_eq!(
        c.rt.wait_status(&c.id, "stopped", status_timeout())
            .as_deref(),
        Some("stopped")
    );
    c.rt.output(&["exec", &c.id, "true"])
        .fails_with(&[&c.id, "stopped"]);
    c.rt.output(&["start", &c.id]).fails_with(&[&c.id]);
    c.rt.output(&["delete", &c.id]).ok();
    c.assert_clean();
}

#[test]
fn spec_refuses_to_overwrite() {
    let b = Bundle::new("busybox", &["true"]);
    let before = fs::read_to_string(b.config_path()).unwrap();
    let rt = Runtime::new();
    rt.output(&["spec", "--bundle", b.path().to_str().unwrap()])
        .fails_with(&["config.json", "exists"]);
    assert_eq!(fs::read_to_string(b.config_path()).unwrap(), before);
}

#[test]
fn rootless_malformed_config_and_unknown_id() {
    let user = rootless_test("rootless_malformed_config_and_unknown_id");
    let marker = unique("husk-err-marker");
    let bundle = Bundle::rootless(
        &user,
        IdMapping::Single,
        "busybox",
        &["sh", "-c", "sleep 1000; exit 0", &marker],
    );
    let c = Case::with(Runtime::rootless(&user), bundle, marker);
    c.bundle.write_config("[1, 2");
    c.create().fails_with(&["config.json"]);
    c.assert_clean();
    c.rt.output(&["state", &c.id])
        .fails_with(&[&c.id, "does not exist"]);
    c.rt.output(&["kill", &c.id, "KILL"])
        .fails_with(&[&c.id, "does not exist"]);
}

#[test]
fn rootless_impossible_mapping_is_refused() {
    // A map onto host ids the user was not delegated (root's) must fail
    // cleanly.
    let user = rootless_test("rootless_impossible_mapping_is_refused");
    let marker = unique("husk-err-marker");
    let bundle = Bundle::rootless(
        &user,
        IdMapping::Single,
        "busybox",
        &["sh", "-c", "sleep 1000; exit 0", &marker],
    );
    bundle.edit(|cfg| {
        cfg["linux"]["uidMappings"] = json!([{"containerID": 0, "hostID": 0, "size": 1}]);
    });
    let c = Case::with(Runtime::rootless(&user), bundle, marker);
    c.create().fails_with(&[]);
    c.assert_clean();
}

#[test]
fn rootless_missing_rootfs() {
    let user = rootless_test("rootless_missing_rootfs");
    let marker = unique("husk-err-marker");
    let bundle = Bundle::rootless(
        &user,
        IdMapping::Single,
        "busybox",
        &["sh", "-c", "sleep 1000; exit 0", &marker],
    );
    fs::remove_dir_all(bundle.rootfs()).unwrap();
    let c = Case::with(Runtime::rootless(&user), bundle, marker);
    c.run().fails_with(&["rootfs"]);
    c.assert_clean();
}

#[test]
fn id_length_limits_are_consistent() {
    // 255 bytes (NAME_MAX) is the longest directory name: it must work.
    let c = Case::new();
    let id255 = "i".repeat(255);
    c.rt.create(&c.bundle, &id255, &[]).ok();
    assert_eq!(c.rt.status(&id255).as_deref(), Some("created"));
    c.rt.output(&["delete", "--force", &id255]).ok();
    assert!(root_entries(&c.rt).is_empty());
    // Longer ids are either refused up front as invalid ids, or work. A
    // filesystem error ("File name too long") means the id validator
    // accepted an id the state root cannot hold.
    for len in [256, 1024] {
        let id = "j".repeat(len);
        let out = c.rt.create(&c.bundle, &id, &[]);
        if out.status.success() {
            assert_eq!(c.rt.status(&id).as_deref(), Some("created"));
            c.rt.output(&["delete", "--force", &id]).ok();
        } else {
            out.fails_with(&["invalid container id"]);
        }
        assert!(root_entries(&c.rt).is_empty(), "{:?}", root_entries(&c.rt));
    }
    c.assert_clean();
}
