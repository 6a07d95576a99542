//! Helpers for the pod end-to-end tests (`pod_*.rs`): a husk whose pods
//! are removed before its containers, member images, and checks that
//! nothing was left behind.

#![allow(dead_code)]

use std::ops::Deref;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use husk_tests::bundle::{status_timeout, unique};
use husk_tests::husk::Husk;
use husk_tests::rootless::rootless_test;

/// A [`Husk`] that removes its pods first when dropped (the harness then
/// removes the containers; an infra container only goes with its pod).
pub struct Pods(pub Husk);

impl Deref for Pods {
    type Target = Husk;
    fn deref(&self) -> &Husk {
        &self.0
    }
}

impl Drop for Pods {
    fn drop(&mut self) {
        let o = self
            .0
            .run(&["pod", "rm", "--all", "--force", "--time", "0"]);
        // A test that passed must also be able to remove its pods (a pod
        // rm that fails would leave infra processes behind the test).
        if !std::thread::panicking() {
            assert!(
                o.status.success(),
                "[{}] pod rm --all --force: {o}",
                self.0.flavour()
            );
            let left = self.0.run(&["pod", "ps", "-q"]);
            assert!(
                left.stdout.trim().is_empty(),
                "[{}] pods left: {left}",
                self.0.flavour()
            );
        }
    }
}

/// Rootful and rootless husks for `test`.
pub fn both(test: &str) -> [Pods; 2] {
    let user = rootless_test(test);
    let [a, b] = Husk::both(&user);
    [Pods(a), Pods(b)]
}

fn chown_tree(p: &Path, uid: u32, gid: u32) {
    std::os::unix::fs::lchown(p, Some(uid), Some(gid))
        .unwrap_or_else(|e| panic!("chown {}: {e}", p.display()));
    if std::fs::symlink_metadata(p).unwrap().is_dir() {
        for e in std::fs::read_dir(p).unwrap() {
            chown_tree(&e.unwrap().path(), uid, gid);
        }
    }
}

/// Rootless, the test user (root in husk's namespace); rootful, none.
pub fn owner_of_scratch(h: &Husk) -> Option<(u32, u32)> {
    if !h.is_rootless() {
        return None;
    }
    let meta = std::fs::metadata(h.scratch()).unwrap();
    use std::os::unix::fs::MetadataExt;
    Some((meta.uid(), meta.gid()))
}

/// The image arguments of a new member: a busybox root of its own (as an
/// image's overlay would be), unpacked from the fixture and, rootless,
/// owned by the test user (root in husk's user namespace).
///
/// Once `husk pull` is in main, this becomes `vec!["busybox".into()]`
/// (after `h.use_registry(..)` and a pull).
pub fn member_image(h: &Husk) -> Vec<String> {
    member_image_owned_by(h, owner_of_scratch(h))
}

/// [`member_image`] with its files owned by `ids` (host uid, gid), such as
/// the first ids of a pod's own user namespace.
pub fn member_image_owned_by(h: &Husk, ids: Option<(u32, u32)>) -> Vec<String> {
    let dir = h.scratch().join(unique("rootfs"));
    let img = husk_tests::fixtures::cached("busybox");
    husk_tests::bundle::unpack_image(&img.layout_dir, &dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    if let Some((uid, gid)) = ids {
        chown_tree(&dir, uid, gid);
    }
    vec!["--rootfs".into(), dir.display().to_string()]
}

/// `husk run -d --pod POD --name NAME <member image> ARGS…`; returns the
/// container id.
#[track_caller]
pub fn run_member(h: &Husk, pod: &str, name: &str, args: &[&str]) -> String {
    let mut argv: Vec<String> = ["run", "-d", "--pod", pod, "--name", name]
        .map(String::from)
        .to_vec();
    argv.extend(member_image(h));
    argv.extend(args.iter().map(|s| s.to_string()));
    h.ok(&argv).trim().to_owned()
}

/// `husk run --rm --pod POD <member image> sh -c SCRIPT`; returns stdout.
#[track_caller]
pub fn in_member(h: &Husk, pod: &str, script: &str) -> String {
    let mut argv: Vec<String> = ["run", "--rm", "--pod", pod].map(String::from).to_vec();
    argv.extend(member_image(h));
    argv.extend(["sh".into(), "-c".into(), script.into()]);
    h.ok(&argv)
}

/// A member that runs until stopped and ends at once on SIGTERM.
pub const SERVICE: [&str; 3] = [
    "sh",
    "-c",
    "trap 'exit 0' TERM; while :; do sleep 0.1; done",
];

/// `husk inspect`-style template output of `pod inspect`.
#[track_caller]
pub fn pod_field(h: &Husk, pod: &str, template: &str) -> String {
    h.ok(&["pod", "inspect", "--format", template, pod])
        .trim()
        .to_owned()
}

/// The state of container `name` (`husk ps -a`'s `{{.State}}`).
#[track_caller]
pub fn state(h: &Husk, name: &str) -> String {
    let out = h.ok(&["ps", "-a", "--format", "{{.Names}} {{.State}}"]);
    out.lines()
        .find_map(|l| l.strip_prefix(&format!("{name} ")))
        .unwrap_or_else(|| panic!("[{}] no container {name} in:\n{out}", h.flavour()))
        .to_owned()
}

/// The host pid of running container `name`.
#[track_caller]
pub fn pid(h: &Husk, name: &str) -> i32 {
    let out = h.ok(&["ps", "-a", "--format", "{{.Names}} {{.Pid}}"]);
    out.lines()
        .find_map(|l| l.strip_prefix(&format!("{name} ")))
        .and_then(|p| p.trim().parse().ok())
        .filter(|p| *p > 0)
        .unwrap_or_else(|| panic!("[{}] no running container {name} in:\n{out}", h.flavour()))
}

/// The name of `pod`'s infra container.
#[track_caller]
pub fn infra_name(h: &Husk, pod: &str) -> String {
    let id = pod_field(h, pod, "{{.InfraContainerID}}");
    let out = h.ok(&["ps", "-a", "--no-trunc", "--format", "{{.ID}} {{.Names}}"]);
    out.lines()
        .find_map(|l| l.strip_prefix(&format!("{id} ")))
        .unwrap_or_else(|| panic!("[{}] no infra {id} in:\n{out}", h.flavour()))
        .to_owned()
}

/// `readlink /proc/PID/ns/KIND` from the host.
pub fn ns_of(pid: i32, kind: &str) -> String {
    std::fs::read_link(format!("/proc/{pid}/ns/{kind}"))
        .unwrap_or_else(|e| panic!("/proc/{pid}/ns/{kind}: {e}"))
        .display()
        .to_string()
}

/// Polls `f` until it holds or the test timeout passes.
pub fn eventually(mut f: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + status_timeout() * 2;
    loop {
        if f() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A cgroup parent of the test's own (`--cgroup-parent`), so a test can
/// check that its pods left no cgroup while others run in parallel;
/// removed (it must be empty by then) when dropped, a failed test too.
pub struct TestCgroup(pub String);

impl TestCgroup {
    /// A fresh, unique one.
    pub fn new() -> TestCgroup {
        TestCgroup(format!("/{}", unique("husk-pod-test")))
    }

    /// The path to give `--cgroup-parent`.
    pub fn path(&self) -> &str {
        &self.0
    }
}

impl Drop for TestCgroup {
    fn drop(&mut self) {
        for d in cgroup_dirs(&self.0) {
            let _ = std::fs::remove_dir(d);
        }
    }
}

/// Every directory of cgroup `path` on this host's hierarchies that exists.
pub fn cgroup_dirs(path: &str) -> Vec<PathBuf> {
    let rel = path.trim_start_matches('/');
    let mut out = Vec::new();
    for e in std::fs::read_dir("/sys/fs/cgroup").unwrap().flatten() {
        let d = e.path().join(rel);
        if d.is_dir() {
            out.push(d);
        }
    }
    let top = Path::new("/sys/fs/cgroup").join(rel);
    if top.is_dir() && !out.contains(&top) {
        out.push(top);
    }
    out
}

/// Whether cgroup `path` holds a child cgroup on any hierarchy.
pub fn cgroup_children(path: &str) -> Vec<PathBuf> {
    cgroup_dirs(path)
        .into_iter()
        .flat_map(|d| {
            std::fs::read_dir(&d)
                .unwrap()
                .flatten()
                .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
                .map(|e| e.path())
                .collect::<Vec<_>>()
        })
        .collect()
}

/// Checks that `h` holds no pod, no container, no pod directory and no
/// mount under its root; panics with what is left.
#[track_caller]
pub fn nothing_left(h: &Husk) {
    let pods = h.ok(&["pod", "ps", "-q"]);
    assert!(
        pods.trim().is_empty(),
        "[{}] pods left: {pods}",
        h.flavour()
    );
    let ctrs = h.ok(&["ps", "-aq"]);
    assert!(
        ctrs.trim().is_empty(),
        "[{}] containers left: {ctrs}",
        h.flavour()
    );
    for d in [h.root().join("pods"), h.runroot().join("pods")] {
        if let Ok(rd) = std::fs::read_dir(&d) {
            let left: Vec<_> = rd.flatten().map(|e| e.path()).collect();
            assert!(
                left.is_empty(),
                "[{}] pod directories left: {left:?}",
                h.flavour()
            );
        }
    }
    for d in [h.root().join("userdata"), h.runroot().join("containers")] {
        if let Ok(rd) = std::fs::read_dir(&d) {
            let left: Vec<_> = rd.flatten().map(|e| e.path()).collect();
            assert!(
                left.is_empty(),
                "[{}] container directories left: {left:?}",
                h.flavour()
            );
        }
    }
    let mounts = husk_tests::bundle::mounts_under(&h.root());
    assert!(
        mounts.is_empty(),
        "[{}] mounts left: {mounts:?}",
        h.flavour()
    );
}
