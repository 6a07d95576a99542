//! `husk-bench image-pull`: the time to pull the busybox fixture (one 1 MB
//! gzip layer) from a local registry into a fresh store, for `husk pull`,
//! `skopeo copy` (into an OCI layout: download only, no unpack) and
//! `podman pull` (into containers-storage, unpacked), interleaved round by
//! round so noise hits all alike. Whole processes are timed, as a user
//! sees them.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{bail, Context, Result};

use crate::stats::summarize;

fn husk_binary() -> Result<PathBuf> {
    if let Some(p) = std::env::var_os("HUSK_BIN") {
        return Ok(PathBuf::from(p));
    }
    let p = std::env::current_exe()?.with_file_name("husk");
    if !p.exists() {
        bail!(
            "{} not found: build it first (cargo build --release --bins) or set HUSK_BIN",
            p.display()
        );
    }
    Ok(p)
}

fn find_in_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

/// One contender: how to pull `reference` into the fresh directory `dir`.
struct Tool {
    name: &'static str,
    path: PathBuf,
    args: fn(&Path, &str) -> Vec<String>,
}

fn husk_args(dir: &Path, r: &str) -> Vec<String> {
    let d = dir.display();
    vec![
        "--root".into(),
        format!("{d}/root"),
        "--runroot".into(),
        format!("{d}/run"),
        "pull".into(),
        "-q".into(),
        "--tls-verify=false".into(),
        r.into(),
    ]
}

fn skopeo_args(dir: &Path, r: &str) -> Vec<String> {
    vec![
        "--insecure-policy".into(),
        "copy".into(),
        "-q".into(),
        "--src-tls-verify=false".into(),
        format!("docker://{r}"),
        format!("oci:{}/layout:latest", dir.display()),
    ]
}

fn podman_args(dir: &Path, r: &str) -> Vec<String> {
    let d = dir.display();
    vec![
        "--root".into(),
        format!("{d}/root"),
        "--runroot".into(),
        format!("{d}/run"),
        "pull".into(),
        "-q".into(),
        "--tls-verify=false".into(),
        r.into(),
    ]
}

fn run_once(tool: &Tool, dir: &Path, reference: &str) -> Result<f64> {
    let t = Instant::now();
    let out = Command::new(&tool.path)
        .args((tool.args)(dir, reference))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .with_context(|| format!("running {}", tool.path.display()))?;
    let ms = t.elapsed().as_secs_f64() * 1000.0;
    if !out.status.success() {
        bail!(
            "{} failed: {}",
            tool.name,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(ms)
}

/// Removes what a warm round pulled, so the next round pulls it again.
fn remove_image(tool: &Tool, dir: &Path, reference: &str) -> Result<()> {
    let args: Vec<String> = match tool.name {
        "skopeo copy (oci layout)" => {
            std::fs::remove_dir_all(dir.join("layout"))?;
            return Ok(());
        }
        _ => vec![
            "--root".into(),
            format!("{}/root", dir.display()),
            "--runroot".into(),
            format!("{}/run", dir.display()),
            "rmi".into(),
            reference.into(),
        ],
    };
    let st = Command::new(&tool.path)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()?;
    if !st.success() {
        bail!("{}: removing the image failed", tool.name);
    }
    Ok(())
}

/// `husk-bench image-pull [-n N] [--warm] [--json FILE] [--markdown FILE]`.
pub fn main(args: &[String]) -> Result<()> {
    let mut n = 10usize;
    let mut json_out = None;
    let mut md_out = None;
    let mut warm = false;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "-n" => n = it.next().context("-n needs a number")?.parse()?,
            "--warm" => warm = true,
            "--json" => json_out = Some(PathBuf::from(it.next().context("--json needs a file")?)),
            "--markdown" => {
                md_out = Some(PathBuf::from(it.next().context("--markdown needs a file")?))
            }
            other => bail!("unknown argument {other:?}"),
        }
    }
    let mut tools = vec![Tool {
        name: "husk pull",
        path: husk_binary()?,
        args: husk_args,
    }];
    if let Some(p) = find_in_path("skopeo") {
        tools.push(Tool {
            name: "skopeo copy (oci layout)",
            path: p,
            args: skopeo_args,
        });
    }
    if let Some(p) = find_in_path("podman") {
        tools.push(Tool {
            name: "podman pull",
            path: p,
            args: podman_args,
        });
    }
    let reg = husk_tests::registry::Registry::start()
        .map_err(|e| anyhow::anyhow!("starting the registry: {e}"))?;
    let f = husk_tests::fixtures::cached("busybox");
    let pushed = reg
        .push_layout(&f.layout_dir, &f.tag, "busybox")
        .map_err(|e| anyhow::anyhow!("pushing busybox: {e}"))?;
    let work = tempfile::tempdir()?;
    let mut samples: Vec<Vec<f64>> = vec![Vec::new(); tools.len()];
    // One warm-up round (page cache, registry), then interleaved rounds,
    // each in a fresh store.
    for round in 0..=n {
        for (i, tool) in tools.iter().enumerate() {
            let dir = if warm {
                work.path().join(format!("warm-{i}"))
            } else {
                work.path().join(format!("r{round}-{i}"))
            };
            std::fs::create_dir_all(&dir)?;
            let ms = run_once(tool, &dir, &pushed.reference)?;
            if round > 0 {
                samples[i].push(ms);
            }
            if warm {
                remove_image(tool, &dir, &pushed.reference)?;
                continue;
            }
            if tool.name == "podman pull" {
                let _ = Command::new(&tool.path)
                    .arg("--root")
                    .arg(dir.join("root"))
                    .arg("--runroot")
                    .arg(dir.join("run"))
                    .args(["system", "reset", "-f"])
                    .stdin(Stdio::null())
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .status();
            }
            let _ = std::fs::remove_dir_all(&dir);
        }
    }
    let sums: Vec<_> = samples.iter().map(|s| summarize(s, &[])).collect();
    let base = sums[0].p50;
    let mut rows = Vec::new();
    let mut md = String::from(
        "| tool | min ms | p50 ms | p90 ms | mean ms | p50 vs husk |\n|---|---|---|---|---|---|\n",
    );
    for (t, s) in tools.iter().zip(&sums) {
        rows.push(serde_json::json!({
            "tool": t.name, "path": t.path, "n": n,
            "min_ms": s.min, "p50_ms": s.p50, "p90_ms": s.p90, "p99_ms": s.p99,
            "mean_ms": s.mean, "p50_ratio_to_husk": s.p50 / base,
        }));
        md.push_str(&format!(
            "| {} | {:.1} | {:.1} | {:.1} | {:.1} | {:.2}x |\n",
            t.name,
            s.min,
            s.p50,
            s.p90,
            s.mean,
            s.p50 / base
        ));
    }
    let json = serde_json::json!({
        "benchmark": "image-pull",
        "workload": if warm {
            "busybox fixture (one 1 MB gzip layer) from a local docker-registry, one store per tool, image removed between rounds"
        } else {
            "busybox fixture (one 1 MB gzip layer) from a local docker-registry, fresh store each round"
        },
        "results": rows,
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
