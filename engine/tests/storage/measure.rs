//! Numbers for docs/storage.md, not assertions: run with
//! `cargo test --release -p husk-engine --test storage -- --ignored --nocapture
//! --test-threads=1 measure`.

use std::time::{Duration, Instant};

use husk_engine::storage::{Driver, Store, StoreOptions};

use crate::common::fixture;

fn once(image: &str, sync: bool, driver: Driver) -> [Duration; 4] {
    let t = tempfile::tempdir().unwrap();
    let opts = StoreOptions {
        sync,
        driver: Some(driver),
        ..StoreOptions::rootful()
    };
    let s = Store::open(&t.path().join("store"), opts).unwrap();
    let img = fixture(image);
    let t0 = Instant::now();
    img.import(&s);
    let t1 = Instant::now();
    let layers = s.ensure_image_layers(&img.sources()).unwrap();
    let t2 = Instant::now();
    let top = layers.last().map(|l| l.chain_id.clone());
    s.containers().create("m", top.as_ref(), driver).unwrap();
    s.containers().mount("m").unwrap();
    let t3 = Instant::now();
    s.containers().remove("m").unwrap();
    let t4 = Instant::now();
    [t1 - t0, t2 - t1, t3 - t2, t4 - t3]
}

#[test]
#[ignore = "prints timings; run by hand"]
fn measure() {
    for image in ["busybox", "layered"] {
        for (sync, driver) in [
            (true, Driver::Overlay),
            (false, Driver::Overlay),
            (true, Driver::Vfs),
        ] {
            // Warm the page cache and the fixture build first.
            once(image, sync, driver);
            let runs: Vec<[Duration; 4]> = (0..5).map(|_| once(image, sync, driver)).collect();
            let med = |i: usize| {
                let mut v: Vec<Duration> = runs.iter().map(|r| r[i]).collect();
                v.sort();
                v[v.len() / 2]
            };
            println!(
                "{image:8} sync={sync:5} {driver:7}: blobs {:>8.2?}  unpack {:>8.2?}  create+mount {:>8.2?}  remove {:>8.2?}",
                med(0),
                med(1),
                med(2),
                med(3)
            );
        }
    }
}

#[test]
#[ignore = "prints timings; run by hand"]
fn measure_inflate() {
    use std::io::Read;
    let img = fixture("busybox");
    let path = img.blob_path(&img.layers[0].digest);
    let blob = std::fs::read(path).unwrap();
    let mut times = Vec::new();
    for _ in 0..9 {
        let t = Instant::now();
        let mut r = husk_engine::storage::decompress(
            &blob[..],
            husk_engine::image::media::Compression::Gzip,
        )
        .unwrap();
        let mut buf = vec![0; 256 * 1024];
        let mut n = 0;
        loop {
            let k = r.read(&mut buf).unwrap();
            if k == 0 {
                break;
            }
            n += k;
        }
        times.push(t.elapsed());
        assert!(n > blob.len());
    }
    times.sort();
    println!(
        "inflate busybox layer ({} bytes): {:.2?}",
        blob.len(),
        times[4]
    );
}

/// Helper: one pull of an OCI layout into a fresh store, as a process.
pub fn helper_pull(env: &std::collections::HashMap<String, String>) {
    let s = Store::open(std::path::Path::new(&env["STORE"]), StoreOptions::rootful()).unwrap();
    let img = crate::common::read_layout(std::path::Path::new(&env["LAYOUT"]));
    img.import(&s);
    s.ensure_image_layers(&img.sources()).unwrap();
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

#[test]
#[ignore = "prints timings; run by hand"]
fn measure_against_skopeo() {
    let skopeo = husk_tests::tools::skopeo().unwrap();
    for image in ["busybox", "layered"] {
        let layout = husk_tests::fixtures::cached(image).layout_dir;
        let (mut husk, mut sk) = (Vec::new(), Vec::new());
        for round in 0..11 {
            let t = tempfile::tempdir().unwrap();
            let start = Instant::now();
            let st = crate::common::helper_command(
                "pull",
                &[
                    ("STORE", t.path().join("husk").display().to_string()),
                    ("LAYOUT", layout.display().to_string()),
                ],
            )
            .stdout(std::process::Stdio::null())
            .status()
            .unwrap();
            let h = start.elapsed();
            assert!(st.success());
            let dest = format!(
                "containers-storage:[overlay@{}+{}]{image}:latest",
                t.path().join("cs").display(),
                t.path().join("run").display()
            );
            let start = Instant::now();
            let st = std::process::Command::new(&skopeo)
                .args(["copy", "--quiet"])
                .arg(format!("oci:{}:latest", layout.display()))
                .arg(&dest)
                .status()
                .unwrap();
            let s = start.elapsed();
            assert!(st.success());
            // containers/storage leaves its overlay directory mounted.
            let m =
                std::ffi::CString::new(t.path().join("cs/overlay").display().to_string()).unwrap();
            // SAFETY: umount2 with a valid C string.
            unsafe { libc::umount2(m.as_ptr(), libc::MNT_DETACH) };
            if round > 0 {
                husk.push(h);
                sk.push(s);
            }
        }
        println!(
            "pull {image} from an OCI layout, process wall clock, median of 10: husk store {:.1?}, skopeo copy to containers-storage overlay {:.1?}",
            median(husk),
            median(sk)
        );
    }
}
