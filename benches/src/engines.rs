//! The engines the suite compares, each with a private store holding the
//! busybox fixture pulled from a local registry: husk, podman with crun
//! and podman with runc, rootful or as the unprivileged test user.
//!
//! An engine that cannot run here is reported "not available (reason)",
//! never a failure of the suite: husk until `husk run`/`husk pull` land,
//! rootless podman+crun on this hybrid host.

use std::ffi::OsString;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Instant;

use anyhow::{anyhow, Context, Result};
use husk_tests::registry::Registry;
use husk_tests::rootless::TestUser;

/// podman 4.3 asks for nofile and nproc limits of 1048576, which root
/// cannot set on this host (no CAP_SYS_RESOURCE, hard limit 20000).
pub const ULIMITS: [&str; 4] = [
    "--ulimit",
    "nofile=4096:4096",
    "--ulimit",
    "nproc=4096:4096",
];

/// The engines, in report order.
pub const NAMES: [&str; 3] = ["husk", "podman+crun", "podman+runc"];

/// Rootful, or as the test user.
#[derive(Debug, Clone)]
pub enum Mode {
    /// As root.
    Rootful,
    /// As this user.
    Rootless(TestUser),
}

impl Mode {
    /// "rootful" or "rootless".
    pub fn name(&self) -> &'static str {
        match self {
            Mode::Rootful => "rootful",
            Mode::Rootless(_) => "rootless",
        }
    }

    fn user(&self) -> Option<&TestUser> {
        match self {
            Mode::Rootful => None,
            Mode::Rootless(u) => Some(u),
        }
    }
}

/// The busybox fixture in a local registry.
#[derive(Debug)]
pub struct Fixture {
    _registry: Registry,
    /// `127.0.0.1:PORT/busybox:latest`.
    pub reference: String,
    /// The registries.conf that lets engines reach it over plain HTTP.
    conf: tempfile::TempDir,
    /// Compressed size of the image (manifest, config, layers), bytes.
    pub size: u64,
}

impl Fixture {
    /// Starts a registry and pushes the busybox fixture to it.
    pub fn start() -> Result<Fixture> {
        let registry = Registry::start().map_err(|e| anyhow!("{e}"))?;
        let image = husk_tests::fixtures::cached("busybox");
        let pushed = registry
            .push_layout(&image.layout_dir, &image.tag, "busybox")
            .map_err(|e| anyhow!("{e}"))?;
        let conf = tempfile::Builder::new().prefix("hb-conf-").tempdir()?;
        fs::set_permissions(conf.path(), fs::Permissions::from_mode(0o755))?;
        let file = conf.path().join("registries.conf");
        fs::write(
            &file,
            format!(
                "unqualified-search-registries = [\"{h}\"]\n\n[[registry]]\nlocation = \"{h}\"\ninsecure = true\n",
                h = registry.host()
            ),
        )?;
        fs::set_permissions(&file, fs::Permissions::from_mode(0o644))?;
        let size = dir_size(&image.layout_dir.join("blobs"));
        Ok(Fixture {
            _registry: registry,
            reference: pushed.reference,
            conf,
            size,
        })
    }

    /// The registries.conf path.
    pub fn registries_conf(&self) -> PathBuf {
        self.conf.path().join("registries.conf")
    }
}

fn dir_size(p: &Path) -> u64 {
    fs::read_dir(p)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| {
            let m = e.metadata().ok();
            match m {
                Some(m) if m.is_dir() => dir_size(&e.path()),
                Some(m) => m.len(),
                None => 0,
            }
        })
        .sum()
}

/// The husk binary: `$HUSK_BIN`, else `husk` next to this benchmark.
pub fn husk_binary() -> Result<PathBuf> {
    if let Some(p) = std::env::var_os("HUSK_BIN") {
        return Ok(PathBuf::from(p));
    }
    let p = std::env::current_exe()?
        .parent()
        .map(|d| d.join("husk"))
        .context("locating husk")?;
    if !p.is_file() {
        anyhow::bail!(
            "{} not found: build it first (cargo build --release --bins)",
            p.display()
        );
    }
    Ok(p)
}

/// A world-executable copy of `bin` in `dir` for the test user (the
/// checkout may sit under a 0700 home); it goes with the engine's store.
fn shared_copy(bin: &Path, dir: &Path) -> Result<PathBuf> {
    let sub = dir.join("bin");
    fs::create_dir_all(&sub)?;
    fs::set_permissions(&sub, fs::Permissions::from_mode(0o755))?;
    let dst = sub.join(bin.file_name().context("binary name")?);
    fs::copy(bin, &dst)?;
    fs::set_permissions(&dst, fs::Permissions::from_mode(0o755))?;
    Ok(dst)
}

/// One engine with its private store.
#[derive(Debug)]
pub struct Engine {
    /// `husk`, `podman+crun`, `podman+runc`.
    pub name: String,
    bin: PathBuf,
    global: Vec<OsString>,
    run_args: Vec<String>,
    image: String,
    user: Option<TestUser>,
    registries_conf: PathBuf,
    dir: tempfile::TempDir,
    podman: bool,
}

/// Why an engine is not measured.
#[derive(Debug, Clone)]
pub struct Unavailable {
    /// The engine.
    pub name: String,
    /// Why.
    pub reason: String,
}

fn last_line(s: &str) -> String {
    s.trim()
        .lines()
        .last()
        .unwrap_or_default()
        .trim()
        .to_owned()
}

impl Engine {
    fn command(&self, args: &[&str]) -> Command {
        let mut c = match &self.user {
            Some(u) => u.command(&self.bin),
            None => Command::new(&self.bin),
        };
        c.args(&self.global)
            .args(args)
            .env("CONTAINERS_REGISTRIES_CONF", &self.registries_conf)
            .env_remove("HUSK_TRACE")
            .env_remove("HUSK_TRACE_FILE")
            .stdin(Stdio::null());
        c
    }

    /// Runs an untimed command; its last stderr line on failure.
    fn setup(&self, args: &[&str]) -> Result<(), String> {
        let out = self
            .command(args)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .output()
            .map_err(|e| format!("cannot run {}: {e}", self.bin.display()))?;
        if out.status.success() {
            Ok(())
        } else {
            Err(format!(
                "`{} {}` failed: {}",
                self.bin.file_name().unwrap_or_default().to_string_lossy(),
                args.join(" "),
                last_line(&String::from_utf8_lossy(&out.stderr))
            ))
        }
    }

    /// The `run --rm IMAGE true` command, ready to spawn (stdout and
    /// stderr to null: the timed path does not read them).
    pub fn run_command(&self) -> Command {
        let mut args: Vec<&str> = vec!["run", "--rm"];
        args.extend(self.run_args.iter().map(String::as_str));
        args.extend([self.image.as_str(), "true"]);
        let mut c = self.command(&args);
        c.stdout(Stdio::null()).stderr(Stdio::null());
        c
    }

    /// One timed `run --rm IMAGE true` (ms); the reason when it fails.
    pub fn time_run(&self) -> Result<f64, String> {
        let start = Instant::now();
        let st = self
            .run_command()
            .status()
            .map_err(|e| format!("cannot run {}: {e}", self.bin.display()))?;
        let ms = start.elapsed().as_secs_f64() * 1e3;
        if st.success() {
            Ok(ms)
        } else {
            // Run it again with stderr kept, to say why.
            Err(self
                .check_run()
                .err()
                .unwrap_or_else(|| format!("{} run failed once ({st})", self.name)))
        }
    }

    fn check_run(&self) -> Result<(), String> {
        let mut args: Vec<&str> = vec!["run", "--rm"];
        args.extend(self.run_args.iter().map(String::as_str));
        args.extend([self.image.as_str(), "true"]);
        self.setup(&args)
    }

    /// `n` concurrent `run --rm`s: the wall time of the batch (ms).
    pub fn time_parallel(&self, n: usize) -> Result<f64, String> {
        let start = Instant::now();
        let children: Vec<Child> = (0..n)
            .map(|_| self.run_command().spawn())
            .collect::<std::io::Result<_>>()
            .map_err(|e| format!("cannot run {}: {e}", self.bin.display()))?;
        let mut failed = 0;
        for mut c in children {
            if !c.wait().map(|s| s.success()).unwrap_or(false) {
                failed += 1;
            }
        }
        let ms = start.elapsed().as_secs_f64() * 1e3;
        if failed > 0 {
            return Err(format!(
                "{failed} of {n} parallel runs of {} failed",
                self.name
            ));
        }
        Ok(ms)
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        let _ = self.setup(&["rm", "--all", "--force"]);
        if self.podman {
            let _ = self.setup(&["system", "reset", "--force"]);
        }
        unmount_under(self.dir.path());
    }
}

/// Detaches mounts left under `dir` (rootful overlay), deepest first.
pub fn unmount_under(dir: &Path) {
    let text = fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let root = dir.to_string_lossy().into_owned();
    let mut points: Vec<&str> = text
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .filter(|p| p.starts_with(&root))
        .collect();
    points.sort_by_key(|p| std::cmp::Reverse(p.len()));
    for p in points {
        if let Ok(c) = std::ffi::CString::new(p) {
            // SAFETY: a valid NUL-terminated path; MNT_DETACH only detaches.
            unsafe { libc::umount2(c.as_ptr(), libc::MNT_DETACH) };
        }
    }
}

fn store_dir(mode: &Mode) -> Result<tempfile::TempDir> {
    // Short: podman refuses a runroot longer than 50 characters.
    let dir = tempfile::Builder::new().prefix("hb-").tempdir_in("/tmp")?;
    if let Some(u) = mode.user() {
        std::os::unix::fs::chown(dir.path(), Some(u.uid), Some(u.gid))?;
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o700))?;
    }
    Ok(dir)
}

/// Sets up one engine by name: store, image pulled from the fixture
/// registry, and one probe run that must pass.
pub fn setup(name: &str, mode: &Mode, fx: &Fixture) -> Result<Result<Engine, Unavailable>> {
    let unavailable = |reason: String| {
        Ok(Err(Unavailable {
            name: name.to_owned(),
            reason,
        }))
    };
    let dir = store_dir(mode)?;
    let d = dir.path();
    let (bin, podman, runtime) = match name {
        "husk" => (husk_binary()?, false, None),
        n => {
            let rt = n.strip_prefix("podman+").context("engine name")?;
            let podman = husk_tests::tools::find_tool("HUSK_PODMAN", "podman")
                .map_err(|e| anyhow!("{e}"))?;
            (podman, true, Some(rt.to_owned()))
        }
    };
    let bin = if mode.user().is_some() {
        shared_copy(&bin, d)?
    } else {
        bin
    };
    let mut global: Vec<OsString> = Vec::new();
    for (flag, sub) in [("--root", "root"), ("--runroot", "run")] {
        global.push(flag.into());
        global.push(d.join(sub).into_os_string());
    }
    let mut run_args = Vec::new();
    if let Some(rt) = &runtime {
        global.extend(["--tmpdir".into(), d.join("tmp").into_os_string()]);
        for a in [
            "--cgroup-manager",
            "cgroupfs",
            "--events-backend",
            "file",
            "--runtime",
            rt,
        ] {
            global.push(a.into());
        }
        run_args.extend(ULIMITS.map(String::from));
    }
    let e = Engine {
        name: name.to_owned(),
        bin,
        global,
        run_args,
        image: fx.reference.clone(),
        user: mode.user().cloned(),
        registries_conf: fx.registries_conf(),
        dir,
        podman,
    };
    if !podman && e.setup(&["run", "--help"]).is_err() {
        return unavailable("this husk has no `run` command yet".into());
    }
    if let Err(why) = e.setup(&["pull", &fx.reference]) {
        return unavailable(why);
    }
    if let Err(why) = e.check_run() {
        return unavailable(why);
    }
    Ok(Ok(e))
}

/// Every engine of [`NAMES`] for `mode`.
pub fn setup_all(mode: &Mode, fx: &Fixture) -> Result<Vec<Result<Engine, Unavailable>>> {
    NAMES.iter().map(|n| setup(n, mode, fx)).collect()
}
