//! Measures `container::spec::generate` for `husk run --rm busybox true`
//! on the busybox fixture: `spec_bench [ITERATIONS] [USERDATA-PARENT]
//! [--print]`. The userdata directories go under USERDATA-PARENT (default
//! /dev/shm: husk's runroot, /run/husk or $XDG_RUNTIME_DIR/husk, is a
//! tmpfs like it).
//!
//! Each iteration generates into a fresh userdata directory (as every
//! `husk run` does) and serialises the spec to JSON (as the bundle write
//! does). Prints the median and 90th percentile of both.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use husk_engine::container::options::ContainerOptions;
use husk_engine::container::spec::{generate, IdContext, NamespaceJoins, SpecInput};
use husk_engine::image::config::ImageConfig;

fn main() {
    let mut args = std::env::args().skip(1);
    let n: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(1000);
    let parent = args
        .next()
        .filter(|a| !a.starts_with("--"))
        .unwrap_or_else(|| "/dev/shm".into());
    let print = std::env::args().any(|a| a == "--print");
    let built = husk_tests::fixtures::cached("busybox");
    let manifest =
        husk_tests::fixtures::layout::read_json_blob(&built.layout_dir, &built.digest).unwrap();
    let blob = husk_tests::fixtures::layout::read_blob(
        &built.layout_dir,
        manifest["config"]["digest"].as_str().unwrap(),
    )
    .unwrap();
    let image: ImageConfig = serde_json::from_slice(&blob).unwrap();
    let work = tempfile::tempdir().unwrap();
    let userdata_root = tempfile::tempdir_in(&parent).unwrap();
    let rootfs = work.path().join("rootfs");
    husk_tests::bundle::unpack_image(&built.layout_dir, &rootfs).unwrap();
    let opts = ContainerOptions {
        command: vec!["true".into()],
        rm: true,
        read_only_tmpfs: true,
        ..Default::default()
    };
    let ids = IdContext::default();
    let joins = NamespaceJoins::default();
    let exe = PathBuf::from("/usr/bin/husk");
    let mut gen_t = Vec::with_capacity(n);
    let mut json_t = Vec::with_capacity(n);
    for i in 0..n {
        let userdata = userdata_root.path().join(format!("u{i}"));
        std::fs::create_dir(&userdata).unwrap();
        let id = format!("{:064x}", i + 1);
        let t = Instant::now();
        let g = generate(&SpecInput {
            id: &id,
            name: "bench",
            opts: &opts,
            image: Some(&image),
            rootfs: &rootfs,
            userdata: &userdata,
            rootless: false,
            ids: &ids,
            namespaces: &joins,
            husk_exe: &exe,
            cgroup_parent: None,
            image_name: "busybox",
            image_id: "x",
            graph_root: None,
        })
        .unwrap();
        gen_t.push(t.elapsed());
        let t = Instant::now();
        let json = serde_json::to_vec(&g.spec).unwrap();
        json_t.push(t.elapsed());
        if print && i == 0 {
            println!("{}", serde_json::to_string_pretty(&g.spec).unwrap());
            eprintln!("config.json: {} bytes", json.len());
        }
    }
    let stats = |v: &mut Vec<Duration>| {
        v.sort();
        (v[v.len() / 2], v[v.len() * 9 / 10])
    };
    let (g50, g90) = stats(&mut gen_t);
    let (j50, j90) = stats(&mut json_t);
    eprintln!(
        "generate: median {g50:?}, p90 {g90:?}; to JSON: median {j50:?}, p90 {j90:?} ({n} runs)"
    );
    // The parts without file I/O.
    use husk_engine::container::spec::{caps, security};
    let mut sec_t = Vec::with_capacity(n);
    let mut bnd_t = Vec::with_capacity(n);
    for _ in 0..n {
        let t = Instant::now();
        let b = caps::bounding_of(caps::DEFAULT);
        bnd_t.push(t.elapsed());
        let t = Instant::now();
        let f = security::seccomp(&security::SecurityOpts::default(), false, caps::DEFAULT & b)
            .unwrap();
        sec_t.push(t.elapsed());
        assert!(f.is_some());
    }
    let (s50, s90) = stats(&mut sec_t);
    let (b50, b90) = stats(&mut bnd_t);
    eprintln!(
        "  seccomp profile: median {s50:?}, p90 {s90:?}; bounding set: median {b50:?}, p90 {b90:?}"
    );
}
