//! `husk-bench runtime-lifecycle`: `RUNTIME --root R run --bundle B ID` of
//! a busybox `true`, for husk-runtime, crun and runc, interleaved, with
//! peak RSS every fifth round.

use anyhow::Result;
use serde_json::json;

use crate::args::Args;
use crate::report::{self, Report};
use crate::runtimes::{self, run_once, RunOpts};
use crate::stats::{summarize, Summary};

const USAGE: &str = "usage: husk-bench runtime-lifecycle [-n N] [--json FILE] [--markdown FILE]";

/// Runs the benchmark.
pub fn run(args: &Args) -> Result<Report> {
    args.finish(USAGE)?;
    let n = args.n.unwrap_or(50);
    let load = report::load1();
    let runtimes = runtimes::all()?;
    let work = tempfile::tempdir()?;
    let bundle = work.path().join("bundle");
    runtimes::make_bundle(&bundle, &runtimes[0].path)?;
    let mut samples: Vec<(Vec<f64>, Vec<i64>)> = vec![(Vec::new(), Vec::new()); runtimes.len()];
    // One warm-up round, not recorded, then interleaved rounds; every
    // fifth round also measures peak RSS through the launcher.
    for round in 0..=n {
        // The runtime after an idle spell or a long run pays the cgroup
        // grace period (see cgroup-tail): vary who follows whom.
        for i in crate::report::balanced_order(runtimes.len(), round) {
            let rt = &runtimes[i];
            let root = work.path().join(format!("root-{}", rt.name));
            let id = format!("bench-{round}");
            let (ms, _) = run_once(rt, &root, &bundle, &id, &RunOpts::default())?;
            if round > 0 {
                samples[i].0.push(ms);
            }
            if round % 5 == 0 {
                let rss = RunOpts {
                    rss: true,
                    trace: None,
                };
                let (_, kb) = run_once(rt, &root, &bundle, &format!("rss-{round}"), &rss)?;
                samples[i].1.extend(kb);
            }
        }
    }
    let sums: Vec<Summary> = samples.iter().map(|(l, r)| summarize(l, r)).collect();
    let base = sums[0].p50;
    let mut rows = Vec::new();
    let mut results = Vec::new();
    for (rt, s) in runtimes.iter().zip(&sums) {
        results.push(json!({
            "runtime": rt.name, "path": rt.path, "n": n,
            "min_ms": s.min, "p50_ms": s.p50, "p90_ms": s.p90, "p99_ms": s.p99,
            "mean_ms": s.mean, "stddev_ms": s.stddev, "p50_ratio_to_husk": s.p50 / base,
            "peak_rss_kb": s.max_rss_kb,
        }));
        rows.push(vec![
            rt.name.clone(),
            report::ms(s.min),
            report::ms(s.p50),
            report::ms(s.p90),
            report::ms(s.p99),
            report::ms(s.mean),
            format!("{:.2}x", s.p50 / base),
            s.max_rss_kb.to_string(),
        ]);
    }
    let header = [
        "runtime",
        "min ms",
        "p50 ms",
        "p90 ms",
        "p99 ms",
        "mean ms",
        "p50 vs husk",
        "peak RSS KiB",
    ];
    let md = format!(
        "### Runtime lifecycle: `RUNTIME run` of a busybox `true`\n\n{n} interleaved rounds (in a balanced \
         order: each runtime follows each other equally often) after one warm-up; \
         peak RSS through GNU time every fifth round. {}\n\n{}",
        report::conditions(load),
        report::table(&header, &rows)
    );
    Ok(Report {
        json: json!({"benchmark": "runtime-lifecycle", "workload": "busybox true", "host": report::host(),
            "results": results}),
        markdown: md,
    })
}
