//! End-to-end tests of `husk-runtime` as root against the real kernel: run,
//! the create/start/state/kill/delete lifecycle, list, ps, exec, and what
//! the container sees of its namespaces and mounts.

use std::fs;
use std::path::Path;
use std::thread;
use std::time::{Duration, Instant};

use husk_tests::bundle::{
    marker_roots, mounts_under, pid_alive, processes_with, status_timeout, unique,
    wait_no_processes, Bundle, Runtime,
};
use serde_json::{json, Value};

/// Waits up to 5 s for a file to appear.
fn wait_file(path: &Path) -> bool {
    let deadline = Instant::now() + status_timeout();
    while Instant::now() < deadline {
        if path.exists() {
            return true;
        }
        thread::sleep(Duration::from_millis(20));
    }
    path.exists()
}

/// A container that writes `/tmp/ready` once its program runs, then loops.
fn looping_bundle(marker: &str) -> Bundle {
    Bundle::new(
        "busybox",
        &[
            "sh",
            "-c",
            "touch /tmp/ready; while :; do sleep 0.1; done",
            marker,
        ],
    )
}

/// Creates and starts `id` from `bundle`, waiting for `/tmp/ready`.
fn start_ready(rt: &Runtime, bundle: &Bundle, id: &str) -> i32 {
    rt.create(bundle, id, &[]).ok();
    rt.output(&["start", id]).ok();
    assert!(
        wait_file(&bundle.rootfs().join("tmp/ready")),
        "container {id} never wrote /tmp/ready"
    );
    rt.state(id).expect("state")["pid"].as_i64().unwrap() as i32
}

fn lines(s: &str) -> Vec<&str> {
    s.lines().map(str::trim).collect()
}

#[test]
fn run_prints_output_and_returns_exit_code() {
    let rt = Runtime::new();
    let b = Bundle::new("busybox", &["sh", "-c", "echo hello; hostname; exit 3"]);
    let id = unique("run");
    let out = rt.run(&b, &id);
    assert_eq!(out.code(), 3, "{out}");
    assert_eq!(lines(&out.stdout), ["hello", "husk-test"], "{out}");
    assert!(!rt.state_dir(&id).exists(), "state dir left after run");
    assert!(rt.list_ids().is_empty());
    assert!(rt.state(&id).is_none());
}

#[test]
fn run_of_process_killed_by_signal_gives_128_plus_signal() {
    // Without a pid namespace the shell is not an init, so it can kill
    // itself.
    let rt = Runtime::new();
    let b = Bundle::new("busybox", &["sh", "-c", "kill -9 $$; echo survived"]);
    b.edit(|c| {
        let ns = c["linux"]["namespaces"].as_array_mut().unwrap();
        ns.retain(|n| n["type"] != "pid");
    });
    let id = unique("sig");
    let out = rt.run(&b, &id);
    assert_eq!(out.code(), 137, "{out}");
    assert!(!out.stdout.contains("survived"), "{out}");
    assert!(!rt.state_dir(&id).exists());
}

#[test]
fn run_killed_from_outside_gives_137_and_cleans_up() {
    let rt = Runtime::new();
    let marker = unique("outside-kill");
    let b = looping_bundle(&marker);
    let id = unique("outkill");
    let out = thread::scope(|s| {
        let h = s.spawn(|| rt.run(&b, &id));
        assert!(wait_file(&b.rootfs().join("tmp/ready")), "never ready");
        assert_eq!(rt.status(&id).as_deref(), Some("running"));
        rt.output(&["kill", &id, "KILL"]).ok();
        h.join().unwrap()
    });
    assert_eq!(out.code(), 137, "{out}");
    assert!(!rt.state_dir(&id).exists(), "state dir left after run");
    assert_eq!(
        wait_no_processes(&marker, status_timeout()),
        Vec::<i32>::new()
    );
}

#[test]
fn create_start_state_kill_delete() {
    let rt = Runtime::new();
    let marker = unique("lifecycle");
    let b = looping_bundle(&marker);
    let id = unique("life");
    let pid_file = rt.scratch().join("pid");
    rt.create(&b, &id, &["--pid-file", pid_file.to_str().unwrap()])
        .ok();

    let st = rt.state(&id).expect("state after create");
    assert_eq!(st["status"], "created", "{st}");
    assert_eq!(st["id"], id.as_str());
    assert_eq!(st["bundle"], b.path().to_str().unwrap());
    assert_eq!(
        st["ociVersion"].as_str().map(|v| v.starts_with("1.")),
        Some(true)
    );
    let pid = st["pid"].as_i64().unwrap() as i32;
    assert!(pid > 0);
    let from_file: i32 = fs::read_to_string(&pid_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert_eq!(from_file, pid, "--pid-file and state disagree");
    assert!(pid_alive(pid), "/proc/{pid} missing after create");
    // The user program has not run yet.
    thread::sleep(Duration::from_millis(100));
    assert!(
        !b.rootfs().join("tmp/ready").exists(),
        "program ran before start"
    );
    let cmdline = fs::read_to_string(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    assert!(
        !cmdline.contains(&marker),
        "init already exec'd: {cmdline:?}"
    );
    assert!(rt.state_dir(&id).is_dir());

    rt.output(&["start", &id]).ok();
    assert!(
        wait_file(&b.rootfs().join("tmp/ready")),
        "program never ran"
    );
    assert_eq!(rt.status(&id).as_deref(), Some("running"));
    let cmdline = fs::read_to_string(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    assert!(cmdline.contains(&marker), "pid {pid} runs {cmdline:?}");
    // Starting twice is refused.
    rt.output(&["start", &id]).fails_with(&[&id]);

    rt.output(&["kill", &id, "KILL"]).ok();
    assert_eq!(
        rt.wait_status(&id, "stopped", status_timeout()).as_deref(),
        Some("stopped")
    );
    assert!(
        !pid_alive(pid)
            || !fs::read_to_string(format!("/proc/{pid}/cmdline"))
                .unwrap_or_default()
                .contains(&marker)
    );

    rt.output(&["delete", &id]).ok();
    let out = rt.output(&["state", &id]);
    out.fails_with(&[&id]);
    assert!(!rt.state_dir(&id).exists(), "state dir left after delete");
    assert!(rt.list_ids().is_empty());
    assert!(processes_with(&marker).is_empty());
}

#[test]
fn sigterm_trapped_by_the_program_stops_it() {
    let rt = Runtime::new();
    let marker = unique("term");
    let b = Bundle::new(
        "busybox",
        &[
            "sh",
            "-c",
            "trap 'exit 143' TERM; touch /tmp/ready; while :; do sleep 0.1; done",
            &marker,
        ],
    );
    let id = unique("term");
    start_ready(&rt, &b, &id);
    // Default signal is SIGTERM.
    rt.output(&["kill", &id]).ok();
    assert_eq!(
        rt.wait_status(&id, "stopped", status_timeout()).as_deref(),
        Some("stopped")
    );
    rt.output(&["delete", &id]).ok();
    assert!(!rt.state_dir(&id).exists());
}

#[test]
fn delete_of_running_container_needs_force() {
    let rt = Runtime::new();
    let marker = unique("force");
    let b = looping_bundle(&marker);
    let id = unique("force");
    let pid = start_ready(&rt, &b, &id);
    rt.output(&["delete", &id]).fails_with(&[&id]);
    assert_eq!(rt.status(&id).as_deref(), Some("running"));
    rt.output(&["delete", "--force", &id]).ok();
    assert!(!rt.state_dir(&id).exists());
    assert_eq!(
        wait_no_processes(&marker, status_timeout()),
        Vec::<i32>::new()
    );
    assert!(rt.state(&id).is_none());
    let _ = pid;
}

#[test]
fn kill_all_ps_and_list() {
    let rt = Runtime::new();
    let marker = unique("killall");
    let b = Bundle::new(
        "busybox",
        &[
            "sh",
            "-c",
            "sleep 1000 & sleep 1000 & touch /tmp/ready; wait",
            &marker,
        ],
    );
    let id = unique("all");
    let init = start_ready(&rt, &b, &id);

    // ps --format json: every pid of the container, init included.
    let ps = rt.output(&["ps", "--format", "json", &id]);
    ps.ok();
    let pids: Vec<i32> = serde_json::from_str(ps.stdout.trim()).unwrap();
    assert!(pids.contains(&init), "init {init} not in {pids:?}");
    assert!(pids.len() >= 3, "expected init and two sleeps: {pids:?}");
    for p in &pids {
        assert!(pid_alive(*p));
    }
    // ps table: the header and the init pid.
    let table = rt.output(&["ps", &id]);
    table.ok();
    assert!(table.stdout.contains("PID"), "{table}");
    assert!(
        table
            .stdout
            .lines()
            .any(|l| l.split_whitespace().any(|f| f == init.to_string())),
        "{table}"
    );

    // list: table and json.
    let list = rt.output(&["list"]);
    list.ok();
    let row = list
        .stdout
        .lines()
        .find(|l| l.starts_with(&id))
        .unwrap_or_else(|| panic!("{id} not listed: {list}"));
    assert!(row.contains("running"), "{row}");
    assert!(row.contains(&init.to_string()), "{row}");
    let json_out = rt.output(&["list", "--format", "json"]);
    json_out.ok();
    let arr: Value = serde_json::from_str(json_out.stdout.trim()).unwrap();
    let entry = arr
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["id"] == id.as_str())
        .unwrap_or_else(|| panic!("{id} not in {arr}"));
    assert_eq!(entry["status"], "running");
    assert_eq!(entry["pid"], init);
    assert_eq!(rt.list_ids(), vec![id.clone()]);

    rt.output(&["kill", "--all", &id, "KILL"]).ok();
    assert_eq!(
        rt.wait_status(&id, "stopped", status_timeout()).as_deref(),
        Some("stopped")
    );
    let deadline = Instant::now() + status_timeout();
    while pids.iter().any(|p| pid_alive(*p)) && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(20));
    }
    let alive: Vec<_> = pids.iter().filter(|p| pid_alive(**p)).collect();
    assert!(alive.is_empty(), "still alive after kill --all: {alive:?}");
    rt.output(&["delete", &id]).ok();
    assert!(rt.list_ids().is_empty());
}

#[test]
fn list_shows_created_and_stopped() {
    let rt = Runtime::new();
    let b1 = looping_bundle(&unique("list1"));
    let b2 = Bundle::new("busybox", &["true"]);
    let (id1, id2) = (unique("a"), unique("b"));
    rt.create(&b1, &id1, &[]).ok();
    rt.create(&b2, &id2, &[]).ok();
    rt.output(&["start", &id2]).ok();
    assert_eq!(
        rt.wait_status(&id2, "stopped", status_timeout()).as_deref(),
        Some("stopped")
    );
    let out = rt.output(&["list", "--format", "json"]);
    out.ok();
    let arr: Value = serde_json::from_str(out.stdout.trim()).unwrap();
    let status = |id: &str| {
        arr.as_array()
            .unwrap()
            .iter()
            .find(|e| e["id"] == id)
            .map(|e| e["status"].clone())
    };
    assert_eq!(status(&id1), Some(json!("created")), "{arr}");
    assert_eq!(status(&id2), Some(json!("stopped")), "{arr}");
    let mut ids = rt.list_ids();
    ids.sort();
    let mut want = vec![id1.clone(), id2.clone()];
    want.sort();
    assert_eq!(ids, want);
    rt.output(&["delete", "--force", &id1]).ok();
    rt.output(&["delete", &id2]).ok();
    assert!(rt.list_ids().is_empty());
}

#[test]
fn exec_into_running_container() {
    let rt = Runtime::new();
    let marker = unique("exec");
    let b = looping_bundle(&marker);
    let id = unique("exec");
    start_ready(&rt, &b, &id);

    let out = rt.output(&["exec", &id, "echo", "from-exec"]);
    out.ok();
    assert_eq!(out.stdout.trim(), "from-exec");

    let out = rt.output(&["exec", &id, "sh", "-c", "echo partial; exit 7"]);
    assert_eq!(out.code(), 7, "{out}");
    assert_eq!(out.stdout.trim(), "partial");

    let out = rt.output(&[
        "exec",
        "--env",
        "HUSK_FOO=bar-baz",
        &id,
        "sh",
        "-c",
        "echo $HUSK_FOO",
    ]);
    out.ok();
    assert_eq!(out.stdout.trim(), "bar-baz");

    let out = rt.output(&["exec", "--cwd", "/home/user", &id, "pwd"]);
    out.ok();
    assert_eq!(out.stdout.trim(), "/home/user");

    let out = rt.output(&[
        "exec",
        "--user",
        "1000:1000",
        &id,
        "sh",
        "-c",
        "id -u; id -g",
    ]);
    out.ok();
    assert_eq!(lines(&out.stdout), ["1000", "1000"], "{out}");

    // The exec'd process shares the container's pid namespace: it sees the
    // container's init as pid 1.
    let out = rt.output(&["exec", &id, "cat", "/proc/1/cmdline"]);
    out.ok();
    assert!(out.stdout.contains(&marker), "{out}");

    // A file written by exec is in the container's rootfs.
    rt.output(&["exec", &id, "sh", "-c", "echo x > /tmp/from-exec"])
        .ok();
    assert!(b.rootfs().join("tmp/from-exec").is_file());

    let out = rt.output(&["exec", &id, "no-such-binary-xyz"]);
    assert_ne!(out.code(), 0, "{out}");
    assert!(out.stderr.contains("executable file not found"), "{out}");
    assert!(out.stderr.contains("no-such-binary-xyz"), "{out}");

    // The container is unaffected.
    assert_eq!(rt.status(&id).as_deref(), Some("running"));
    rt.output(&["delete", "--force", &id]).ok();
    assert_eq!(
        wait_no_processes(&marker, status_timeout()),
        Vec::<i32>::new()
    );
}

#[test]
fn exec_detach_writes_pid_file() {
    let rt = Runtime::new();
    let marker = unique("execd");
    let b = looping_bundle(&marker);
    let id = unique("execd");
    start_ready(&rt, &b, &id);
    let pid_file = rt.scratch().join("exec.pid");
    let exec_marker = unique("detached-exec");
    let (out, _, _) = rt.output_detached(&[
        "exec",
        "--detach",
        "--pid-file",
        pid_file.to_str().unwrap(),
        &id,
        "sh",
        "-c",
        "sleep 1000; exit 0",
        &exec_marker,
    ]);
    out.ok();
    let pid: i32 = fs::read_to_string(&pid_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(pid_alive(pid));
    let ps = rt.output(&["ps", "--format", "json", &id]);
    let pids: Vec<i32> = serde_json::from_str(ps.stdout.trim()).unwrap();
    assert!(pids.contains(&pid), "exec pid {pid} not in {pids:?}");
    assert_eq!(marker_roots(&exec_marker), vec![pid]);
    rt.output(&["kill", "--all", &id, "KILL"]).ok();
    assert_eq!(
        rt.wait_status(&id, "stopped", status_timeout()).as_deref(),
        Some("stopped")
    );
    assert_eq!(
        wait_no_processes(&exec_marker, status_timeout()),
        Vec::<i32>::new()
    );
    rt.output(&["delete", &id]).ok();
}

#[test]
fn exec_into_stopped_container_fails() {
    let rt = Runtime::new();
    let b = Bundle::new("busybox", &["true"]);
    let id = unique("stopped");
    rt.create(&b, &id, &[]).ok();
    rt.output(&["start", &id]).ok();
    assert_eq!(
        rt.wait_status(&id, "stopped", status_timeout()).as_deref(),
        Some("stopped")
    );
    rt.output(&["exec", &id, "true"])
        .fails_with(&[&id, "stopped"]);
    rt.output(&["delete", &id]).ok();
}

#[test]
fn hostname_and_pid_namespace() {
    let rt = Runtime::new();
    let name = unique("h");
    let b = Bundle::new("busybox", &["sh", "-c", "hostname; echo $$"]);
    b.edit(|c| c["hostname"] = json!(name));
    let out = rt.run(&b, &unique("uts"));
    out.ok();
    assert_eq!(lines(&out.stdout), [name.as_str(), "1"], "{out}");
    // The host's name did not change.
    let host = fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    assert_ne!(host.trim(), name);
}

#[test]
fn container_sees_its_own_proc() {
    let rt = Runtime::new();
    let b = Bundle::new(
        "busybox",
        &[
            "sh",
            "-c",
            "ls /proc | grep -c '^[0-9][0-9]*$'; ps -o pid,args",
        ],
    );
    let out = rt.run(&b, &unique("proc"));
    out.ok();
    let mut l = out.stdout.lines();
    let count: usize = l.next().unwrap().trim().parse().unwrap();
    // sh, ls and grep at most.
    assert!(count <= 3, "container sees {count} processes: {out}");
    let ps: Vec<&str> = l.collect();
    assert!(ps.len() <= 4, "ps shows too much: {out}");
    assert!(
        ps.iter().any(|p| p.trim_start().starts_with("1 ")),
        "no pid 1 in ps: {out}"
    );
}

#[test]
fn masked_paths_are_empty() {
    let rt = Runtime::new();
    let b = Bundle::new("busybox", &["true"]);
    let masked: Vec<String> = b.config()["linux"]["maskedPaths"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect();
    assert!(masked.iter().any(|p| p == "/proc/kcore"), "{masked:?}");
    // Check every masked path the host has: files read as empty, dirs list
    // as empty.
    let mut script = String::new();
    let mut checked = Vec::new();
    for p in &masked {
        let Ok(meta) = fs::metadata(p) else { continue };
        if meta.is_dir() {
            script.push_str(&format!("echo \"{p}=$(ls -A {p} 2>&1 | wc -l)\"; "));
        } else {
            script.push_str(&format!(
                "echo \"{p}=$(head -c 64 {p} 2>/dev/null | wc -c)\"; "
            ));
        }
        checked.push(p.clone());
    }
    assert!(!checked.is_empty(), "the host has none of {masked:?}");
    b.set_args(&["sh", "-c", &script]);
    let out = rt.run(&b, &unique("mask"));
    out.ok();
    for p in &checked {
        let want = format!("{p}=0");
        assert!(
            out.stdout.lines().any(|l| l.trim() == want),
            "{p} is not masked: {out}"
        );
    }
}

#[test]
fn readonly_paths_refuse_writes() {
    let rt = Runtime::new();
    let b = Bundle::new(
        "busybox",
        &[
            "sh",
            "-c",
            "if echo x > /proc/sys/kernel/hostname; then echo WROTE; else echo REFUSED; fi; \
             grep ' /proc/sys ' /proc/self/mountinfo",
        ],
    );
    let out = rt.run(&b, &unique("ro"));
    out.ok();
    assert!(out.stdout.contains("REFUSED"), "{out}");
    assert!(out.stderr.contains("Read-only"), "{out}");
    let mi = out
        .stdout
        .lines()
        .find(|l| l.contains(" /proc/sys "))
        .unwrap_or("");
    let opts = mi.split_whitespace().nth(5).unwrap_or("");
    assert!(
        opts.split(',').any(|o| o == "ro"),
        "/proc/sys not ro: {out}"
    );
}

#[test]
fn readonly_root_refuses_writes() {
    let rt = Runtime::new();
    let b = Bundle::new(
        "busybox",
        &[
            "sh",
            "-c",
            "if touch /x; then echo WROTE; else echo REFUSED; fi; \
             if touch /dev/shm/ok; then echo SHM-OK; fi",
        ],
    );
    b.edit(|c| c["root"]["readonly"] = json!(true));
    let out = rt.run(&b, &unique("roroot"));
    out.ok();
    assert!(out.stdout.contains("REFUSED"), "{out}");
    assert!(out.stderr.contains("Read-only"), "{out}");
    assert!(
        out.stdout.contains("SHM-OK"),
        "mounts on top stay writable: {out}"
    );
    assert!(!b.rootfs().join("x").exists());
}

#[test]
fn bind_mounts_ro_and_rw() {
    let rt = Runtime::new();
    let host = tempfile::tempdir().unwrap();
    let ro = host.path().join("ro");
    let rw = host.path().join("rw");
    fs::create_dir(&ro).unwrap();
    fs::create_dir(&rw).unwrap();
    fs::write(ro.join("data"), "host-data\n").unwrap();
    let b = Bundle::new(
        "busybox",
        &[
            "sh",
            "-c",
            "cat /run/ro/data; \
             if touch /run/ro/new; then echo RO-WROTE; else echo RO-REFUSED; fi; \
             echo from-container > /run/rw/new && echo RW-OK",
        ],
    );
    b.add_mount(json!({
        "destination": "/run/ro", "type": "bind",
        "source": ro, "options": ["bind", "ro"]
    }));
    b.add_mount(json!({
        "destination": "/run/rw", "type": "bind",
        "source": rw, "options": ["rbind", "rw"]
    }));
    let before = mounts_under(host.path()).len();
    let out = rt.run(&b, &unique("bind"));
    out.ok();
    assert_eq!(
        lines(&out.stdout),
        ["host-data", "RO-REFUSED", "RW-OK"],
        "{out}"
    );
    assert!(!ro.join("new").exists());
    assert_eq!(
        fs::read_to_string(rw.join("new")).unwrap(),
        "from-container\n"
    );
    assert_eq!(mounts_under(host.path()).len(), before, "mounts leaked");
    assert_eq!(mounts_under(b.path()).len(), 0, "mounts leaked");
}

#[test]
fn mount_destination_symlink_does_not_escape_rootfs() {
    let rt = Runtime::new();
    let host_dir = std::env::temp_dir().join(unique("host-marker-dir"));
    fs::create_dir(&host_dir).unwrap();
    struct Cleanup<'a>(&'a Path);
    impl Drop for Cleanup<'_> {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(self.0);
        }
    }
    let _cleanup = Cleanup(&host_dir);

    let b = Bundle::new(
        "busybox",
        &["sh", "-c", "echo inside > /evil/sub/f && echo WROTE"],
    );
    std::os::unix::fs::symlink(&host_dir, b.rootfs().join("evil")).unwrap();
    b.add_mount(json!({
        "destination": "/evil/sub", "type": "tmpfs", "source": "tmpfs",
        "options": ["nosuid", "nodev", "size=1m"]
    }));
    // The same host path reached through `..` instead of a symlink.
    let dotdot = format!("/../../..{}/dotdot", host_dir.display());
    b.add_mount(json!({
        "destination": dotdot, "type": "tmpfs", "source": "tmpfs",
        "options": ["size=1m"]
    }));
    let mountinfo_before = fs::read_to_string("/proc/self/mountinfo").unwrap();
    let id = unique("evil");
    let out = rt.run(&b, &id);

    assert!(
        !host_dir.join("dotdot").exists(),
        "`..` in a mount destination escaped the rootfs: {out}"
    );
    assert!(
        !host_dir.join("sub").exists(),
        "mount destination escaped the rootfs onto the host: {out}"
    );
    assert_eq!(
        fs::read_dir(&host_dir).unwrap().count(),
        0,
        "host dir was written to: {out}"
    );
    let mountinfo_after = fs::read_to_string("/proc/self/mountinfo").unwrap();
    let name = host_dir.file_name().unwrap().to_str().unwrap();
    assert!(
        !mountinfo_after.contains(name),
        "host mount table mentions {name}"
    );
    let count = |s: &str| {
        s.lines()
            .filter(|l| l.contains(name) || l.contains(b.path().to_str().unwrap()))
            .count()
    };
    assert_eq!(count(&mountinfo_before), count(&mountinfo_after));
    // Either the runtime refuses, or it resolves /evil inside the rootfs.
    if out.status.success() {
        assert!(out.stdout.contains("WROTE"), "{out}");
        let inside = b
            .rootfs()
            .join(host_dir.strip_prefix("/").unwrap())
            .join("sub");
        assert!(
            inside.is_dir(),
            "{} not created inside the rootfs",
            inside.display()
        );
    } else {
        assert!(out.stderr.contains("husk-runtime: "), "{out}");
    }
    assert!(!rt.state_dir(&id).exists());
}

#[test]
fn process_env_cwd_and_user_from_config() {
    let rt = Runtime::new();
    let b = Bundle::new(
        "busybox",
        &["sh", "-c", "pwd; id -u; id -g; echo $HUSK_CFG"],
    );
    b.edit(|c| {
        c["process"]["cwd"] = json!("/home/user");
        c["process"]["user"] = json!({"uid": 1000, "gid": 1000});
        c["process"]["env"]
            .as_array_mut()
            .unwrap()
            .push(json!("HUSK_CFG=cfg-value"));
    });
    let out = rt.run(&b, &unique("user"));
    out.ok();
    assert_eq!(
        lines(&out.stdout),
        ["/home/user", "1000", "1000", "cfg-value"],
        "{out}"
    );
}

#[test]
fn mount_destination_with_missing_top_level_dir_is_created() {
    // The busybox image has no /mnt: the runtime must create /mnt and then
    // /mnt/data inside the rootfs, as it does for missing deeper levels.
    let rt = Runtime::new();
    let host = tempfile::tempdir().unwrap();
    fs::write(host.path().join("data"), "top-level\n").unwrap();
    let b = Bundle::new("busybox", &["cat", "/mnt/data/data"]);
    assert!(!b.rootfs().join("mnt").exists());
    b.add_mount(json!({
        "destination": "/mnt/data", "type": "bind",
        "source": host.path(), "options": ["bind", "ro"]
    }));
    let id = unique("mnt");
    let out = rt.run(&b, &id);
    // Whatever the outcome, nothing is left behind.
    assert!(!rt.state_dir(&id).exists(), "state left: {out}");
    assert!(mounts_under(b.path()).is_empty());
    out.ok();
    assert_eq!(out.stdout, "top-level\n", "{out}");
    assert!(b.rootfs().join("mnt/data").is_dir());
    assert!(!rt.state_dir(&id).exists());
}

#[test]
fn mount_destination_parent_missing_below_existing_dir_is_created() {
    let rt = Runtime::new();
    let b = Bundle::new(
        "busybox",
        &["sh", "-c", "grep -c ' /run/a/b/c ' /proc/self/mountinfo"],
    );
    b.add_mount(json!({
        "destination": "/run/a/b/c", "type": "tmpfs", "source": "tmpfs",
        "options": ["size=1m"]
    }));
    let out = rt.run(&b, &unique("deep"));
    out.ok();
    assert_eq!(out.stdout.trim(), "1", "{out}");
    assert!(b.rootfs().join("run/a/b/c").is_dir());
}

#[test]
fn run_with_no_pivot() {
    let rt = Runtime::new();
    let b = Bundle::new("busybox", &["sh", "-c", "ls /; echo $$"]);
    let id = unique("nopivot");
    let out = rt.output(&[
        "run",
        "--no-pivot",
        "--bundle",
        b.path().to_str().unwrap(),
        &id,
    ]);
    out.ok();
    let l = lines(&out.stdout);
    assert!(l.contains(&"bin") && l.contains(&"etc"), "{out}");
    assert_eq!(l.last(), Some(&"1"), "{out}");
    assert!(!rt.state_dir(&id).exists());
}

#[test]
fn run_detach_then_state_and_delete() {
    let rt = Runtime::new();
    let marker = unique("detach");
    let b = looping_bundle(&marker);
    let id = unique("detach");
    let (out, _, _) = rt.output_detached(&[
        "run",
        "--detach",
        "--bundle",
        b.path().to_str().unwrap(),
        &id,
    ]);
    out.ok();
    assert!(wait_file(&b.rootfs().join("tmp/ready")));
    assert_eq!(rt.status(&id).as_deref(), Some("running"));
    rt.output(&["delete", "--force", &id]).ok();
    assert!(!rt.state_dir(&id).exists());
    assert_eq!(
        wait_no_processes(&marker, status_timeout()),
        Vec::<i32>::new()
    );
}

#[test]
fn kill_of_created_container_stops_it() {
    let rt = Runtime::new();
    let marker = unique("killcreated");
    let b = looping_bundle(&marker);
    let id = unique("killcreated");
    rt.create(&b, &id, &[]).ok();
    let pid = rt.state(&id).unwrap()["pid"].as_i64().unwrap() as i32;
    rt.output(&["kill", &id, "9"]).ok();
    assert_eq!(
        rt.wait_status(&id, "stopped", status_timeout()).as_deref(),
        Some("stopped")
    );
    assert!(!b.rootfs().join("tmp/ready").exists(), "program ran");
    rt.output(&["start", &id]).fails_with(&[&id]);
    rt.output(&["delete", &id]).ok();
    let deadline = Instant::now() + status_timeout();
    while pid_alive(pid) && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(20));
    }
    assert!(!pid_alive(pid), "init {pid} survived");
}

#[test]
fn exec_with_process_file() {
    let rt = Runtime::new();
    let marker = unique("procfile");
    let b = looping_bundle(&marker);
    let id = unique("procfile");
    start_ready(&rt, &b, &id);
    let process = rt.scratch().join("process.json");
    fs::write(
        &process,
        json!({
            "terminal": false,
            "user": {"uid": 1000, "gid": 1000},
            "args": ["sh", "-c", "echo $PF_VAR; id -u; pwd; exit 4"],
            "env": ["PATH=/bin", "PF_VAR=from-file"],
            "cwd": "/tmp"
        })
        .to_string(),
    )
    .unwrap();
    let out = rt.output(&["exec", "--process", process.to_str().unwrap(), &id]);
    assert_eq!(out.code(), 4, "{out}");
    assert_eq!(lines(&out.stdout), ["from-file", "1000", "/tmp"], "{out}");
    rt.output(&["delete", "--force", &id]).ok();
}

#[test]
fn log_file_in_json_format() {
    let rt = Runtime::new();
    let log = rt.scratch().join("runtime.log");
    let id = unique("nolog");
    let out = rt.output(&[
        "--log",
        log.to_str().unwrap(),
        "--log-format",
        "json",
        "state",
        &id,
    ]);
    assert_eq!(out.code(), 1, "{out}");
    let text = fs::read_to_string(&log).unwrap();
    let line = text.lines().last().expect("log is empty");
    let v: Value = serde_json::from_str(line).unwrap();
    assert_eq!(v["level"], "error", "{line}");
    assert!(v["msg"].as_str().unwrap().contains(&id), "{line}");
}

#[test]
fn features_document() {
    let rt = Runtime::new();
    let out = rt.output(&["features"]);
    out.ok();
    let v: Value = serde_json::from_str(&out.stdout).unwrap();
    assert!(v["ociVersionMax"].as_str().unwrap().starts_with("1."));
    let ns = v["linux"]["namespaces"].as_array().unwrap();
    for n in ["pid", "mount", "user", "uts", "ipc", "network", "cgroup"] {
        assert!(ns.contains(&json!(n)), "{n} missing: {v}");
    }
}

#[test]
fn container_gets_its_own_session_keyring_unless_told_not_to() {
    let rt = Runtime::new();
    let b = Bundle::new("busybox", &["cat", "/proc/keys"]);
    // /proc/keys is masked by default; unmask it to look.
    b.edit(|v| v["linux"]["maskedPaths"] = json!([]));
    let id = unique("keyring");
    let out = rt.run(&b, &id);
    out.ok();
    assert!(
        out.stdout.contains(&format!("_ses.{id}")),
        "no session keyring named after the container: {out}"
    );
    let id2 = unique("nokeyring");
    let out = rt.output(&[
        "run",
        "--no-new-keyring",
        "--bundle",
        b.path().to_str().unwrap(),
        &id2,
    ]);
    out.ok();
    assert!(!out.stdout.contains(&format!("_ses.{id2}")), "{out}");
}

#[test]
fn debug_flag_writes_json_debug_lines_to_the_log() {
    let rt = Runtime::new();
    let log = rt.scratch().join("debug.log");
    rt.output(&[
        "--debug",
        "--log",
        log.to_str().unwrap(),
        "--log-format",
        "json",
        "list",
    ])
    .ok();
    let text = fs::read_to_string(&log).unwrap();
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l:?}: {e}")))
        .collect();
    assert!(
        lines.iter().any(|l| l["level"] == "debug" && l["msg"].as_str().is_some_and(|m| m.contains("List"))),
        "no debug line for the command: {text}"
    );
    assert!(lines.iter().all(|l| l["time"].is_string()));
}

/// A container whose root is a mapped host id (100000) cannot search the
/// 0700 directories above its rootfs and its bind sources: the runtime
/// clones them before the container exists and init attaches the clones,
/// so it runs anyway; a mount target the rootfs lacks is created by the
/// runtime and given to the container's root.
#[test]
fn own_user_namespace_reaches_rootfs_and_binds_under_private_directories() {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let rt = Runtime::new();
    let b = Bundle::new(
        "busybox",
        &[
            "sh",
            "-c",
            "cat /data/f /etc/husk-added; id -u; cat /proc/self/uid_map",
        ],
    );
    fs::set_permissions(b.path(), fs::Permissions::from_mode(0o700)).unwrap();
    let private = tempfile::tempdir().unwrap();
    fs::set_permissions(private.path(), fs::Permissions::from_mode(0o700)).unwrap();
    let data = private.path().join("data");
    fs::create_dir(&data).unwrap();
    fs::set_permissions(&data, fs::Permissions::from_mode(0o755)).unwrap();
    fs::write(data.join("f"), "data\n").unwrap();
    fs::set_permissions(data.join("f"), fs::Permissions::from_mode(0o644)).unwrap();
    let added = private.path().join("added");
    fs::write(&added, "added\n").unwrap();
    fs::set_permissions(&added, fs::Permissions::from_mode(0o644)).unwrap();
    let _ = fs::remove_file(b.rootfs().join("etc/husk-added"));
    b.edit(|c| {
        let ns = c["linux"]["namespaces"].as_array_mut().expect("namespaces");
        if !ns.iter().any(|n| n["type"] == "user") {
            ns.push(json!({"type": "user"}));
        }
        let map = json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
        c["linux"]["uidMappings"] = map.clone();
        c["linux"]["gidMappings"] = map;
    });
    b.add_mount(
        json!({"destination": "/data", "type": "bind", "source": data, "options": ["rbind", "ro"]}),
    );
    b.add_mount(json!({"destination": "/etc/husk-added", "type": "bind", "source": added, "options": ["bind", "ro"]}));
    let id = unique("userns-private");
    let out = rt.run(&b, &id);
    out.ok();
    let words: Vec<&str> = out.stdout.split_whitespace().collect();
    assert_eq!(
        words,
        ["data", "added", "0", "0", "100000", "65536"],
        "{}",
        out.stderr
    );
    let made = fs::symlink_metadata(b.rootfs().join("etc/husk-added")).unwrap();
    assert_eq!(
        (made.uid(), made.gid()),
        (100000, 100000),
        "the target belongs to the mapped root"
    );
    assert!(mounts_under(b.path()).is_empty(), "nothing left mounted");
}
