//! The holder of husk's rootless user namespace: rootless commands share one
//! namespace, kept between them by a `husk-userns` process whose pid is
//! recorded in the user's runtime directory, and a recorded pid is joined
//! only when it still is such a holder with the right maps.
//!
//! Each test gives husk a runtime directory of its own (so it gets its own
//! holder) and kills that holder at the end. The tests run one at a time:
//! they count holder processes.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use husk_tests::husk::Husk;
use husk_tests::rootless::{self, TestUser};

static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// A private runtime directory; dropping it kills the holder recorded
/// there (declare it before the [`Husk`], so the husk is dropped first).
struct RuntimeDir {
    dir: tempfile::TempDir,
}

impl RuntimeDir {
    fn new(user: &TestUser) -> RuntimeDir {
        let dir = tempfile::Builder::new()
            .prefix("husk-xdg-")
            .tempdir()
            .unwrap();
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o700)).unwrap();
        std::os::unix::fs::chown(dir.path(), Some(user.uid), Some(user.gid)).unwrap();
        RuntimeDir { dir }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn pid_file(&self) -> PathBuf {
        self.path().join("husk-userns.pid")
    }

    /// The recorded holder pid.
    fn recorded(&self) -> Option<i32> {
        fs::read_to_string(self.pid_file())
            .ok()?
            .trim()
            .parse()
            .ok()
    }
}

impl Drop for RuntimeDir {
    fn drop(&mut self) {
        if let Some(pid) = self.recorded() {
            if comm(pid).as_deref() == Some("husk-userns") {
                // SAFETY: kill has no memory effects.
                unsafe { libc::kill(pid, libc::SIGKILL) };
                wait_gone(pid);
            }
        }
    }
}

/// One test's world, taken in this order so that it drops in reverse: the
/// husk (removing its containers), then the runtime directory (killing its
/// holder), then the lock that keeps the tests apart.
fn setup(test: &str) -> (MutexGuard<'static, ()>, TestUser, RuntimeDir, Husk) {
    let one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let user = rootless::rootless_test(test);
    let rt = RuntimeDir::new(&user);
    let mut h = Husk::rootless(&user);
    h.env("XDG_RUNTIME_DIR", &rt.path().to_string_lossy());
    (one, user, rt, h)
}

fn comm(pid: i32) -> Option<String> {
    fs::read_to_string(format!("/proc/{pid}/comm"))
        .ok()
        .map(|s| s.trim_end().to_owned())
}

fn ns_of(pid: i32) -> String {
    fs::read_link(format!("/proc/{pid}/ns/user"))
        .unwrap_or_else(|e| panic!("ns of {pid}: {e}"))
        .to_string_lossy()
        .into_owned()
}

fn wait_gone(pid: i32) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Path::new(&format!("/proc/{pid}")).exists() {
        // A zombie still has /proc/PID; its status says so.
        let st = fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        if st
            .rsplit(')')
            .next()
            .is_some_and(|r| r.trim_start().starts_with('Z'))
        {
            return;
        }
        assert!(Instant::now() < deadline, "pid {pid} did not go away");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Pids of holder processes of `uid`.
fn holders(uid: u32) -> Vec<i32> {
    let mut out = Vec::new();
    for e in fs::read_dir("/proc").unwrap().flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else {
            continue;
        };
        let owner = fs::read_to_string(format!("/proc/{pid}/status"))
            .ok()
            .and_then(|s| {
                s.lines()
                    .find_map(|l| l.strip_prefix("Uid:"))
                    .and_then(|v| v.split_whitespace().next()?.parse::<u32>().ok())
            });
        if owner == Some(uid) && comm(pid).as_deref() == Some("husk-userns") {
            out.push(pid);
        }
    }
    out
}

/// The user namespace `husk unshare` runs in.
fn ns_of_command(h: &Husk) -> String {
    h.ok(&["unshare", "readlink", "/proc/self/ns/user"])
        .trim()
        .to_owned()
}

#[test]
fn commands_share_one_namespace_that_a_holder_keeps() {
    let (_one, user, rt, h) = setup("commands_share_one_namespace_that_a_holder_keeps");
    let first = ns_of_command(&h);
    assert_ne!(
        first,
        ns_of(std::process::id() as i32),
        "not in a new namespace"
    );
    let pid = rt.recorded().expect("no holder pid recorded");
    assert_eq!(ns_of(pid), first, "the holder keeps another namespace");
    assert_eq!(ns_of_command(&h), first, "a second command made its own");
    // The holder: re-executed as husk-userns, nothing inherited.
    assert_eq!(comm(pid).as_deref(), Some("husk-userns"));
    let cmdline = fs::read(format!("/proc/{pid}/cmdline")).unwrap();
    assert_eq!(
        cmdline, b"husk-userns\0",
        "the holder carries the command line"
    );
    let environ = fs::read(format!("/proc/{pid}/environ")).unwrap();
    assert!(environ.is_empty(), "the holder kept an environment");
    let mut fds: Vec<String> = fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .flatten()
        .map(|e| {
            fs::read_link(e.path())
                .unwrap()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    fds.sort();
    assert_eq!(fds, ["/dev/null", "/dev/null", "/dev/null"], "holder fds");
    assert_eq!(rootless::proc_id_map(pid as u32, "uid_map"), user.uid_map());
    assert_eq!(rootless::proc_id_map(pid as u32, "gid_map"), user.gid_map());
    // Its own session: a terminal's ^C to the command does not reach it.
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let f: Vec<&str> = stat
        .rsplit(')')
        .next()
        .unwrap()
        .split_whitespace()
        .collect();
    assert_eq!(f[3], pid.to_string(), "not a session leader: {stat}");
}

#[test]
fn a_dead_holder_is_replaced() {
    let (_one, _user, rt, h) = setup("a_dead_holder_is_replaced");
    let first = ns_of_command(&h);
    let old = rt.recorded().unwrap();
    // SAFETY: kill has no memory effects.
    assert_eq!(unsafe { libc::kill(old, libc::SIGTERM) }, 0);
    wait_gone(old);
    let second = ns_of_command(&h);
    let new = rt.recorded().unwrap();
    assert_ne!(new, old);
    assert_ne!(second, first, "joined a namespace whose holder is gone");
    assert_eq!(ns_of(new), second);
}

/// Runs `program ARGS` as the user, to stand where a holder should be.
fn impostor(user: &TestUser, program: &Path, args: &[&str]) -> Child {
    user.command(program)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

struct Reap(Child);

impl Drop for Reap {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn a_recorded_pid_is_joined_only_if_it_is_a_holder_with_the_right_maps() {
    let (_one, user, rt, h) =
        setup("a_recorded_pid_is_joined_only_if_it_is_a_holder_with_the_right_maps");
    // A `sleep` named husk-userns, in a user namespace of the user's with
    // another mapping (only the user's own uid).
    let bin = h.scratch().join("husk-userns");
    fs::copy("/bin/sleep", &bin).unwrap();
    fs::set_permissions(&bin, fs::Permissions::from_mode(0o755)).unwrap();
    let unshare = husk_tests::tools::find_tool("HUSK_UNSHARE", "unshare").unwrap();
    let wrong_maps = Reap(impostor(
        &user,
        &unshare,
        &["--user", "--map-root-user", bin.to_str().unwrap(), "100"],
    ));
    // A plain process of the user, in the initial namespace.
    let plain = Reap(impostor(&user, Path::new("/bin/sleep"), &["100"]));
    let deadline = Instant::now() + Duration::from_secs(10);
    let wrong_pid = wrong_maps.0.id() as i32;
    while comm(wrong_pid).as_deref() != Some("husk-userns") {
        assert!(Instant::now() < deadline, "the impostor never started");
        std::thread::sleep(Duration::from_millis(10));
    }
    for (what, pid) in [
        ("a process in another namespace", wrong_pid),
        ("a plain process", plain.0.id() as i32),
        ("a pid that does not exist", i32::MAX),
    ] {
        fs::write(rt.pid_file(), format!("{pid}\n")).unwrap();
        let ns = ns_of_command(&h);
        assert_ne!(ns, ns_of(wrong_pid), "{what}: joined the impostor");
        assert_ne!(ns, ns_of(std::process::id() as i32), "{what}: no namespace");
        let now = rt.recorded().unwrap();
        assert_ne!(now, pid, "{what}: still recorded");
        assert_eq!(
            ns_of(now),
            ns,
            "{what}: the new holder is not the one joined"
        );
        // SAFETY: kill has no memory effects.
        unsafe { libc::kill(now, libc::SIGKILL) };
        wait_gone(now);
    }
    // Garbage in the pid file is no holder either.
    fs::write(rt.pid_file(), "not a pid\n").unwrap();
    ns_of_command(&h);
    assert!(rt.recorded().is_some());
}

#[test]
fn concurrent_first_commands_make_one_holder() {
    let (_one, user, rt, h) = setup("concurrent_first_commands_make_one_holder");
    let before = holders(user.uid);
    let children: Vec<Child> = (0..8)
        .map(|_| {
            h.cmd(&["unshare", "readlink", "/proc/self/ns/user"])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let mut seen = Vec::new();
    for c in children {
        let out = c.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        seen.push(String::from_utf8_lossy(&out.stdout).trim().to_owned());
    }
    seen.dedup();
    assert_eq!(seen.len(), 1, "commands in different namespaces: {seen:?}");
    let made: Vec<i32> = holders(user.uid)
        .into_iter()
        .filter(|p| !before.contains(p))
        .collect();
    assert_eq!(made.len(), 1, "holders made: {made:?}");
    assert_eq!(Some(made[0]), rt.recorded());
    assert_eq!(ns_of(made[0]), seen[0]);
}

#[test]
fn containers_run_in_the_holders_namespace() {
    let (_one, _user, rt, h) = setup("containers_run_in_the_holders_namespace");
    let layout = husk_tests::fixtures::cached("busybox").layout_dir;
    rootless::make_accessible(&layout).unwrap();
    h.ok(&["pull", &format!("oci:{}", layout.display())]);
    let id = h.ok(&["run", "-d", "busybox", "sleep", "100"]);
    let id = id.trim();
    let pid = h.pid_of(id).expect("no container pid") as i32;
    let holder = rt.recorded().unwrap();
    assert_eq!(ns_of(pid), ns_of(holder));
    // Killing the holder leaves the container alone: its shim keeps the
    // namespace, and later commands still reach it.
    // SAFETY: kill has no memory effects.
    unsafe { libc::kill(holder, libc::SIGKILL) };
    wait_gone(holder);
    assert_eq!(h.ok(&["exec", id, "echo", "hi"]).trim(), "hi");
    h.ok(&["rm", "-f", "-t", "0", id]);
}
