//! `process.terminal`: the runtime makes a pty in the container's devpts and
//! sends the master over `--console-socket`; the container's stdio is the
//! slave.

use std::os::fd::AsRawFd;
use std::time::Duration;

use husk_tests::bundle::{
    read_pty_until, status_timeout, unique, wait_no_processes, Bundle, ConsoleSocket, IdMapping,
    Runtime,
};
use husk_tests::rootless::rootless_test;
use serde_json::json;

const SCRIPT: &str = "tty; [ -t 0 ] && [ -t 1 ] && [ -t 2 ] && echo all-tty; echo ok";

fn write_all(fd: &std::os::fd::OwnedFd, bytes: &[u8]) {
    // SAFETY: bytes is a valid readable buffer of the length given; fd is
    // open for the duration of the call.
    let n = unsafe { libc::write(fd.as_raw_fd(), bytes.as_ptr().cast(), bytes.len()) };
    assert_eq!(n, bytes.len() as isize, "short write to the pty");
}

fn check_terminal_run(rt: &Runtime, b: &Bundle, socket: &ConsoleSocket, marker: &str) {
    let id = unique("tty");
    rt.create(
        b,
        &id,
        &["--console-socket", socket.path().to_str().unwrap()],
    )
    .ok();
    let (master, name) = socket
        .accept_fd(status_timeout())
        .expect("receiving the pty master");
    let name = String::from_utf8_lossy(&name).into_owned();
    assert!(name.contains("/dev/pts/"), "payload names {name:?}");
    assert_eq!(rt.status(&id).as_deref(), Some("created"));
    rt.output(&["start", &id]).ok();
    // Interactive part: the shell reads a line from the terminal.
    let text = read_pty_until(&master, "say>", status_timeout());
    assert!(text.contains("/dev/pts/0"), "pty output: {text:?}");
    assert!(text.contains("all-tty"), "pty output: {text:?}");
    write_all(&master, b"from-master\n");
    let text = read_pty_until(&master, "got=from-master", status_timeout());
    assert!(text.contains("got=from-master"), "pty output: {text:?}");
    assert_eq!(
        rt.wait_status(&id, "stopped", status_timeout()).as_deref(),
        Some("stopped")
    );
    rt.output(&["delete", &id]).ok();
    assert_eq!(
        wait_no_processes(marker, status_timeout()),
        Vec::<i32>::new()
    );
}

fn script() -> String {
    format!("{SCRIPT}; printf 'say>'; read line; echo got=$line")
}

#[test]
fn terminal_via_console_socket() {
    let rt = Runtime::new();
    let marker = unique("tty-marker");
    let b = Bundle::new("busybox", &["sh", "-c", &script(), &marker]);
    b.edit(|c| c["process"]["terminal"] = json!(true));
    let socket = ConsoleSocket::bind(&rt.scratch().join("console.sock"), None);
    check_terminal_run(&rt, &b, &socket, &marker);
}

#[test]
fn terminal_output_before_eof() {
    // The simplest case from the brief: `tty; echo ok`, read until the
    // slave closes.
    let rt = Runtime::new();
    let b = Bundle::new("busybox", &["sh", "-c", "tty; echo ok"]);
    b.edit(|c| c["process"]["terminal"] = json!(true));
    let socket = ConsoleSocket::bind(&rt.scratch().join("console.sock"), None);
    let id = unique("tty-eof");
    rt.create(
        &b,
        &id,
        &["--console-socket", socket.path().to_str().unwrap()],
    )
    .ok();
    let (master, _) = socket.accept_fd(status_timeout()).unwrap();
    rt.output(&["start", &id]).ok();
    let text = read_pty_until(&master, "\u{0}never", Duration::from_secs(5));
    assert!(text.contains("/dev/pts/0"), "{text:?}");
    assert!(text.contains("ok"), "{text:?}");
    assert_eq!(
        rt.wait_status(&id, "stopped", status_timeout()).as_deref(),
        Some("stopped")
    );
    rt.output(&["delete", &id]).ok();
}

#[test]
fn terminal_without_console_socket_is_refused() {
    let rt = Runtime::new();
    let b = Bundle::new("busybox", &["true"]);
    b.edit(|c| c["process"]["terminal"] = json!(true));
    let id = unique("tty-nosock");
    rt.create(&b, &id, &[]).fails_with(&["console"]);
    assert!(!rt.state_dir(&id).exists());
}

#[test]
fn rootless_terminal_via_console_socket() {
    let user = rootless_test("rootless_terminal_via_console_socket");
    let rt = Runtime::rootless(&user);
    let marker = unique("tty-marker");
    let b = Bundle::rootless(
        &user,
        IdMapping::Single,
        "busybox",
        &["sh", "-c", &script(), &marker],
    );
    b.edit(|c| c["process"]["terminal"] = json!(true));
    let socket = ConsoleSocket::bind(&b.path().join("console.sock"), Some(&user));
    check_terminal_run(&rt, &b, &socket, &marker);
}
