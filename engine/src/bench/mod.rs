//! `husk bench startup`: container start-up latency of husk against the
//! OCI runtimes and engines on this host, measured interleaved (every
//! round runs every tool once, so noise hits all alike), reported as
//! percentiles, ratios to a baseline, peak RSS and throughput, as a table,
//! JSON ([`Outcome`], schema in docs/performance.md) and an SVG chart.
//!
//! The workload is built from a static busybox alone ([`rootfs`]): a
//! bundle running `true` for the runtimes' `create`/`start`/`delete`/`run`
//! ([`lifecycle`]), and the same files as an OCI image for the engines'
//! `run --rm IMAGE true` ([`engines`]).

pub mod engines;
pub mod interrupt;
pub mod lifecycle;
pub mod mounts;
pub mod output;
pub mod participant;
pub mod phases;
pub mod rootfs;
pub mod spawn;
pub mod stats;
pub mod svg;
pub mod tools;

use std::path::{Path, PathBuf};

use engines::{ImageSource, Prepared};
use participant::{Participant, RoundCtx};
use spawn::{Reaper, Slots};
use tools::{Kind, Tool};

pub use output::{Host, Outcome, Row, Status};

/// Why the benchmark could not run (a tool failing is not one of these:
/// it is reported in its [`Row`]).
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    /// A `--runtime` or `--engine` names nothing usable.
    #[error("unknown {what} {name:?}: {reason}")]
    UnknownTool {
        /// "runtime" or "engine".
        what: &'static str,
        /// As given.
        name: String,
        /// Why it is unusable.
        reason: String,
    },
    /// Bad flags.
    #[error("{0}")]
    Usage(String),
    /// busybox is missing or unusable.
    #[error("busybox {path}: {reason} (install busybox-static, or pass --busybox PATH)")]
    Busybox {
        /// The binary.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// A file operation failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// A system call failed.
    #[error("{what}: {source}")]
    Sys {
        /// What the benchmark was doing.
        what: &'static str,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// A program could not be started at all.
    #[error("cannot run {program}: {source}")]
    Spawn {
        /// The program.
        program: PathBuf,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// No tool could be measured.
    #[error("nothing could be measured: {0}")]
    NothingMeasured(String),
    /// Ctrl-C or SIGTERM: stopped after cleaning up.
    #[error("interrupted: stopped after removing the benchmark's containers and stores")]
    Interrupted,
}

/// What to measure and how.
#[derive(Debug, Clone)]
pub struct Config {
    /// Recorded rounds.
    pub rounds: usize,
    /// Unrecorded rounds first.
    pub warmup: usize,
    /// Concurrent starts per tool and operation in a round.
    pub parallel: usize,
    /// Shuffle the order of tools in every round (else the rows of a
    /// balanced Latin square: see [`balanced_order`]).
    pub shuffle: bool,
    /// Seed of the shuffle (else the clock).
    pub seed: Option<u64>,
    /// `--runtime` arguments.
    pub runtimes: Vec<String>,
    /// `--engine` arguments.
    pub engines: Vec<String>,
    /// Also measure crun, runc, youki and podman found on PATH.
    pub discover: bool,
    /// Measure runtimes' lifecycles.
    pub lifecycle: bool,
    /// Measure engines' `run --rm`.
    pub engine_runs: bool,
    /// The tool ratios are relative to.
    pub baseline: String,
    /// husk's runtime binary (default: next to husk, else on PATH).
    pub husk_runtime: Option<PathBuf>,
    /// An image in the engines' default stores instead of the built one.
    pub image: Option<String>,
    /// The busybox to build the workload from.
    pub busybox: Option<PathBuf>,
    /// Record husk's per-phase trace of every timed command.
    pub phases: bool,
    /// Hide a hybrid host's cgroup2 mount (root only).
    pub hide_cgroup2: bool,
    /// Measure peak RSS every this many recorded rounds (0: never).
    pub rss_every: usize,
    /// Where the workload and private stores go (default $TMPDIR).
    pub tmpdir: Option<PathBuf>,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            rounds: 20,
            warmup: 2,
            parallel: 1,
            shuffle: false,
            seed: None,
            runtimes: Vec::new(),
            engines: Vec::new(),
            discover: true,
            lifecycle: true,
            engine_runs: true,
            baseline: tools::HUSK.to_owned(),
            husk_runtime: None,
            image: None,
            busybox: None,
            phases: false,
            hide_cgroup2: true,
            rss_every: 5,
            tmpdir: None,
        }
    }
}

/// A small deterministic generator for the shuffle (xorshift64*).
#[derive(Debug)]
struct Shuffle(u64);

impl Shuffle {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn permute(&mut self, v: &mut [usize]) {
        for i in (1..v.len()).rev() {
            let j = (self.next() % (i as u64 + 1)) as usize;
            v.swap(i, j);
        }
    }
}

/// The order of `round` over `n` tools: row `round` of a balanced Latin
/// square (Williams design), so that over `n` rounds (`2n` for odd `n`)
/// every tool runs right after every other tool equally often. Rotating
/// one fixed order would not do: whoever follows a long engine run would
/// follow it in every round.
pub fn balanced_order(n: usize, round: usize) -> Vec<usize> {
    if n == 0 {
        return Vec::new();
    }
    let first = (0..n).map(|j| match j {
        0 => 0,
        j if j % 2 == 1 => j.div_ceil(2),
        j => n - j / 2,
    });
    let rows = if n % 2 == 0 { n } else { 2 * n };
    let row = round % rows;
    let mut order: Vec<usize> = first.map(|x| (x + row % n) % n).collect();
    if row >= n {
        order.reverse();
    }
    order
}

/// One tool's place in the run: measured, or why not.
#[derive(Debug)]
struct Entry {
    tool: Tool,
    ops: &'static [&'static str],
    /// Present while it is measured.
    active: Option<Box<dyn Participant>>,
    /// Why it is not (any more).
    problem: Option<(Status, String)>,
}

impl Entry {
    fn active(p: Box<dyn Participant>) -> Entry {
        Entry {
            tool: p.tool().clone(),
            ops: p.ops(),
            active: Some(p),
            problem: None,
        }
    }

    fn unavailable(tool: Tool, ops: &'static [&'static str], why: String) -> Entry {
        Entry {
            tool,
            ops,
            active: None,
            problem: Some((Status::Unavailable, why)),
        }
    }
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> BenchError + '_ {
    move |source| BenchError::Io {
        path: path.to_owned(),
        source,
    }
}

/// Runs the benchmark. Needs a single-threaded process (it may unshare
/// its mount namespace and becomes the subreaper of what it starts).
pub fn startup(cfg: &Config) -> Result<Outcome, BenchError> {
    if cfg.rounds == 0 || cfg.parallel == 0 {
        return Err(BenchError::Usage(
            "--rounds and --parallel must be at least 1".into(),
        ));
    }
    let others = tools::select(&cfg.runtimes, &cfg.engines, cfg.discover)?;
    let mut notes = Vec::new();
    let mut host = output::Host::detect();
    if cfg.hide_cgroup2 && host.cgroup == "hybrid" {
        if nix::unistd::geteuid().is_root() {
            mounts::hide_cgroup2()?;
            host.cgroup2_hidden = true;
            notes.push(format!(
                "hybrid cgroup host: every tool ran in a private mount namespace without {} \
                 (crun refuses to run next to it); --keep-cgroup2 keeps it",
                mounts::HYBRID_CGROUP2
            ));
        } else {
            notes.push("hybrid cgroup host, rootless: crun is expected to fail here".into());
        }
    }
    let busybox = rootfs::find_busybox(cfg.busybox.as_deref())?;
    let base = cfg.tmpdir.clone().unwrap_or_else(std::env::temp_dir);
    // Lowercase and short: podman names an image pulled from oci:DIR after
    // DIR, and refuses a runroot longer than 50 characters.
    let work = tempfile::Builder::new()
        .prefix(&format!(
            "husk-bench-{}-{:x}",
            std::process::id(),
            husk_runtime::trace::now_ns() & 0xff_ffff
        ))
        .rand_bytes(0)
        .tempdir_in(&base)
        .map_err(io(&base))?;
    let w = work.path();
    let bundle = w.join("bundle");
    rootfs::write_bundle(&bundle, &busybox)?;
    let source = match &cfg.image {
        Some(name) => ImageSource::Named(name.clone()),
        None if cfg.engine_runs => {
            let layout = w.join("image");
            let tar = rootfs::write_image_layout(&layout, &busybox)?;
            let tarball = w.join("rootfs.tar");
            std::fs::write(&tarball, tar).map_err(io(&tarball))?;
            ImageSource::Built { layout, tarball }
        }
        None => ImageSource::Named(String::new()),
    };
    Reaper::become_subreaper()?;
    interrupt::install()?;
    let mut reaper = Reaper::default();
    let slots_dir = w.join("slots");
    std::fs::create_dir_all(&slots_dir).map_err(io(&slots_dir))?;
    let me = std::env::current_exe().map_err(io(Path::new("/proc/self/exe")))?;
    let mut slots = Slots::new(&slots_dir, cfg.parallel.max(1), me)?;

    let mut entries = Vec::new();
    if cfg.lifecycle {
        // A --husk-runtime that is wrong is an error; a husk-runtime that is
        // not installed only makes husk's lifecycle unavailable.
        let husk = match cfg.husk_runtime.as_deref() {
            Some(p) => Ok(tools::husk_runtime_tool(Some(p))?),
            None => tools::husk_runtime_tool(None).map_err(|e| e.to_string()),
        };
        let mut runtimes: Vec<Result<Tool, String>> = vec![husk];
        runtimes.extend(
            others
                .iter()
                .filter(|t| t.kind == Kind::Runtime)
                .cloned()
                .map(Ok),
        );
        for (i, t) in runtimes.into_iter().enumerate() {
            match t {
                Ok(t) => {
                    let dir = w.join(format!("r{i}"));
                    let trace = cfg.phases && t.is_husk();
                    let l = lifecycle::Lifecycle::new(t, &bundle, &dir, trace)?;
                    entries.push(Entry::active(Box::new(l)));
                }
                Err(reason) => {
                    let t = husk_placeholder(Kind::Runtime);
                    entries.push(Entry::unavailable(t, &lifecycle::OPS, reason));
                }
            }
        }
    }
    if cfg.engine_runs {
        let husk = tools::engine(tools::HUSK)?;
        let engines =
            std::iter::once(husk).chain(others.into_iter().filter(|t| t.kind == Kind::Engine));
        for (i, t) in engines.enumerate() {
            let dir = w.join(format!("e{i}"));
            let name = t.clone();
            match engines::prepare(t, &dir, &source, cfg.phases)? {
                Prepared::Ready(e) => {
                    notes.extend(e.notes.iter().cloned());
                    entries.push(Entry::active(e));
                }
                Prepared::Unavailable(reason) => {
                    entries.push(Entry::unavailable(name, &engines::OPS, reason))
                }
                Prepared::Failed(f) => {
                    let mut e = Entry::unavailable(name, &engines::OPS, f.to_string());
                    e.problem = Some((Status::Failed, f.to_string()));
                    entries.push(e);
                }
            }
            reaper.reap_strays();
        }
    }

    let seed = cfg
        .seed
        .unwrap_or_else(|| husk_runtime::trace::now_ns() | 1);
    let mut shuffle = Shuffle(seed.max(1));
    let total = cfg.warmup + cfg.rounds;
    for round in 0..total {
        if interrupt::requested() {
            break;
        }
        let record = round >= cfg.warmup;
        let recorded = round.saturating_sub(cfg.warmup);
        let rss = record && cfg.rss_every > 0 && recorded % cfg.rss_every == 0;
        // Whoever runs right after an idle spell (or a long engine run)
        // pays the cgroup grace period in its first migration, so no tool
        // may always follow the same one.
        let active: Vec<usize> = (0..entries.len())
            .filter(|&i| entries[i].active.is_some())
            .collect();
        let mut order: Vec<usize> = balanced_order(active.len(), round)
            .into_iter()
            .map(|k| active[k])
            .collect();
        if cfg.shuffle {
            shuffle.permute(&mut order);
        }
        for &i in &order {
            if interrupt::requested() {
                break;
            }
            let e = &mut entries[i];
            let Some(p) = e.active.as_mut() else {
                continue;
            };
            let mut ctx = RoundCtx {
                reaper: &mut reaper,
                slots: &mut slots,
                parallel: cfg.parallel,
            };
            if let Err(f) = p.round(&mut ctx, record, rss)? {
                p.cleanup(&mut ctx);
                e.active = None;
                e.problem = Some((Status::Failed, f.to_string()));
            }
        }
    }
    for p in entries.iter_mut().filter_map(|e| e.active.as_mut()) {
        let mut ctx = RoundCtx {
            reaper: &mut reaper,
            slots: &mut slots,
            parallel: cfg.parallel,
        };
        p.cleanup(&mut ctx);
    }
    reaper.reap_strays();
    if interrupt::requested() {
        return Err(BenchError::Interrupted);
    }
    host.finish();
    let rows = rows(&entries, cfg);
    if !rows.iter().any(|r| r.status == Status::Ok) {
        let why: Vec<String> = rows
            .iter()
            .filter_map(|r| r.reason.as_ref().map(|why| format!("{}: {why}", r.tool)))
            .collect();
        return Err(BenchError::NothingMeasured(why.join("; ")));
    }
    Ok(Outcome::new(host, cfg, seed, &busybox, notes, rows))
}

/// husk's entry when it cannot be measured (no `husk-runtime`).
fn husk_placeholder(kind: Kind) -> Tool {
    Tool {
        name: tools::HUSK.to_owned(),
        kind,
        path: PathBuf::new(),
        version: None,
        flavour: tools::Flavour::Husk,
        engine_runtime: None,
    }
}

fn rows(entries: &[Entry], cfg: &Config) -> Vec<Row> {
    let mut rows = Vec::new();
    for e in entries {
        match (&e.active, &e.problem) {
            (_, Some((status, why))) => {
                rows.extend(output::unmeasured(&e.tool, e.ops, *status, why.clone()))
            }
            (Some(p), None) => rows.extend(output::measured(p.as_ref(), cfg.phases)),
            (None, None) => {}
        }
    }
    output::add_ratios(&mut rows, &cfg.baseline);
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn balanced_orders_let_every_tool_follow_every_other_equally() {
        for n in 1..8 {
            let rows = if n % 2 == 0 { n } else { 2 * n };
            let mut follows = vec![vec![0; n]; n];
            for r in 0..rows {
                let o = balanced_order(n, r);
                let mut sorted = o.clone();
                sorted.sort();
                assert_eq!(sorted, (0..n).collect::<Vec<_>>(), "row {r} of {n}");
                for w in o.windows(2) {
                    follows[w[0]][w[1]] += 1;
                }
            }
            let want = if n % 2 == 0 { 1 } else { 2 };
            for (a, row) in follows.iter().enumerate() {
                for (b, &k) in row.iter().enumerate() {
                    assert_eq!(k, if a == b { 0 } else { want }, "{a} then {b}, n {n}");
                }
            }
        }
        assert!(balanced_order(0, 3).is_empty());
    }

    #[test]
    fn shuffle_is_a_seeded_permutation() {
        let mut a = Shuffle(42);
        let mut b = Shuffle(42);
        let (mut x, mut y): (Vec<usize>, Vec<usize>) = ((0..9).collect(), (0..9).collect());
        a.permute(&mut x);
        b.permute(&mut y);
        assert_eq!(x, y);
        let mut sorted = x.clone();
        sorted.sort();
        assert_eq!(sorted, (0..9).collect::<Vec<_>>());
        let firsts: std::collections::HashSet<usize> = (0..50)
            .map(|_| {
                a.permute(&mut x);
                x[0]
            })
            .collect();
        assert!(firsts.len() > 3, "{firsts:?}");
    }
}
