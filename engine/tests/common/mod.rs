//! Support for the spec tests: the busybox fixture unpacked once, a
//! container directory per test (rootfs copy, userdata, config.json), the
//! init binary, and running husk-runtime rootful or as the test user inside
//! a user namespace mapped the way rootless husk maps its own.

#![allow(dead_code)]

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use husk_engine::container::options::ContainerOptions;
use husk_engine::container::spec::{
    self, Generated, IdContext, IdRange, NamespaceJoins, SpecInput,
};
use husk_engine::image::config::ImageConfig;
use husk_tests::bundle::{runtime_binary, shared_runtime_binary, unique, Output};
use husk_tests::rootless::TestUser;
use sha2::Digest as _;

/// The busybox fixture's image config.
pub fn busybox_config() -> ImageConfig {
    static CONFIG: OnceLock<ImageConfig> = OnceLock::new();
    CONFIG
        .get_or_init(|| {
            let built = husk_tests::fixtures::cached("busybox");
            let manifest =
                husk_tests::fixtures::layout::read_json_blob(&built.layout_dir, &built.digest)
                    .expect("reading the busybox manifest");
            let digest = manifest["config"]["digest"]
                .as_str()
                .expect("config digest");
            let blob = husk_tests::fixtures::layout::read_blob(&built.layout_dir, digest)
                .expect("config blob");
            serde_json::from_slice(&blob).expect("parsing the image config")
        })
        .clone()
}

/// The unpacked busybox rootfs, shared read-only by all tests (copied per
/// test): `<tmp>/husk-spec-rootfs-<digest>` made through a rename.
fn cached_rootfs() -> PathBuf {
    static ROOTFS: OnceLock<PathBuf> = OnceLock::new();
    ROOTFS
        .get_or_init(|| {
            let built = husk_tests::fixtures::cached("busybox");
            let key = built.digest.trim_start_matches("sha256:")[..16].to_owned();
            let target = std::env::temp_dir().join(format!("husk-spec-rootfs-{key}"));
            if !target.is_dir() {
                let tmp = std::env::temp_dir().join(format!(".{}", unique("husk-spec-rootfs")));
                husk_tests::bundle::unpack_image(&built.layout_dir, &tmp.join("rootfs"))
                    .expect("unpacking busybox");
                std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o755)).unwrap();
                if std::fs::rename(&tmp, &target).is_err() {
                    let _ = std::fs::remove_dir_all(&tmp);
                }
            }
            target.join("rootfs")
        })
        .clone()
}

fn run_ok(cmd: &mut Command) {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("running {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The `--init` binary: husk itself, which runs its init when started as
/// `/run/husk-init` (cargo builds it for these tests).
pub fn init_binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_husk"))
}

/// A 64-hex container id, unique per call.
pub fn new_id() -> String {
    hex::encode(sha2::Sha256::digest(unique("spec").as_bytes()))
}

/// The test user's ids as rootless husk would pass them.
pub fn ids_of(user: &TestUser) -> IdContext {
    IdContext {
        uid: user.uid,
        gid: user.gid,
        user_name: user.name.clone(),
        home: user.home.to_string_lossy().into_owned(),
        subuids: user
            .subuids
            .iter()
            .map(|r| IdRange {
                start: r.start,
                count: r.count,
            })
            .collect(),
        subgids: user
            .subgids
            .iter()
            .map(|r| IdRange {
                start: r.start,
                count: r.count,
            })
            .collect(),
        ..Default::default()
    }
}

/// One container: a directory with `rootfs/`, `userdata/` and, once
/// written, `config.json`.
#[derive(Debug)]
pub struct Case {
    dir: tempfile::TempDir,
    /// Container id.
    pub id: String,
    /// Options to generate from.
    pub opts: ContainerOptions,
    /// Rootless: the test user.
    pub user: Option<TestUser>,
    /// Namespace joins.
    pub joins: NamespaceJoins,
    /// Id context.
    pub ids: IdContext,
    /// The husk (init) binary given to generate.
    pub husk_exe: PathBuf,
}

impl Case {
    /// A rootful container running `args` in a copy of busybox.
    pub fn new(args: &[&str]) -> Case {
        let dir = tempfile::Builder::new()
            .prefix("husk-spec-")
            .tempdir()
            .unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        run_ok(
            Command::new("cp")
                .arg("-a")
                .arg(cached_rootfs())
                .arg(dir.path().join("rootfs")),
        );
        std::fs::create_dir(dir.path().join("userdata")).unwrap();
        Case {
            dir,
            id: new_id(),
            opts: ContainerOptions {
                command: args.iter().map(|s| s.to_string()).collect(),
                read_only_tmpfs: true,
                ..Default::default()
            },
            user: None,
            joins: NamespaceJoins::default(),
            ids: IdContext::default(),
            husk_exe: PathBuf::from("/nonexistent-husk"),
        }
    }

    /// A container for rootless husk run as `user`: the rootfs is owned the
    /// way husk's user namespace maps it (container 0 is the user, 1.. its
    /// subordinate ids) and the whole directory belongs to the user.
    pub fn rootless(user: &TestUser, args: &[&str]) -> Case {
        let mut c = Case::new(args);
        husk_tests::rootless::make_accessible(c.dir.path()).unwrap();
        let (um, gm) = (user.uid_map(), user.gid_map());
        chown_through(&c.rootfs(), &um, &gm);
        for p in [c.dir.path().to_path_buf(), c.userdata()] {
            std::os::unix::fs::chown(&p, Some(user.uid), Some(user.gid)).unwrap();
        }
        c.ids = ids_of(user);
        c.user = Some(user.clone());
        c
    }

    /// The container directory (bundle).
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// The rootfs.
    pub fn rootfs(&self) -> PathBuf {
        self.dir.path().join("rootfs")
    }

    /// The userdata directory.
    pub fn userdata(&self) -> PathBuf {
        self.dir.path().join("userdata")
    }

    /// Uses the init binary, with its shared libraries copied into the
    /// rootfs: the test build is dynamically linked (release builds are
    /// static and need nothing in the image).
    pub fn with_init(&mut self) -> &mut Self {
        self.opts.init = true;
        self.husk_exe = init_binary();
        self
    }

    /// Runs [`spec::generate`].
    pub fn generate(&self) -> Result<Generated, spec::SpecError> {
        let image = busybox_config();
        spec::generate(&SpecInput {
            id: &self.id,
            name: "spec-test",
            opts: &self.opts,
            image: Some(&image),
            rootfs: &self.rootfs(),
            userdata: &self.userdata(),
            rootless: self.user.is_some(),
            ids: &self.ids,
            namespaces: &self.joins,
            husk_exe: &self.husk_exe,
            cgroup_parent: None,
            image_name: "localhost/busybox:latest",
            image_id: "0123456789abcdef",
            graph_root: None,
        })
    }

    /// Generates and writes config.json (owned by the test user when
    /// rootless); panics on a generation error.
    pub fn write(&self) -> Generated {
        let g = self.generate().unwrap_or_else(|e| panic!("generate: {e}"));
        self.write_spec(&g.spec);
        if let Some(u) = &self.user {
            for e in walk(&self.userdata()) {
                let _ = std::os::unix::fs::lchown(&e, Some(u.uid), Some(u.gid));
            }
        }
        g
    }

    /// Writes `spec` as config.json.
    pub fn write_spec(&self, spec: &oci_spec::runtime::Spec) {
        let path = self.dir.path().join("config.json");
        std::fs::write(&path, serde_json::to_vec_pretty(spec).unwrap()).unwrap();
        if let Some(u) = &self.user {
            std::os::unix::fs::chown(&path, Some(u.uid), Some(u.gid)).unwrap();
        }
    }

    fn state_root(&self) -> PathBuf {
        let p = self.dir.path().join("state");
        if !p.exists() {
            std::fs::create_dir(&p).unwrap();
            if let Some(u) = &self.user {
                std::os::unix::fs::chown(&p, Some(u.uid), Some(u.gid)).unwrap();
            }
        }
        p
    }

    /// `husk-runtime --root STATE ARGS`: rootful as is; rootless as the test
    /// user inside a user namespace mapping its uid to 0 and its subuid range
    /// to 1.. (rootless husk's own), entered before the runtime starts.
    pub fn runtime(&self, args: &[&str]) -> RuntimeCmd {
        let root = self.state_root();
        match &self.user {
            None => {
                let mut c = Command::new(runtime_binary());
                c.arg("--root").arg(&root).args(args);
                RuntimeCmd { cmd: c, user: None }
            }
            Some(u) => {
                let mut c = u.command("unshare");
                c.args(["--user", "--", "sh", "-c", "read go; exec \"$@\"", "sh"])
                    .arg(shared_runtime_binary())
                    .arg("--root")
                    .arg(&root)
                    .args(args);
                RuntimeCmd {
                    cmd: c,
                    user: Some(u.clone()),
                }
            }
        }
    }

    /// Foreground `run` of the bundle; the container's output and status.
    pub fn run(&self) -> Output {
        let p = self.path().to_string_lossy().into_owned();
        self.runtime(&["run", "--bundle", &p, &self.id]).output()
    }

    /// Starts a foreground `run` in the background, its stdout and stderr
    /// going to files (see [`Background`]).
    pub fn spawn(&self) -> Background {
        let p = self.path().to_string_lossy().into_owned();
        let out = self.dir.path().join("run.out");
        let err = self.dir.path().join("run.err");
        let mut rc = self.runtime(&["run", "--bundle", &p, &self.id]);
        rc.cmd
            .stdout(std::fs::File::create(&out).unwrap())
            .stderr(std::fs::File::create(&err).unwrap());
        let child = rc.start();
        Background { child, out, err }
    }
}

/// A husk-runtime command, rootful or inside the rootless user namespace.
#[derive(Debug)]
pub struct RuntimeCmd {
    cmd: Command,
    user: Option<TestUser>,
}

impl RuntimeCmd {
    /// Starts it (for rootless: writes the id maps, then lets it go).
    pub fn start(mut self) -> Child {
        self.cmd.stdin(Stdio::piped());
        let mut child = self.cmd.spawn().expect("spawning husk-runtime");
        if let Some(u) = &self.user {
            enter_husk_userns(u, child.id());
        }
        use std::io::Write;
        let mut stdin = child.stdin.take().unwrap();
        let _ = stdin.write_all(b"go\n");
        drop(stdin);
        child
    }

    /// Runs it to completion.
    pub fn output(mut self) -> Output {
        self.cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
        let out = self.start().wait_with_output().unwrap();
        Output {
            status: out.status,
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }
}

/// Waits until `pid` has left the initial user namespace (unshare ran),
/// then maps it as rootless husk maps its own namespace.
fn enter_husk_userns(u: &TestUser, pid: u32) {
    let mine = std::fs::read_link("/proc/self/ns/user").unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::fs::read_link(format!("/proc/{pid}/ns/user")).is_ok_and(|l| l == mine) {
        assert!(Instant::now() < deadline, "unshare --user did not happen");
        std::thread::sleep(Duration::from_millis(2));
    }
    let map = |own: u32, r: &husk_tests::rootless::SubIdRange| {
        vec![
            "0".to_string(),
            own.to_string(),
            "1".into(),
            "1".into(),
            r.start.to_string(),
            r.count.to_string(),
        ]
    };
    for (tool, own, range) in [
        ("newuidmap", u.uid, &u.subuids[0]),
        ("newgidmap", u.gid, &u.subgids[0]),
    ] {
        let out = u
            .command(tool)
            .arg(pid.to_string())
            .args(map(own, range))
            .output()
            .unwrap_or_else(|e| panic!("{tool} missing (run scripts/setup-host.sh): {e}"));
        assert!(
            out.status.success(),
            "{tool}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// A container running in the background.
#[derive(Debug)]
pub struct Background {
    child: Child,
    out: PathBuf,
    err: PathBuf,
}

impl Background {
    /// The container's output so far.
    pub fn stdout(&self) -> String {
        std::fs::read_to_string(&self.out).unwrap_or_default()
    }

    /// Polls until stdout contains `what` (panics after 10 s).
    pub fn wait_for(&self, what: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let s = self.stdout();
            if s.contains(what) {
                return s;
            }
            assert!(
                Instant::now() < deadline,
                "no {what:?} in the output: {s}\nstderr: {}",
                std::fs::read_to_string(&self.err).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits for the run to end; its exit code.
    pub fn wait(mut self) -> i32 {
        self.child.wait().unwrap().code().unwrap_or(-1)
    }
}

fn walk(p: &Path) -> Vec<PathBuf> {
    let mut out = vec![p.to_path_buf()];
    if p.is_dir() && !p.is_symlink() {
        for e in std::fs::read_dir(p).unwrap().flatten() {
            out.extend(walk(&e.path()));
        }
    }
    out
}

/// lchowns a tree through `(container, host, size)` maps.
fn chown_through(root: &Path, um: &[(u32, u32, u32)], gm: &[(u32, u32, u32)]) {
    use std::os::unix::fs::MetadataExt;
    for p in walk(root) {
        let m = std::fs::symlink_metadata(&p).unwrap();
        let u = husk_tests::bundle::map_id(um, m.uid()).unwrap();
        let g = husk_tests::bundle::map_id(gm, m.gid()).unwrap();
        std::os::unix::fs::lchown(&p, Some(u), Some(g)).unwrap();
        if !m.file_type().is_symlink() && m.mode() & 0o6000 != 0 {
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(m.mode() & 0o7777))
                .unwrap();
        }
    }
}

/// Chowns the rootfs through `(container, host, size)` maps (for a
/// container with a user namespace of its own).
pub fn chown_rootfs(c: &Case, um: &[(u32, u32, u32)], gm: &[(u32, u32, u32)]) {
    chown_through(&c.rootfs(), um, gm);
}

/// The value of `key:` in /proc/self/status text.
pub fn status_field<'a>(status: &'a str, key: &str) -> Option<&'a str> {
    status
        .lines()
        .find_map(|l| l.strip_prefix(key).and_then(|r| r.strip_prefix(':')))
        .map(str::trim)
}
