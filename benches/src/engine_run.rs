//! `husk-bench engine-run`: `ENGINE run --rm busybox true`, husk against
//! podman+crun and podman+runc in the same interleaved run, rootful and
//! rootless (as the test user).

use anyhow::Result;
use serde_json::json;

use crate::args::Args;
use crate::engines::{self, Engine, Fixture, Mode, Unavailable};
use crate::report::{self, ms, Report};
use crate::settle;
use crate::stats::summarize;

const USAGE: &str =
    "usage: husk-bench engine-run [-n N] [--warmup N] [--mode rootful|rootless|both] \
[--json FILE] [--markdown FILE]";

/// The modes `--mode` names.
pub fn modes(which: &str) -> Result<Vec<Mode>> {
    let rootless = || -> Result<Mode> {
        let user = husk_tests::rootless::test_user().map_err(|e| anyhow::anyhow!("{e}"))?;
        Ok(Mode::Rootless(user))
    };
    Ok(match which {
        "rootful" => vec![Mode::Rootful],
        "rootless" => vec![rootless()?],
        "both" => vec![Mode::Rootful, rootless()?],
        other => anyhow::bail!("unknown mode {other:?}\n{USAGE}"),
    })
}

/// Markdown rows for engines that could not run.
pub fn unavailable_rows(mode: &str, missing: &[Unavailable], width: usize) -> Vec<Vec<String>> {
    missing
        .iter()
        .map(|u| {
            let mut r = vec![
                mode.to_owned(),
                u.name.clone(),
                format!("not available ({})", u.reason),
            ];
            r.resize(width, String::new());
            r
        })
        .collect()
}

/// Splits set-up results into engines and reasons.
pub fn split(all: Vec<Result<Engine, Unavailable>>) -> (Vec<Engine>, Vec<Unavailable>) {
    let mut ok = Vec::new();
    let mut missing = Vec::new();
    for e in all {
        match e {
            Ok(e) => ok.push(e),
            Err(u) => missing.push(u),
        }
    }
    (ok, missing)
}

/// Runs the benchmark.
pub fn run(args: &Args) -> Result<Report> {
    let mut a = args.clone();
    let warmup: usize = a.take_value("--warmup")?.map_or(Ok(2), |v| v.parse())?;
    let mode = a.take_value("--mode")?.unwrap_or_else(|| "both".into());
    a.finish(USAGE)?;
    let n = args.n.unwrap_or(20);
    let load = report::load1();
    let fx = Fixture::start()?;
    let mut md = format!(
        "### Engine `run --rm busybox true`\n\n{n} interleaved rounds after {warmup} warm-up; busybox \
         pulled from a local registry into a private store per engine. After each run the \
         next waits until the processes it started have ended (tail: conmon's or the shim's \
         work after `run` returned). {}\n\n",
        report::conditions(load)
    );
    let header = [
        "mode",
        "engine",
        "n",
        "min ms",
        "p50 ms",
        "p90 ms",
        "p99 ms",
        "mean ms",
        "p50 vs husk",
        "tail p50 ms",
    ];
    let mut rows = Vec::new();
    let mut results = Vec::new();
    for mode in modes(&mode)? {
        let (engines, missing) = split(engines::setup_all(&mode, &fx)?);
        let mut samples: Vec<Vec<f64>> = vec![Vec::new(); engines.len()];
        let mut tails: Vec<Vec<f64>> = vec![Vec::new(); engines.len()];
        let mut failed: Vec<Option<String>> = vec![None; engines.len()];
        for round in 0..warmup + n {
            for i in report::balanced_order(engines.len(), round) {
                let e = &engines[i];
                if failed[i].is_some() {
                    continue;
                }
                let since = settle::now_ticks();
                let timed = e.time_run();
                // Its leftovers finish before the next engine's run starts.
                let tail = settle::settle(since);
                match timed {
                    Ok(t) if round >= warmup => {
                        samples[i].push(t);
                        tails[i].push(tail);
                    }
                    Ok(_) => {}
                    Err(why) => failed[i] = Some(why),
                }
            }
        }
        let sums: Vec<_> = samples.iter().map(|s| summarize(s, &[])).collect();
        let base = engines
            .iter()
            .position(|e| e.name == "husk")
            .filter(|&i| failed[i].is_none())
            .map(|i| sums[i].p50);
        for (i, e) in engines.iter().enumerate() {
            let s = &sums[i];
            if let Some(why) = &failed[i] {
                rows.push(vec![
                    mode.name().into(),
                    e.name.clone(),
                    format!("failed: {why}"),
                ]);
                rows.last_mut().unwrap().resize(header.len(), String::new());
                results.push(json!({"mode": mode.name(), "engine": e.name, "status": "failed", "reason": why}));
                continue;
            }
            let ratio = base.map_or("-".into(), |b| format!("{:.2}x", s.p50 / b));
            rows.push(vec![
                mode.name().into(),
                e.name.clone(),
                s.n.to_string(),
                ms(s.min),
                ms(s.p50),
                ms(s.p90),
                ms(s.p99),
                ms(s.mean),
                ratio,
                ms(summarize(&tails[i], &[]).p50),
            ]);
            results.push(
                json!({"mode": mode.name(), "engine": e.name, "status": "ok",
                "stats": s.to_json(), "samples_ms": samples[i], "tail_ms": tails[i]}),
            );
        }
        rows.extend(unavailable_rows(mode.name(), &missing, header.len()));
        for u in &missing {
            results.push(json!({"mode": mode.name(), "engine": u.name, "status": "unavailable", "reason": u.reason}));
        }
    }
    md.push_str(&report::table(&header, &rows));
    Ok(Report {
        json: json!({"benchmark": "engine-run", "workload": "run --rm busybox true", "rounds": n,
            "warmup": warmup, "host": report::host(), "results": results}),
        markdown: md,
    })
}
