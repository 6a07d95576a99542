//! husk-shim's exit record end to end: codes and signals, OOM kills, the
//! caller killed after create and after start, the exit command and its
//! timeout, and re-parented processes reaped.

use std::fs;
use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::process::Stdio;
use std::time::Duration;

use husk_tests::bundle::{
    processes_with, status_timeout, unique, wait_no_processes, Bundle, IdMapping,
};
use husk_tests::rootless::rootless_test;
use husk_tests::shim::{parse_k8s, parse_pids, reassemble, wait_gone, AttachConn, ShimHost};
use serde_json::{json, Value};

/// A bundle without a pid namespace, so the shell is no init and can be
/// killed by its own signals.
fn no_pidns(args: &[&str]) -> Bundle {
    let b = Bundle::new("busybox", args);
    b.edit(|c| {
        c["linux"]["namespaces"]
            .as_array_mut()
            .unwrap()
            .retain(|n| n["type"] != "pid")
    });
    b
}

fn check_record(exit: &Value, code: i64, signal: Option<i64>) {
    assert_eq!(exit["exit_code"], code, "{exit}");
    assert_eq!(exit["signal"], json!(signal), "{exit}");
    assert_eq!(exit["oom_killed"], false, "{exit}");
    let started = exit["started_at"].as_str().expect("started_at");
    let finished = exit["finished_at"].as_str().expect("finished_at");
    assert!(started <= finished, "{exit}");
}

#[test]
fn exit_codes_and_signals_are_recorded() {
    let h = ShimHost::new();
    for (script, code, signal) in [
        ("exit 0", 0, None),
        ("exit 1", 1, None),
        ("kill -9 $$", 137, Some(9)),
        ("kill -15 $$", 143, Some(15)),
    ] {
        let b = no_pidns(&["sh", "-c", script]);
        let id = unique("code");
        let (pid, shim) = h.spawn_ok(&b, &id, &[]);
        h.start(&id);
        let exit = h.wait_exit(&id);
        check_record(&exit, code, signal);
        assert_eq!(exit["pid"], pid);
        assert!(
            wait_gone(shim, status_timeout()),
            "shim {shim} still runs after the exit"
        );
        assert!(!h.socket(&id).exists(), "attach socket left after the exit");
    }
}

#[test]
fn kill_from_outside_gives_137() {
    let h = ShimHost::new();
    let b = Bundle::new("busybox", &["sleep", "100"]);
    let id = unique("outside");
    h.spawn_ok(&b, &id, &[]);
    h.start(&id);
    h.rt.output(&["kill", &id, "KILL"]).ok();
    check_record(&h.wait_exit(&id), 137, Some(9));
}

#[test]
fn oom_kill_is_flagged() {
    let h = ShimHost::new();
    // dd's 256 MiB buffer cannot fit under a 32 MiB limit.
    let b = Bundle::new(
        "busybox",
        &["dd", "if=/dev/zero", "of=/dev/null", "bs=256M", "count=1"],
    );
    b.edit(|c| {
        c["linux"]["resources"] = json!({"memory": {"limit": 33554432, "swap": 33554432}});
    });
    let id = unique("oom");
    h.spawn_ok(&b, &id, &[]);
    h.start(&id);
    let exit = h.wait_exit(&id);
    assert_eq!(exit["exit_code"], 137, "{exit}");
    assert_eq!(exit["oom_killed"], true, "{exit}");
    // And a container that stays under its limit is not flagged.
    let b = Bundle::new("busybox", &["true"]);
    b.edit(|c| c["linux"]["resources"] = json!({"memory": {"limit": 33554432}}));
    let id = unique("no-oom");
    h.spawn_ok(&b, &id, &[]);
    h.start(&id);
    assert_eq!(h.wait_exit(&id)["oom_killed"], false);
}

/// Spawns through a caller that stays alive (`--hold`) in its own process
/// group, then SIGKILLs that whole group.
fn spawn_and_kill_caller(h: &ShimHost, b: &Bundle, id: &str, start: bool) -> (i32, i32) {
    let mut cmd = h.spawn_cmd(
        b,
        id,
        if start {
            &["--hold", "--start"]
        } else {
            &["--hold"]
        },
    );
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .process_group(0);
    let mut caller = cmd.spawn().unwrap();
    let mut line = String::new();
    BufReader::new(caller.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let pids = parse_pids(&line);
    // SAFETY: kill with a negative pid signals the caller's process group.
    unsafe { libc::kill(-(caller.id() as i32), libc::SIGKILL) };
    caller.wait().unwrap();
    pids
}

fn log_lines(h: &ShimHost, id: &str) -> usize {
    let data = fs::read(h.log(id)).unwrap_or_default();
    reassemble(&parse_k8s(&data), "stdout")
        .iter()
        .filter(|&&c| c == b'\n')
        .count()
}

#[test]
fn caller_killed_after_create_changes_nothing() {
    let h = ShimHost::new();
    let b = Bundle::new("busybox", &["sh", "-c", "echo alive; exit 5"]);
    let id = unique("kill-created");
    let (pid, shim) = spawn_and_kill_caller(&h, &b, &id, false);
    assert!(
        !wait_gone(shim, Duration::from_millis(200)),
        "the shim died with its caller"
    );
    assert!(
        !wait_gone(pid, Duration::from_millis(1)),
        "the container died with its caller"
    );
    h.start(&id);
    let exit = h.wait_exit(&id);
    assert_eq!(exit["exit_code"], 5, "{exit}");
    assert_eq!(log_lines(&h, &id), 1);
}

#[test]
fn caller_killed_after_start_changes_nothing() {
    let h = ShimHost::new();
    let b = Bundle::new(
        "busybox",
        &[
            "sh",
            "-c",
            "for i in $(seq 1 20); do echo $i; sleep 0.05; done; exit 6",
        ],
    );
    let id = unique("kill-started");
    let (_pid, shim) = spawn_and_kill_caller(&h, &b, &id, true);
    let exit = h.wait_exit(&id);
    assert_eq!(exit["exit_code"], 6, "{exit}");
    assert_eq!(log_lines(&h, &id), 20, "the container kept logging");
    assert!(wait_gone(shim, status_timeout()));
}

#[test]
fn exit_command_runs_and_is_killed_after_its_timeout() {
    let h = ShimHost::new();
    let marker = unique("hook-marker");
    let out = h.work().join("hook-out");
    let b = Bundle::new("busybox", &["true"]);
    let id = unique("hook");
    let script = format!(
        "echo \"$HOOK_ID ran\" > {}; exec sleep 100 {marker}",
        out.display()
    );
    let (_, shim) = h.spawn_ok(
        &b,
        &id,
        &[
            "--exit-timeout",
            "1",
            "--exit-env",
            &format!("HOOK_ID={id}"),
            "--exit-command",
            "/bin/sh",
            "-c",
            &script,
        ],
    );
    h.start(&id);
    h.wait_exit(&id);
    assert!(
        wait_gone(shim, status_timeout() * 2),
        "the shim waits on an overrunning hook"
    );
    assert_eq!(fs::read_to_string(&out).unwrap(), format!("{id} ran\n"));
    assert_eq!(
        wait_no_processes(&marker, status_timeout()),
        Vec::<i32>::new(),
        "the hook was not killed"
    );
}

/// An attacher that claims the cleanup and reports it done spares the exit
/// command; one that claims it and hangs up without that (dies), or that
/// never claimed it, gets the exit command run as usual.
#[test]
fn claimed_cleanup_replaces_the_exit_command() {
    let h = ShimHost::new();
    for (claim, report, hook_runs) in [
        (true, true, false),
        (true, false, true),
        (false, false, true),
    ] {
        let out = h.work().join(unique("hook-out"));
        let b = Bundle::new("busybox", &["sh", "-c", "exit 3"]);
        let id = unique("claim");
        let script = format!("echo ran > {}", out.display());
        let (_, shim) = h.spawn_ok(&b, &id, &["--exit-command", "/bin/sh", "-c", &script]);
        let mut conn = AttachConn::connect(&h.socket(&id));
        if claim {
            conn.claim_cleanup();
        }
        h.start(&id);
        assert_eq!(conn.until_exit().exit, Some(3));
        let case = format!("claim {claim}, CLEANED {report}");
        if report {
            conn.cleaned();
            // The shim ends right after: the connection closes.
            assert!(
                conn.read_until(status_timeout(), |_| false) || wait_gone(shim, status_timeout()),
                "{case}"
            );
        } else {
            drop(conn);
        }
        assert!(
            wait_gone(shim, status_timeout() * 2),
            "{case}: shim {shim} runs on"
        );
        assert_eq!(
            out.exists(),
            hook_runs,
            "{case}: exit command ran: {}",
            out.exists()
        );
        assert_eq!(h.wait_exit(&id)["exit_code"], 3, "{case}");
    }
}

#[test]
fn reparented_processes_are_reaped() {
    let h = ShimHost::new();
    let marker = unique("orphan");
    // The inner shell leaves an orphan that the shim (subreaper) adopts.
    let script = format!("sh -c \"sleep 0.1 &\" {marker}; touch /tmp/forked; sleep 1");
    let b = no_pidns(&["sh", "-c", &script]);
    let id = unique("reap");
    let (_, shim) = h.spawn_ok(&b, &id, &[]);
    h.start(&id);
    std::thread::sleep(Duration::from_millis(600));
    assert!(
        b.rootfs().join("tmp/forked").exists(),
        "the container did not run"
    );
    let zombies: Vec<i32> = fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|p| {
            let st = fs::read_to_string(format!("/proc/{p}/stat")).unwrap_or_default();
            let Some(i) = st.rfind(')') else { return false };
            let f: Vec<&str> = st[i + 2..].split_whitespace().collect();
            f.first() == Some(&"Z") && f.get(1) == Some(&shim.to_string().as_str())
        })
        .collect();
    assert!(
        zombies.is_empty(),
        "unreaped children of the shim: {zombies:?}"
    );
    assert_eq!(h.wait_exit(&id)["exit_code"], 0);
    assert!(processes_with(&marker).is_empty());
}

#[test]
fn rootless_exit_codes_and_caller_killed() {
    let user = rootless_test("rootless_exit_codes_and_caller_killed");
    let h = ShimHost::rootless(&user);
    let b = Bundle::rootless(
        &user,
        IdMapping::Single,
        "busybox",
        &["sh", "-c", "echo hi; exit 3"],
    );
    let id = unique("rl-exit");
    let (_, shim) = spawn_and_kill_caller(&h, &b, &id, true);
    let exit = h.wait_exit(&id);
    assert_eq!(exit["exit_code"], 3, "{exit}");
    assert_eq!(log_lines(&h, &id), 1);
    assert!(wait_gone(shim, status_timeout()));
    let b = Bundle::rootless(&user, IdMapping::Multi, "busybox", &["sleep", "100"]);
    let id = unique("rl-kill");
    h.spawn_ok(&b, &id, &[]);
    h.start(&id);
    h.rt.output(&["kill", &id, "KILL"]).ok();
    check_record(&h.wait_exit(&id), 137, Some(9));
}
