//! The benchmark's results: the JSON document (`--json`) and the table on
//! stdout. The JSON schema is `husk-bench-startup/1`, documented in
//! docs/performance.md; fields are only ever added to it.

use std::fmt::Write as _;
use std::path::Path;

use serde::Serialize;

use super::participant::Participant;
use super::phases::{summarise, PhaseStat};
use super::stats::{Ratios, Summary};
use super::tools::{Kind, Tool};
use super::Config;

/// The `schema` field of the JSON document.
pub const SCHEMA: &str = "husk-bench-startup/1";

/// Whether a row was measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Measured.
    Ok,
    /// A command failed; `reason` holds it and its stderr.
    Failed,
    /// The tool lacks what the benchmark needs; `reason` says what.
    Unavailable,
}

/// The host the numbers come from.
#[derive(Debug, Clone, Serialize)]
pub struct Host {
    /// Kernel release.
    pub kernel: String,
    /// CPUs this process may run on.
    pub cpus: usize,
    /// cgroup layout: v2, hybrid or v1.
    pub cgroup: &'static str,
    /// Whether the hybrid cgroup2 mount was hidden from every tool.
    pub cgroup2_hidden: bool,
    /// Whether the benchmark ran without root.
    pub rootless: bool,
    /// /proc/loadavg (1, 5, 15 min) when the benchmark began.
    pub loadavg_start: [f64; 3],
    /// ... and when it ended.
    pub loadavg_end: [f64; 3],
}

fn loadavg() -> [f64; 3] {
    let text = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let mut it = text
        .split_whitespace()
        .map(|f| f.parse().unwrap_or(f64::NAN));
    [(); 3].map(|_| it.next().unwrap_or(f64::NAN))
}

impl Host {
    /// This host, now.
    pub fn detect() -> Host {
        use husk_runtime::cgroup::layout::Layout;
        Host {
            kernel: std::fs::read_to_string("/proc/sys/kernel/osrelease")
                .unwrap_or_default()
                .trim()
                .to_owned(),
            cpus: std::thread::available_parallelism().map_or(1, |n| n.get()),
            cgroup: match Layout::detect() {
                Layout::Unified => "v2",
                Layout::Hybrid(_) => "hybrid",
                Layout::Legacy => "v1",
            },
            cgroup2_hidden: false,
            rootless: !nix::unistd::geteuid().is_root(),
            loadavg_start: loadavg(),
            loadavg_end: [f64::NAN; 3],
        }
    }

    /// Records the load at the end.
    pub fn finish(&mut self) {
        self.loadavg_end = loadavg();
    }
}

/// How the run was configured.
#[derive(Debug, Clone, Serialize)]
pub struct RunConfig {
    /// Recorded rounds.
    pub rounds: usize,
    /// Warm-up rounds.
    pub warmup: usize,
    /// Concurrent starts per batch.
    pub parallel: usize,
    /// Whether the order of tools was shuffled every round.
    pub shuffle: bool,
    /// The shuffle's seed.
    pub seed: u64,
    /// The baseline asked for.
    pub baseline: String,
    /// The busybox the workload was built from.
    pub busybox: String,
    /// The engines' image: a name, or "built" (busybox, private stores).
    pub image: String,
    /// Peak RSS measured every this many rounds.
    pub rss_every: usize,
    /// Whether husk's phases were traced.
    pub phases: bool,
}

/// One tool and operation.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    /// Tool name (`husk`, `crun`, `podman+runc`).
    pub tool: String,
    /// `runtime` or `engine`.
    pub kind: &'static str,
    /// `create`, `start`, `delete`, `run` (runtimes) or `run --rm` (engines).
    pub op: &'static str,
    /// The executable.
    pub path: String,
    /// Its `--version`, first line.
    pub version: Option<String>,
    /// Measured or not.
    pub status: Status,
    /// Why not.
    pub reason: Option<String>,
    /// Latency statistics.
    pub stats: Option<Summary>,
    /// The row the ratios are relative to (same kind and operation).
    pub baseline: Option<String>,
    /// Each statistic over the baseline's.
    pub ratio: Option<Ratios>,
    /// Largest peak RSS seen (KiB): the process and the children it waited
    /// for, through the launcher.
    pub peak_rss_kib: Option<u64>,
    /// Completed commands per second of batch wall time.
    pub throughput_per_s: Option<f64>,
    /// Every sample (ms), in the order taken.
    pub samples_ms: Vec<f64>,
    /// husk's phases (with `--phases`).
    pub phases: Vec<PhaseStat>,
}

/// The whole result.
#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    /// [`SCHEMA`].
    pub schema: &'static str,
    /// The husk that measured.
    pub husk_version: &'static str,
    /// Where.
    pub host: Host,
    /// How.
    pub config: RunConfig,
    /// What the benchmark changed or noticed (hidden mounts, rlimits).
    pub notes: Vec<String>,
    /// One row per tool and operation.
    pub results: Vec<Row>,
}

fn kind_name(k: Kind) -> &'static str {
    match k {
        Kind::Runtime => "runtime",
        Kind::Engine => "engine",
    }
}

fn base_row(t: &Tool, op: &'static str, status: Status) -> Row {
    Row {
        tool: t.name.clone(),
        kind: kind_name(t.kind),
        op,
        path: t.path.display().to_string(),
        version: t.version.clone(),
        status,
        reason: None,
        stats: None,
        baseline: None,
        ratio: None,
        peak_rss_kib: None,
        throughput_per_s: None,
        samples_ms: Vec::new(),
        phases: Vec::new(),
    }
}

/// The rows of a measured tool.
pub fn measured(p: &dyn Participant, phases: bool) -> Vec<Row> {
    p.ops()
        .iter()
        .zip(p.series())
        .map(|(op, s)| {
            let mut r = base_row(p.tool(), op, Status::Ok);
            r.stats = Summary::of(&s.samples_ms);
            r.peak_rss_kib = s.rss_kib.iter().copied().max();
            r.throughput_per_s = s.throughput_per_s();
            r.samples_ms = s.samples_ms.clone();
            if phases {
                r.phases = summarise(&s.traces);
            }
            r
        })
        .collect()
}

/// The rows of a tool that was not measured.
pub fn unmeasured(t: &Tool, ops: &[&'static str], status: Status, why: String) -> Vec<Row> {
    ops.iter()
        .map(|op| {
            let mut r = base_row(t, op, status);
            r.reason = Some(why.clone());
            r
        })
        .collect()
}

/// Fills in the ratios: per kind and operation, relative to the row of
/// `baseline`, or to the first measured row when the baseline was not
/// measured.
pub fn add_ratios(rows: &mut [Row], baseline: &str) {
    let keys: Vec<(&'static str, &'static str)> = rows.iter().map(|r| (r.kind, r.op)).collect();
    for (kind, op) in keys {
        let group = |r: &Row| r.kind == kind && r.op == op && r.stats.is_some();
        let base = rows
            .iter()
            .find(|r| group(r) && r.tool == baseline)
            .or_else(|| rows.iter().find(|r| group(r)))
            .map(|r| (r.tool.clone(), r.stats.expect("measured")));
        let Some((name, stats)) = base else { continue };
        for r in rows.iter_mut().filter(|r| group(r)) {
            r.baseline = Some(name.clone());
            r.ratio = r.stats.map(|s| s.ratio_to(&stats));
        }
    }
}

impl Outcome {
    /// Assembles the result.
    pub fn new(
        host: Host,
        cfg: &Config,
        seed: u64,
        busybox: &Path,
        notes: Vec<String>,
        results: Vec<Row>,
    ) -> Outcome {
        Outcome {
            schema: SCHEMA,
            husk_version: env!("CARGO_PKG_VERSION"),
            host,
            config: RunConfig {
                rounds: cfg.rounds,
                warmup: cfg.warmup,
                parallel: cfg.parallel,
                shuffle: cfg.shuffle,
                seed,
                baseline: cfg.baseline.clone(),
                busybox: busybox.display().to_string(),
                image: cfg.image.clone().unwrap_or_else(|| "built".into()),
                rss_every: cfg.rss_every,
                phases: cfg.phases,
            },
            notes,
            results,
        }
    }

    /// The table printed on stdout.
    pub fn to_table(&self) -> String {
        let mut out = String::new();
        let c = &self.config;
        let h = &self.host;
        let _ = writeln!(
            out,
            "husk bench startup: {} rounds (+{} warm-up), {} at a time, {}; baseline {}",
            c.rounds,
            c.warmup,
            c.parallel,
            if c.shuffle {
                "shuffled"
            } else {
                "balanced order"
            },
            c.baseline
        );
        let _ = writeln!(
            out,
            "host: Linux {}, {} CPUs, cgroup {}{}, {}, load {:.2} -> {:.2}",
            h.kernel,
            h.cpus,
            h.cgroup,
            if h.cgroup2_hidden {
                " (cgroup2 hidden)"
            } else {
                ""
            },
            if h.rootless { "rootless" } else { "rootful" },
            h.loadavg_start[0],
            h.loadavg_end[0]
        );
        let w = self
            .results
            .iter()
            .map(|r| r.tool.len())
            .max()
            .unwrap_or(4)
            .max(4);
        for (kind, title) in [
            ("runtime", "runtime lifecycle: busybox `true` bundle"),
            ("engine", "engine: run --rm IMAGE true"),
        ] {
            let rows: Vec<&Row> = self.results.iter().filter(|r| r.kind == kind).collect();
            if rows.is_empty() {
                continue;
            }
            let _ = writeln!(out, "\n{title}");
            let _ = writeln!(
                out,
                "{:<w$}  {:<8} {:>4} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8} {:>7} {:>9} {:>7}",
                "tool",
                "op",
                "n",
                "min ms",
                "p50 ms",
                "p90 ms",
                "p99 ms",
                "mean ms",
                "stddev",
                "p50 x",
                "RSS KiB",
                "per s"
            );
            for r in rows.iter() {
                let Some(s) = r.stats else {
                    let status = if r.status == Status::Failed {
                        "failed"
                    } else {
                        "not available"
                    };
                    let _ = writeln!(out, "{:<w$}  {:<8} {status}", r.tool, r.op);
                    continue;
                };
                let ratio = r
                    .ratio
                    .map_or_else(|| "-".into(), |q| format!("{:.2}x", q.p50));
                let rss = r.peak_rss_kib.map_or_else(|| "-".into(), |k| k.to_string());
                let tput = r
                    .throughput_per_s
                    .map_or_else(|| "-".into(), |t| format!("{t:.1}"));
                let _ = writeln!(
                    out,
                    "{:<w$}  {:<8} {:>4} {:>8.2} {:>8.2} {:>8.2} {:>8.2} {:>8.2} {:>8.2} {:>7} {:>9} {:>7}",
                    r.tool, r.op, s.n, s.min_ms, s.p50_ms, s.p90_ms, s.p99_ms, s.mean_ms, s.stddev_ms, ratio, rss, tput
                );
            }
        }
        for r in self.results.iter().filter(|r| !r.phases.is_empty()) {
            let _ = writeln!(
                out,
                "\nphases of {} {} {} (ms, over {} traces)",
                r.tool,
                r.kind,
                r.op,
                r.phases.first().map_or(0, |p| p.n)
            );
            let pw = r
                .phases
                .iter()
                .map(|p| 2 * p.depth + p.phase.len())
                .max()
                .unwrap_or(5);
            let _ = writeln!(
                out,
                "{:<pw$} {:>8} {:>8} {:>8} {:>8}",
                "phase", "p50", "p90", "max", "mean"
            );
            for p in &r.phases {
                let name = format!("{:i$}{}", "", p.phase, i = 2 * p.depth);
                let _ = writeln!(
                    out,
                    "{name:<pw$} {:>8.3} {:>8.3} {:>8.3} {:>8.3}",
                    p.p50_ms, p.p90_ms, p.max_ms, p.mean_ms
                );
            }
        }
        let mut said = Vec::new();
        for r in self.results.iter().filter(|r| r.reason.is_some()) {
            let line = format!(
                "{} ({}) {}: {}",
                r.tool,
                r.kind,
                if r.status == Status::Failed {
                    "failed"
                } else {
                    "not available"
                },
                r.reason.as_deref().unwrap_or_default()
            );
            if !said.contains(&line) {
                let _ = writeln!(out, "\n{line}");
                said.push(line);
            }
        }
        for n in &self.notes {
            let _ = writeln!(out, "\nnote: {n}");
        }
        out
    }
}
