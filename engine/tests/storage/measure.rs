//! Numbers for docs/storage.md, not assertions: run with
//! `cargo test -p husk-engine --test storage -- --ignored --nocapture measure`.

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
