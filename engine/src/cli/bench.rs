//! `husk bench startup`: the start-up latency benchmark users run, and the
//! hidden `husk bench launch` it measures peak RSS through.

use std::ffi::OsString;
use std::path::PathBuf;

use anyhow::Context as _;
use clap::{Args, Subcommand, ValueEnum};

use super::ctx::Ctx;
use crate::bench::{self, Config};

/// `husk bench` subcommands.
#[derive(Debug, Args)]
pub struct BenchArgs {
    #[command(subcommand)]
    command: BenchCommand,
}

#[derive(Debug, Subcommand)]
enum BenchCommand {
    /// Measure container start-up: husk against the OCI runtimes and
    /// engines on this host, interleaved.
    ///
    /// Runtimes (husk-runtime, which must be next to husk or on PATH,
    /// crun, runc, youki when found, and each `--runtime PATH|NAME`) run a busybox `true` bundle:
    /// create, start and delete timed separately, then run. Engines (husk,
    /// podman when found, docker when named) run `run --rm IMAGE true`
    /// with the same busybox as a private image. The workload is built
    /// from a static busybox only. Results go to stdout as a table (or
    /// JSON with --json); notes and errors to stderr.
    Startup(StartupArgs),
    /// Run a program and write its peak RSS to a file (used by startup).
    #[command(hide = true)]
    Launch(LaunchArgs),
}

/// What `startup` measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Only {
    /// Runtime lifecycles only.
    Runtimes,
    /// Engine runs only.
    Engines,
}

/// `husk bench startup` flags.
#[derive(Debug, Args)]
pub struct StartupArgs {
    /// Recorded rounds (every tool runs once per round).
    #[arg(short = 'n', long, default_value_t = 20, value_name = "N")]
    rounds: usize,
    /// Unrecorded rounds first.
    #[arg(long, default_value_t = 2, value_name = "N")]
    warmup: usize,
    /// Start P containers at once per tool and operation (measures
    /// throughput too).
    #[arg(short = 'p', long, default_value_t = 1, value_name = "P")]
    parallel: usize,
    /// Shuffle the order of tools in every round (default: each round
    /// runs every tool once, ordered so that every tool follows every
    /// other equally often).
    #[arg(long)]
    shuffle: bool,
    /// Seed for --shuffle.
    #[arg(long, value_name = "N")]
    seed: Option<u64>,
    /// An engine to compare: podman, docker or a path, optionally
    /// +RUNTIME (podman+runc) (repeatable).
    #[arg(long = "engine", value_name = "NAME|PATH[+RUNTIME]")]
    engines: Vec<String>,
    /// Measure only husk and the tools named, not those found on PATH.
    #[arg(long)]
    no_discover: bool,
    /// Measure only runtimes or only engines.
    #[arg(long, value_enum, value_name = "WHAT")]
    only: Option<Only>,
    /// The tool ratios are relative to.
    #[arg(long, default_value = "husk", value_name = "NAME")]
    baseline: String,
    /// husk's runtime binary (default: husk-runtime next to husk, else on
    /// PATH).
    #[arg(long, value_name = "PATH")]
    husk_runtime: Option<PathBuf>,
    /// Run this image (already in each engine's default store) instead of
    /// the busybox image the benchmark builds into private stores.
    #[arg(long, value_name = "IMAGE")]
    image: Option<String>,
    /// The static busybox to build the workload from (default
    /// /bin/busybox).
    #[arg(long, value_name = "PATH")]
    busybox: Option<PathBuf>,
    /// Print JSON (schema husk-bench-startup/1) instead of the table.
    #[arg(long)]
    json: bool,
    /// Also write the latency distributions as an SVG chart.
    #[arg(long, value_name = "FILE.svg")]
    chart: Option<PathBuf>,
    /// Trace husk's commands and report each phase's share.
    #[arg(long)]
    phases: bool,
    /// Keep a hybrid host's cgroup2 mount visible (crun then fails).
    #[arg(long)]
    keep_cgroup2: bool,
    /// Measure peak RSS every N rounds (0: never).
    #[arg(long, default_value_t = 5, value_name = "N")]
    rss_every: usize,
}

/// `husk bench launch` flags.
#[derive(Debug, Args)]
pub struct LaunchArgs {
    /// Where to write the peak RSS (KiB).
    #[arg(long, value_name = "FILE")]
    rss_file: PathBuf,
    /// The program and its arguments.
    #[arg(last = true, required = true)]
    argv: Vec<OsString>,
}

/// `husk bench`.
pub fn bench(ctx: &mut Ctx, a: BenchArgs) -> anyhow::Result<i32> {
    match a.command {
        BenchCommand::Startup(s) => startup(ctx, s),
        BenchCommand::Launch(l) => Ok(bench::spawn::launch(&l.rss_file, &l.argv)?),
    }
}

fn startup(ctx: &mut Ctx, a: StartupArgs) -> anyhow::Result<i32> {
    let cfg = Config {
        rounds: a.rounds,
        warmup: a.warmup,
        parallel: a.parallel,
        shuffle: a.shuffle,
        seed: a.seed,
        // `--runtime PATH|NAME` (repeatable) is the global flag.
        runtimes: ctx.global.runtime.clone(),
        engines: a.engines,
        discover: !a.no_discover,
        lifecycle: a.only != Some(Only::Engines),
        engine_runs: a.only != Some(Only::Runtimes),
        baseline: a.baseline,
        husk_runtime: a.husk_runtime,
        image: a.image,
        busybox: a.busybox,
        phases: a.phases,
        hide_cgroup2: !a.keep_cgroup2,
        rss_every: a.rss_every,
        tmpdir: ctx.global.tmpdir.clone(),
    };
    let outcome = match bench::startup(&cfg) {
        Ok(o) => o,
        // 128 + SIGINT, as a shell reports a command stopped by Ctrl-C.
        Err(e @ bench::BenchError::Interrupted) => {
            super::error::report(&e.into());
            return Ok(130);
        }
        Err(e) => return Err(e.into()),
    };
    if let Some(path) = &a.chart {
        std::fs::write(path, bench::svg::render(&outcome))
            .with_context(|| format!("writing the chart {}", path.display()))?;
    }
    if a.json {
        println!("{}", serde_json::to_string_pretty(&outcome)?);
    } else {
        print!("{}", outcome.to_table());
    }
    Ok(0)
}
