//! `husk-bench shim-rss`: the memory of idle shims (VmRSS and Pss of each
//! monitor holding a running `sleep`), against conmon's holding the same
//! container when conmon is installed, and the latency `spawn` adds on top
//! of `husk-runtime create`.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use crate::stats::summarize;

fn sibling(name: &str, env: &str) -> Result<PathBuf> {
    if let Some(p) = std::env::var_os(env) {
        return Ok(PathBuf::from(p));
    }
    let exe = std::env::current_exe()?;
    let p = exe.with_file_name(name);
    if !p.exists() {
        bail!(
            "{} not found: build it first (cargo build --release --bins) or set {env}",
            p.display()
        );
    }
    Ok(p)
}

fn make_bundle(dir: &Path, runtime: &Path, args: &[&str]) -> Result<()> {
    let image = husk_tests::fixtures::cached("busybox");
    husk_tests::bundle::unpack_image(&image.layout_dir, &dir.join("rootfs"))
        .map_err(|e| anyhow::anyhow!("unpacking busybox: {e}"))?;
    let st = Command::new(runtime)
        .args(["spec", "--bundle"])
        .arg(dir)
        .status()?;
    if !st.success() {
        bail!("husk-runtime spec failed");
    }
    let path = dir.join("config.json");
    let mut spec: serde_json::Value = serde_json::from_slice(&std::fs::read(&path)?)?;
    spec["process"]["terminal"] = serde_json::json!(false);
    spec["process"]["args"] = serde_json::json!(args);
    std::fs::write(&path, serde_json::to_vec_pretty(&spec)?)?;
    Ok(())
}

/// (VmRSS, Pss) of a process in KiB.
fn memory(pid: i32) -> Result<(u64, u64)> {
    let field = |text: &str, key: &str| {
        text.lines()
            .find(|l| l.starts_with(key))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    let status =
        std::fs::read_to_string(format!("/proc/{pid}/status")).context("reading status")?;
    let smaps = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).unwrap_or_default();
    Ok((field(&status, "VmRSS:"), field(&smaps, "Pss:")))
}

fn check(st: std::process::Output, what: &str) -> Result<std::process::Output> {
    if !st.status.success() {
        bail!("{what}: {}", String::from_utf8_lossy(&st.stderr));
    }
    Ok(st)
}

struct Run<'a> {
    husk: &'a Path,
    runtime: &'a Path,
    bundle: &'a Path,
    work: &'a Path,
    root: PathBuf,
}

impl Run<'_> {
    fn spawn(&self, id: &str, attach_dir: &Path) -> Result<(i32, f64)> {
        let t = Instant::now();
        let out = Command::new(self.husk)
            .args(["__husk-shim", "spawn", "--id", id, "--bundle"])
            .arg(self.bundle)
            .arg("--root")
            .arg(&self.root)
            .arg("--log-path")
            .arg(self.work.join(format!("{id}.log")))
            .arg("--attach-dir")
            .arg(attach_dir)
            .stdin(Stdio::null())
            .output()?;
        let ms = t.elapsed().as_secs_f64() * 1000.0;
        let out = check(out, "husk __husk-shim spawn")?;
        let shim = String::from_utf8_lossy(&out.stdout)
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .context("spawn printed no shim pid")?;
        Ok((shim, ms))
    }

    fn runtime(&self, args: &[&str]) -> Result<std::process::Output> {
        let out = Command::new(self.runtime)
            .arg("--root")
            .arg(&self.root)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .output()?;
        check(out, &format!("husk-runtime {args:?}"))
    }

    fn create_ms(&self, id: &str) -> Result<f64> {
        let t = Instant::now();
        let out = Command::new(self.runtime)
            .arg("--root")
            .arg(&self.root)
            .args(["create", "--bundle"])
            .arg(self.bundle)
            .arg(id)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()?;
        let ms = t.elapsed().as_secs_f64() * 1000.0;
        if !out.success() {
            bail!("husk-runtime create failed");
        }
        Ok(ms)
    }
}

/// Pids of conmon processes running on this host (podman's monitors).
///
/// conmon driving husk-runtime directly hangs in `create` here (a runtime
/// issue, see docs/shim.md), so the comparison is with the conmons podman
/// keeps for the containers it runs; each holds one idle container.
fn running_conmons() -> Vec<i32> {
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else {
            continue;
        };
        if std::fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|c| c.trim() == "conmon")
        {
            out.push(pid);
        }
    }
    out
}

fn mean(v: &[u64]) -> f64 {
    v.iter().sum::<u64>() as f64 / v.len().max(1) as f64
}

/// Entry point of `husk-bench shim-rss`.
pub fn main(args: &[String]) -> Result<()> {
    let (mut n, mut rounds) = (10usize, 30usize);
    let (mut json_out, mut md_out) = (None, None);
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "-n" => n = it.next().context("-n needs a number")?.parse()?,
            "--rounds" => rounds = it.next().context("--rounds needs a number")?.parse()?,
            "--json" => json_out = Some(PathBuf::from(it.next().context("--json needs a file")?)),
            "--markdown" => {
                md_out = Some(PathBuf::from(it.next().context("--markdown needs a file")?))
            }
            other => bail!("unknown argument {other:?}"),
        }
    }
    let husk = sibling("husk", "HUSK_BIN")?;
    let runtime = sibling("husk-runtime", "HUSK_RUNTIME")?;
    let work = tempfile::tempdir()?;
    let bundle = work.path().join("bundle");
    make_bundle(&bundle, &runtime, &["sleep", "1000"])?;
    let root = work.path().join("root");
    std::fs::create_dir_all(&root)?;
    let r = Run {
        husk: &husk,
        runtime: &runtime,
        bundle: &bundle,
        work: work.path(),
        root,
    };
    let mut ids = Vec::new();
    let (mut rss, mut pss) = (Vec::new(), Vec::new());
    let mut shims = Vec::new();
    for i in 0..n {
        let id = format!("idle-{i}");
        // One attach dir per shim.
        let (shim, _) = r.spawn_in(&id)?;
        r.runtime(&["start", &id])?;
        shims.push(shim);
        ids.push(id);
    }
    std::thread::sleep(Duration::from_millis(500));
    for &s in &shims {
        let (a, b) = memory(s)?;
        rss.push(a);
        pss.push(b);
    }
    let mut rows = vec![serde_json::json!({
        "monitor": "husk-shim", "n": n, "mean_rss_kb": mean(&rss), "max_rss_kb": rss.iter().max(),
        "mean_pss_kb": mean(&pss), "max_pss_kb": pss.iter().max(),
    })];
    let mut md = String::from("| monitor | shims | mean VmRSS KiB | max VmRSS KiB | mean Pss KiB | max Pss KiB |\n|---|---|---|---|---|---|\n");
    md.push_str(&format!(
        "| husk-shim | {n} | {:.0} | {} | {:.0} | {} |\n",
        mean(&rss),
        rss.iter().max().unwrap_or(&0),
        mean(&pss),
        pss.iter().max().unwrap_or(&0)
    ));
    let conmons = running_conmons();
    if conmons.is_empty() {
        md.push_str("| conmon | 0 | not measured: no conmon is running on this host | | | |\n");
    } else {
        let (mut crss, mut cpss) = (Vec::new(), Vec::new());
        for &p in &conmons {
            if let Ok((a, b)) = memory(p) {
                crss.push(a);
                cpss.push(b);
            }
        }
        rows.push(serde_json::json!({
            "monitor": "conmon (running on the host)", "n": crss.len(), "mean_rss_kb": mean(&crss),
            "max_rss_kb": crss.iter().max(), "mean_pss_kb": mean(&cpss), "max_pss_kb": cpss.iter().max(),
        }));
        md.push_str(&format!(
            "| conmon (running on the host) | {} | {:.0} | {} | {:.0} | {} |\n",
            crss.len(),
            mean(&crss),
            crss.iter().max().unwrap_or(&0),
            mean(&cpss),
            cpss.iter().max().unwrap_or(&0)
        ));
    }
    for id in &ids {
        let _ = r.runtime(&["delete", "--force", id]);
    }
    // Latency: spawn (exec husk, fork helper, create, report) against a
    // direct `husk-runtime create`, interleaved.
    let (mut direct, mut shimmed) = (Vec::new(), Vec::new());
    for round in 0..=rounds {
        let a = format!("lat-direct-{round}");
        let ms_a = r.create_ms(&a)?;
        r.runtime(&["delete", "--force", &a])?;
        let b = format!("lat-shim-{round}");
        let (_, ms_b) = r.spawn_in(&b)?;
        r.runtime(&["delete", "--force", &b])?;
        if round > 0 {
            direct.push(ms_a);
            shimmed.push(ms_b);
        }
    }
    let (d, s) = (summarize(&direct, &[]), summarize(&shimmed, &[]));
    md.push_str(&format!(
        "\n| create path | rounds | min ms | p50 ms | p90 ms | mean ms |\n|---|---|---|---|---|---|\n\
         | husk-runtime create | {rounds} | {:.2} | {:.2} | {:.2} | {:.2} |\n\
         | husk __husk-shim spawn | {rounds} | {:.2} | {:.2} | {:.2} | {:.2} |\n\
         \nspawn adds {:.2} ms at the median.\n",
        d.min, d.p50, d.p90, d.mean, s.min, s.p50, s.p90, s.mean, s.p50 - d.p50
    ));
    let json = serde_json::json!({
        "benchmark": "shim-rss", "workload": "busybox sleep, idle", "memory": rows,
        "latency": {"rounds": rounds, "create_p50_ms": d.p50, "spawn_p50_ms": s.p50,
                    "create_mean_ms": d.mean, "spawn_mean_ms": s.mean, "added_p50_ms": s.p50 - d.p50},
        "husk": husk,
    });
    println!("{md}");
    if let Some(p) = json_out {
        std::fs::write(&p, serde_json::to_vec_pretty(&json)?)?;
    }
    if let Some(p) = md_out {
        std::fs::write(&p, md)?;
    }
    Ok(())
}

impl Run<'_> {
    /// [`Run::spawn`] with an attach dir of its own.
    fn spawn_in(&self, id: &str) -> Result<(i32, f64)> {
        let dir = self.work.join(id);
        std::fs::create_dir_all(&dir)?;
        self.spawn(id, &dir)
    }
}
