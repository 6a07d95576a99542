//! Driving the `husk` engine binary in end-to-end tests: a private storage
//! root and run root per [`Husk`], rootful or as the rootless test user, and
//! a registries.conf that points short names at a test registry.

use std::ffi::OsStr;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use sha2::{Digest as _, Sha256};

use crate::bundle::{unique, Output, TARGET_DIR_ENV};
use crate::registry::Registry;
use crate::rootless::TestUser;

pub mod images;
pub mod leftovers;
pub mod pty;

/// Name of the engine binary.
pub const HUSK_BIN: &str = "husk";

/// The `husk` binary under test: `$HUSK_TARGET_DIR/husk`, else the one next
/// to the test binary's `deps/` directory.
pub fn husk_binary() -> PathBuf {
    let dir = match std::env::var_os(TARGET_DIR_ENV) {
        Some(d) if !d.is_empty() => PathBuf::from(d),
        _ => {
            let exe = std::env::current_exe().expect("current_exe");
            let mut dir = exe.parent().map(Path::to_path_buf).unwrap_or_default();
            if dir.file_name() == Some(OsStr::new("deps")) {
                dir.pop();
            }
            dir
        }
    };
    let p = dir.join(HUSK_BIN);
    assert!(
        p.is_file(),
        "{} not found: run `cargo build --workspace --bins` first (scripts/test.sh does), or set {TARGET_DIR_ENV}",
        p.display()
    );
    p
}

/// A world-executable copy of [`husk_binary`] for the test user (the
/// checkout may be under a 0700 home), keyed by content
/// (`<tmp>/husk-bin-<hash>/husk`): every test process of one build shares
/// one copy instead of leaving a copy each.
pub fn shared_husk_binary() -> PathBuf {
    static SHARED: OnceLock<PathBuf> = OnceLock::new();
    SHARED
        .get_or_init(|| {
            let bytes = fs::read(husk_binary()).expect("reading husk");
            let key = hex::encode(&Sha256::digest(&bytes)[..8]);
            let dir = std::env::temp_dir().join(format!("husk-bin-{key}"));
            let target = dir.join(HUSK_BIN);
            if !target.is_file() {
                fs::create_dir_all(&dir).unwrap();
                fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).unwrap();
                let tmp = dir.join(format!(".{}", unique("husk")));
                fs::write(&tmp, &bytes).unwrap();
                fs::set_permissions(&tmp, fs::Permissions::from_mode(0o755)).unwrap();
                fs::rename(&tmp, &target).unwrap();
            }
            target
        })
        .clone()
}

/// One husk installation for a test: its own `--root` and `--runroot`,
/// removed (containers included) on drop.
#[derive(Debug)]
pub struct Husk {
    bin: PathBuf,
    dir: tempfile::TempDir,
    user: Option<TestUser>,
    env: Vec<(String, String)>,
}

fn chown(p: &Path, uid: u32, gid: u32) {
    std::os::unix::fs::chown(p, Some(uid), Some(gid))
        .unwrap_or_else(|e| panic!("chown {}: {e}", p.display()));
}

impl Husk {
    /// Rootful husk with fresh storage.
    pub fn rootful() -> Husk {
        let dir = tempfile::Builder::new()
            .prefix("husk-e2e-")
            .tempdir()
            .unwrap();
        Husk {
            bin: husk_binary(),
            dir,
            user: None,
            env: Vec::new(),
        }
    }

    /// husk run as the rootless test user, with fresh storage it owns.
    pub fn rootless(user: &TestUser) -> Husk {
        let dir = tempfile::Builder::new()
            .prefix("husk-e2e-")
            .tempdir()
            .unwrap();
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
        for sub in ["root", "run", "etc"] {
            let p = dir.path().join(sub);
            fs::create_dir(&p).unwrap();
            chown(&p, user.uid, user.gid);
            fs::set_permissions(&p, fs::Permissions::from_mode(0o700)).unwrap();
        }
        crate::rootless::make_accessible(dir.path()).unwrap();
        Husk {
            bin: shared_husk_binary(),
            dir,
            user: Some(user.clone()),
            env: Vec::new(),
        }
    }

    /// Both flavours a test runs in: rootful, then rootless as `user`.
    pub fn both(user: &TestUser) -> [Husk; 2] {
        [Husk::rootful(), Husk::rootless(user)]
    }

    /// Whether this husk runs as the test user.
    pub fn is_rootless(&self) -> bool {
        self.user.is_some()
    }

    /// "rootful" or "rootless", for messages.
    pub fn flavour(&self) -> &'static str {
        if self.is_rootless() {
            "rootless"
        } else {
            "rootful"
        }
    }

    /// The storage root (`--root`).
    pub fn root(&self) -> PathBuf {
        self.dir.path().join("root")
    }

    /// The run root (`--runroot`).
    pub fn runroot(&self) -> PathBuf {
        self.dir.path().join("run")
    }

    /// A directory for the test's own files (readable by the test user).
    pub fn scratch(&self) -> PathBuf {
        let p = self.dir.path().join("scratch");
        if !p.exists() {
            fs::create_dir(&p).unwrap();
            if let Some(u) = &self.user {
                chown(&p, u.uid, u.gid);
            }
        }
        p
    }

    /// Sets an environment variable for every command.
    pub fn env(&mut self, key: &str, value: &str) -> &mut Self {
        self.env.push((key.to_owned(), value.to_owned()));
        self
    }

    /// Writes a registries.conf that searches `registry` for short names
    /// and reaches it over plain HTTP, and points husk at it.
    pub fn use_registry(&mut self, registry: &Registry) -> &mut Self {
        let etc = self.dir.path().join("etc");
        fs::create_dir_all(&etc).unwrap();
        let conf = etc.join("registries.conf");
        fs::write(
            &conf,
            format!(
                "unqualified-search-registries = [\"{h}\"]\n\n[[registry]]\nlocation = \"{h}\"\ninsecure = true\n",
                h = registry.host()
            ),
        )
        .unwrap();
        fs::set_permissions(&conf, fs::Permissions::from_mode(0o644)).unwrap();
        fs::set_permissions(&etc, fs::Permissions::from_mode(0o755)).unwrap();
        let conf = conf.to_string_lossy().into_owned();
        self.env("CONTAINERS_REGISTRIES_CONF", &conf)
    }

    /// `husk --root R --runroot RR ARGS…`, stdin closed.
    pub fn cmd<S: AsRef<OsStr>>(&self, args: &[S]) -> Command {
        let mut cmd = match &self.user {
            Some(u) => u.command(&self.bin),
            None => Command::new(&self.bin),
        };
        cmd.arg("--root")
            .arg(self.root())
            .arg("--runroot")
            .arg(self.runroot())
            .args(args)
            .stdin(Stdio::null());
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        cmd
    }

    /// Runs `husk ARGS…` to completion. stdout and stderr go through files,
    /// so containers that outlive the command cannot hold them open.
    pub fn run<S: AsRef<OsStr>>(&self, args: &[S]) -> Output {
        let out = tempfile::tempfile().unwrap();
        let err = tempfile::tempfile().unwrap();
        let status = self
            .cmd(args)
            .stdout(out.try_clone().unwrap())
            .stderr(err.try_clone().unwrap())
            .status()
            .unwrap_or_else(|e| panic!("running {}: {e}", self.bin.display()));
        let read = |mut f: fs::File| {
            use std::io::{Read, Seek};
            let mut s = Vec::new();
            f.rewind().unwrap();
            f.read_to_end(&mut s).unwrap();
            String::from_utf8_lossy(&s).into_owned()
        };
        Output {
            status,
            stdout: read(out),
            stderr: read(err),
        }
    }

    /// Runs `husk ARGS…`, panics unless it succeeds, returns its stdout.
    #[track_caller]
    pub fn ok<S: AsRef<OsStr>>(&self, args: &[S]) -> String {
        let o = self.run(args);
        assert!(
            o.status.success(),
            "[{}] husk {:?} failed: {o}",
            self.flavour(),
            args.iter()
                .map(|a| a.as_ref().to_string_lossy().into_owned())
                .collect::<Vec<_>>()
        );
        o.stdout
    }

    /// Runs `husk ARGS…` and checks it fails with `code` and a podman-style
    /// `Error: ` message containing every one of `needles`.
    #[track_caller]
    pub fn fails<S: AsRef<OsStr>>(&self, args: &[S], code: i32, needles: &[&str]) -> Output {
        let o = self.run(args);
        assert_eq!(
            o.code(),
            code,
            "[{}] expected exit {code}: {o}",
            self.flavour()
        );
        assert!(
            o.stderr.contains("Error: "),
            "[{}] stderr lacks podman's `Error: ` prefix: {o}",
            self.flavour()
        );
        let lower = o.stderr.to_lowercase();
        for n in needles {
            assert!(
                lower.contains(&n.to_lowercase()),
                "[{}] stderr does not mention {n:?}: {o}",
                self.flavour()
            );
        }
        o
    }
}

/// How long the helpers below wait for a container to reach a state before
/// failing the test: a guard against hanging, not a speed requirement.
/// `$HUSK_TEST_TIMEOUT` (seconds) raises it on slow machines.
pub fn state_timeout() -> std::time::Duration {
    let secs = std::env::var("HUSK_TEST_TIMEOUT")
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
        .unwrap_or(0)
        .max(60);
    std::time::Duration::from_secs(secs)
}

/// A husk command left running in the background (a foreground `run`
/// that the test signals, `logs -f`, ...); stdout and stderr go to files.
#[derive(Debug)]
pub struct Spawned {
    child: std::process::Child,
    out: fs::File,
    err: fs::File,
    what: String,
}

fn read_file_from_start(f: &fs::File) -> String {
    use std::io::{Read, Seek};
    let mut f = f.try_clone().unwrap();
    let mut s = Vec::new();
    f.rewind().unwrap();
    f.read_to_end(&mut s).unwrap();
    String::from_utf8_lossy(&s).into_owned()
}

impl Spawned {
    /// The husk process's pid (rootless too: `setpriv` execs husk).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Its stdout so far.
    pub fn stdout(&self) -> String {
        read_file_from_start(&self.out)
    }

    /// Its stderr so far.
    pub fn stderr(&self) -> String {
        read_file_from_start(&self.err)
    }

    /// Sends `signal` to the husk process.
    pub fn signal(&self, signal: i32) {
        // SAFETY: kill has no memory effects; the pid is our own child,
        // not yet reaped, so it cannot have been reused.
        let r = unsafe { libc::kill(self.child.id() as i32, signal) };
        assert_eq!(r, 0, "kill({}, {signal}) failed", self.child.id());
    }

    /// Whether it is still running.
    pub fn running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Polls until stdout contains `needle`; panics after
    /// [`state_timeout`] with what it printed.
    #[track_caller]
    pub fn wait_stdout(&mut self, needle: &str) -> String {
        let deadline = std::time::Instant::now() + state_timeout();
        loop {
            let out = self.stdout();
            if out.contains(needle) {
                return out;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "`husk {}` never printed {needle:?}; stdout: {out:?}; stderr: {:?}",
                self.what,
                self.stderr()
            );
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    }

    /// Waits for it to exit (killing it after [`state_timeout`], which fails
    /// the test) and returns what it did.
    #[track_caller]
    pub fn wait(mut self) -> Output {
        let deadline = std::time::Instant::now() + state_timeout();
        let status = loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                break s;
            }
            if std::time::Instant::now() >= deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!(
                    "`husk {}` did not exit within {:?}; stdout: {:?}; stderr: {:?}",
                    self.what,
                    state_timeout(),
                    self.stdout(),
                    self.stderr()
                );
            }
            std::thread::sleep(std::time::Duration::from_millis(25));
        };
        Output {
            status,
            stdout: self.stdout(),
            stderr: self.stderr(),
        }
    }
}

impl Drop for Spawned {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

impl Husk {
    /// The directory holding this husk's root, run root, config and
    /// scratch files (everything the test created).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The rootless test user, if this husk runs as one.
    pub fn user(&self) -> Option<&TestUser> {
        self.user.as_ref()
    }

    /// The host uid and gid husk runs as: 0 rootful, the test user's
    /// rootless.
    pub fn host_ids(&self) -> (u32, u32) {
        self.user.as_ref().map_or((0, 0), |u| (u.uid, u.gid))
    }

    /// Runs `husk ARGS…` with `input` on its stdin (then EOF).
    pub fn run_stdin<S: AsRef<OsStr>>(&self, args: &[S], input: &[u8]) -> Output {
        use std::io::Write;
        let mut stdin = tempfile::tempfile().unwrap();
        stdin.write_all(input).unwrap();
        {
            use std::io::Seek;
            stdin.rewind().unwrap();
        }
        let out = tempfile::tempfile().unwrap();
        let err = tempfile::tempfile().unwrap();
        let status = self
            .cmd(args)
            .stdin(stdin)
            .stdout(out.try_clone().unwrap())
            .stderr(err.try_clone().unwrap())
            .status()
            .unwrap_or_else(|e| panic!("running {}: {e}", self.bin.display()));
        Output {
            status,
            stdout: read_file_from_start(&out),
            stderr: read_file_from_start(&err),
        }
    }

    /// Starts `husk ARGS…` in the background (stdin closed).
    pub fn spawn<S: AsRef<OsStr>>(&self, args: &[S]) -> Spawned {
        let out = tempfile::tempfile().unwrap();
        let err = tempfile::tempfile().unwrap();
        let child = self
            .cmd(args)
            .stdout(out.try_clone().unwrap())
            .stderr(err.try_clone().unwrap())
            .spawn()
            .unwrap_or_else(|e| panic!("spawning {}: {e}", self.bin.display()));
        Spawned {
            child,
            out,
            err,
            what: args
                .iter()
                .map(|a| a.as_ref().to_string_lossy().into_owned())
                .collect::<Vec<_>>()
                .join(" "),
        }
    }

    /// Starts `husk ARGS…` on a pseudo-terminal of its own, as from an
    /// interactive shell (for `-t`, `-it`, detach keys and resizing).
    pub fn pty<S: AsRef<OsStr>>(&self, args: &[S]) -> pty::PtySession {
        let owner = self.user.as_ref().map(|u| (u.uid, u.gid));
        pty::PtySession::spawn(self.cmd(args), owner)
    }

    /// `husk inspect --format TEMPLATE TARGET`, trimmed; `None` if it fails.
    pub fn inspect(&self, target: &str, template: &str) -> Option<String> {
        let o = self.run(&["inspect", "--format", template, target]);
        o.status.success().then(|| o.stdout.trim_end().to_owned())
    }

    /// Polls `inspect --format {{.State.Status}}` until it is `state`;
    /// panics after [`state_timeout`] with the last answer.
    #[track_caller]
    pub fn wait_for_state(&self, target: &str, state: &str) {
        let deadline = std::time::Instant::now() + state_timeout();
        loop {
            let now = self.inspect(target, "{{.State.Status}}");
            if now.as_deref() == Some(state) {
                return;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "[{}] {target} never reached state {state:?} (last: {now:?})",
                self.flavour()
            );
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    }

    /// Polls `husk logs TARGET` until its stdout contains `needle`; panics
    /// after [`state_timeout`].
    #[track_caller]
    pub fn wait_for_log(&self, target: &str, needle: &str) -> String {
        let deadline = std::time::Instant::now() + state_timeout();
        loop {
            let o = self.run(&["logs", target]);
            if o.stdout.contains(needle) {
                return o.stdout;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "[{}] logs of {target} never showed {needle:?}: {o}",
                self.flavour()
            );
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    }

    /// The container's full id (`inspect --format {{.Id}}`); panics if it
    /// does not exist.
    #[track_caller]
    pub fn id_of(&self, target: &str) -> String {
        self.inspect(target, "{{.Id}}")
            .unwrap_or_else(|| panic!("[{}] no container {target}", self.flavour()))
    }

    /// The pid of the container's process on the host (`{{.State.Pid}}`),
    /// `None` when it is not running.
    pub fn pid_of(&self, target: &str) -> Option<u32> {
        self.inspect(target, "{{.State.Pid}}")
            .and_then(|p| p.parse().ok())
            .filter(|p| *p > 0)
    }

    /// A [`leftovers::Leftovers`] snapshot of this husk.
    pub fn snapshot(&self) -> leftovers::Leftovers {
        leftovers::Leftovers::take(self)
    }
}

impl Drop for Husk {
    fn drop(&mut self) {
        // Containers must not outlive the test: remove them all, then any
        // mount left under the root.
        let _ = self
            .cmd(&["rm", "--all", "--force", "--time", "0"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        // Exit hooks (a shim's `container cleanup`, podman's conmon exit
        // command when the suite runs against podman) may still be running
        // with this root on their command line; let them finish, so none
        // recreates the directory after it is deleted.
        let _ = crate::bundle::wait_no_processes(
            &self.dir.path().to_string_lossy(),
            std::time::Duration::from_secs(10),
        );
        if let Ok(mounts) = fs::read_to_string("/proc/self/mountinfo") {
            let root = self.dir.path().to_string_lossy().into_owned();
            let mut points: Vec<&str> = mounts
                .lines()
                .filter_map(|l| l.split(' ').nth(4))
                .filter(|p| p.starts_with(&root))
                .collect();
            points.sort_by_key(|p| std::cmp::Reverse(p.len()));
            for p in points {
                let _ = nix_umount(p);
            }
        }
    }
}

fn nix_umount(p: &str) -> std::io::Result<()> {
    let c = std::ffi::CString::new(p).map_err(std::io::Error::other)?;
    // SAFETY: a valid NUL-terminated path; MNT_DETACH has no other effects.
    if unsafe { libc::umount2(c.as_ptr(), libc::MNT_DETACH) } == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}
