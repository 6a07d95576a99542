//! End-to-end tests of `husk-runtime` run by the unprivileged test user:
//! the single-id map `spec --rootless` writes, the multi-range map set up
//! through newuidmap/newgidmap, and the whole lifecycle.

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::thread;
use std::time::{Duration, Instant};

use husk_tests::bundle::{
    marker_roots, status_timeout, unique, wait_no_processes, Bundle, IdMapping, Runtime,
};
use husk_tests::rootless::{rootless_test, TestUser};

fn wait_file(path: &Path) -> bool {
    let deadline = Instant::now() + status_timeout();
    while Instant::now() < deadline && !path.exists() {
        thread::sleep(Duration::from_millis(20));
    }
    path.exists()
}

/// `/proc/PID/uid_map` text as `(container, host, size)` triples.
fn parse_map(text: &str) -> Vec<(u32, u32, u32)> {
    text.lines()
        .filter_map(|l| {
            let f: Vec<u32> = l
                .split_whitespace()
                .filter_map(|x| x.parse().ok())
                .collect();
            (f.len() == 3).then(|| (f[0], f[1], f[2]))
        })
        .collect()
}

/// The real uid of a host process (first field of `Uid:` in its status).
fn host_uid(pid: i32) -> Option<u32> {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find(|l| l.starts_with("Uid:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

fn looping(user: &TestUser, mapping: IdMapping, marker: &str) -> Bundle {
    Bundle::rootless(
        user,
        mapping,
        "busybox",
        &[
            "sh",
            "-c",
            "touch /tmp/ready; while :; do sleep 0.1; done",
            marker,
        ],
    )
}

#[test]
fn rootless_single_id_map_run() {
    let user = rootless_test("rootless_single_id_map_run");
    let rt = Runtime::rootless(&user);
    let b = Bundle::rootless(
        &user,
        IdMapping::Single,
        "busybox",
        &[
            "sh",
            "-c",
            "cat /proc/self/uid_map; echo --; cat /proc/self/gid_map; echo --; \
             id -u; id -g; hostname; echo $$; stat -c %u /bin/busybox; \
             echo hi > /tmp/written; exit 5",
        ],
    );
    let id = unique("rl-single");
    let out = rt.run(&b, &id);
    assert_eq!(out.code(), 5, "{out}");
    let parts: Vec<&str> = out.stdout.split("--\n").collect();
    assert_eq!(parts.len(), 3, "{out}");
    assert_eq!(parse_map(parts[0]), vec![(0, user.uid, 1)], "{out}");
    assert_eq!(parse_map(parts[1]), vec![(0, user.gid, 1)], "{out}");
    let rest: Vec<&str> = parts[2].lines().collect();
    assert_eq!(rest, ["0", "0", "husk-test", "1", "0"], "{out}");
    // The file written as container root belongs to the user on the host.
    let meta = fs::metadata(b.rootfs().join("tmp/written")).unwrap();
    assert_eq!((meta.uid(), meta.gid()), (user.uid, user.gid));
    assert!(!rt.state_dir(&id).exists());
}

#[test]
fn rootless_multi_range_map_run() {
    let user = rootless_test("rootless_multi_range_map_run");
    let rt = Runtime::rootless(&user);
    let b = Bundle::rootless(
        &user,
        IdMapping::Multi,
        "busybox",
        &[
            "sh",
            "-c",
            "cat /proc/self/uid_map; echo --; cat /proc/self/gid_map; echo --; \
             id -u; stat -c %u:%g /home/user; stat -c %u:%g /bin/busybox; \
             touch /tmp/x; stat -c %u:%g /tmp/x",
        ],
    );
    let id = unique("rl-multi");
    let out = rt.run(&b, &id);
    out.ok();
    let parts: Vec<&str> = out.stdout.split("--\n").collect();
    assert_eq!(parts.len(), 3, "{out}");
    assert_eq!(parse_map(parts[0]), user.uid_map(), "{out}");
    assert_eq!(parse_map(parts[1]), user.gid_map(), "{out}");
    let rest: Vec<&str> = parts[2].lines().collect();
    assert_eq!(rest, ["0", "1000:1000", "0:0", "0:0"], "{out}");
    // Container root is the user on the host; container 1000 is host
    // subuid_start + 999 (checked on the host side of the rootfs).
    let meta = fs::metadata(b.rootfs().join("tmp/x")).unwrap();
    assert_eq!((meta.uid(), meta.gid()), (user.uid, user.gid));
    let meta = fs::metadata(b.rootfs().join("home/user")).unwrap();
    assert_eq!(
        (meta.uid(), meta.gid()),
        (user.subuids[0].start + 999, user.subgids[0].start + 999)
    );
}

#[test]
fn rootless_multi_range_exec_as_other_user() {
    let user = rootless_test("rootless_multi_range_exec_as_other_user");
    let rt = Runtime::rootless(&user);
    let marker = unique("rl-exec");
    let b = looping(&user, IdMapping::Multi, &marker);
    let id = unique("rl-exec");
    rt.create(&b, &id, &[]).ok();
    rt.output(&["start", &id]).ok();
    assert!(wait_file(&b.rootfs().join("tmp/ready")));

    let out = rt.output(&[
        "exec",
        "--user",
        "1000:1000",
        &id,
        "sh",
        "-c",
        "id -u; id -g; touch /home/user/mine; stat -c %u /home/user/mine",
    ]);
    out.ok();
    assert_eq!(
        out.stdout.lines().collect::<Vec<_>>(),
        ["1000", "1000", "1000"],
        "{out}"
    );
    let meta = fs::metadata(b.rootfs().join("home/user/mine")).unwrap();
    assert_eq!(meta.uid(), user.subuids[0].start + 999);
    // Container user 1000 cannot write root's files.
    let out = rt.output(&["exec", "--user", "1000:1000", &id, "touch", "/etc/passwd"]);
    assert_ne!(out.code(), 0, "{out}");

    rt.output(&["delete", "--force", &id]).ok();
    assert_eq!(
        wait_no_processes(&marker, status_timeout()),
        Vec::<i32>::new()
    );
}

#[test]
fn rootless_lifecycle() {
    let user = rootless_test("rootless_lifecycle");
    let rt = Runtime::rootless(&user);
    let marker = unique("rl-life");
    let b = looping(&user, IdMapping::Single, &marker);
    let id = unique("rl-life");
    let pid_file = b.path().join("container.pid");

    rt.create(&b, &id, &["--pid-file", pid_file.to_str().unwrap()])
        .ok();
    let st = rt.state(&id).expect("state after create");
    assert_eq!(st["status"], "created", "{st}");
    let pid = st["pid"].as_i64().unwrap() as i32;
    let from_file: i32 = fs::read_to_string(&pid_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert_eq!(pid, from_file);
    assert!(Path::new(&format!("/proc/{pid}")).exists());
    assert!(!b.rootfs().join("tmp/ready").exists());
    // The state lives in the user's root, owned by the user.
    let meta = fs::metadata(rt.state_dir(&id)).unwrap();
    assert_eq!(meta.uid(), user.uid);

    rt.output(&["start", &id]).ok();
    assert!(wait_file(&b.rootfs().join("tmp/ready")));
    assert_eq!(rt.status(&id).as_deref(), Some("running"));
    // The container process runs as the user on the host.
    assert_eq!(host_uid(pid), Some(user.uid));
    assert_eq!(marker_roots(&marker), vec![pid]);

    let out = rt.output(&["exec", &id, "sh", "-c", "id -u; exit 7"]);
    assert_eq!(out.code(), 7, "{out}");
    assert_eq!(out.stdout.trim(), "0");

    let ps = rt.output(&["ps", "--format", "json", &id]);
    ps.ok();
    let pids: Vec<i32> = serde_json::from_str(ps.stdout.trim()).unwrap();
    assert!(pids.contains(&pid), "{pids:?}");

    let list = rt.output(&["list"]);
    list.ok();
    assert!(list.stdout.contains(&id), "{list}");

    rt.output(&["kill", &id, "KILL"]).ok();
    assert_eq!(
        rt.wait_status(&id, "stopped", status_timeout()).as_deref(),
        Some("stopped")
    );
    rt.output(&["delete", &id]).ok();
    rt.output(&["state", &id])
        .fails_with(&[&id, "does not exist"]);
    assert!(!rt.state_dir(&id).exists());
    assert_eq!(
        wait_no_processes(&marker, status_timeout()),
        Vec::<i32>::new()
    );
}

#[test]
fn rootless_sigterm_and_kill_all() {
    let user = rootless_test("rootless_sigterm_and_kill_all");
    let rt = Runtime::rootless(&user);
    let marker = unique("rl-term");
    let b = Bundle::rootless(
        &user,
        IdMapping::Single,
        "busybox",
        &[
            "sh",
            "-c",
            "trap 'exit 143' TERM; sleep 1000 & touch /tmp/ready; while :; do sleep 0.1; done",
            &marker,
        ],
    );
    let id = unique("rl-term");
    rt.create(&b, &id, &[]).ok();
    rt.output(&["start", &id]).ok();
    assert!(wait_file(&b.rootfs().join("tmp/ready")));
    let ps = rt.output(&["ps", "--format", "json", &id]);
    let pids: Vec<i32> = serde_json::from_str(ps.stdout.trim()).unwrap();
    assert!(pids.len() >= 2, "{pids:?}");
    rt.output(&["kill", "--all", &id, "TERM"]).ok();
    assert_eq!(
        rt.wait_status(&id, "stopped", status_timeout()).as_deref(),
        Some("stopped")
    );
    rt.output(&["delete", &id]).ok();
    assert_eq!(
        wait_no_processes(&marker, status_timeout()),
        Vec::<i32>::new()
    );
}

#[test]
fn rootless_readonly_root_and_masked_paths() {
    let user = rootless_test("rootless_readonly_root_and_masked_paths");
    let rt = Runtime::rootless(&user);
    let b = Bundle::rootless(
        &user,
        IdMapping::Single,
        "busybox",
        &[
            "sh",
            "-c",
            "if touch /x; then echo WROTE; else echo REFUSED; fi; head -c 64 /proc/kcore | wc -c",
        ],
    );
    b.edit(|c| c["root"]["readonly"] = serde_json::json!(true));
    let out = rt.run(&b, &unique("rl-ro"));
    out.ok();
    assert_eq!(
        out.stdout.lines().map(str::trim).collect::<Vec<_>>(),
        ["REFUSED", "0"],
        "{out}"
    );
}

#[test]
fn rootless_exec_as_unmapped_user_fails_cleanly() {
    let user = rootless_test("rootless_exec_as_unmapped_user_fails_cleanly");
    let rt = Runtime::rootless(&user);
    let marker = unique("rl-unmapped");
    let b = looping(&user, IdMapping::Single, &marker);
    let id = unique("rl-unmapped");
    rt.create(&b, &id, &[]).ok();
    rt.output(&["start", &id]).ok();
    assert!(wait_file(&b.rootfs().join("tmp/ready")));
    // Only container id 0 is mapped: uid 1000 does not exist in the
    // container's user namespace.
    let out = rt.output(&["exec", "--user", "1000:1000", &id, "id", "-u"]);
    out.fails_with(&[]);
    assert!(!out.stdout.contains("1000"), "{out}");
    assert_eq!(rt.status(&id).as_deref(), Some("running"));
    rt.output(&["delete", "--force", &id]).ok();
    assert_eq!(
        wait_no_processes(&marker, status_timeout()),
        Vec::<i32>::new()
    );
}

#[test]
fn rootless_bind_mount() {
    let user = rootless_test("rootless_bind_mount");
    let rt = Runtime::rootless(&user);
    let host = tempfile::tempdir().unwrap();
    husk_tests::rootless::make_accessible(host.path()).unwrap();
    std::os::unix::fs::chown(host.path(), Some(user.uid), Some(user.gid)).unwrap();
    fs::write(host.path().join("in"), "from-host\n").unwrap();
    let b = Bundle::rootless(
        &user,
        IdMapping::Single,
        "busybox",
        &[
            "sh",
            "-c",
            "cat /run/host/in; echo from-container > /run/host/out",
        ],
    );
    b.edit(|c| {
        c["mounts"].as_array_mut().unwrap().push(serde_json::json!({
            "destination": "/run/host", "type": "bind",
            "source": host.path(), "options": ["rbind", "rw"]
        }))
    });
    let out = rt.run(&b, &unique("rl-bind"));
    out.ok();
    assert_eq!(out.stdout, "from-host\n");
    let meta = fs::metadata(host.path().join("out")).unwrap();
    assert_eq!(meta.uid(), user.uid);
    assert_eq!(
        fs::read_to_string(host.path().join("out")).unwrap(),
        "from-container\n"
    );
}
