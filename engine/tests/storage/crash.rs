//! kill -9 in the middle of a blob write and of a layer unpack: nothing
//! half-made is visible, the lock dies with the process, and the next
//! attempt succeeds.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Child, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use husk_engine::image::digest::Digest;
use husk_engine::image::media::Compression;
use husk_engine::storage::{ChainId, Fetched, Store, StoreOptions};
use husk_tests::fixtures::expected;

use crate::common::{
    assert_no_layers_or_leftovers, fixture, helper_command, require_root, store, tree,
};

/// After this many bytes a helper says it stalled, and stalls.
const STALL_AFTER: usize = 256 * 1024;

/// The line a stalled helper prints (on a line of its own: the test
/// harness may have printed part of a line before).
const PROGRESS: &str = "husk-helper-stalled";

fn stall() -> ! {
    println!("\n{PROGRESS}");
    std::io::stdout().flush().unwrap();
    // The parent kills us long before this; a parent that failed to must
    // not leave us behind for ever.
    std::thread::sleep(std::time::Duration::from_secs(300));
    panic!("the helper was never killed");
}

/// Reads through, stalling once `STALL_AFTER` bytes have passed.
struct Stalling<R>(R, usize);
impl<R: Read> Read for Stalling<R> {
    fn read(&mut self, b: &mut [u8]) -> std::io::Result<usize> {
        if self.1 >= STALL_AFTER {
            stall();
        }
        let max = b.len().min(16 * 1024);
        let n = self.0.read(&mut b[..max])?;
        self.1 += n;
        Ok(n)
    }
}

fn open_store(env: &HashMap<String, String>) -> Store {
    Store::open(Path::new(&env["STORE"]), StoreOptions::rootful()).unwrap()
}

/// Helper: writes half of a blob through fetch_once, then stalls holding
/// the lock.
pub fn helper_blob_write(env: &HashMap<String, String>) {
    let s = open_store(env);
    let mut blobs = s.blobs().clone();
    if env.contains_key("NAMED") {
        blobs = blobs.with_named_tmp_files();
    }
    let d = Digest::parse(&env["DIGEST"]).unwrap();
    let size: u64 = env["SIZE"].parse().unwrap();
    blobs
        .fetch_once(&d, Some(size), |w| {
            let chunk = vec![b'x'; STALL_AFTER];
            w.write_all(&chunk)?;
            w.flush()?;
            stall()
        })
        .unwrap();
}

/// Helper: unpacks a layer read from stdin, stalling midway.
pub fn helper_ensure_layer(env: &HashMap<String, String>) {
    let s = open_store(env);
    let diff = Digest::parse(&env["DIFF_ID"]).unwrap();
    s.layers()
        .ensure_from(
            None,
            &diff,
            None,
            Compression::Gzip,
            Stalling(std::io::stdin().lock(), 0),
        )
        .unwrap();
    panic!("the layer must not finish unpacking");
}

/// Waits for the helper's stall line.
fn wait_progress(child: &mut Child) {
    let out = child.stdout.take().unwrap();
    let mut lines = BufReader::new(out).lines();
    let seen = lines.any(|l| l.map(|l| l.trim() == PROGRESS).unwrap_or(false));
    assert!(
        seen,
        "the helper exited before stalling: {:?}",
        child.wait()
    );
}

/// Kills the helper with SIGKILL and reaps it.
fn kill(mut child: Child) {
    // SAFETY: kill(2) on our own child's pid.
    assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGKILL) }, 0);
    assert!(!child.wait().unwrap().success());
}

fn kill_at_progress(mut child: Child) {
    wait_progress(&mut child);
    kill(child);
}

fn blob_data() -> Vec<u8> {
    vec![b'x'; 2 * STALL_AFTER]
}

#[test]
fn kill_mid_blob_write_leaves_nothing_and_releases_the_lock() {
    require_root("kill_mid_blob_write_leaves_nothing_and_releases_the_lock");
    let (_t, s) = store(None);
    let data = blob_data();
    let d = Digest::sha256_of(&data);
    let child = helper_command(
        "blob-write",
        &[
            ("STORE", s.root().display().to_string()),
            ("DIGEST", d.to_string()),
            ("SIZE", data.len().to_string()),
        ],
    )
    .stdout(Stdio::piped())
    .spawn()
    .unwrap();
    let mut child = child;
    wait_progress(&mut child);
    // The helper holds the blob's lock: a second fetch waits for it and
    // runs once the helper is gone.
    let runs = Arc::new(AtomicUsize::new(0));
    let waiter = {
        let s = Store::open(s.root(), s.options().clone()).unwrap();
        let (d, data, runs) = (d.clone(), data.clone(), runs.clone());
        std::thread::spawn(move || {
            s.blobs().fetch_once(&d, Some(data.len() as u64), |w| {
                runs.fetch_add(1, Ordering::SeqCst);
                Ok(w.write_all(&data)?)
            })
        })
    };
    // However long this is, the waiter cannot get the lock while the helper
    // lives.
    std::thread::sleep(std::time::Duration::from_millis(200));
    assert_eq!(
        runs.load(Ordering::SeqCst),
        0,
        "a second fetch ran while the first held the lock"
    );
    assert!(!s.blobs().has(&d));
    kill(child);
    assert_eq!(waiter.join().unwrap().unwrap(), Fetched::Written);
    assert_eq!(runs.load(Ordering::SeqCst), 1);
    assert_eq!(s.blobs().read(&d).unwrap(), data);
    assert!(
        tree(&s.root().join("blobs/tmp")).is_empty(),
        "{:?}",
        tree(&s.root().join("blobs/tmp"))
    );
}

#[test]
fn kill_mid_blob_write_is_invisible() {
    require_root("kill_mid_blob_write_is_invisible");
    let (_t, s) = store(None);
    let data = blob_data();
    let d = Digest::sha256_of(&data);
    for named in [false, true] {
        let mut env = vec![
            ("STORE", s.root().display().to_string()),
            ("DIGEST", d.to_string()),
            ("SIZE", data.len().to_string()),
        ];
        if named {
            env.push(("NAMED", "1".into()));
        }
        let child = helper_command("blob-write", &env)
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        kill_at_progress(child);
        assert!(!s.blobs().has(&d));
        assert!(s.blobs().list().unwrap().is_empty());
        let tmp = tree(&s.root().join("blobs/tmp"));
        if named {
            // The fallback's file is visible until swept: its writer is gone.
            assert_eq!(tmp.len(), 1, "{tmp:?}");
            assert_eq!(s.sweep().unwrap(), 1);
        } else {
            assert!(
                tmp.is_empty(),
                "an O_TMPFILE write must leave nothing: {tmp:?}"
            );
        }
        assert_eq!(
            s.blobs()
                .fetch_once(&d, Some(data.len() as u64), |w| Ok(w.write_all(&data)?))
                .unwrap(),
            Fetched::Written
        );
        assert!(s.blobs().remove(&d).unwrap());
    }
}

#[test]
fn kill_mid_unpack_leaves_only_staging_which_the_next_caller_cleans() {
    require_root("kill_mid_unpack_leaves_only_staging_which_the_next_caller_cleans");
    let (_t, s) = store(None);
    let img = fixture("busybox");
    let src = img.sources().remove(0);
    let blob = std::fs::read(img.blob_path(&src.blob)).unwrap();
    assert!(
        blob.len() > STALL_AFTER * 2,
        "the busybox layer is too small to stall midway"
    );
    let mut child = helper_command(
        "ensure-layer",
        &[
            ("STORE", s.root().display().to_string()),
            ("DIFF_ID", src.diff_id.to_string()),
        ],
    )
    .stdin(Stdio::piped())
    .stdout(Stdio::piped())
    .spawn()
    .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let feeder = std::thread::spawn(move || {
        // Fails with EPIPE once the helper is killed; that is expected.
        let _ = stdin.write_all(&blob);
    });
    kill_at_progress(child);
    feeder.join().unwrap();

    let staging = tree(&s.root().join("tmp"));
    assert!(
        staging
            .iter()
            .any(|p| p.starts_with("layer-") && p.contains("/diff/")),
        "the killed unpack should have left a partial staging dir: {staging:?}"
    );
    assert!(
        s.layers().list().unwrap().is_empty(),
        "no layer may be visible"
    );
    // The next caller cleans up and unpacks: the same store handle (a
    // long-lived process) sweeps before unpacking...
    img.import(&s);
    s.ensure_image_layers(std::slice::from_ref(&src)).unwrap();
    assert!(
        tree(&s.root().join("tmp")).is_empty(),
        "ensure sweeps staging"
    );
    assert!(s.layers().remove(&ChainId::base(&src.diff_id)).unwrap());
    // ...and so does opening the store (the next command).
    std::fs::create_dir(s.root().join("tmp/layer-0123456789abcdef-1-0-0")).unwrap();
    let s2 = Store::open(s.root(), s.options().clone()).unwrap();
    assert!(
        tree(&s.root().join("tmp")).is_empty(),
        "opening the store sweeps staging"
    );
    let l = s2.ensure_image_layers(&[src]).unwrap();
    expected::busybox()
        .check(&s2.layers().diff_path(&l[0].chain_id))
        .unwrap_or_else(|e| panic!("{e:#?}"));
    assert!(tree(&s.root().join("tmp")).is_empty());
    // And removing it leaves the store empty again.
    assert!(s2.layers().remove(&l[0].chain_id).unwrap());
    assert_no_layers_or_leftovers(&s2);
}
