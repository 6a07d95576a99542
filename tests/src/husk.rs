//! Driving the `husk` engine binary in end-to-end tests: a private storage
//! root and run root per [`Husk`], rootful or as the rootless test user, and
//! a registries.conf that points short names at a test registry.

use std::ffi::OsStr;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use crate::bundle::{unique, Output, TARGET_DIR_ENV};
use crate::registry::Registry;
use crate::rootless::TestUser;

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

/// A world-executable copy of [`husk_binary`] (the checkout may be under a
/// 0700 home), made once per test process.
pub fn shared_husk_binary() -> PathBuf {
    static SHARED: OnceLock<PathBuf> = OnceLock::new();
    SHARED
        .get_or_init(|| {
            let src = husk_binary();
            let dir = std::env::temp_dir().join(unique("husk-bin"));
            fs::create_dir_all(&dir).unwrap();
            fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).unwrap();
            let dst = dir.join(HUSK_BIN);
            fs::copy(&src, &dst).unwrap();
            fs::set_permissions(&dst, fs::Permissions::from_mode(0o755)).unwrap();
            dst
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

impl Drop for Husk {
    fn drop(&mut self) {
        // Containers must not outlive the test: remove them all, then any
        // mount left under the root.
        let _ = self
            .cmd(&["rm", "--all", "--force", "--time", "0"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
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
