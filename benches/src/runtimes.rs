//! The OCI runtimes the suite compares (husk-runtime, crun, runc when
//! installed), the busybox `true` bundle they all run, and one timed
//! `RUNTIME run` with optional peak RSS through GNU time.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{bail, Context, Result};

/// One runtime binary.
#[derive(Debug, Clone)]
pub struct Runtime {
    /// Report name.
    pub name: String,
    /// The binary.
    pub path: PathBuf,
}

/// The first `name` on `PATH`.
pub fn find_in_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

/// husk-runtime: `$HUSK_RUNTIME`, else next to this benchmark.
pub fn husk_runtime() -> Result<PathBuf> {
    if let Some(p) = std::env::var_os("HUSK_RUNTIME") {
        return Ok(PathBuf::from(p));
    }
    let p = std::env::current_exe()?
        .parent()
        .map(|d| d.join("husk-runtime"))
        .context("locating husk-runtime")?;
    if !p.exists() {
        bail!(
            "{} not found: build it first (cargo build --release --bins)",
            p.display()
        );
    }
    Ok(p)
}

/// husk-runtime first, then crun and runc when installed.
pub fn all() -> Result<Vec<Runtime>> {
    let mut v = vec![Runtime {
        name: "husk-runtime".into(),
        path: husk_runtime()?,
    }];
    for name in ["crun", "runc"] {
        if let Some(p) = find_in_path(name) {
            v.push(Runtime {
                name: name.into(),
                path: p,
            });
        }
    }
    Ok(v)
}

/// A busybox `true` bundle: the fixture's rootfs and `husk-runtime spec`
/// without terminal or resource limits (every runtime honours them alike).
pub fn make_bundle(dir: &Path, husk: &Path) -> Result<()> {
    let image = husk_tests::fixtures::cached("busybox");
    husk_tests::bundle::unpack_image(&image.layout_dir, &dir.join("rootfs"))
        .map_err(|e| anyhow::anyhow!("unpacking busybox: {e}"))?;
    let st = Command::new(husk)
        .args(["spec", "--bundle"])
        .arg(dir)
        .status()?;
    if !st.success() {
        bail!("husk-runtime spec failed");
    }
    let path = dir.join("config.json");
    let mut spec: serde_json::Value = serde_json::from_slice(&std::fs::read(&path)?)?;
    spec["process"]["terminal"] = false.into();
    spec["process"]["args"] = serde_json::json!(["true"]);
    spec["linux"]["resources"] = serde_json::json!({});
    std::fs::write(&path, serde_json::to_vec_pretty(&spec)?)?;
    Ok(())
}

/// GNU time, used to measure peak RSS: the kernel keeps the pre-exec
/// memory's high-water mark in ru_maxrss, so a runtime forked straight from
/// this (larger) benchmark would report our RSS; one forked by the small
/// `time` process reports its own (floor: time's RSS, about 1.3 MB).
const LAUNCHER: &str = "/usr/bin/time";

/// What one `run` should also do.
#[derive(Debug, Clone, Default)]
pub struct RunOpts {
    /// Measure peak RSS through [`LAUNCHER`] (then the time is not a sample).
    pub rss: bool,
    /// husk's trace file (`$HUSK_TRACE_FILE`).
    pub trace: Option<PathBuf>,
}

/// Runs one `RUNTIME --root ROOT run --bundle B ID` and returns
/// (milliseconds, peak RSS KiB when asked).
pub fn run_once(
    rt: &Runtime,
    root: &Path,
    bundle: &Path,
    id: &str,
    o: &RunOpts,
) -> Result<(f64, Option<i64>)> {
    let rss_file = root.with_extension(format!("{id}.rss"));
    let mut cmd = if o.rss {
        let mut c = Command::new(LAUNCHER);
        c.args(["-f", "%M", "-o"]).arg(&rss_file).arg(&rt.path);
        c
    } else {
        Command::new(&rt.path)
    };
    cmd.arg("--root")
        .arg(root)
        .args(["run", "--bundle"])
        .arg(bundle)
        .arg(id)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .env_remove("HUSK_TRACE_FILE");
    if let Some(t) = &o.trace {
        cmd.env("HUSK_TRACE_FILE", t);
    }
    let start = Instant::now();
    let out = cmd
        .output()
        .with_context(|| format!("starting {}", rt.path.display()))?;
    let elapsed = start.elapsed().as_secs_f64() * 1000.0;
    if !out.status.success() {
        bail!(
            "{} run failed ({}): {}",
            rt.name,
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    if !o.rss {
        return Ok((elapsed, None));
    }
    let text = std::fs::read_to_string(&rss_file)
        .with_context(|| format!("reading {}", rss_file.display()))?;
    let _ = std::fs::remove_file(&rss_file);
    let kb = text
        .trim()
        .lines()
        .last()
        .and_then(|l| l.trim().parse().ok())
        .with_context(|| format!("parsing GNU time output {text:?}"))?;
    Ok((elapsed, Some(kb)))
}
