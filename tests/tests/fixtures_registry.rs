//! Fixtures survive a round trip through a real registry with their digests,
//! and the registry harness cleans up after itself.

mod common;

use std::path::Path;

use husk_tests::fixtures::layout::{read_blob, sha256_digest, MEDIA_TYPE_INDEX};
use husk_tests::fixtures::{self, FIXTURES, TAG};
use husk_tests::registry::{Registry, RegistryError};

fn start() -> Registry {
    Registry::start().unwrap_or_else(|e| panic!("cannot start the test registry: {e}"))
}

fn proc_alive(pid: u32) -> bool {
    // A zombie still has a /proc entry; a reaped process has none.
    Path::new(&format!("/proc/{pid}")).exists()
}

#[test]
fn every_fixture_round_trips_with_its_digests() {
    let reg = start();
    let pushed = reg.push_fixtures().unwrap();
    assert_eq!(pushed.len(), FIXTURES.len());
    let tmp = tempfile::tempdir().unwrap();
    for p in &pushed {
        let local = fixtures::cached(&p.repo);
        assert_eq!(p.digest, local.digest, "{}: registry digest", p.repo);
        assert_eq!(p.reference, format!("{}/{}:{TAG}", reg.host(), p.repo));
        // The registry serves the very bytes we built.
        let raw = reg.inspect_raw(&p.repo, TAG).unwrap();
        assert_eq!(
            raw,
            read_blob(&local.layout_dir, &local.digest).unwrap(),
            "{}",
            p.repo
        );

        let dest = tmp.path().join(&p.repo);
        reg.pull_layout(&p.repo, TAG, &dest).unwrap();
        let pulled = fixtures::read_layout(&dest).unwrap();
        assert_eq!(pulled.digest, local.digest, "{}: pulled digest", p.repo);
        assert_eq!(pulled.media_type, local.media_type, "{}", p.repo);
        // Every manifest, config and layer came back, byte for byte.
        let (a, b) = (common::images(&local.layout_dir), common::images(&dest));
        assert_eq!(a.len(), b.len(), "{}", p.repo);
        for (x, y) in a.iter().zip(&b) {
            assert_eq!(x.manifest_digest, y.manifest_digest);
            assert_eq!(x.config, y.config);
            let lx: Vec<_> = x.layers.iter().map(|l| (&l.0, &l.1)).collect();
            let ly: Vec<_> = y.layers.iter().map(|l| (&l.0, &l.1)).collect();
            assert_eq!(lx, ly, "{}: layers (media type, digest)", p.repo);
        }
    }
    let multi = pushed.iter().find(|p| p.repo == "multiarch").unwrap();
    let index: serde_json::Value =
        serde_json::from_slice(&reg.inspect_raw(&multi.repo, TAG).unwrap()).unwrap();
    assert_eq!(index["mediaType"], MEDIA_TYPE_INDEX);
    assert_eq!(index["manifests"].as_array().unwrap().len(), 2);
}

#[test]
fn push_of_one_layout_is_isolated_per_registry() {
    let (a, b) = (start(), start());
    assert_ne!(a.addr(), b.addr());
    let busybox = fixtures::cached("busybox");
    let pushed = a
        .push_layout(&busybox.layout_dir, TAG, "team/busybox")
        .unwrap();
    assert_eq!(pushed.digest, busybox.digest);
    assert_eq!(
        sha256_digest(&a.inspect_raw("team/busybox", TAG).unwrap()),
        busybox.digest
    );
    let err = b.inspect_raw("team/busybox", TAG).unwrap_err();
    assert!(matches!(err, RegistryError::Skopeo { .. }), "{err}");
}

#[test]
fn push_to_a_stopped_registry_fails() {
    let mut reg = start();
    let pid = reg.pid();
    assert!(reg.is_running());
    reg.stop();
    assert!(!reg.is_running());
    assert!(!proc_alive(pid), "registry {pid} still present after stop");
    let busybox = fixtures::cached("busybox");
    let err = reg
        .push_layout(&busybox.layout_dir, TAG, "busybox")
        .unwrap_err();
    match &err {
        RegistryError::Skopeo { stderr, .. } => {
            assert!(
                stderr.contains(&reg.host()),
                "error should name the registry: {stderr}"
            )
        }
        other => panic!("expected a skopeo failure, got {other}"),
    }
    // A layout that does not exist is an error too, even on a live registry.
    let live = start();
    let missing = live
        .push_layout(Path::new("/nonexistent/husk-layout"), TAG, "nothing")
        .unwrap_err();
    assert!(matches!(missing, RegistryError::Skopeo { .. }), "{missing}");
}

#[test]
fn drop_kills_the_registry_and_removes_its_storage() {
    let reg = start();
    let pid = reg.pid();
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap();
    assert!(
        String::from_utf8_lossy(&cmdline).contains("registry"),
        "pid {pid} is not the registry"
    );
    let addr = reg.addr();
    let dir = reg.dir().to_owned();
    assert!(dir.join("storage").is_dir());
    let log = reg.log();
    assert!(log.contains("listening on"), "registry log: {log}");
    drop(reg);
    assert!(!proc_alive(pid), "registry {pid} survived drop");
    assert!(!dir.exists(), "{} left behind", dir.display());
    assert!(
        std::net::TcpStream::connect(addr).is_err(),
        "{addr} still accepts connections"
    );
}

#[test]
fn many_registries_start_in_parallel() {
    let handles: Vec<_> = (0..4).map(|_| std::thread::spawn(start)).collect();
    let regs: Vec<Registry> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    let addrs: std::collections::BTreeSet<_> = regs.iter().map(Registry::addr).collect();
    assert_eq!(addrs.len(), regs.len(), "each registry has its own port");
}
