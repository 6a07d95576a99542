//! The OCI runtime lifecycle of a busybox `true`: `create`, `start` and
//! `delete` timed separately, then `run` (all of it in one command), with
//! the runtime's own command line (runc's), a private state root and a
//! pid file per container.

use std::path::{Path, PathBuf};

use super::participant::{window, Mode, Participant, RoundCtx, Series};
use super::spawn::{Failure, Job};
use super::tools::Tool;
use super::BenchError;

/// The lifecycle operations, in the order they run and are reported.
pub const OPS: [&str; 4] = ["create", "start", "delete", "run"];

/// One runtime's lifecycle benchmark.
#[derive(Debug)]
pub struct Lifecycle {
    tool: Tool,
    bundle: PathBuf,
    root: PathBuf,
    scratch: PathBuf,
    seq: u64,
    trace: bool,
    series: Vec<Series>,
    live: Vec<String>,
}

impl Lifecycle {
    /// The benchmark of `tool` running `bundle`, keeping its state and
    /// files under `dir`; `trace` records husk's phases.
    pub fn new(
        tool: Tool,
        bundle: &Path,
        dir: &Path,
        trace: bool,
    ) -> Result<Lifecycle, BenchError> {
        let root = dir.join("state");
        let scratch = dir.join("scratch");
        for d in [&root, &scratch] {
            std::fs::create_dir_all(d).map_err(|source| BenchError::Io {
                path: d.clone(),
                source,
            })?;
        }
        Ok(Lifecycle {
            tool,
            bundle: bundle.to_owned(),
            root,
            scratch,
            seq: 0,
            trace,
            series: OPS.iter().map(|_| Series::default()).collect(),
            live: Vec::new(),
        })
    }

    fn ids(&mut self, n: usize) -> Vec<String> {
        (0..n)
            .map(|_| {
                self.seq += 1;
                format!("husk-bench-{}-{}", std::process::id(), self.seq)
            })
            .collect()
    }

    fn job(&self, id: &str, args: &[&str]) -> Job {
        let mut job = Job::new(&self.tool.path, &["--root".as_ref(), self.root.as_os_str()]);
        job = job.args(args);
        match args[0] {
            "create" | "run" => {
                job = job
                    .args(&["--bundle".as_ref(), self.bundle.as_os_str()])
                    .args(&["--pid-file".as_ref(), self.pid_file(id).as_os_str()]);
            }
            _ => {}
        }
        job = job.args(&[id]);
        if self.trace {
            job.trace_file = Some(self.scratch.join(format!("{id}.trace")));
        }
        job
    }

    fn pid_file(&self, id: &str) -> PathBuf {
        self.scratch.join(format!("{id}.pid"))
    }

    /// Runs `op` for every id concurrently and records what `mode` asks.
    fn step(
        &mut self,
        ctx: &mut RoundCtx<'_>,
        op_index: usize,
        ids: &[String],
        mode: Mode,
    ) -> Result<Result<(), Failure>, BenchError> {
        let op = OPS[op_index];
        let jobs: Vec<Job> = ids.iter().map(|id| self.job(id, &[op])).collect();
        let done = match ctx.slots.run(ctx.reaper, &jobs, mode == Mode::Rss)? {
            Ok(d) => d,
            Err(f) => return Ok(Err(f)),
        };
        let series = &mut self.series[op_index];
        match mode {
            Mode::Warmup => {}
            Mode::Rss => series.add_rss(&done),
            Mode::Sample => {
                let traces = if self.trace {
                    jobs.iter().zip(&done).map(|(j, d)| window(j, d)).collect()
                } else {
                    Vec::new()
                };
                series.add_samples(&done, traces);
            }
        }
        Ok(Ok(()))
    }

    /// Waits for the containers' inits to exit (the benchmark is their
    /// subreaper once the runtime that created them is gone).
    fn wait_exited(
        &self,
        ctx: &mut RoundCtx<'_>,
        ids: &[String],
    ) -> Result<Result<(), Failure>, BenchError> {
        for id in ids {
            let pf = self.pid_file(id);
            let Some(pid) = std::fs::read_to_string(&pf)
                .ok()
                .and_then(|s| s.trim().parse::<i32>().ok())
            else {
                return Ok(Err(Failure {
                    command: format!("{} create {id}", self.tool.path.display()),
                    status: "exit status 0".into(),
                    stderr: format!("wrote no pid to {}", pf.display()),
                }));
            };
            ctx.wait_container(pid)?;
        }
        Ok(Ok(()))
    }

    /// create, start, (exit), delete of `n` containers, then `run` of `n`.
    fn sequence(
        &mut self,
        ctx: &mut RoundCtx<'_>,
        n: usize,
        mode: Mode,
    ) -> Result<Result<(), Failure>, BenchError> {
        let ids = self.ids(n);
        self.live.extend(ids.iter().cloned());
        macro_rules! step {
            ($e:expr) => {
                if let Err(f) = $e? {
                    return Ok(Err(f));
                }
            };
        }
        step!(self.step(ctx, 0, &ids, mode));
        step!(self.step(ctx, 1, &ids, mode));
        step!(self.wait_exited(ctx, &ids));
        step!(self.step(ctx, 2, &ids, mode));
        self.live.retain(|l| !ids.contains(l));
        for id in &ids {
            self.forget(id);
        }
        let ids = self.ids(n);
        step!(self.step(ctx, 3, &ids, mode));
        for id in &ids {
            self.forget(id);
        }
        Ok(Ok(()))
    }

    fn forget(&self, id: &str) {
        let _ = std::fs::remove_file(self.pid_file(id));
        let _ = std::fs::remove_file(self.scratch.join(format!("{id}.trace")));
    }
}

impl Participant for Lifecycle {
    fn tool(&self) -> &Tool {
        &self.tool
    }

    fn ops(&self) -> &'static [&'static str] {
        &OPS
    }

    fn round(
        &mut self,
        ctx: &mut RoundCtx<'_>,
        record: bool,
        rss: bool,
    ) -> Result<Result<(), Failure>, BenchError> {
        let mode = if record { Mode::Sample } else { Mode::Warmup };
        if let Err(f) = self.sequence(ctx, ctx.parallel, mode)? {
            return Ok(Err(f));
        }
        if rss {
            // One more container through the launcher, for peak RSS only.
            return self.sequence(ctx, 1, Mode::Rss);
        }
        Ok(Ok(()))
    }

    fn series(&self) -> &[Series] {
        &self.series
    }

    fn cleanup(&mut self, ctx: &mut RoundCtx<'_>) {
        let live = std::mem::take(&mut self.live);
        let jobs: Vec<Job> = live
            .iter()
            .map(|id| {
                Job::new(&self.tool.path, &["--root".as_ref(), self.root.as_os_str()])
                    .args(&["delete", "--force", id])
            })
            .collect();
        for chunk in jobs.chunks(ctx.parallel.max(1)) {
            let _ = ctx.slots.run(ctx.reaper, chunk, false);
        }
        ctx.reaper.reap_strays();
    }
}
