//! What every measured tool does per round, and what it collects.

use std::time::Duration;

use super::spawn::{Done, Failure, Job, Reaper, Slots};
use super::tools::Tool;
use super::BenchError;
use crate::trace::Report;

/// The samples of one tool's operation.
#[derive(Debug, Default, Clone)]
pub struct Series {
    /// Each command's latency, spawn to reap (ms).
    pub samples_ms: Vec<f64>,
    /// Each batch's wall time, first spawn to last reap (ms): with
    /// `--parallel P`, P commands ran in it.
    pub batch_ms: Vec<f64>,
    /// Peak RSS samples (KiB), from the launcher rounds.
    pub rss_kib: Vec<u64>,
    /// The traces of husk's commands (with `--phases`).
    pub traces: Vec<Report>,
}

impl Series {
    /// Adds one batch of timed commands.
    pub fn add_samples(&mut self, done: &[Done], traces: Vec<Report>) {
        self.samples_ms.extend(done.iter().map(Done::ms));
        let first = done.iter().map(|d| d.start_ns).min();
        let last = done.iter().map(|d| d.exit.end_ns).max();
        if let (Some(f), Some(l)) = (first, last) {
            self.batch_ms.push(l.saturating_sub(f) as f64 / 1e6);
        }
        self.traces.extend(traces);
    }

    /// Adds the peak RSS of launcher-run commands.
    pub fn add_rss(&mut self, done: &[Done]) {
        self.rss_kib.extend(done.iter().filter_map(|d| d.rss_kib));
    }

    /// Commands per second over all batches.
    pub fn throughput_per_s(&self) -> Option<f64> {
        let wall: f64 = self.batch_ms.iter().sum();
        (wall > 0.0).then(|| self.samples_ms.len() as f64 / (wall / 1e3))
    }
}

/// What a batch of commands records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Nothing (warm-up).
    Warmup,
    /// Latency samples (and traces).
    Sample,
    /// Peak RSS, through the launcher.
    Rss,
}

/// The trace of one command: the lines that started while it ran, with
/// its spawn time as T0 and its reap time as the end. (A container's init
/// keeps the trace file it inherited at `create` and records its last
/// phases during `start`, so one file serves a container's commands.)
pub fn window(job: &Job, done: &Done) -> Report {
    let text = job
        .trace_file
        .as_ref()
        .and_then(|f| std::fs::read_to_string(f).ok())
        .unwrap_or_default();
    let lines: String = text
        .lines()
        .filter(|l| {
            l.split('\t')
                .nth(2)
                .and_then(|s| s.parse::<u64>().ok())
                .is_some_and(|s| s >= done.start_ns && s <= done.exit.end_ns)
        })
        .flat_map(|l| [l, "\n"])
        .collect();
    Report::parse(&lines)
        .with_t0(done.start_ns)
        .with_end(done.exit.end_ns)
}

/// What a round can use.
#[derive(Debug)]
pub struct RoundCtx<'a> {
    /// Reaps every child.
    pub reaper: &'a mut Reaper,
    /// Runs timed jobs.
    pub slots: &'a mut Slots,
    /// Concurrent commands per batch.
    pub parallel: usize,
}

fn parent_of(pid: i32) -> Option<(i32, char)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces and parentheses: fields follow the
    // last ')'.
    let rest = &stat[stat.rfind(')')? + 2..];
    let mut f = rest.split(' ');
    let state = f.next()?.chars().next()?;
    Some((f.next()?.parse().ok()?, state))
}

impl RoundCtx<'_> {
    /// Waits until a container's process `pid` has exited: reaps it when
    /// it is our child (the usual case: we are the subreaper), else polls
    /// until it is gone or a zombie of its own parent.
    pub fn wait_container(&mut self, pid: i32) -> Result<(), BenchError> {
        let me = std::process::id() as i32;
        loop {
            match parent_of(pid) {
                Some((parent, _)) if parent == me => {
                    self.reaper.wait(pid)?;
                    return Ok(());
                }
                Some((_, 'Z')) | None => {
                    // Gone, or reaped already by us.
                    self.reaper.forget(pid);
                    return Ok(());
                }
                Some(_) => std::thread::sleep(Duration::from_micros(200)),
            }
        }
    }
}

/// A tool under test: runs its operations once per round.
pub trait Participant: std::fmt::Debug {
    /// The tool.
    fn tool(&self) -> &Tool;
    /// Its operations, in report order; [`Participant::series`] matches.
    fn ops(&self) -> &'static [&'static str];
    /// One round: every operation for `ctx.parallel` containers; samples
    /// are kept only when `record` (not during warm-up); with `rss`, one
    /// more pass through the launcher measures peak RSS. A failing
    /// command ends the round with its [`Failure`].
    fn round(
        &mut self,
        ctx: &mut RoundCtx<'_>,
        record: bool,
        rss: bool,
    ) -> Result<Result<(), Failure>, BenchError>;
    /// The samples, one series per operation.
    fn series(&self) -> &[Series];
    /// Removes whatever the tool left (containers, stores).
    fn cleanup(&mut self, ctx: &mut RoundCtx<'_>);
}
