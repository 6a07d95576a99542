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

const USAGE: &str =
    "usage: husk-bench cgroup-tail [-n N] [--gap-ms MS] [--strace] [--json FILE] [--markdown FILE]";

/// The schedules, in report order.
pub const SCHEDULES: [&str; 3] = ["back-to-back", "idle", "interleaved"];

/// One run: its latency and, for husk, runtime.idmaps.
#[derive(Debug, Clone, Copy)]
struct Sample {
    ms: f64,
    idmaps_ms: Option<f64>,
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
        let idmaps_ms = is_husk
            .then(|| trace::ms_of(&trace::read(&trace_file), "runtime.idmaps"))
            .flatten();
        let _ = std::fs::remove_file(&trace_file);
        Ok(Sample { ms, idmaps_ms })
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
    for _ in 0..n {
        for (i, rt) in rts.iter().enumerate() {
            samples[2][i].push(ctx.run(rt)?);
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
            let idm: Vec<f64> = samples[k][i].iter().filter_map(|s| s.idmaps_ms).collect();
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
