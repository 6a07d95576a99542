//! `husk-bench cgroup-tail`: the latency tail of container start on a
//! cgroup v1 (or hybrid) host. Moving a process into a cgroup takes the
//! kernel's cgroup_threadgroup_rwsem for writing; when no migration ran for
//! a while, that first takes a full RCU grace period (the rwsem's rcu_sync
//! leaves its idle state), later ones within the next grace period or so
//! do not. So a `run` after an idle spell pays the grace period in its
//! first write to a cgroup.procs file, and back-to-back runs do not.
//!
//! Measured per runtime in three schedules: back-to-back (no gap), idle
//! (a sleep before each run), interleaved with the other runtimes; for
//! husk the trace gives `runtime.idmaps` (where the parent writes the
//! child's pid to the v1 controllers' cgroup.procs), and with `--strace`
//! every runtime's slowest cgroup.procs write is read from strace -T.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use anyhow::{Context, Result};
use serde_json::json;

use crate::args::Args;
use crate::report::{self, ms, Report};
use crate::runtimes::{self, run_once, RunOpts, Runtime};
use crate::stats::summarize;
use crate::trace;

const USAGE: &str = "usage: husk-bench cgroup-tail [-n N] [--gap-ms MS] [--sweep-ms MS,MS,...] \
[--strace] [--json FILE] [--markdown FILE]";

/// Sleeps between husk runs for the sweep that relates the time since the
/// previous migration to paying a grace period.
pub const SWEEP_MS: &str = "0,2,5,8,10,15,20,30,50";

/// The schedules, in report order.
pub const SCHEDULES: [&str; 3] = ["back-to-back", "idle", "interleaved"];

/// One run: its latency and, for husk, when runtime.idmaps ran (ns).
#[derive(Debug, Clone, Copy)]
struct Sample {
    ms: f64,
    idmaps: Option<(u64, u64)>,
}

impl Sample {
    fn idmaps_ms(&self) -> Option<f64> {
        self.idmaps.map(|(s, e)| e.saturating_sub(s) as f64 / 1e6)
    }
}

/// A husk run whose runtime.idmaps took longer than this waited for a
/// grace period (it takes about 0.1-0.5 ms otherwise).
pub const PAID_MS: f64 = 2.0;

/// Buckets of time since the previous cgroup migration (ms).
pub const GAP_BUCKETS: [(f64, f64); 8] = [
    (0.0, 5.0),
    (5.0, 10.0),
    (10.0, 15.0),
    (15.0, 20.0),
    (20.0, 30.0),
    (30.0, 50.0),
    (50.0, 100.0),
    (100.0, f64::INFINITY),
];

/// (time since the previous run's migration, idmaps duration) in ms, for
/// consecutive husk runs with no other runtime in between.
fn gaps(series: &[Sample]) -> Vec<(f64, f64)> {
    series
        .windows(2)
        .filter_map(|w| {
            let (_, prev_end) = w[0].idmaps?;
            let (start, end) = w[1].idmaps?;
            let gap = start.checked_sub(prev_end)? as f64 / 1e6;
            Some((gap, end.saturating_sub(start) as f64 / 1e6))
        })
        .collect()
}

struct Ctx<'a> {
    work: &'a Path,
    bundle: &'a Path,
    seq: u64,
}

impl Ctx<'_> {
    fn run(&mut self, rt: &Runtime) -> Result<Sample> {
        self.seq += 1;
        let root = self.work.join(format!("root-{}", rt.name));
        let is_husk = rt.name == "husk-runtime";
        let trace_file = self.work.join(format!("trace-{}", self.seq));
        let opts = RunOpts {
            rss: false,
            trace: is_husk.then(|| trace_file.clone()),
        };
        let (ms, _) = run_once(rt, &root, self.bundle, &format!("tail-{}", self.seq), &opts)?;
        let idmaps = is_husk
            .then(|| trace::span_of(&trace::read(&trace_file), "runtime.idmaps"))
            .flatten();
        let _ = std::fs::remove_file(&trace_file);
        Ok(Sample { ms, idmaps })
    }
}

/// The slowest write to a `cgroup.procs` file in `strace -f -T -y` output
/// (ms), following `<unfinished ...>`/`resumed` pairs of threaded runtimes.
pub fn slowest_procs_write(strace: &str) -> Option<f64> {
    let secs = |l: &str| -> Option<f64> {
        let open = l.rfind('<')?;
        l[open + 1..].strip_suffix('>')?.parse().ok()
    };
    let mut pending: Vec<String> = Vec::new();
    let mut slowest: Option<f64> = None;
    for l in strace.lines() {
        let pid = l.split_whitespace().next().unwrap_or_default().to_owned();
        let t = if l.contains(" write(") && l.contains("cgroup.procs>") {
            if l.ends_with("<unfinished ...>") {
                pending.push(pid);
                None
            } else {
                secs(l)
            }
        } else if l.contains("<... write resumed>") && pending.contains(&pid) {
            pending.retain(|p| *p != pid);
            secs(l)
        } else {
            None
        };
        if let Some(t) = t {
            slowest = Some(slowest.map_or(t * 1e3, |s: f64| s.max(t * 1e3)));
        }
    }
    slowest
}

fn strace_run(rt: &Runtime, work: &Path, bundle: &Path, id: &str) -> Result<Option<f64>> {
    let out = work.join(format!("{id}.strace"));
    let st = Command::new("strace")
        .args(["-f", "-T", "-y", "-e", "trace=write", "-o"])
        .arg(&out)
        .arg(&rt.path)
        .arg("--root")
        .arg(work.join(format!("root-{}", rt.name)))
        .args(["run", "--bundle"])
        .arg(bundle)
        .arg(id)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .context("running strace (install it: apt-get install strace)")?;
    let text = std::fs::read_to_string(&out).unwrap_or_default();
    let _ = std::fs::remove_file(&out);
    anyhow::ensure!(st.success(), "{} run under strace failed: {st}", rt.name);
    Ok(slowest_procs_write(&text))
}

fn p(v: &[f64], f: impl Fn(&crate::stats::Summary) -> f64) -> String {
    if v.is_empty() {
        "-".into()
    } else {
        ms(f(&summarize(v, &[])))
    }
}

/// Runs the benchmark.
pub fn run(args: &Args) -> Result<Report> {
    let mut a = args.clone();
    let gap_ms: u64 = a.take_value("--gap-ms")?.map_or(Ok(100), |v| v.parse())?;
    let with_strace = a.take_flag("--strace");
    let sweep: Vec<u64> = a
        .take_value("--sweep-ms")?
        .unwrap_or_else(|| SWEEP_MS.into())
        .split(',')
        .map(|v| v.trim().parse())
        .collect::<Result<_, _>>()
        .context("--sweep-ms takes milliseconds separated by commas")?;
    a.finish(USAGE)?;
    let n = args.n.unwrap_or(30);
    let load = report::load1();
    let rts = runtimes::all()?;
    let work = tempfile::tempdir()?;
    let bundle = work.path().join("bundle");
    runtimes::make_bundle(&bundle, &rts[0].path)?;
    let mut ctx = Ctx {
        work: work.path(),
        bundle: &bundle,
        seq: 0,
    };
    let gap = Duration::from_millis(gap_ms);
    // samples[schedule][runtime]
    let mut samples: Vec<Vec<Vec<Sample>>> = vec![vec![Vec::new(); rts.len()]; SCHEDULES.len()];
    for (i, rt) in rts.iter().enumerate() {
        for k in 0..n + 2 {
            let s = ctx.run(rt)?;
            if k >= 2 {
                samples[0][i].push(s);
            }
        }
        for _ in 0..n {
            std::thread::sleep(gap);
            samples[1][i].push(ctx.run(rt)?);
        }
    }
    for round in 0..n {
        for i in report::balanced_order(rts.len(), round) {
            samples[2][i].push(ctx.run(&rts[i])?);
        }
    }
    // husk alone, sleeping each of the sweep's gaps in turn.
    let mut swept = Vec::new();
    if rts[0].name == "husk-runtime" {
        for k in 0..n * 2 {
            std::thread::sleep(Duration::from_millis(sweep[k % sweep.len().max(1)]));
            swept.push(ctx.run(&rts[0])?);
        }
    }
    let mut straced: Vec<[Vec<f64>; 2]> = vec![[Vec::new(), Vec::new()]; rts.len()];
    if with_strace {
        for (i, rt) in rts.iter().enumerate() {
            for (k, idle) in [false, true].into_iter().enumerate() {
                for _ in 0..n {
                    if idle {
                        std::thread::sleep(gap);
                    }
                    ctx.seq += 1;
                    let id = format!("st-{}", ctx.seq);
                    straced[i][k].extend(strace_run(rt, work.path(), &bundle, &id)?);
                }
            }
        }
    }
    let header = [
        "runtime",
        "schedule",
        "n",
        "p50 ms",
        "p90 ms",
        "max ms",
        "runtime.idmaps p50 ms",
        "runtime.idmaps p90 ms",
    ];
    let mut rows = Vec::new();
    let mut results = Vec::new();
    for (i, rt) in rts.iter().enumerate() {
        for (k, sched) in SCHEDULES.iter().enumerate() {
            let v: Vec<f64> = samples[k][i].iter().map(|s| s.ms).collect();
            let idm: Vec<f64> = samples[k][i].iter().filter_map(Sample::idmaps_ms).collect();
            rows.push(vec![
                rt.name.clone(),
                sched.to_string(),
                v.len().to_string(),
                p(&v, |s| s.p50),
                p(&v, |s| s.p90),
                p(&v, |s| s.max),
                p(&idm, |s| s.p50),
                p(&idm, |s| s.p90),
            ]);
            results.push(
                json!({"runtime": rt.name, "schedule": sched, "run_ms": v, "idmaps_ms": idm,
                "stats": summarize(&v, &[]).to_json()}),
            );
        }
    }
    let mut md = format!(
        "### The cgroup migration tail\n\n`RUNTIME run` of a busybox `true`, {n} runs per schedule: back-to-back, \
         idle ({gap_ms} ms sleep before each run), interleaved with the other runtimes. {}\n\n{}",
        report::conditions(load),
        report::table(&header, &rows)
    );
    // husk alone (back-to-back, idle, sweep): whether a run paid, against
    // the time since the previous run's migration.
    let mut pairs = gaps(&samples[0][0]);
    pairs.extend(gaps(&samples[1][0]));
    pairs.extend(gaps(&swept));
    let header = [
        "time since the previous migration",
        "runs",
        "paid a grace period",
        "runtime.idmaps p50 ms",
    ];
    let rows: Vec<Vec<String>> = GAP_BUCKETS
        .iter()
        .map(|&(lo, hi)| {
            let v: Vec<f64> = pairs
                .iter()
                .filter(|(g, _)| *g >= lo && *g < hi)
                .map(|p| p.1)
                .collect();
            let paid = v.iter().filter(|&&d| d > PAID_MS).count();
            let range = if hi.is_finite() {
                format!("{lo:.0}-{hi:.0} ms")
            } else {
                format!(">= {lo:.0} ms")
            };
            let share = if v.is_empty() {
                "-".into()
            } else {
                format!("{paid} ({:.0}%)", 100.0 * paid as f64 / v.len() as f64)
            };
            vec![range, v.len().to_string(), share, p(&v, |s| s.p50)]
        })
        .collect();
    md.push_str(&format!(
        "\nhusk-runtime alone (back-to-back, idle, and {} runs sleeping {} ms in turn): a run \"paid\" when \
         runtime.idmaps took over {PAID_MS} ms.\n\n{}",
        swept.len(),
        sweep.iter().map(u64::to_string).collect::<Vec<_>>().join("/"),
        report::table(&header, &rows)
    ));
    results.push(json!({"runtime": "husk-runtime", "schedule": "gaps",
        "gap_and_idmaps_ms": pairs.iter().map(|(g, d)| [*g, *d]).collect::<Vec<_>>()}));
    if with_strace {
        let header = [
            "runtime",
            "slowest cgroup.procs write, back-to-back p50 ms",
            "p90 ms",
            &format!("after {gap_ms} ms idle p50 ms"),
            "p90 ms",
        ];
        let rows: Vec<Vec<String>> = rts
            .iter()
            .zip(&straced)
            .map(|(rt, [b, idle])| {
                vec![
                    rt.name.clone(),
                    p(b, |s| s.p50),
                    p(b, |s| s.p90),
                    p(idle, |s| s.p50),
                    p(idle, |s| s.p90),
                ]
            })
            .collect();
        md.push_str(&format!(
            "\nUnder `strace -f -T -y -e trace=write` (strace slows each run, so \"back-to-back\" runs are \
             further apart than without it):\n\n{}",
            report::table(&header, &rows)
        ));
        for (rt, [b, idle]) in rts.iter().zip(&straced) {
            results.push(
                json!({"runtime": rt.name, "schedule": "strace", "slowest_procs_write_ms":
                {"back_to_back": b, "idle": idle}}),
            );
        }
    }
    Ok(Report {
        json: json!({"benchmark": "cgroup-tail", "runs": n, "gap_ms": gap_ms, "host": report::host(),
            "results": results}),
        markdown: md,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gaps_between_consecutive_migrations() {
        let s = |a: u64, b: u64| Sample {
            ms: 1.0,
            idmaps: Some((a * 1_000_000, b * 1_000_000)),
        };
        let none = Sample {
            ms: 1.0,
            idmaps: None,
        };
        assert_eq!(gaps(&[s(0, 1), s(11, 12), none, s(30, 45)]), [(10.0, 1.0)]);
    }

    #[test]
    fn reads_strace_writes_including_resumed_ones() {
        let text = "\
10 write(8</sys/fs/cgroup/cpuset/x/cgroup.procs>, \"11\", 2 <unfinished ...>
12 write(3</dev/null>, \"a\", 1) = 1 <0.500000>
10 write(8</sys/fs/cgroup/cpu/x/cgroup.procs>, \"11\", 2) = 2 <0.000051>
10 <... write resumed>)              = 2 <0.015949>
13 <... write resumed>)              = 2 <0.900000>
";
        let t = slowest_procs_write(text).unwrap();
        assert!((t - 15.949).abs() < 1e-9, "{t}");
        assert_eq!(
            slowest_procs_write("1 write(3</dev/null>, \"\", 0) = 0 <0.1>\n"),
            None
        );
    }
}
