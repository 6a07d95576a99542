//! OCI hooks through husk-runtime: each runs at its point with the state on
//! stdin, a failing or timed-out hook fails the operation, and a failed
//! create leaves nothing behind.

use std::fs;
use std::path::Path;

use husk_tests::bundle::{processes_with, unique, Bundle, Runtime};
use serde_json::{json, Value};

const HOOKS: [&str; 6] = [
    "prestart",
    "createRuntime",
    "createContainer",
    "startContainer",
    "poststart",
    "poststop",
];

/// A hook that appends its name, its mount namespace and its stdin to `dir`.
fn recording_hook(dir: &Path, name: &str) -> Value {
    let script = format!(
        "{{ echo {name} $(readlink /proc/self/ns/mnt); cat; echo; }} >> {}/log",
        dir.display()
    );
    json!({"path": "/bin/sh", "args": ["sh", "-c", script]})
}

#[test]
fn every_hook_runs_in_order_with_the_state() {
    let rt = Runtime::new();
    let host = tempfile::tempdir().unwrap();
    // startContainer runs inside the container: give it the log dir there.
    let b = Bundle::new("busybox", &["true"]);
    b.add_mount(json!({
        "destination": host.path(), "type": "bind",
        "source": host.path(), "options": ["rbind", "rw"]
    }));
    let hooks: serde_json::Map<String, Value> = HOOKS
        .iter()
        .map(|h| (h.to_string(), json!([recording_hook(host.path(), h)])))
        .collect();
    b.edit(|v| v["hooks"] = Value::Object(hooks));
    let id = unique("hooks");
    rt.create(&b, &id, &[]).ok();
    let pid = rt.state(&id).unwrap()["pid"].as_i64().unwrap();
    rt.output(&["start", &id]).ok();
    rt.wait_status(&id, "stopped", husk_tests::bundle::status_timeout());
    rt.output(&["delete", &id]).ok();

    let log = fs::read_to_string(host.path().join("log")).unwrap();
    let lines: Vec<&str> = log.lines().filter(|l| !l.is_empty()).collect();
    let names: Vec<&str> = lines
        .iter()
        .step_by(2)
        .map(|l| l.split_whitespace().next().unwrap())
        .collect();
    assert_eq!(names, HOOKS, "hooks ran out of order: {log}");
    let host_mnt = fs::read_link("/proc/self/ns/mnt").unwrap();
    for pair in lines.chunks(2) {
        let (name, ns) = pair[0].split_once(' ').unwrap();
        let state: Value = serde_json::from_str(pair[1]).unwrap();
        assert_eq!(state["id"], id.as_str(), "{name}: {state}");
        let want = match name {
            "prestart" | "createRuntime" => "creating",
            "createContainer" => "created",
            "startContainer" | "poststart" => "running",
            _ => "stopped",
        };
        assert_eq!(state["status"], want, "{name}: {state}");
        if name != "poststop" {
            assert_eq!(state["pid"].as_i64(), Some(pid), "{name}: pid {state}");
        }
        // createContainer and startContainer run in the container's mount
        // namespace; the others in the runtime's.
        let in_container = matches!(name, "createContainer" | "startContainer");
        assert_eq!(
            ns != host_mnt.to_str().unwrap(),
            in_container,
            "{name} ran in the wrong mount namespace ({ns})"
        );
    }
}

#[test]
fn failing_or_slow_create_hooks_fail_create_and_leave_nothing() {
    let rt = Runtime::new();
    for (hook, needle) in [
        (
            json!({"path": "/bin/sh", "args": ["sh", "-c", "exit 3"]}),
            "exited",
        ),
        (
            json!({"path": "/bin/sh", "args": ["sh", "-c", "sleep 30"], "timeout": 1}),
            "timed out",
        ),
        (json!({"path": "/no/such/hook"}), "/no/such/hook"),
    ] {
        let marker = unique("hookfail");
        let b = Bundle::new("busybox", &["sh", "-c", "sleep 30", &marker]);
        b.edit(|v| v["hooks"] = json!({"createRuntime": [hook]}));
        let id = unique("hookfail");
        rt.create(&b, &id, &[]).fails_with(&["hook", needle]);
        assert!(!rt.state_dir(&id).exists(), "state left after {needle}");
        assert!(
            husk_tests::bundle::wait_no_processes(&marker, husk_tests::bundle::status_timeout())
                .is_empty(),
            "container process left after {needle}: {:?}",
            processes_with(&marker)
        );
    }
}
