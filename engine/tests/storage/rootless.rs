//! Rootless storage on the real kernel: a helper process becomes the test
//! user, unshares user and mount namespaces, gets `0 <uid> 1 1 <subuid>
//! <count>` maps written by newuidmap/newgidmap from the parent, and uses a
//! store there as the engine will. The host then checks what was stored.

use std::collections::HashMap;
use std::io::Write;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::fs::MetadataExt;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};

use husk_engine::image::digest::Digest;
use husk_engine::image::media::Compression;
use husk_engine::storage::{Driver, IdMap, Store, StoreOptions, WhiteoutFormat, USER_OPAQUE};
use husk_tests::fixtures::expected::{self, read_xattr, CheckOptions, OwnerCheck};
use husk_tests::fixtures::layer::{Entry, TarBuilder};
use husk_tests::rootless::{rootless_test, TestUser};

use crate::common::{helper_command, read_layout, require_root};

fn pipe() -> (OwnedFd, OwnedFd) {
    let mut fds = [0; 2];
    // SAFETY: `fds` is a writable array of two ints, as pipe2 requires.
    assert_eq!(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) }, 0);
    // SAFETY: pipe2 just returned these fds; we own them.
    unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) }
}

fn map_line(map: &[(u32, u32, u32)]) -> Vec<String> {
    map.iter()
        .flat_map(|(c, h, n)| [c.to_string(), h.to_string(), n.to_string()])
        .collect()
}

/// Runs `cmd` as `user` in new user and mount namespaces whose maps the
/// parent writes with newuidmap/newgidmap; returns its output.
fn run_in_userns(user: &TestUser, mut cmd: Command) -> std::process::Output {
    let (ready_r, ready_w) = pipe();
    let (go_r, go_w) = pipe();
    let (uid, gid) = (user.uid, user.gid);
    let (rw, gr) = (ready_w.as_raw_fd(), go_r.as_raw_fd());
    // SAFETY: the closure runs in the forked child before exec and only
    // makes async-signal-safe system calls on values copied in.
    unsafe {
        cmd.pre_exec(move || {
            let fail = || Err(std::io::Error::last_os_error());
            if libc::setgroups(0, std::ptr::null()) != 0
                || libc::setresgid(gid, gid, gid) != 0
                || libc::setresuid(uid, uid, uid) != 0
            {
                return fail();
            }
            // newuidmap checks /proc/PID, which a uid change hid from us.
            if libc::prctl(libc::PR_SET_DUMPABLE, 1, 0, 0, 0) != 0 {
                return fail();
            }
            if libc::unshare(libc::CLONE_NEWUSER | libc::CLONE_NEWNS) != 0 {
                return fail();
            }
            let pid = libc::getpid().to_le_bytes();
            if libc::write(rw, pid.as_ptr().cast(), 4) != 4 {
                return fail();
            }
            let mut b = [0u8; 1];
            if libc::read(gr, b.as_mut_ptr().cast(), 1) != 1 || b[0] != b'm' {
                return Err(std::io::Error::other(
                    "the parent did not write the id maps",
                ));
            }
            Ok(())
        });
    }
    let mapper = {
        let user = user.clone();
        std::thread::spawn(move || -> Result<(), String> {
            let mut pid = [0u8; 4];
            let mut r = std::fs::File::from(ready_r);
            std::io::Read::read_exact(&mut r, &mut pid)
                .map_err(|e| format!("child died before unsharing: {e}"))?;
            let pid = i32::from_le_bytes(pid).to_string();
            for (tool, map) in [("newuidmap", user.uid_map()), ("newgidmap", user.gid_map())] {
                let out = user
                    .command(tool)
                    .arg(&pid)
                    .args(map_line(&map))
                    .output()
                    .map_err(|e| format!("{tool} (run scripts/setup-host.sh): {e}"))?;
                if !out.status.success() {
                    return Err(format!(
                        "{tool} {pid}: {}",
                        String::from_utf8_lossy(&out.stderr)
                    ));
                }
            }
            std::fs::File::from(go_w)
                .write_all(b"m")
                .map_err(|e| e.to_string())
        })
    };
    let child = cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn();
    // Our copies of the child's ends: closing them lets the mapper see a
    // child that died early.
    drop((ready_w, go_r));
    let child = child.expect("spawning the rootless helper");
    let out = child.wait_with_output().unwrap();
    mapper
        .join()
        .unwrap()
        .unwrap_or_else(|e| panic!("writing id maps: {e}"));
    out
}

#[test]
fn rootless_store_with_overlay_userxattr() {
    require_root("rootless_store_with_overlay_userxattr");
    let user = rootless_test("rootless_store_with_overlay_userxattr");
    let fixtures = husk_tests::fixtures::fixtures_dir();
    let t = tempfile::tempdir().unwrap();
    husk_tests::rootless::make_accessible(t.path()).unwrap();
    let root = t.path().join("store");
    std::fs::create_dir(&root).unwrap();
    std::os::unix::fs::chown(&root, Some(user.uid), Some(user.gid)).unwrap();

    let cmd = helper_command(
        "rootless",
        &[
            ("STORE", root.display().to_string()),
            ("FIXTURES", fixtures.display().to_string()),
        ],
    );
    let out = run_in_userns(&user, cmd);
    let text = format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success() && text.contains("rootless helper ok"),
        "rootless helper failed:\n{text}"
    );

    // Seen from the host, files carry the ids the subuid map gives them.
    let (uid_map, gid_map) = (user.uid_map(), user.gid_map());
    let host = |map: &[(u32, u32, u32)], id: u32| {
        map.iter()
            .find(|(c, _, n)| id >= *c && id - c < *n)
            .map(|(c, h, _)| h + id - c)
            .unwrap()
    };
    let img = read_layout(&fixtures.join("layered"));
    let ids = husk_engine::storage::ChainId::for_image(&img.config.rootfs.diff_ids);
    let l2 = root.join("layers").join(ids[2].hex()).join("diff");
    let owned = std::fs::metadata(l2.join("home/user/owned.txt")).unwrap();
    assert_eq!(
        (owned.uid(), owned.gid()),
        (host(&uid_map, 1000), host(&gid_map, 1000)),
        "image 1000:1000 must be stored as the subuid map's 1000"
    );
    let etc = std::fs::metadata(l2.join("etc")).unwrap();
    assert_eq!(etc.uid(), user.uid, "image root must be stored as the user");
    assert_eq!(
        read_xattr(&l2.join("opt/replaced"), USER_OPAQUE)
            .unwrap()
            .as_deref(),
        Some(&b"y"[..])
    );
    assert_eq!(
        read_xattr(&l2.join("opt/replaced"), "trusted.overlay.opaque").unwrap(),
        None
    );

    // The host (root) mounts the same layers with userxattr and sees the
    // image through the map.
    let s = Store::open(&root, StoreOptions::rootless(IdMap::identity())).unwrap();
    let merged = s.containers().mount("c1").unwrap();
    let opts = CheckOptions {
        owners: OwnerCheck::Mapped {
            uid_map: uid_map.clone(),
            gid_map: gid_map.clone(),
        },
        xattrs: true,
    };
    let r = expected::layered().check_with(&merged, &opts);
    s.containers().unmount("c1").unwrap();
    r.unwrap_or_else(|e| panic!("{e:#?}"));
}

/// Runs inside the user namespace (see `run_in_userns`).
pub fn helper_rootless(env: &HashMap<String, String>) {
    // SAFETY: plain mount(2) call with static strings; makes this mount
    // namespace's mounts private so nothing propagates to the host.
    let r = unsafe {
        libc::mount(
            std::ptr::null(),
            c"/".as_ptr(),
            std::ptr::null(),
            libc::MS_REC | libc::MS_PRIVATE,
            std::ptr::null(),
        )
    };
    assert_eq!(
        r,
        0,
        "making mounts private: {}",
        std::io::Error::last_os_error()
    );
    // SAFETY: getuid has no preconditions.
    let uid = unsafe { libc::getuid() };
    assert_eq!(uid, 0, "the helper must be root in its namespace");
    let fixtures = Path::new(&env["FIXTURES"]);
    let ids = IdMap::current_namespace().unwrap();
    assert_eq!(ids.uid(65536), Some(65536), "uid map: {ids:?}");
    let s = Store::open(Path::new(&env["STORE"]), StoreOptions::rootless(ids)).unwrap();
    assert!(
        s.probe().whiteouts,
        "0:0 whiteouts must work in a user namespace on Linux 5.8+"
    );
    assert_eq!(
        s.driver(),
        Driver::Overlay,
        "rootless overlay must work here: {:?}",
        s.probe()
    );

    let img = read_layout(&fixtures.join("layered"));
    img.import(&s);
    let layers = s.ensure_image_layers(&img.sources()).unwrap();
    assert!(layers
        .iter()
        .all(|l| l.whiteouts == WhiteoutFormat::OverlayUser));
    let top = layers.last().map(|l| l.chain_id.clone());
    s.containers()
        .create("c1", top.as_ref(), Driver::Overlay)
        .unwrap();
    let merged = s.containers().mount("c1").unwrap();
    expected::layered()
        .check(&merged)
        .unwrap_or_else(|e| panic!("overlay inside: {e:#?}"));
    s.containers().unmount("c1").unwrap();

    s.containers()
        .create("c2", top.as_ref(), Driver::Vfs)
        .unwrap();
    let rootfs = s.containers().mount("c2").unwrap();
    expected::layered()
        .check(&rootfs)
        .unwrap_or_else(|e| panic!("vfs inside: {e:#?}"));
    assert!(s.containers().remove("c2").unwrap());

    // Devices and ids beyond the subordinate range are refused here too.
    let dev = read_layout(&fixtures.join("hostile-devices"));
    dev.import(&s);
    let e = s
        .ensure_image_layers(&dev.sources())
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("entry `dev/evil-mem`") && e.contains("device 1:1 refused"),
        "{e}"
    );

    let mut tb = TarBuilder::new();
    tb.entry(&Entry::file("far.txt", 0o644, "x").owner(70000, 0))
        .unwrap();
    let tar = tb.finish();
    let e = s
        .layers()
        .ensure_from(
            None,
            &Digest::sha256_of(&tar),
            None,
            Compression::None,
            &tar[..],
        )
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("uid 70000") && e.contains("not enough subordinate ids"),
        "{e}"
    );
    println!("rootless helper ok");
}
