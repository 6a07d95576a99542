//! `husk bench startup` against engines: podman (with its default runtime
//! and with +runc) from a private store holding the busybox image the
//! benchmark builds, husk's own `run` (reported unavailable until it
//! exists), and an engine that fails, reported with its stderr.

mod bench_support;

use std::os::unix::fs::PermissionsExt;

use bench_support::{husk_with_path, json, rows, xml_elements, QUICK};
use husk_tests::tools::{find_tool, require};

fn engines(extra: &[&str]) -> husk_tests::bundle::Output {
    let mut args = vec!["bench", "startup", "--only", "engines", "--no-discover"];
    args.extend(QUICK);
    args.extend(extra);
    husk_with_path(
        std::env::var_os("PATH").unwrap_or_default().as_os_str(),
        &args,
    )
}

#[test]
fn podman_runs_from_a_private_store_next_to_husk() {
    let podman = require(find_tool("HUSK_PODMAN", "podman"));
    let dir = tempfile::tempdir().unwrap();
    let chart = dir.path().join("engines.svg");
    let podman = podman.to_str().unwrap();
    let runc = format!("{podman}+runc");
    let o = engines(&[
        "--engine",
        podman,
        "--engine",
        &runc,
        "--json",
        "--chart",
        chart.to_str().unwrap(),
    ]);
    let doc = json(&o);
    for name in ["podman", "podman+runc"] {
        let r = rows(&doc, name);
        assert_eq!(r.len(), 1, "{name}: {doc:#}");
        assert_eq!(r[0]["kind"], "engine");
        assert_eq!(r[0]["op"], "run --rm");
        assert_eq!(r[0]["status"], "ok", "{name}: {:#}", r[0]);
        assert_eq!(r[0]["samples_ms"].as_array().map(Vec::len), Some(1));
        assert!(r[0]["peak_rss_kib"].as_u64().is_some_and(|k| k > 0));
        assert!(r[0]["ratio"]["p50"].is_number());
    }
    let husk = rows(&doc, "husk");
    assert_eq!(husk.len(), 1, "only husk's engine row: {doc:#}");
    match husk[0]["status"].as_str() {
        Some("ok") => {}
        Some("unavailable") => {
            // Ratios then fall back to the first measured engine.
            assert_eq!(rows(&doc, "podman")[0]["baseline"], "podman");
            assert_eq!(rows(&doc, "podman")[0]["ratio"]["p50"], 1.0);
        }
        other => panic!("husk engine {other:?}: {doc:#}"),
    }
    let els = xml_elements(&std::fs::read_to_string(&chart).unwrap());
    let series: Vec<&str> = els
        .iter()
        .filter(|e| e.attrs.get("class").map(String::as_str) == Some("series"))
        .map(|e| e.attrs["data-tool"].as_str())
        .collect();
    assert!(
        series.contains(&"podman") && series.contains(&"podman+runc"),
        "{series:?}"
    );
    // The private store is gone with the benchmark's work directory.
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(
        !mounts.contains("husk-bench-"),
        "leftover mounts:\n{mounts}"
    );
}

#[test]
fn an_engine_that_fails_is_reported_with_its_stderr() {
    let dir = tempfile::tempdir().unwrap();
    let fake = dir.path().join("fake-podman");
    std::fs::write(
        &fake,
        "#!/bin/sh\necho \"fake-podman: no storage for $*\" >&2\nexit 125\n",
    )
    .unwrap();
    std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
    let o = engines(&["--engine", fake.to_str().unwrap()]);
    let text = &o.stdout;
    assert!(o.status.success() || o.code() == 125, "{o}");
    let all = format!("{}{}", o.stdout, o.stderr);
    assert!(all.contains("fake-podman: no storage for"), "{o}");
    assert!(!all.contains("panicked"), "{o}");
    if o.status.success() {
        assert!(text.contains("fake-podman (engine) failed: "), "{o}");
    } else {
        // Nothing was measured (husk has no `run` yet): an error naming both.
        assert!(o.stderr.contains("Error: nothing could be measured"), "{o}");
    }
}
