//! Time namespaces with linux.timeOffsets: the container's boottime and
//! monotonic clocks are shifted, rootful and rootless, and bad offsets are
//! refused without leaving anything behind.

use husk_tests::bundle::{unique, Bundle, IdMapping, Runtime};
use husk_tests::rootless::rootless_test;
use serde_json::json;

const DAY: f64 = 86_400.0;

fn with_offsets(b: &Bundle, offsets: serde_json::Value) {
    b.edit(|v| {
        v["linux"]["namespaces"]
            .as_array_mut()
            .unwrap()
            .push(json!({"type": "time"}));
        v["linux"]["timeOffsets"] = offsets;
    });
}

fn host_uptime() -> f64 {
    std::fs::read_to_string("/proc/uptime")
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

fn check_shifted(out_stdout: &str) {
    let mut lines = out_stdout.lines();
    let uptime: f64 = lines
        .next()
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let host = host_uptime();
    assert!(
        uptime > host + 10.0 * DAY - 60.0 && uptime < host + 10.0 * DAY + 60.0,
        "boottime not shifted by 10 days: container {uptime}, host {host}"
    );
    assert_eq!(
        lines.next(),
        Some("pid 1"),
        "the container is not pid 1: {out_stdout}"
    );
}

#[test]
fn boottime_offset_is_applied() {
    let rt = Runtime::new();
    let b = Bundle::new("busybox", &["sh", "-c", "cat /proc/uptime; echo pid $$"]);
    with_offsets(
        &b,
        json!({"boottime": {"secs": 864000, "nanosecs": 0}, "monotonic": {"secs": 60}}),
    );
    let out = rt.run(&b, &unique("timens"));
    out.ok();
    check_shifted(&out.stdout);
}

#[test]
fn rootless_boottime_offset_is_applied() {
    let user = rootless_test("rootless_boottime_offset_is_applied");
    let rt = Runtime::rootless(&user);
    let b = Bundle::rootless(
        &user,
        IdMapping::Multi,
        "busybox",
        &["sh", "-c", "cat /proc/uptime; echo pid $$"],
    );
    with_offsets(&b, json!({"boottime": {"secs": 864000}}));
    let out = rt.run(&b, &unique("rl-timens"));
    out.ok();
    check_shifted(&out.stdout);
}

#[test]
fn bad_time_offsets_are_refused() {
    let rt = Runtime::new();
    let b = Bundle::new("busybox", &["true"]);
    with_offsets(&b, json!({"realtime": {"secs": 1}}));
    let id = unique("badtime");
    rt.create(&b, &id, &[])
        .fails_with(&["timeOffsets", "realtime"]);
    assert!(!rt.state_dir(&id).exists());

    // Offsets without a time namespace of the container's own.
    let b = Bundle::new("busybox", &["true"]);
    b.edit(|v| v["linux"]["timeOffsets"] = json!({"monotonic": {"secs": 5}}));
    let id = unique("notimens");
    rt.create(&b, &id, &[]).fails_with(&["time namespace"]);
    assert!(!rt.state_dir(&id).exists());
}
