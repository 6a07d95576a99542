//! `husk-bench pull`: pulling the ~1 MB busybox fixture from a local
//! registry into a fresh store every round: `husk pull` against `skopeo
//! copy` (into containers-storage, so it unpacks like a pull) and `podman
//! pull`, interleaved.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{anyhow, Result};
use serde_json::json;

use crate::args::Args;
use crate::engines::{husk_binary, unmount_under, Fixture};
use crate::report::{self, ms, Report};
use crate::stats::summarize;

const USAGE: &str = "usage: husk-bench pull [-n N] [--json FILE] [--markdown FILE]";

/// The pulling tools, in report order.
pub const TOOLS: [&str; 3] = ["husk pull", "skopeo copy", "podman pull"];

fn command(tool: &str, store: &Path, fx: &Fixture) -> Result<Command> {
    let root = store.join("root");
    let run = store.join("run");
    let mut c = match tool {
        "husk pull" => {
            let mut c = Command::new(husk_binary()?);
            c.arg("--root").arg(&root).arg("--runroot").arg(&run);
            c.args(["pull", &fx.reference]);
            c
        }
        "skopeo copy" => {
            let mut c = Command::new(husk_tests::tools::skopeo().map_err(|e| anyhow!("{e}"))?);
            c.args(["copy", "-q", "--src-tls-verify=false"])
                .arg(format!("docker://{}", fx.reference))
                .arg(format!(
                    "containers-storage:[overlay@{}+{}]{}",
                    root.display(),
                    run.display(),
                    fx.reference
                ));
            c
        }
        _ => {
            let mut c = Command::new(
                husk_tests::tools::find_tool("HUSK_PODMAN", "podman")
                    .map_err(|e| anyhow!("{e}"))?,
            );
            c.arg("--root").arg(&root).arg("--runroot").arg(&run);
            c.arg("--tmpdir").arg(store.join("tmp"));
            c.args(["pull", "-q", &fx.reference]);
            c
        }
    };
    c.env("CONTAINERS_REGISTRIES_CONF", fx.registries_conf())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    Ok(c)
}

/// One pull into a fresh store (ms), or why it failed.
fn pull_once(tool: &str, fx: &Fixture) -> Result<Result<f64, String>> {
    let store = tempfile::Builder::new().prefix("hb-").tempdir_in("/tmp")?;
    let mut cmd = command(tool, store.path(), fx)?;
    let start = Instant::now();
    let out = cmd.output()?;
    let elapsed = start.elapsed().as_secs_f64() * 1e3;
    unmount_under(store.path());
    if out.status.success() {
        return Ok(Ok(elapsed));
    }
    let err = String::from_utf8_lossy(&out.stderr);
    Ok(Err(err
        .trim()
        .lines()
        .last()
        .unwrap_or_default()
        .to_owned()))
}

/// Runs the benchmark.
pub fn run(args: &Args) -> Result<Report> {
    args.finish(USAGE)?;
    let n = args.n.unwrap_or(10);
    let load = report::load1();
    let fx = Fixture::start()?;
    let mut samples: Vec<Vec<f64>> = vec![Vec::new(); TOOLS.len()];
    let mut failed: Vec<Option<String>> = vec![None; TOOLS.len()];
    if !Command::new(husk_binary()?)
        .args(["pull", "--help"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()?
        .success()
    {
        failed[0] = Some("this husk has no `pull` command yet".into());
    }
    // One warm-up round (page cache, registry), then the series.
    for round in 0..=n {
        for (i, tool) in TOOLS.iter().enumerate() {
            if failed[i].is_some() {
                continue;
            }
            match pull_once(tool, &fx)? {
                Ok(t) if round > 0 => samples[i].push(t),
                Ok(_) => {}
                Err(why) => failed[i] = Some(why),
            }
        }
    }
    let header = [
        "tool",
        "n",
        "min ms",
        "p50 ms",
        "p90 ms",
        "mean ms",
        "p50 vs husk",
    ];
    let base = failed[0].is_none().then(|| summarize(&samples[0], &[]).p50);
    let mut rows = Vec::new();
    let mut results = Vec::new();
    for (i, tool) in TOOLS.iter().enumerate() {
        if let Some(why) = &failed[i] {
            let mut r = vec![tool.to_string(), format!("not available ({why})")];
            r.resize(header.len(), String::new());
            rows.push(r);
            results.push(json!({"tool": tool, "status": "unavailable", "reason": why}));
            continue;
        }
        let s = summarize(&samples[i], &[]);
        rows.push(vec![
            tool.to_string(),
            s.n.to_string(),
            ms(s.min),
            ms(s.p50),
            ms(s.p90),
            ms(s.mean),
            base.map_or("-".into(), |b| format!("{:.2}x", s.p50 / b)),
        ]);
        results.push(
            json!({"tool": tool, "status": "ok", "stats": s.to_json(), "samples_ms": samples[i]}),
        );
    }
    let md = format!(
        "### Pull of busybox ({:.0} KiB) from a local registry\n\n{n} interleaved rounds after one warm-up, \
         a fresh store every time (overlay). {}\n\n{}",
        fx.size as f64 / 1024.0,
        report::conditions(load),
        report::table(&header, &rows)
    );
    Ok(Report {
        json: json!({"benchmark": "pull", "image_bytes": fx.size, "rounds": n, "host": report::host(),
            "results": results}),
        markdown: md,
    })
}
