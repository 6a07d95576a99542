//! Process attributes husk-runtime applies before exec: I/O priority,
//! scheduler, personality, and LSM labels refused where the LSM is absent.

use husk_tests::bundle::{unique, Bundle, Runtime};
use serde_json::json;

/// Field `n` (1-based, as proc(5) numbers them) of /proc/PID/stat.
fn stat_field(pid: i64, n: usize) -> String {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let rest = &s[s.rfind(')').unwrap() + 2..];
    rest.split_whitespace().nth(n - 3).unwrap().to_string()
}

#[test]
fn io_priority_and_scheduler_are_applied() {
    let rt = Runtime::new();
    let b = Bundle::new("busybox", &["sleep", "30"]);
    b.edit(|v| {
        v["process"]["ioPriority"] = json!({"class": "IOPRIO_CLASS_IDLE", "priority": 0});
        v["process"]["scheduler"] = json!({"policy": "SCHED_BATCH", "nice": 7});
    });
    let id = unique("sched");
    rt.create(&b, &id, &[]).ok();
    rt.output(&["start", &id]).ok();
    let pid = rt.state(&id).unwrap()["pid"].as_i64().unwrap();
    // SAFETY: ioprio_get takes integer arguments only.
    let prio = unsafe { libc::syscall(libc::SYS_ioprio_get, 1, pid as libc::c_int) };
    assert_eq!(prio >> 13, 3, "I/O class is not IDLE: {prio:#x}");
    assert_eq!(stat_field(pid, 41), "3", "policy is not SCHED_BATCH");
    assert_eq!(stat_field(pid, 19), "7", "nice is not 7");
    rt.output(&["delete", "--force", &id]).ok();
}

#[test]
fn linux32_personality_reports_i686() {
    let rt = Runtime::new();
    let b = Bundle::new("busybox", &["uname", "-m"]);
    b.edit(|v| v["linux"]["personality"] = json!({"domain": "LINUX32"}));
    let out = rt.run(&b, &unique("pers"));
    out.ok();
    assert_eq!(out.stdout.trim(), "i686", "{out}");
}

#[test]
fn out_of_range_process_attributes_fail_create() {
    let rt = Runtime::new();
    for (field, value, needle) in [
        (
            "ioPriority",
            json!({"class": "IOPRIO_CLASS_BE", "priority": 9}),
            "ioPriority",
        ),
        (
            "scheduler",
            json!({"policy": "SCHED_OTHER", "nice": 40}),
            "nice",
        ),
        (
            "scheduler",
            json!({"policy": "SCHED_FIFO", "priority": 0}),
            "SCHED",
        ),
    ] {
        let b = Bundle::new("busybox", &["true"]);
        b.edit(|v| v["process"][field] = value.clone());
        let id = unique("badattr");
        rt.create(&b, &id, &[]).fails_with(&[needle]);
        assert!(
            !rt.state_dir(&id).exists(),
            "state left for {field} {value}"
        );
    }
}

#[test]
fn lsm_labels_need_the_lsm() {
    let rt = Runtime::new();
    let apparmor = std::fs::read_to_string("/sys/module/apparmor/parameters/enabled")
        .is_ok_and(|s| s.trim() == "Y");
    let selinux = std::path::Path::new("/sys/fs/selinux/enforce").exists();
    for (field, value, enabled, needle) in [
        (
            "apparmorProfile",
            "husk-test",
            apparmor,
            "AppArmor is not enabled",
        ),
        (
            "selinuxLabel",
            "system_u:system_r:container_t:s0",
            selinux,
            "SELinux is not enabled",
        ),
    ] {
        if enabled {
            // Where the LSM exists the label is applied; this host has none.
            continue;
        }
        let b = Bundle::new("busybox", &["true"]);
        b.edit(|v| v["process"][field] = json!(value));
        let id = unique("lsm");
        rt.create(&b, &id, &[]).fails_with(&[needle, value]);
        assert!(!rt.state_dir(&id).exists());
    }
    assert!(
        !(apparmor && selinux),
        "both LSMs enabled: this test would check nothing"
    );
}

/// The hex value of a `Cap*:` line of /proc/self/status output.
fn cap_line(status: &str, name: &str) -> u64 {
    let line = status
        .lines()
        .find(|l| l.starts_with(name))
        .unwrap_or_else(|| panic!("no {name} in {status}"));
    u64::from_str_radix(line.split_whitespace().nth(1).unwrap(), 16).unwrap()
}

#[test]
fn capabilities_are_applied_and_kept_across_the_uid_switch() {
    let rt = Runtime::new();
    let b = Bundle::new("busybox", &["cat", "/proc/self/status"]);
    let caps = json!(["CAP_CHOWN", "CAP_NET_BIND_SERVICE"]);
    b.edit(|v| {
        v["process"]["user"] = json!({"uid": 1000, "gid": 1000});
        v["process"]["capabilities"] = json!({
            "bounding": caps, "effective": caps, "permitted": caps,
            "inheritable": ["CAP_NET_BIND_SERVICE"], "ambient": ["CAP_NET_BIND_SERVICE"]
        });
    });
    let out = rt.run(&b, &unique("caps"));
    out.ok();
    // CAP_CHOWN is bit 0, CAP_NET_BIND_SERVICE bit 10.
    assert_eq!(cap_line(&out.stdout, "CapBnd:"), 0x401, "{out}");
    // As uid 1000 after execve only the ambient capability stays effective.
    assert_eq!(cap_line(&out.stdout, "CapAmb:"), 0x400, "{out}");
    assert_eq!(cap_line(&out.stdout, "CapEff:"), 0x400, "{out}");
    assert!(
        out.stdout
            .lines()
            .any(|l| l.starts_with("Uid:") && l.contains("1000")),
        "{out}"
    );

    // Root in the container keeps exactly the permitted set.
    let b = Bundle::new("busybox", &["cat", "/proc/self/status"]);
    b.edit(|v| {
        v["process"]["capabilities"] = json!({
            "bounding": caps, "effective": caps, "permitted": caps
        });
    });
    let out = rt.run(&b, &unique("caps-root"));
    out.ok();
    assert_eq!(cap_line(&out.stdout, "CapEff:"), 0x401, "{out}");
    assert_eq!(cap_line(&out.stdout, "CapBnd:"), 0x401, "{out}");
}

#[test]
fn unknown_capabilities_are_refused() {
    let rt = Runtime::new();
    let b = Bundle::new("busybox", &["true"]);
    b.edit(|v| v["process"]["capabilities"]["bounding"] = json!(["CAP_CHOWN", "CAP_BOGUS"]));
    let id = unique("badcap");
    rt.create(&b, &id, &[]).fails_with(&["CAP_BOGUS"]);
    assert!(!rt.state_dir(&id).exists());
    // exec --cap with an unknown name too.
    let b = Bundle::new("busybox", &["sleep", "30"]);
    let id = unique("execcap");
    rt.output_detached(&["run", "-d", "--bundle", b.path().to_str().unwrap(), &id])
        .0
        .ok();
    rt.output(&["exec", "--cap", "CAP_BOGUS", &id, "true"])
        .fails_with(&["CAP_BOGUS"]);
    rt.output(&["delete", "--force", &id]).ok();
}

#[test]
fn oom_score_adj_and_no_new_privileges_are_applied() {
    let rt = Runtime::new();
    let b = Bundle::new(
        "busybox",
        &[
            "sh",
            "-c",
            "cat /proc/self/oom_score_adj; grep NoNewPrivs /proc/self/status",
        ],
    );
    b.edit(|v| {
        v["process"]["oomScoreAdj"] = json!(345);
        v["process"]["noNewPrivileges"] = json!(true);
    });
    let out = rt.run(&b, &unique("oomadj"));
    out.ok();
    let mut lines = out.stdout.lines();
    assert_eq!(lines.next(), Some("345"), "{out}");
    assert!(
        lines.next().is_some_and(|l| l.ends_with('1')),
        "no_new_privs not set: {out}"
    );
}

#[test]
fn loopback_is_up_in_a_new_network_namespace() {
    let rt = Runtime::new();
    // The default bundle has a new network namespace: lo is up and a TCP
    // connection to 127.0.0.1 goes through (the client retries until the
    // listener is there). The listener's stdin never ends: busybox nc
    // shuts its sending side at stdin's end, and the client, seeing that,
    // could leave before sending.
    let script = "cat /sys/class/net/lo/flags; mkfifo /tmp/in; \
        nc -l -p 7777 </tmp/in >/tmp/got & exec 3>/tmp/in; \
        for i in $(seq 50); do echo pong | nc 127.0.0.1 7777 && break; sleep 0.1; done; \
        wait $!; cat /tmp/got";
    let b = Bundle::new("busybox", &["sh", "-c", script]);
    let out = rt.run(&b, &unique("lo"));
    out.ok();
    let mut lines = out.stdout.lines();
    let flags =
        u32::from_str_radix(lines.next().unwrap().trim().trim_start_matches("0x"), 16).unwrap();
    assert_eq!(flags & 1, 1, "lo is not up: {out}");
    assert_eq!(lines.next(), Some("pong"), "{out}");
}
