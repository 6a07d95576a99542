//! husk-runtime's cgroups on this host (hybrid: v1 controllers plus the
//! cgroup2 mount at /sys/fs/cgroup/unified; pure v2 runs in the VM lane):
//! placement, the cgroup namespace, pause/resume, delete --force, removal,
//! bad cgroupsPath values, and rootless without a delegated cgroup.

use std::fs;
use std::path::{Path, PathBuf};
use std::thread;
use std::time::{Duration, Instant};

use husk_tests::bundle::{status_timeout, unique, Bundle, IdMapping, Runtime};
use husk_tests::rootless::rootless_test;
use serde_json::json;

/// Every directory a container with cgroupsPath `rel` (absolute) would get.
fn cgroup_dirs(rel: &str) -> Vec<PathBuf> {
    let root = Path::new("/sys/fs/cgroup");
    let mut dirs = Vec::new();
    if root.join("cgroup.controllers").exists() {
        dirs.push(root.join(rel));
    } else {
        if root.join("unified/cgroup.procs").exists() {
            dirs.push(root.join("unified").join(rel));
        }
        for c in ["freezer", "memory", "pids", "cpu", "cpuset", "devices"] {
            if root.join(c).join("cgroup.procs").exists() {
                dirs.push(root.join(c).join(rel));
            }
        }
    }
    assert!(!dirs.is_empty(), "this host has no cgroup hierarchy");
    dirs
}

fn count_lines(p: &Path) -> usize {
    fs::read_to_string(p)
        .map(|s| s.lines().count())
        .unwrap_or(0)
}

/// A container appending a line to a host file every 10 ms, in cgroup `rel`.
fn ticking(rel: &str) -> (Bundle, tempfile::TempDir) {
    let host = tempfile::tempdir().unwrap();
    let b = Bundle::new(
        "busybox",
        &[
            "sh",
            "-c",
            "while :; do echo tick >> /out/ticks; sleep 0.01; done",
        ],
    );
    b.add_mount(json!({
        "destination": "/out", "type": "bind",
        "source": host.path(), "options": ["rbind", "rw"]
    }));
    b.edit(|v| v["linux"]["cgroupsPath"] = json!(format!("/{rel}")));
    (b, host)
}

fn wait_for(what: &str, mut ok: impl FnMut() -> bool) {
    let deadline = Instant::now() + status_timeout();
    while !ok() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn container_runs_in_its_cgroup_with_its_own_cgroup_namespace() {
    let rt = Runtime::new();
    let rel = format!("husk-test/{}", unique("cg"));
    let b = Bundle::new("busybox", &["cat", "/proc/self/cgroup"]);
    b.edit(|v| v["linux"]["cgroupsPath"] = json!(format!("/{rel}")));
    let out = rt.run(&b, &unique("cgns"));
    out.ok();
    // Inside its cgroup namespace the container's cgroup is the root.
    for line in out.stdout.lines() {
        assert!(line.ends_with(":/"), "not at its cgroup root: {out}");
    }
    for d in cgroup_dirs(&rel) {
        assert!(!d.exists(), "{} left after the run", d.display());
    }
}

#[test]
fn pause_freezes_and_resume_thaws() {
    let rt = Runtime::new();
    let rel = format!("husk-test/{}", unique("pause"));
    let (b, host) = ticking(&rel);
    let id = unique("pause");
    let ticks = host.path().join("ticks");
    let (out, _, _) = rt.output_detached(&[
        "run",
        "--detach",
        "--bundle",
        b.path().to_str().unwrap(),
        &id,
    ]);
    out.ok();
    wait_for("the first ticks", || count_lines(&ticks) > 3);
    let pid = rt.state(&id).unwrap()["pid"].as_i64().unwrap();
    for d in cgroup_dirs(&rel) {
        let procs = fs::read_to_string(d.join("cgroup.procs")).unwrap();
        assert!(
            procs.lines().any(|l| l.trim() == pid.to_string()),
            "pid {pid} not in {}",
            d.display()
        );
    }
    rt.output(&["pause", &id]).ok();
    assert_eq!(rt.status(&id).as_deref(), Some("paused"));
    thread::sleep(Duration::from_millis(50));
    let frozen_at = count_lines(&ticks);
    thread::sleep(Duration::from_millis(300));
    assert_eq!(
        count_lines(&ticks),
        frozen_at,
        "it kept running while paused"
    );
    rt.output(&["pause", &id]).fails_with(&[&id, "paused"]);
    rt.output(&["exec", &id, "true"])
        .fails_with(&[&id, "paused"]);
    rt.output(&["resume", &id]).ok();
    assert_eq!(rt.status(&id).as_deref(), Some("running"));
    wait_for("ticks after resume", || count_lines(&ticks) > frozen_at + 3);
    rt.output(&["resume", &id]).fails_with(&[&id, "not paused"]);
    // delete --force of a paused container kills everything, cgroup included.
    rt.output(&["pause", &id]).ok();
    rt.output(&["delete", "--force", &id]).ok();
    for d in cgroup_dirs(&rel) {
        assert!(!d.exists(), "{} left after delete --force", d.display());
    }
    let after = count_lines(&ticks);
    thread::sleep(Duration::from_millis(100));
    assert_eq!(
        count_lines(&ticks),
        after,
        "a process survived delete --force"
    );
}

#[test]
fn exec_processes_join_the_container_cgroup() {
    let rt = Runtime::new();
    let rel = format!("husk-test/{}", unique("exec"));
    let (b, host) = ticking(&rel);
    let id = unique("exec-cg");
    rt.output_detached(&["run", "-d", "--bundle", b.path().to_str().unwrap(), &id])
        .0
        .ok();
    wait_for("ticks", || count_lines(&host.path().join("ticks")) > 1);
    let pid_file = rt.scratch().join("exec.pid");
    let (out, _, _) = rt.output_detached(&[
        "exec",
        "--detach",
        "--pid-file",
        pid_file.to_str().unwrap(),
        &id,
        "sleep",
        "30",
    ]);
    out.ok();
    let pid: i64 = fs::read_to_string(&pid_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let dir = &cgroup_dirs(&rel)[0];
    let procs = fs::read_to_string(dir.join("cgroup.procs")).unwrap();
    assert!(
        procs.lines().any(|l| l.trim() == pid.to_string()),
        "exec'd pid {pid} not in {}: {procs}",
        dir.display()
    );
    let pids: Vec<i64> =
        serde_json::from_str(&rt.output(&["ps", "--format", "json", &id]).ok().stdout).unwrap();
    assert!(
        pids.contains(&pid),
        "ps misses the exec'd process {pid}: {pids:?}"
    );
    rt.output(&["delete", "--force", &id]).ok();
    assert!(!dir.exists());
}

#[test]
fn bad_cgroups_paths_are_refused_and_leave_nothing() {
    let rt = Runtime::new();
    for (path, needle) in [
        ("/../escape", "cgroupsPath"),
        ("/", "root cgroup"),
        ("system.slice:husk:x", "systemd"),
    ] {
        let b = Bundle::new("busybox", &["true"]);
        b.edit(|v| v["linux"]["cgroupsPath"] = json!(path));
        let id = unique("badcg");
        rt.create(&b, &id, &[]).fails_with(&[needle]);
        assert!(!rt.state_dir(&id).exists(), "state left for {path}");
    }
    assert!(!Path::new("/sys/fs/cgroup/escape").exists());
    assert!(!Path::new("/sys/fs/cgroup/freezer/escape").exists());
}

#[test]
fn failed_create_removes_its_cgroup() {
    let rt = Runtime::new();
    let rel = format!("husk-test/{}", unique("fail"));
    let b = Bundle::new("busybox", &["no-such-program"]);
    b.edit(|v| v["linux"]["cgroupsPath"] = json!(format!("/{rel}")));
    rt.create(&b, &unique("failcg"), &[])
        .fails_with(&["executable file not found"]);
    for d in cgroup_dirs(&rel) {
        assert!(!d.exists(), "{} left after a failed create", d.display());
    }
}

#[test]
fn rootless_without_delegation_runs_but_cannot_pause_or_limit() {
    let user = rootless_test("rootless_without_delegation_runs_but_cannot_pause_or_limit");
    let rt = Runtime::rootless(&user);
    let b = Bundle::rootless(
        &user,
        IdMapping::Single,
        "busybox",
        &["sh", "-c", "sleep 30"],
    );
    let id = unique("rl-cg");
    let out = rt.create(&b, &id, &[]);
    out.ok();
    assert!(
        out.stderr.contains("no writable cgroup"),
        "no warning: {out}"
    );
    rt.output(&["start", &id]).ok();
    rt.output(&["pause", &id]).fails_with(&["cgroup"]);
    rt.output(&["delete", "--force", &id]).ok();
    // A limit that cannot be honoured is an error, not silently dropped.
    let b = Bundle::rootless(&user, IdMapping::Single, "busybox", &["true"]);
    b.edit(|v| v["linux"]["resources"]["memory"] = json!({"limit": 67108864}));
    let id = unique("rl-limit");
    rt.create(&b, &id, &[])
        .fails_with(&["linux.resources.memory", "rootless"]);
    assert!(!rt.state_dir(&id).exists());
}

/// A cgroup delegated to the test user, as systemd's Delegate=yes gives a
/// user session: a directory on the v2 hierarchy and on the v1 freezer,
/// owned by the user. Removed (children first) on drop.
struct Delegated {
    dirs: Vec<PathBuf>,
}

impl Delegated {
    fn new(uid: u32, gid: u32) -> Delegated {
        let name = unique("husk-deleg");
        let mut dirs = Vec::new();
        for mount in [
            "/sys/fs/cgroup/unified",
            "/sys/fs/cgroup/freezer",
            "/sys/fs/cgroup",
        ] {
            let m = Path::new(mount);
            if !m.join("cgroup.procs").exists() || (mount == "/sys/fs/cgroup" && !dirs.is_empty()) {
                continue;
            }
            let d = m.join(&name);
            fs::create_dir(&d).unwrap();
            for f in [
                "",
                "cgroup.procs",
                "cgroup.subtree_control",
                "cgroup.threads",
                "tasks",
            ] {
                let p = if f.is_empty() { d.clone() } else { d.join(f) };
                if p.exists() {
                    std::os::unix::fs::chown(&p, Some(uid), Some(gid)).unwrap();
                }
            }
            dirs.push(d);
        }
        Delegated { dirs }
    }

    /// A hook for [`Runtime::cmd_with`] that moves the child into the
    /// delegated cgroups (as root, before it switches to the user).
    fn mover(&self) -> impl FnMut() -> std::io::Result<()> + Send + Sync + 'static {
        let procs: Vec<PathBuf> = self.dirs.iter().map(|d| d.join("cgroup.procs")).collect();
        move || {
            for p in &procs {
                fs::write(p, "0")?;
            }
            Ok(())
        }
    }
}

impl Drop for Delegated {
    fn drop(&mut self) {
        for d in &self.dirs {
            if let Ok(rd) = fs::read_dir(d) {
                for e in rd.flatten() {
                    if e.path().is_dir() {
                        let _ = fs::remove_dir(e.path());
                    }
                }
            }
            let _ = fs::remove_dir(d);
        }
    }
}

#[test]
fn rootless_with_a_delegated_cgroup_can_pause_and_resume() {
    let user = rootless_test("rootless_with_a_delegated_cgroup_can_pause_and_resume");
    let deleg = Delegated::new(user.uid, user.gid);
    let rt = Runtime::rootless(&user);
    let b = Bundle::rootless(&user, IdMapping::Single, "busybox", &["sleep", "30"]);
    let id = unique("rl-deleg");
    let run = |args: &[&str]| {
        let mut c = rt.cmd_with(args, deleg.mover());
        let log = rt.scratch().join(format!("{}.log", unique("out")));
        let f = fs::File::create(&log).unwrap();
        let status = c.stdout(f.try_clone().unwrap()).stderr(f).status().unwrap();
        (status, fs::read_to_string(&log).unwrap())
    };
    let (st, log) = run(&[
        "run",
        "--detach",
        "--bundle",
        b.path().to_str().unwrap(),
        &id,
    ]);
    assert!(st.success(), "rootless run in a delegated cgroup: {log}");
    assert!(
        !log.contains("no writable cgroup"),
        "delegation not used: {log}"
    );
    let pid = rt.state(&id).unwrap()["pid"].as_i64().unwrap();
    // The container's cgroup lies under the delegated one.
    let cg = fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    let top = deleg.dirs[0]
        .file_name()
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        cg.contains(&top),
        "container not under the delegated cgroup: {cg}"
    );
    let (st, log) = run(&["pause", &id]);
    assert!(st.success(), "rootless pause: {log}");
    assert_eq!(rt.status(&id).as_deref(), Some("paused"));
    // The kernel agrees: the freezer (v1) or cgroup.freeze (v2) says so.
    let frozen = cg.lines().any(|l| {
        let mut parts = l.splitn(3, ':');
        let (_, ctrl, path) = (
            parts.next(),
            parts.next().unwrap_or(""),
            parts.next().unwrap_or(""),
        );
        let path = path.trim_start_matches('/');
        match ctrl {
            "freezer" => fs::read_to_string(format!("/sys/fs/cgroup/freezer/{path}/freezer.state"))
                .is_ok_and(|s| s.trim() == "FROZEN"),
            "" => fs::read_to_string(format!("/sys/fs/cgroup/unified/{path}/cgroup.freeze"))
                .or_else(|_| fs::read_to_string(format!("/sys/fs/cgroup/{path}/cgroup.freeze")))
                .is_ok_and(|s| s.trim() == "1"),
            _ => false,
        }
    });
    assert!(frozen, "no frozen cgroup for {pid}: {cg}");
    let (st, log) = run(&["resume", &id]);
    assert!(st.success(), "rootless resume: {log}");
    assert_eq!(rt.status(&id).as_deref(), Some("running"));
    let (st, log) = run(&["delete", "--force", &id]);
    assert!(st.success(), "rootless delete --force: {log}");
}

#[test]
fn events_stats_reports_the_cgroup_usage_and_limits() {
    let rt = Runtime::new();
    let b = Bundle::new("busybox", &["sleep", "30"]);
    b.edit(|v| {
        v["linux"]["resources"] = json!({"memory": {"limit": 67108864}, "pids": {"limit": 64}});
        v["linux"]["cgroupsPath"] = json!(format!("/husk-test/{}", unique("ev")));
    });
    let id = unique("events");
    rt.output_detached(&["run", "-d", "--bundle", b.path().to_str().unwrap(), &id])
        .0
        .ok();
    let out = rt.output(&["events", "--stats", &id]);
    out.ok();
    let ev: serde_json::Value = serde_json::from_str(out.stdout.trim()).unwrap();
    assert_eq!(ev["type"], "stats", "{ev}");
    assert_eq!(ev["id"], id.as_str());
    assert_eq!(ev["data"]["pids"]["limit"], 64, "{ev}");
    assert!(ev["data"]["pids"]["current"].as_u64() >= Some(1), "{ev}");
    assert_eq!(ev["data"]["memory"]["usage"]["limit"], 67108864, "{ev}");
    assert!(
        ev["data"]["memory"]["usage"]["usage"].as_u64() > Some(0),
        "{ev}"
    );
    let out = rt.output(&["events", "--interval=0", &id]);
    assert_eq!(out.code(), 1, "{out}");
    assert!(out.stderr.contains("--interval"), "{out}");
    rt.output(&["delete", "--force", &id]).ok();
    rt.output(&["events", "--stats", &id]).fails_with(&[&id]);
}
