//! Engines: `ENGINE run --rm IMAGE true`, each with a private store
//! holding the busybox image (podman, husk), or docker's daemon with the
//! image imported under a benchmark tag and removed afterwards.

use std::ffi::OsString;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::participant::{window, Mode, Participant, RoundCtx, Series};
use super::spawn::{Failure, Job};
use super::tools::{Flavour, Tool};
use super::BenchError;
use crate::trace::TRACE_FILE_ENV;

/// The benchmark's operation for engines.
pub const OPS: [&str; 1] = ["run --rm"];

/// The tag the busybox image gets in each engine's store.
pub const IMAGE_REF: &str = "localhost/husk-bench/busybox:latest";

/// The rlimits asked for when an engine's defaults exceed what this host
/// allows (podman 4.3 asks for 1048576 open files and processes).
pub const FALLBACK_ULIMITS: [&str; 4] = [
    "--ulimit",
    "nofile=4096:4096",
    "--ulimit",
    "nproc=4096:4096",
];

/// Where the engines' image comes from.
#[derive(Debug, Clone)]
pub enum ImageSource {
    /// Built by the benchmark: an OCI layout and its layer as a tarball.
    Built {
        /// The OCI layout directory (tag `latest`).
        layout: PathBuf,
        /// The rootfs tarball.
        tarball: PathBuf,
    },
    /// An image already in each engine's default store (`--image`).
    Named(String),
}

/// An engine ready to be measured, or why it is not.
#[derive(Debug)]
pub enum Prepared {
    /// Ready.
    Ready(Box<EngineRun>),
    /// It lacks what the benchmark needs (husk before `husk run`).
    Unavailable(String),
    /// A setup command failed.
    Failed(Failure),
}

/// One engine's `run --rm` benchmark.
#[derive(Debug)]
pub struct EngineRun {
    tool: Tool,
    prefix: Vec<OsString>,
    run_args: Vec<String>,
    image: String,
    store: Option<PathBuf>,
    imported: bool,
    scratch: PathBuf,
    trace: bool,
    seq: u64,
    series: Vec<Series>,
    /// What the benchmark changed to make the engine run.
    pub notes: Vec<String>,
}

/// Runs an untimed setup command; stdout and stderr go through files (a
/// container's monitor may hold pipes open).
fn setup(argv: &[OsString], dir: &Path) -> Result<Result<String, Failure>, BenchError> {
    let (out_p, err_p) = (dir.join("setup.out"), dir.join("setup.err"));
    let file = |p: &Path| {
        std::fs::File::create(p).map_err(|source| BenchError::Io {
            path: p.to_owned(),
            source,
        })
    };
    let status = Command::new(&argv[0])
        .args(&argv[1..])
        .process_group(0)
        .stdin(Stdio::null())
        .stdout(file(&out_p)?)
        .stderr(file(&err_p)?)
        .env_remove(TRACE_FILE_ENV)
        .status()
        .map_err(|source| BenchError::Spawn {
            program: PathBuf::from(&argv[0]),
            source,
        })?;
    let out = std::fs::read_to_string(&out_p).unwrap_or_default();
    if status.success() {
        return Ok(Ok(out));
    }
    let err = std::fs::read_to_string(&err_p).unwrap_or_default();
    Ok(Err(Failure {
        command: argv
            .iter()
            .map(|a| a.to_string_lossy())
            .collect::<Vec<_>>()
            .join(" "),
        status: status.to_string(),
        stderr: err.trim().chars().take(4096).collect(),
    }))
}

fn os(args: &[&str]) -> Vec<OsString> {
    args.iter().map(OsString::from).collect()
}

impl EngineRun {
    fn cmd(&self, args: &[&str]) -> Vec<OsString> {
        let mut v = self.prefix.clone();
        v.extend(os(args));
        v
    }

    fn run_argv(&self) -> Vec<OsString> {
        let mut v = self.cmd(&["run", "--rm"]);
        v.extend(self.run_args.iter().map(OsString::from));
        v.extend(os(&[&self.image, "true"]));
        v
    }
}

/// Sets `tool` up under `dir`: a private store with the image loaded (or
/// the named image), and one probe run that must succeed. An engine whose
/// default rlimits this host refuses is retried with
/// [`FALLBACK_ULIMITS`], noted.
pub fn prepare(
    tool: Tool,
    dir: &Path,
    source: &ImageSource,
    trace: bool,
) -> Result<Prepared, BenchError> {
    std::fs::create_dir_all(dir).map_err(|e| BenchError::Io {
        path: dir.to_owned(),
        source: e,
    })?;
    // A failed step still removes what the engine put in its store.
    macro_rules! try_setup {
        ($e:ident, $argv:expr) => {
            match setup(&$argv, dir)? {
                Ok(out) => out,
                Err(f) => {
                    $e.teardown();
                    return Ok(Prepared::Failed(f));
                }
            }
        };
    }
    if tool.flavour == Flavour::Husk {
        let argv = vec![
            tool.path.clone().into_os_string(),
            "run".into(),
            "--help".into(),
        ];
        if setup(&argv, dir)?.is_err() {
            return Ok(Prepared::Unavailable(
                "this husk has no `run` command yet".into(),
            ));
        }
    }
    let private = matches!(source, ImageSource::Built { .. }) && tool.flavour != Flavour::Docker;
    let mut prefix = vec![tool.path.clone().into_os_string()];
    let store = private.then(|| dir.to_owned());
    if let Some(s) = &store {
        for (flag, sub) in [
            ("--root", "root"),
            ("--runroot", "run"),
            ("--tmpdir", "tmp"),
        ] {
            prefix.push(flag.into());
            prefix.push(s.join(sub).into_os_string());
        }
    }
    let mut e = EngineRun {
        prefix,
        run_args: Vec::new(),
        image: IMAGE_REF.to_owned(),
        store,
        imported: false,
        scratch: dir.to_owned(),
        trace: trace && tool.is_husk(),
        seq: 0,
        series: vec![Series::default()],
        notes: Vec::new(),
        tool,
    };
    if let Some(rt) = &e.tool.engine_runtime {
        e.run_args.extend(["--runtime".to_owned(), rt.clone()]);
    }
    match source {
        ImageSource::Named(name) => e.image = name.clone(),
        ImageSource::Built { tarball, .. } if e.tool.flavour == Flavour::Docker => {
            let mut argv = e.cmd(&[
                "import",
                "--change",
                "ENV PATH=/usr/sbin:/usr/bin:/sbin:/bin",
            ]);
            argv.push(tarball.clone().into_os_string());
            argv.push(IMAGE_REF.into());
            e.imported = true;
            try_setup!(e, argv);
        }
        ImageSource::Built { layout, .. } => {
            let oci = format!("oci:{}:{}", layout.display(), super::rootfs::IMAGE_TAG);
            e.imported = true;
            let out = try_setup!(e, e.cmd(&["pull", "-q", &oci]));
            let id = out.lines().last().unwrap_or_default().trim().to_owned();
            try_setup!(e, e.cmd(&["tag", &id, IMAGE_REF]));
        }
    }
    match setup(&e.run_argv(), dir)? {
        Ok(_) => {}
        Err(f) if f.stderr.to_lowercase().contains("rlimit") => {
            e.run_args.extend(FALLBACK_ULIMITS.map(String::from));
            if let Err(f2) = setup(&e.run_argv(), dir)? {
                e.teardown();
                return Ok(Prepared::Failed(f2));
            }
            e.notes.push(format!(
                "{}: its default rlimits are refused on this host ({}); measured with {}",
                e.tool.name,
                f.stderr.lines().last().unwrap_or_default(),
                FALLBACK_ULIMITS.join(" ")
            ));
        }
        Err(f) => {
            e.teardown();
            return Ok(Prepared::Failed(f));
        }
    }
    Ok(Prepared::Ready(Box::new(e)))
}

impl EngineRun {
    /// `n` concurrent `run --rm`s, recorded as `mode` says.
    fn batch(
        &mut self,
        ctx: &mut RoundCtx<'_>,
        n: usize,
        mode: Mode,
    ) -> Result<Result<(), Failure>, BenchError> {
        let jobs: Vec<Job> = (0..n)
            .map(|_| {
                self.seq += 1;
                let argv = self.run_argv();
                let mut j = Job::new(Path::new(&argv[0]), &argv[1..]);
                if self.trace && mode == Mode::Sample {
                    j.trace_file = Some(self.scratch.join(format!("run-{}.trace", self.seq)));
                }
                j
            })
            .collect();
        let result = ctx.slots.run(ctx.reaper, &jobs, mode == Mode::Rss)?;
        // podman's conmon outlives podman and is reparented to us.
        ctx.reaper.reap_strays();
        let done = match result {
            Ok(d) => d,
            Err(f) => return Ok(Err(f)),
        };
        match mode {
            Mode::Warmup => {}
            Mode::Rss => self.series[0].add_rss(&done),
            Mode::Sample => {
                let traces = jobs
                    .iter()
                    .zip(&done)
                    .filter(|(j, _)| j.trace_file.is_some())
                    .map(|(j, d)| window(j, d))
                    .collect();
                self.series[0].add_samples(&done, traces);
            }
        }
        for t in jobs.iter().filter_map(|j| j.trace_file.as_ref()) {
            let _ = std::fs::remove_file(t);
        }
        Ok(Ok(()))
    }
}

impl Participant for EngineRun {
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
        if let Err(f) = self.batch(ctx, ctx.parallel, mode)? {
            return Ok(Err(f));
        }
        if rss {
            return self.batch(ctx, 1, Mode::Rss);
        }
        Ok(Ok(()))
    }

    fn series(&self) -> &[Series] {
        &self.series
    }

    fn cleanup(&mut self, ctx: &mut RoundCtx<'_>) {
        self.teardown();
        ctx.reaper.reap_strays();
    }
}

impl EngineRun {
    /// Removes the containers, the private store (and its mounts) or the
    /// imported image. Idempotent.
    fn teardown(&mut self) {
        let dir = self.scratch.clone();
        if let Some(store) = self.store.take() {
            let _ = setup(&self.cmd(&["rm", "--all", "--force"]), &dir);
            if self.tool.flavour == Flavour::Podman {
                let _ = setup(&self.cmd(&["system", "reset", "--force"]), &dir);
            }
            super::mounts::unmount_under(&store);
            let _ = std::fs::remove_dir_all(&store);
        } else if self.imported {
            self.imported = false;
            let _ = setup(&self.cmd(&["rmi", "--force", IMAGE_REF]), &dir);
        }
    }
}
