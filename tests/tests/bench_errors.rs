//! `husk bench startup` errors: unknown tools and bad flags exit 125 with
//! podman's `Error: ` line; a runtime that fails is reported with its
//! stderr while the others are still measured; husk alone (empty PATH, or
//! a PATH of husk and husk-runtime) still measures husk.

mod bench_support;

use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;

use bench_support::{husk_with_path, json, rows, QUICK};

fn bench(path: &str, extra: &[&str]) -> husk_tests::bundle::Output {
    let mut args = vec!["bench", "startup"];
    args.extend(QUICK);
    args.extend(extra);
    husk_with_path(path.as_ref(), &args)
}

#[track_caller]
fn fails_125(o: &husk_tests::bundle::Output, needles: &[&str]) {
    assert_eq!(o.code(), 125, "{o}");
    assert!(o.stderr.contains("Error: "), "podman's error prefix: {o}");
    for n in needles {
        assert!(o.stderr.contains(n), "stderr mentions {n:?}: {o}");
    }
    assert!(!o.stderr.contains("panicked"), "{o}");
}

#[test]
fn unknown_runtimes_and_engines_exit_125() {
    let path = std::env::var("PATH").unwrap_or_default();
    let o = bench(&path, &["--runtime", "no-such-runtime-xyz"]);
    fails_125(
        &o,
        &[
            "unknown runtime",
            "no-such-runtime-xyz",
            "not found on PATH",
        ],
    );
    let o = bench(&path, &["--runtime", "/nonexistent/crun"]);
    fails_125(
        &o,
        &["unknown runtime", "/nonexistent/crun", "no such file"],
    );
    let o = bench(&path, &["--engine", "no-such-engine-xyz"]);
    fails_125(&o, &["unknown engine", "no-such-engine-xyz"]);
    let o = bench(&path, &["--husk-runtime", "/nonexistent/husk-runtime"]);
    fails_125(&o, &["unknown runtime", "/nonexistent/husk-runtime"]);
}

#[test]
fn bad_flags_and_busybox_exit_125() {
    let path = std::env::var("PATH").unwrap_or_default();
    let raw = |args: &[&str]| {
        let mut full = vec!["bench", "startup", "--no-discover"];
        full.extend(args);
        husk_with_path(path.as_ref(), &full)
    };
    fails_125(&raw(&["--rounds", "0"]), &["at least 1"]);
    fails_125(&raw(&["-n", "1", "--parallel", "0"]), &["at least 1"]);
    fails_125(
        &bench(
            &path,
            &["--no-discover", "--busybox", "/nonexistent/busybox"],
        ),
        &["busybox", "/nonexistent/busybox", "busybox-static"],
    );
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("busybox");
    std::fs::write(&script, "#!/bin/sh\n").unwrap();
    fails_125(
        &bench(
            &path,
            &["--no-discover", "--busybox", script.to_str().unwrap()],
        ),
        &["not a 64-bit little-endian ELF"],
    );
}

#[test]
fn a_failing_runtime_is_reported_with_its_stderr() {
    let dir = tempfile::tempdir().unwrap();
    let fake = dir.path().join("broken-runtime");
    std::fs::write(
        &fake,
        "#!/bin/sh\necho \"broken-runtime: cannot $3 this bundle\" >&2\nexit 3\n",
    )
    .unwrap();
    std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
    let o = bench(
        "/usr/bin:/bin",
        &[
            "--no-discover",
            "--only",
            "runtimes",
            "--runtime",
            fake.to_str().unwrap(),
            "--json",
        ],
    );
    let doc = json(&o);
    let broken = rows(&doc, "broken-runtime");
    assert_eq!(broken.len(), 4, "{doc:#}");
    for r in broken {
        assert_eq!(r["status"], "failed", "{r}");
        let why = r["reason"].as_str().unwrap();
        assert!(
            why.contains("broken-runtime: cannot create this bundle"),
            "{why}"
        );
        assert!(why.contains("exit status 3"), "{why}");
        assert!(r["stats"].is_null());
    }
    for r in rows(&doc, "husk").iter().filter(|r| r["kind"] == "runtime") {
        assert_eq!(r["status"], "ok", "husk measured anyway: {r}");
    }
    // The table says so too.
    let o = bench(
        "/usr/bin:/bin",
        &[
            "--no-discover",
            "--only",
            "runtimes",
            "--runtime",
            fake.to_str().unwrap(),
        ],
    );
    assert!(o.status.success(), "{o}");
    assert!(o.stdout.contains("broken-runtime  create   failed"), "{o}");
    assert!(
        o.stdout.contains("broken-runtime (runtime) failed: "),
        "{o}"
    );
}

#[test]
fn husk_alone_with_an_empty_path() {
    let doc = json(&bench("", &["--json"]));
    let tools: Vec<&str> = doc["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["tool"].as_str().unwrap())
        .collect();
    assert!(tools.iter().all(|t| *t == "husk"), "{tools:?}");
    let measured = rows(&doc, "husk")
        .iter()
        .filter(|r| r["kind"] == "runtime" && r["status"] == "ok")
        .count();
    assert_eq!(measured, 4, "husk-runtime next to husk: {doc:#}");
}

#[test]
fn husk_alone_on_a_path_of_husk_and_husk_runtime() {
    let dir = tempfile::tempdir().unwrap();
    let path = bench_support::husk_only_path(dir.path());
    let o = bench(path.to_str().unwrap(), &["--json", "--only", "runtimes"]);
    let doc = json(&o);
    assert_eq!(doc["results"].as_array().map(Vec::len), Some(4), "{doc:#}");
}

#[test]
fn an_interrupted_benchmark_removes_its_containers_and_exits_130() {
    let tmp = tempfile::tempdir().unwrap();
    let child = std::process::Command::new(husk_tests::husk::husk_binary())
        .arg("--tmpdir")
        .arg(tmp.path())
        .args(["bench", "startup", "--only", "runtimes", "--no-discover"])
        .args(["-n", "1000000", "--warmup", "0"])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        // Its own process group, to signal it as a terminal's Ctrl-C does:
        // the runtime it is running dies mid-command too.
        .process_group(0)
        .spawn()
        .unwrap();
    let pid = child.id();
    // Interrupt once it is measuring: husk's state root holds a container.
    let measuring = || {
        std::fs::read_dir(tmp.path())
            .into_iter()
            .flatten()
            .flatten()
            .any(|w| {
                std::fs::read_dir(w.path().join("r0/state")).is_ok_and(|mut d| d.next().is_some())
            })
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !measuring() {
        assert!(
            std::time::Instant::now() < deadline,
            "the benchmark never started a container"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    // SAFETY: kill has no memory effects; the group is our child's, which
    // is not reaped yet.
    assert_eq!(unsafe { libc::kill(-(pid as i32), libc::SIGINT) }, 0);
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{stderr}");
    assert!(stderr.contains("Error: interrupted"), "{stderr}");
    let left: Vec<_> = std::fs::read_dir(tmp.path())
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    assert!(left.is_empty(), "work directory left behind: {left:?}");
    let prefix = format!("husk-bench-{pid}-");
    assert_eq!(
        cgroups_named(std::path::Path::new("/sys/fs/cgroup"), &prefix, 5),
        Vec::<std::path::PathBuf>::new()
    );
}

/// cgroup directories whose name starts with `prefix`, `depth` levels deep.
fn cgroups_named(dir: &std::path::Path, prefix: &str, depth: usize) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        if !e.file_type().is_ok_and(|t| t.is_dir()) {
            continue;
        }
        if e.file_name().to_string_lossy().starts_with(prefix) {
            found.push(e.path());
        } else if depth > 0 {
            found.extend(cgroups_named(&e.path(), prefix, depth - 1));
        }
    }
    found
}
