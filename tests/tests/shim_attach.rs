//! Attaching to a container's shim: stdin through -i, detach and
//! re-attach, two attachers at once, and a pty resize seen by `stty size`.

use std::io::{Read, Write};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use husk_tests::bundle::{read_pty_until, status_timeout, unique, Bundle, IdMapping};
use husk_tests::rootless::rootless_test;
use husk_tests::shim::{openpty, set_pty_size, spawn_on_pty, write_fd, AttachConn, ShimHost};

const ECHO: &str = "while read l; do echo echo:$l; done; echo bye; exit 9";

/// Reads a child's stdout (a pipe) until `want` appears or time runs out.
fn read_until(child: &mut Child, want: &str) -> String {
    let out = child.stdout.as_mut().unwrap();
    let deadline = Instant::now() + status_timeout();
    let mut text = String::new();
    while !text.contains(want) && Instant::now() < deadline {
        let mut b = [0u8; 4096];
        match out.read(&mut b) {
            Ok(0) | Err(_) => break,
            Ok(n) => text.push_str(&String::from_utf8_lossy(&b[..n])),
        }
    }
    text
}

fn attach_client(h: &ShimHost, id: &str, extra: &[&str]) -> Child {
    let mut c = h.husk(&["__husk-shim", "attach"]);
    c.arg(h.socket(id))
        .args(extra)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    c.spawn().unwrap()
}

fn detach_and_reattach(h: &ShimHost, b: &Bundle) {
    let id = unique("reattach");
    h.spawn_ok(b, &id, &["-i"]);
    let mut a = attach_client(h, &id, &[]);
    std::thread::sleep(Duration::from_millis(100));
    h.start(&id);
    a.stdin.as_mut().unwrap().write_all(b"one\n").unwrap();
    assert!(read_until(&mut a, "echo:one").contains("echo:one"));
    // ctrl-p ctrl-q: the default detach keys.
    a.stdin.as_mut().unwrap().write_all(b"\x10\x11").unwrap();
    let out = a.wait_with_output().unwrap();
    assert!(out.status.success(), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("detached"),
        "{out:?}"
    );
    assert!(
        h.socket(&id).exists(),
        "the container ended with the detach"
    );
    // Re-attach with other keys; ctrl-p is data now.
    let mut b2 = attach_client(h, &id, &["--detach-keys", "ctrl-a,d"]);
    b2.stdin.as_mut().unwrap().write_all(b"tw\x10o\n").unwrap();
    assert!(read_until(&mut b2, "echo:tw\x10o").contains("echo:tw\x10o"));
    // End of the client's stdin ends the container's.
    drop(b2.stdin.take());
    let out = b2.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(9),
        "the attach client exits with the container's code: {out:?}"
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("bye"));
    assert_eq!(h.wait_exit(&id)["exit_code"], 9);
    let log = std::fs::read_to_string(h.log(&id)).unwrap();
    assert!(
        log.contains("stdout F echo:one") && log.contains("stdout F echo:tw\x10o"),
        "{log}"
    );
}

#[test]
fn attach_detach_reattach_with_stdin() {
    let h = ShimHost::new();
    let b = Bundle::new("busybox", &["sh", "-c", ECHO]);
    detach_and_reattach(&h, &b);
}

#[test]
fn without_i_stdin_is_dev_null() {
    let h = ShimHost::new();
    let b = Bundle::new("busybox", &["sh", "-c", ECHO]);
    let id = unique("nostdin");
    h.spawn_ok(&b, &id, &[]);
    let mut c = AttachConn::connect(&h.socket(&id));
    assert_eq!(c.flags, 0, "HELLO flags without -i and -t");
    // Sent before the start: once started, the container ends at once and
    // the shim may close the connection before a later write gets there.
    c.stdin(b"ignored\n");
    h.start(&id);
    let got = c.until_exit();
    assert_eq!(got.stdout, b"bye\n");
    assert_eq!(got.exit, Some(9));
}

#[test]
fn two_attachers_at_once() {
    let h = ShimHost::new();
    let b = Bundle::new(
        "busybox",
        &[
            "sh",
            "-c",
            "read l; for i in $(seq 1 500); do echo out$i; echo err$i >&2; done; echo $l; exit 7",
        ],
    );
    let id = unique("two");
    h.spawn_ok(&b, &id, &["-i"]);
    let mut x = AttachConn::connect(&h.socket(&id));
    let mut y = AttachConn::connect(&h.socket(&id));
    assert_eq!(x.flags, 2, "HELLO says stdin is open");
    h.start(&id);
    // Input from either reaches the container.
    y.stdin(b"from-y\n");
    // Both read at once: the shim stops reading the container while any
    // attacher has output queued (backpressure), so a client left unread
    // would stall the other one.
    let (gx, gy) = std::thread::scope(|s| {
        let tx = s.spawn(|| x.until_exit());
        let gy = y.until_exit();
        (tx.join().expect("reader of x"), gy)
    });
    let want_out: String = (1..=500).map(|i| format!("out{i}\n")).collect::<String>() + "from-y\n";
    let want_err: String = (1..=500).map(|i| format!("err{i}\n")).collect();
    for g in [&gx, &gy] {
        assert_eq!(String::from_utf8_lossy(&g.stdout), want_out);
        assert_eq!(String::from_utf8_lossy(&g.stderr), want_err);
        assert_eq!(g.exit, Some(7));
    }
}

/// Attachers that hang up while the container writes do not take the shim
/// down: the one that stays sees the output go on and the exit code.
#[test]
fn attachers_hanging_up_during_output() {
    let h = ShimHost::new();
    let b = Bundle::new(
        "busybox",
        &[
            "sh",
            "-c",
            "while :; do echo spam; done & read l; kill $!; wait $!; echo last; exit 5",
        ],
    );
    let id = unique("churn");
    h.spawn_ok(&b, &id, &["-i"]);
    h.start(&id);
    for _ in 0..200 {
        let mut c = AttachConn::connect(&h.socket(&id));
        // Some leave with output queued for them, some at once.
        c.read_until(Duration::from_millis(1), |r| !r.stdout.is_empty());
    }
    let mut keep = AttachConn::connect(&h.socket(&id));
    assert!(
        keep.read_until(status_timeout(), |r| r.stdout.len() > 100),
        "output stopped after the hang-ups: {:?}",
        keep.got
    );
    keep.stdin(b"go\n");
    let got = keep.until_exit();
    assert!(String::from_utf8_lossy(&got.stdout).ends_with("last\n"));
    assert_eq!(got.exit, Some(5));
}

fn pty_resize(h: &ShimHost, b: &Bundle) {
    let id = unique("resize");
    h.spawn_ok(b, &id, &["-t", "-i", "--tty-size", "20x60"]);
    let (master, slave) = openpty(30, 100);
    let mut cmd = h.husk(&["__husk-shim", "attach"]);
    cmd.arg(h.socket(&id));
    let mut client = spawn_on_pty(cmd, &slave);
    drop(slave);
    std::thread::sleep(Duration::from_millis(200));
    h.start(&id);
    // The client passed its terminal's size on at attach.
    write_fd(&master, b"\r");
    let t = read_pty_until(&master, "size=30 100", status_timeout());
    assert!(t.contains("size=30 100"), "{t:?}");
    // A resize of the client's terminal reaches the container (SIGWINCH).
    set_pty_size(&master, 50, 150);
    std::thread::sleep(Duration::from_millis(200));
    write_fd(&master, b"\r");
    let t = read_pty_until(&master, "size=50 150", status_timeout());
    assert!(t.contains("size=50 150"), "{t:?}");
    // Raw mode: the detach keys pass the client's terminal untouched.
    write_fd(&master, b"\x10\x11");
    let st = client.wait().unwrap();
    assert!(st.success(), "{st}");
    h.rt.output(&["kill", &id, "KILL"]).ok();
    assert_eq!(h.wait_exit(&id)["exit_code"], 137);
}

fn size_loop() -> Vec<&'static str> {
    vec!["sh", "-c", "while read l; do echo size=$(stty size); done"]
}

#[test]
fn pty_resize_reaches_the_container() {
    let h = ShimHost::new();
    let b = Bundle::new("busybox", &size_loop());
    b.edit(|c| c["process"]["terminal"] = serde_json::json!(true));
    pty_resize(&h, &b);
}

#[test]
fn rootless_attach_and_resize() {
    let user = rootless_test("rootless_attach_and_resize");
    let h = ShimHost::rootless(&user);
    let b = Bundle::rootless(&user, IdMapping::Single, "busybox", &["sh", "-c", ECHO]);
    detach_and_reattach(&h, &b);
    let b = Bundle::rootless(&user, IdMapping::Single, "busybox", &size_loop());
    b.edit(|c| c["process"]["terminal"] = serde_json::json!(true));
    pty_resize(&h, &b);
}
