//! `husk-bench back-to-back`: N `run --rm busybox true` in a row per
//! engine (the cost of a script starting containers one after another).
//! `husk-bench parallel`: N at once against the same N back-to-back, as a
//! throughput ratio (target for husk: at least 1.6x with 16 on 2 cores).

use anyhow::Result;
use serde_json::json;

use crate::args::Args;
use crate::engine_run::{modes, split, unavailable_rows};
use crate::engines::{self, Fixture};
use crate::report::{self, ms, Report};
use crate::stats::summarize;

const B2B_USAGE: &str =
    "usage: husk-bench back-to-back [-n RUNS] [--mode rootful|rootless|both] [--json FILE] [--markdown FILE]";
const PAR_USAGE: &str =
    "usage: husk-bench parallel [-n CONCURRENT] [--reps R] [--mode rootful|rootless|both] \
[--json FILE] [--markdown FILE]";

/// The throughput target of husk's parallel starts (issue 9).
pub const PARALLEL_TARGET: f64 = 1.6;

/// `back-to-back`.
pub fn back_to_back(args: &Args) -> Result<Report> {
    let mut a = args.clone();
    let mode = a.take_value("--mode")?.unwrap_or_else(|| "rootful".into());
    a.finish(B2B_USAGE)?;
    let n = args.n.unwrap_or(50);
    let load = report::load1();
    let fx = Fixture::start()?;
    let header = [
        "mode", "engine", "runs", "total s", "runs/s", "p50 ms", "p90 ms", "max ms",
    ];
    let mut rows = Vec::new();
    let mut results = Vec::new();
    for mode in modes(&mode)? {
        let (engines, missing) = split(engines::setup_all(&mode, &fx)?);
        for e in &engines {
            // Two warm-up runs, then the series.
            let warm = (0..2).try_for_each(|_| e.time_run().map(drop));
            let start = std::time::Instant::now();
            let series: Result<Vec<f64>, String> =
                warm.and_then(|()| (0..n).map(|_| e.time_run()).collect());
            let total = start.elapsed().as_secs_f64();
            match series {
                Ok(v) => {
                    let s = summarize(&v, &[]);
                    rows.push(vec![
                        mode.name().into(),
                        e.name.clone(),
                        n.to_string(),
                        format!("{total:.2}"),
                        format!("{:.1}", n as f64 / total),
                        ms(s.p50),
                        ms(s.p90),
                        ms(s.max),
                    ]);
                    results.push(
                        json!({"mode": mode.name(), "engine": e.name, "status": "ok",
                        "runs": n, "total_s": total, "stats": s.to_json(), "samples_ms": v}),
                    );
                }
                Err(why) => {
                    let mut r = vec![mode.name().into(), e.name.clone(), format!("failed: {why}")];
                    r.resize(header.len(), String::new());
                    rows.push(r);
                    results.push(json!({"mode": mode.name(), "engine": e.name, "status": "failed", "reason": why}));
                }
            }
        }
        rows.extend(unavailable_rows(mode.name(), &missing, header.len()));
        for u in &missing {
            results.push(json!({"mode": mode.name(), "engine": u.name, "status": "unavailable", "reason": u.reason}));
        }
    }
    let md = format!(
        "### {n} back-to-back `run --rm busybox true`\n\nEach engine alone, after two warm-up runs. {}\n\n{}",
        report::conditions(load),
        report::table(&header, &rows)
    );
    Ok(Report {
        json: json!({"benchmark": "back-to-back", "runs": n, "host": report::host(), "results": results}),
        markdown: md,
    })
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

/// `parallel`.
pub fn parallel(args: &Args) -> Result<Report> {
    let mut a = args.clone();
    let mode = a.take_value("--mode")?.unwrap_or_else(|| "rootful".into());
    let reps: usize = a.take_value("--reps")?.map_or(Ok(5), |v| v.parse())?;
    a.finish(PAR_USAGE)?;
    let n = args.n.unwrap_or(16);
    let load = report::load1();
    let fx = Fixture::start()?;
    let header = [
        "mode",
        "engine",
        "n",
        "back-to-back s",
        "parallel s",
        "runs/s back-to-back",
        "runs/s parallel",
        "parallel vs back-to-back",
    ];
    let mut rows = Vec::new();
    let mut results = Vec::new();
    for mode in modes(&mode)? {
        let (engines, missing) = split(engines::setup_all(&mode, &fx)?);
        for e in &engines {
            let mut seq = Vec::new();
            let mut par = Vec::new();
            let mut failure = e.time_run().err();
            for rep in 0..reps {
                if failure.is_some() {
                    break;
                }
                // Alternate which goes first, so neither always runs warm.
                let sequential = || -> Result<f64, String> {
                    let start = std::time::Instant::now();
                    (0..n).try_for_each(|_| e.time_run().map(drop))?;
                    Ok(start.elapsed().as_secs_f64())
                };
                let parallel = || e.time_parallel(n).map(|ms| ms / 1e3);
                let (s, p) = if rep % 2 == 0 {
                    (sequential(), parallel())
                } else {
                    let p = parallel();
                    (sequential(), p)
                };
                match (s, p) {
                    (Ok(s), Ok(p)) => {
                        seq.push(s);
                        par.push(p);
                    }
                    (Err(w), _) | (_, Err(w)) => failure = Some(w),
                }
            }
            if let Some(why) = failure {
                let mut r = vec![mode.name().into(), e.name.clone(), format!("failed: {why}")];
                r.resize(header.len(), String::new());
                rows.push(r);
                results.push(json!({"mode": mode.name(), "engine": e.name, "status": "failed", "reason": why}));
                continue;
            }
            let ratios: Vec<f64> = seq.iter().zip(&par).map(|(s, p)| s / p).collect();
            let (s, p, r) = (
                median(&mut seq.clone()),
                median(&mut par.clone()),
                median(&mut ratios.clone()),
            );
            rows.push(vec![
                mode.name().into(),
                e.name.clone(),
                n.to_string(),
                format!("{s:.2}"),
                format!("{p:.2}"),
                format!("{:.1}", n as f64 / s),
                format!("{:.1}", n as f64 / p),
                format!("{r:.2}x"),
            ]);
            results.push(
                json!({"mode": mode.name(), "engine": e.name, "status": "ok", "concurrent": n,
                "reps": reps, "back_to_back_s": seq, "parallel_s": par, "ratio_median": r,
                "meets_target": r >= PARALLEL_TARGET}),
            );
        }
        rows.extend(unavailable_rows(mode.name(), &missing, header.len()));
        for u in &missing {
            results.push(json!({"mode": mode.name(), "engine": u.name, "status": "unavailable", "reason": u.reason}));
        }
    }
    let md = format!(
        "### {n} in parallel against {n} back-to-back\n\nMedians of {reps} repetitions (order alternated); \
         throughput target for husk: {PARALLEL_TARGET}x. {}\n\n{}",
        report::conditions(load),
        report::table(&header, &rows)
    );
    Ok(Report {
        json: json!({"benchmark": "parallel", "concurrent": n, "target": PARALLEL_TARGET,
            "host": report::host(), "results": results}),
        markdown: md,
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn median_of_odd_and_even() {
        assert_eq!(super::median(&mut [3.0, 1.0, 2.0]), 2.0);
        assert_eq!(super::median(&mut [4.0, 1.0, 2.0, 3.0]), 2.5);
        assert!(super::median(&mut []).is_nan());
    }
}
