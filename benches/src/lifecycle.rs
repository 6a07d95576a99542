//! The runtime lifecycle benchmark: `RUNTIME --root R run --bundle B ID` of a
//! busybox `true`, for husk-runtime, crun and runc, interleaved.
//!
//! On a cgroup-hybrid host crun refuses to start anything while the cgroup2
//! mount at /sys/fs/cgroup/unified is visible, so the whole benchmark runs in
//! a private mount namespace with that mount hidden: every runtime sees the
//! same (cgroup v1 only) host.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{bail, Context, Result};

use crate::stats::{summarize, Summary};

const HIDDEN_ENV: &str = "HUSK_BENCH_PRIVATE_MOUNTS";

struct Runtime {
    name: String,
    path: PathBuf,
}

fn find_in_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

fn husk_runtime() -> Result<PathBuf> {
    if let Some(p) = std::env::var_os("HUSK_RUNTIME") {
        return Ok(PathBuf::from(p));
    }
    let exe = std::env::current_exe()?;
    let p = exe
        .parent()
        .map(|d| d.join("husk-runtime"))
        .context("locating husk-runtime")?;
    if !p.exists() {
        bail!(
            "{} not found: build it first (cargo build --release --bins)",
            p.display()
        );
    }
    Ok(p)
}

/// Re-executes the benchmark in a private mount namespace with the hybrid
/// host's cgroup2 mount hidden (needs root). Returns Ok(true) when it did.
fn reexec_hidden(args: &[String]) -> Result<bool> {
    if std::env::var_os(HIDDEN_ENV).is_some()
        || !Path::new("/sys/fs/cgroup/unified/cgroup.procs").exists()
    {
        return Ok(false);
    }
    let exe = std::env::current_exe()?;
    let script = "umount /sys/fs/cgroup/unified && exec \"$0\" runtime-lifecycle \"$@\"";
    let st = Command::new("unshare")
        .args(["-m", "--propagation", "private", "sh", "-c", script])
        .arg(exe)
        .args(args)
        .env(HIDDEN_ENV, "1")
        .status()
        .context("running unshare -m")?;
    if !st.success() {
        bail!("benchmark in the private mount namespace failed: {st}");
    }
    Ok(true)
}

fn make_bundle(dir: &Path, husk: &Path) -> Result<()> {
    let image = husk_tests::fixtures::cached("busybox");
    husk_tests::bundle::unpack_image(&image.layout_dir, &dir.join("rootfs"))
        .map_err(|e| anyhow::anyhow!("unpacking busybox: {e}"))?;
    let st = Command::new(husk)
        .args(["spec", "--bundle"])
        .arg(dir)
        .status()?;
    if !st.success() {
        bail!("husk-runtime spec failed");
    }
    let path = dir.join("config.json");
    let mut spec: serde_json::Value = serde_json::from_slice(&std::fs::read(&path)?)?;
    spec["process"]["terminal"] = false.into();
    spec["process"]["args"] = serde_json::json!(["true"]);
    // Limits every runtime must honour the same way; none here.
    spec["linux"]["resources"] = serde_json::json!({});
    std::fs::write(&path, serde_json::to_vec_pretty(&spec)?)?;
    Ok(())
}

/// GNU time, used to measure peak RSS: the kernel keeps the pre-exec
/// memory's high-water mark in ru_maxrss, so a runtime forked straight from
/// this (larger) benchmark would report our RSS; one forked by the small
/// `time` process reports its own (floor: time's RSS, about 1.3 MB).
const LAUNCHER: &str = "/usr/bin/time";

/// Runs one `run` and returns (milliseconds, peak RSS KiB). With `launch`,
/// the runtime is started through [`LAUNCHER`] (for RSS, not latency).
fn run_once(
    rt: &Runtime,
    root: &Path,
    bundle: &Path,
    id: &str,
    launch: bool,
) -> Result<(f64, i64)> {
    let start = Instant::now();
    let rss_file = root.with_extension(format!("{id}.rss"));
    let mut cmd = if launch {
        let mut c = Command::new(LAUNCHER);
        c.args(["-f", "%M", "-o"]).arg(&rss_file).arg(&rt.path);
        c
    } else {
        Command::new(&rt.path)
    };
    let child = cmd
        .arg("--root")
        .arg(root)
        .args(["run", "--bundle"])
        .arg(bundle)
        .arg(id)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("starting {}", rt.path.display()))?;
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    // SAFETY: rusage is plain data, zero is a valid initial value.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: pid is our child; status and usage are valid out-pointers.
    let rc = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    let elapsed = start.elapsed().as_secs_f64() * 1000.0;
    if rc != pid {
        bail!("wait4 for {} failed", rt.name);
    }
    if !libc::WIFEXITED(status) || libc::WEXITSTATUS(status) != 0 {
        let mut err = String::new();
        if let Some(mut e) = child.stderr {
            use std::io::Read;
            let _ = e.read_to_string(&mut err);
        }
        bail!("{} run failed (status {status}): {}", rt.name, err.trim());
    }
    if launch {
        let text = std::fs::read_to_string(&rss_file)
            .with_context(|| format!("reading {}", rss_file.display()))?;
        let kb = text
            .trim()
            .lines()
            .last()
            .and_then(|l| l.trim().parse().ok())
            .with_context(|| format!("parsing GNU time output {text:?}"))?;
        return Ok((elapsed, kb));
    }
    Ok((elapsed, usage.ru_maxrss))
}

/// Entry point of `husk-bench runtime-lifecycle`.
pub fn main(args: &[String]) -> Result<()> {
    let mut n = 50usize;
    let mut json_out = None;
    let mut md_out = None;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "-n" => n = it.next().context("-n needs a number")?.parse()?,
            "--json" => json_out = Some(PathBuf::from(it.next().context("--json needs a file")?)),
            "--markdown" => {
                md_out = Some(PathBuf::from(it.next().context("--markdown needs a file")?))
            }
            other => bail!("unknown argument {other:?}"),
        }
    }
    if reexec_hidden(args)? {
        return Ok(());
    }
    let husk = husk_runtime()?;
    let mut runtimes = vec![Runtime {
        name: "husk-runtime".into(),
        path: husk.clone(),
    }];
    for name in ["crun", "runc"] {
        if let Some(p) = find_in_path(name) {
            runtimes.push(Runtime {
                name: name.into(),
                path: p,
            });
        }
    }
    let work = tempfile::tempdir()?;
    let bundle = work.path().join("bundle");
    make_bundle(&bundle, &husk)?;
    let mut samples: Vec<(Vec<f64>, Vec<i64>)> = vec![(Vec::new(), Vec::new()); runtimes.len()];
    // One warm-up round, not recorded, then interleaved rounds; every
    // fifth round also measures peak RSS through the launcher.
    for round in 0..=n {
        for (i, rt) in runtimes.iter().enumerate() {
            let root = work.path().join(format!("root-{}", rt.name));
            let id = format!("bench-{round}");
            let (ms, _) = run_once(rt, &root, &bundle, &id, false)?;
            if round > 0 {
                samples[i].0.push(ms);
            }
            if round % 5 == 0 {
                let (_, rss) = run_once(rt, &root, &bundle, &format!("rss-{round}"), true)?;
                samples[i].1.push(rss);
            }
        }
    }
    let sums: Vec<Summary> = samples.iter().map(|(l, r)| summarize(l, r)).collect();
    let base = sums[0].p50;
    let mut rows = Vec::new();
    let mut md = String::from(
        "| runtime | min ms | p50 ms | p90 ms | p99 ms | mean ms | p50 vs husk | peak RSS KiB |\n|---|---|---|---|---|---|---|---|\n",
    );
    for (rt, s) in runtimes.iter().zip(&sums) {
        rows.push(serde_json::json!({
            "runtime": rt.name, "path": rt.path, "n": n,
            "min_ms": s.min, "p50_ms": s.p50, "p90_ms": s.p90, "p99_ms": s.p99,
            "mean_ms": s.mean, "p50_ratio_to_husk": s.p50 / base, "peak_rss_kb": s.max_rss_kb,
        }));
        md.push_str(&format!(
            "| {} | {:.2} | {:.2} | {:.2} | {:.2} | {:.2} | {:.2}x | {} |\n",
            rt.name,
            s.min,
            s.p50,
            s.p90,
            s.p99,
            s.mean,
            s.p50 / base,
            s.max_rss_kb
        ));
    }
    let json = serde_json::json!({"benchmark": "runtime-lifecycle", "workload": "busybox true", "results": rows});
    println!("{md}");
    if let Some(p) = json_out {
        std::fs::write(&p, serde_json::to_vec_pretty(&json)?)?;
    }
    if let Some(p) = md_out {
        std::fs::write(&p, md)?;
    }
    Ok(())
}
