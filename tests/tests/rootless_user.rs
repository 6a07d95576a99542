//! The host is ready for rootless work by the real unprivileged test user:
//! user namespaces, newuidmap/newgidmap with the subordinate ranges, and read
//! access to the fixtures.

use std::fs;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use husk_tests::fixtures;
use husk_tests::fixtures::layout::sha256_digest;
use husk_tests::rootless::{self, TestUser};

fn run(cmd: &mut Command) -> Output {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

#[test]
fn test_user_is_unprivileged_with_subordinate_ranges() {
    let user = rootless::rootless_test("test_user_is_unprivileged_with_subordinate_ranges");
    assert_ne!(user.uid, 0);
    assert!(user.subuids.iter().any(|r| r.count >= 65536), "{user:?}");
    assert!(user.subgids.iter().any(|r| r.count >= 65536), "{user:?}");
    let out = run(user.command("id").arg("-u"));
    assert_eq!(stdout(&out), user.uid.to_string());
    let out = run(user
        .command("sh")
        .arg("-c")
        .arg("echo $HOME:$USER:$XDG_RUNTIME_DIR"));
    assert_eq!(
        stdout(&out),
        format!(
            "{}:{}:/run/user/{}",
            user.home.display(),
            user.name,
            user.uid
        )
    );
    let rt = fs::metadata(user.runtime_dir()).expect("runtime dir exists");
    assert_eq!(std::os::unix::fs::MetadataExt::uid(&rt), user.uid);
}

#[test]
fn unshare_map_root_user_gives_uid_0() {
    let user = rootless::rootless_test("unshare_map_root_user_gives_uid_0");
    let out = run(user
        .command("unshare")
        .args(["--user", "--map-root-user", "id", "-u"]));
    assert_eq!(stdout(&out), "0");
}

/// Kills and reaps a child when dropped, so a failed assertion leaves no
/// `sleep` behind.
struct Reap(std::process::Child);

impl Drop for Reap {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn wait_for_new_userns(pid: u32) {
    let ours = fs::read_link("/proc/self/ns/user").unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Ok(ns) = fs::read_link(format!("/proc/{pid}/ns/user")) {
            if ns != ours {
                return;
            }
        }
        assert!(
            Instant::now() < deadline,
            "pid {pid} never entered a new user namespace"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn map_args(map: &[(u32, u32, u32)]) -> Vec<String> {
    map.iter()
        .flat_map(|(c, h, n)| [c.to_string(), h.to_string(), n.to_string()])
        .collect()
}

#[test]
fn newuidmap_and_newgidmap_install_multi_range_maps() {
    let user: TestUser =
        rootless::rootless_test("newuidmap_and_newgidmap_install_multi_range_maps");
    let child = user
        .command("unshare")
        .args(["--user", "sleep", "30"])
        .stdin(Stdio::null())
        .spawn()
        .expect("spawn unshare as the test user");
    let child = Reap(child);
    let pid = child.0.id();
    wait_for_new_userns(pid);
    assert!(
        rootless::proc_id_map(pid, "uid_map").is_empty(),
        "map set before newuidmap"
    );
    run(user
        .command("newuidmap")
        .arg(pid.to_string())
        .args(map_args(&user.uid_map())));
    run(user
        .command("newgidmap")
        .arg(pid.to_string())
        .args(map_args(&user.gid_map())));
    let uid_map = rootless::proc_id_map(pid, "uid_map");
    let gid_map = rootless::proc_id_map(pid, "gid_map");
    assert_eq!(uid_map, user.uid_map());
    assert_eq!(gid_map, user.gid_map());
    assert_eq!(uid_map.len(), 2, "user itself plus a subordinate range");
    assert!(uid_map[1].2 >= 65536);
    // An unprivileged user may not map ranges it was not delegated.
    let child2 = Reap(
        user.command("unshare")
            .args(["--user", "sleep", "30"])
            .stdin(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let pid2 = child2.0.id();
    wait_for_new_userns(pid2);
    let denied = user
        .command("newuidmap")
        .arg(pid2.to_string())
        .args(["0", "0", "1"])
        .output()
        .unwrap();
    assert!(
        !denied.status.success(),
        "mapping host root must be refused"
    );
}

#[test]
fn test_user_can_read_the_fixtures() {
    let user = rootless::rootless_test("test_user_can_read_the_fixtures");
    let dir = fixtures::fixtures_dir();
    rootless::make_accessible(&dir).unwrap();
    let busybox = fixtures::cached("busybox");
    let index = busybox.layout_dir.join("index.json");
    let out = run(user.command("cat").arg(&index));
    assert_eq!(out.stdout, fs::read(&index).unwrap());
    // A layer blob, read in full by the user, hashes to its digest.
    let manifest = fixtures::layout::read_json_blob(&busybox.layout_dir, &busybox.digest).unwrap();
    let layer = manifest["layers"][0]["digest"].as_str().unwrap();
    let blob = fixtures::layout::blob_path(&busybox.layout_dir, layer);
    let out = run(user.command("cat").arg(&blob));
    assert_eq!(sha256_digest(&out.stdout), layer);
}

#[test]
fn make_accessible_opens_a_private_tree_and_nothing_more() {
    let user = rootless::rootless_test("make_accessible_opens_a_private_tree_and_nothing_more");
    let tmp = tempfile::tempdir().unwrap();
    let tree = tmp.path().join("tree");
    fs::create_dir_all(tree.join("sub")).unwrap();
    fs::write(tree.join("sub/file"), "data").unwrap();
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(tree.join("sub/file"), fs::Permissions::from_mode(0o600)).unwrap();
    let secret = tmp.path().join("secret");
    fs::write(&secret, "root only").unwrap();
    fs::set_permissions(&secret, fs::Permissions::from_mode(0o600)).unwrap();
    let cat = |p: &Path| user.command("cat").arg(p).output().unwrap();
    // Before: the tempdir (0700) keeps the user out.
    assert!(!cat(&tree.join("sub/file")).status.success());
    rootless::make_accessible(&tree).unwrap();
    let out = cat(&tree.join("sub/file"));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.stdout, b"data");
    // The sibling stays private: the user really is unprivileged.
    assert!(!cat(&secret).status.success());
}
