//! OCI bundles for the end-to-end tests of `husk-runtime`: fixture images
//! unpacked into a root filesystem ([`unpack_image`]), a `config.json` made
//! by `husk-runtime spec` and edited as JSON ([`Bundle`]), rootless variants
//! whose files are owned as the id map requires, and a small driver for the
//! runtime binary with its own state root ([`Runtime`]).

use std::ffi::OsStr;
use std::fs;
use std::io::Read;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use serde_json::Value;
use sha2::{Digest as _, Sha256};

use crate::fixtures::compress::{
    MEDIA_TYPE_LAYER_GZIP, MEDIA_TYPE_LAYER_TAR, MEDIA_TYPE_LAYER_ZSTD,
};
use crate::fixtures::layout::{read_blob, read_json_blob, MEDIA_TYPE_INDEX};
use crate::fixtures::read_layout;
use crate::rootless::TestUser;

/// Name of the runtime binary.
pub const RUNTIME_BIN: &str = "husk-runtime";

/// Environment variable naming the directory that holds `husk-runtime`.
pub const TARGET_DIR_ENV: &str = "HUSK_TARGET_DIR";

/// How long tests wait for a container to reach a state: 5 s, or
/// `$HUSK_TEST_TIMEOUT` seconds (the emulated cgroup v2 VM is much slower).
pub fn status_timeout() -> Duration {
    let secs = std::env::var("HUSK_TEST_TIMEOUT")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(5);
    Duration::from_secs(secs)
}

/// `true` when this process runs as root.
pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// A string unique in this process and across processes: `prefix`, the pid,
/// a counter and the time, made only of id-safe characters.
pub fn unique(prefix: &str) -> String {
    static SEQ: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!(
        "{prefix}-{}-{}-{nanos:x}",
        std::process::id(),
        SEQ.fetch_add(1, Ordering::Relaxed)
    )
}

/// The `husk-runtime` binary under test: `$HUSK_TARGET_DIR/husk-runtime`,
/// else the one next to the test binary's `deps/` directory. Panics with a
/// hint when it is missing.
pub fn runtime_binary() -> PathBuf {
    let path = match std::env::var_os(TARGET_DIR_ENV) {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir).join(RUNTIME_BIN),
        _ => {
            let exe = std::env::current_exe().expect("current_exe");
            let mut dir = exe.parent().map(Path::to_path_buf).unwrap_or_default();
            if dir.file_name() == Some(OsStr::new("deps")) {
                dir.pop();
            }
            dir.join(RUNTIME_BIN)
        }
    };
    if !path.is_file() {
        panic!(
            "{} not found: run `cargo build --workspace --bins` first (scripts/test.sh does), \
             or set {TARGET_DIR_ENV} to the directory holding it",
            path.display()
        );
    }
    path
}

/// A copy of [`runtime_binary`] that every user can run: the repository may
/// live under a 0700 home directory. The copy lives in
/// `<tmp>/husk-runtime-bin-<hash>/` (0755), keyed by the binary's content, so
/// it is made once and reused.
pub fn shared_runtime_binary() -> PathBuf {
    static SHARED: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    match SHARED.get_or_init(|| copy_shared(&runtime_binary()).map_err(|e| format!("{e:#}"))) {
        Ok(p) => p.clone(),
        Err(e) => panic!("copying {RUNTIME_BIN} for the test user: {e}"),
    }
}

fn copy_shared(bin: &Path) -> Result<PathBuf> {
    let bytes = fs::read(bin).with_context(|| format!("reading {}", bin.display()))?;
    let key = hex::encode(&Sha256::digest(&bytes)[..8]);
    let dir = std::env::temp_dir().join(format!("husk-runtime-bin-{key}"));
    let target = dir.join(RUNTIME_BIN);
    if target.is_file() {
        return Ok(target);
    }
    fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    fs::set_permissions(&dir, fs::Permissions::from_mode(0o755))?;
    let tmp = dir.join(format!(".{RUNTIME_BIN}.{}", unique("tmp")));
    fs::write(&tmp, &bytes).with_context(|| format!("writing {}", tmp.display()))?;
    fs::set_permissions(&tmp, fs::Permissions::from_mode(0o755))?;
    fs::rename(&tmp, &target).with_context(|| format!("renaming to {}", target.display()))?;
    Ok(target)
}

fn layer_reader<'a>(media_type: &str, blob: &'a [u8]) -> Result<Box<dyn Read + 'a>> {
    Ok(match media_type {
        MEDIA_TYPE_LAYER_GZIP | "application/vnd.docker.image.rootfs.diff.tar.gzip" => {
            Box::new(flate2::read::GzDecoder::new(blob))
        }
        MEDIA_TYPE_LAYER_ZSTD => Box::new(zstd::stream::read::Decoder::new(blob)?),
        MEDIA_TYPE_LAYER_TAR => Box::new(blob),
        other => bail!("unsupported layer media type {other}"),
    })
}

/// Unpacks an OCI image layout (the manifest its `index.json` tags; for an
/// index, the first manifest) into `dest`: every layer in order, gzip, zstd
/// or plain, with `.wh.` whiteouts and `.wh..wh..opq` opaque markers
/// applied. Modes are kept, and ownership too when running as root.
///
/// Meant for the project's own trusted fixtures: entries are confined to
/// `dest` by the tar crate, nothing more.
pub fn unpack_image(layout_dir: &Path, dest: &Path) -> Result<()> {
    let top = read_layout(layout_dir)?;
    let mut manifest_digest = top.digest.clone();
    if top.media_type == MEDIA_TYPE_INDEX {
        let index = read_json_blob(layout_dir, &top.digest)?;
        manifest_digest = index["manifests"][0]["digest"]
            .as_str()
            .ok_or_else(|| anyhow!("index {} has no manifests", top.digest))?
            .to_owned();
    }
    let manifest = read_json_blob(layout_dir, &manifest_digest)?;
    let layers = manifest["layers"]
        .as_array()
        .ok_or_else(|| anyhow!("manifest {manifest_digest} has no layers"))?;
    fs::create_dir_all(dest).with_context(|| format!("creating {}", dest.display()))?;
    for layer in layers {
        let digest = layer["digest"].as_str().unwrap_or_default();
        let media_type = layer["mediaType"].as_str().unwrap_or_default();
        let blob = read_blob(layout_dir, digest)?;
        unpack_layer(layer_reader(media_type, &blob)?, dest)
            .with_context(|| format!("unpacking layer {digest}"))?;
    }
    Ok(())
}

/// Clears a directory's content (an opaque whiteout).
fn clear_dir(dir: &Path) -> Result<()> {
    let entries = match fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e.into()),
    };
    for entry in entries {
        let path = entry?.path();
        remove_any(&path)?;
    }
    Ok(())
}

fn remove_any(path: &Path) -> Result<()> {
    match fs::symlink_metadata(path) {
        Ok(m) if m.is_dir() => fs::remove_dir_all(path)?,
        Ok(_) => fs::remove_file(path)?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e.into()),
    }
    Ok(())
}

fn unpack_layer(reader: impl Read, dest: &Path) -> Result<()> {
    let mut archive = tar::Archive::new(reader);
    archive.set_preserve_permissions(true);
    archive.set_preserve_mtime(true);
    archive.set_preserve_ownerships(is_root());
    archive.set_overwrite(true);
    for entry in archive.entries()? {
        let mut entry = entry?;
        let rel: PathBuf = entry
            .path()?
            .components()
            .filter(|c| matches!(c, Component::Normal(_)))
            .collect();
        let name = rel
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let parent = dest.join(rel.parent().unwrap_or(Path::new("")));
        if name == ".wh..wh..opq" {
            clear_dir(&parent)?;
            continue;
        }
        if let Some(hidden) = name.strip_prefix(".wh.") {
            remove_any(&parent.join(hidden))?;
            continue;
        }
        // A directory replacing a non-directory (or the reverse) replaces it.
        let target = dest.join(&rel);
        if let Ok(m) = fs::symlink_metadata(&target) {
            if !(m.is_dir() && entry.header().entry_type().is_dir()) {
                remove_any(&target)?;
            }
        }
        entry
            .unpack_in(dest)
            .with_context(|| format!("extracting {}", rel.display()))?;
    }
    Ok(())
}

/// Which id mapping a rootless bundle uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdMapping {
    /// Only container id 0, mapped to the user (what `spec --rootless`
    /// writes); the whole rootfs is owned by the user.
    Single,
    /// Container 0 is the user, 1.. the first subordinate range (set up by
    /// newuidmap/newgidmap); the rootfs is chowned through that map.
    Multi,
}

/// Maps a container id through `(container, host, size)` ranges.
pub fn map_id(map: &[(u32, u32, u32)], id: u32) -> Option<u32> {
    map.iter()
        .find(|(c, _, n)| id >= *c && id - c < *n)
        .map(|(c, h, _)| h + (id - c))
}

/// `lchown`s every entry of a tree through `f(uid, gid)`.
fn chown_tree(path: &Path, f: &dyn Fn(u32, u32) -> (u32, u32)) -> Result<()> {
    let meta = fs::symlink_metadata(path).with_context(|| format!("stat {}", path.display()))?;
    let (uid, gid) = f(meta.uid(), meta.gid());
    std::os::unix::fs::lchown(path, Some(uid), Some(gid))
        .with_context(|| format!("lchown {}", path.display()))?;
    // chown clears set-id bits; put them back.
    if !meta.file_type().is_symlink() && meta.mode() & 0o6000 != 0 {
        fs::set_permissions(path, fs::Permissions::from_mode(meta.mode() & 0o7777))?;
    }
    if meta.is_dir() {
        for entry in fs::read_dir(path)? {
            chown_tree(&entry?.path(), f)?;
        }
    }
    Ok(())
}

fn chown(path: &Path, uid: u32, gid: u32) -> Result<()> {
    std::os::unix::fs::lchown(path, Some(uid), Some(gid))
        .with_context(|| format!("lchown {}", path.display()))
}

fn temp_dir(prefix: &str) -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix(&format!("{prefix}-"))
        .tempdir()
        .expect("creating a temporary directory")
}

/// The unpacked rootfs of a fixture, shared by every bundle (each copies it
/// with `cp -a`, which keeps owners as root): `<tmp>/husk-rt-rootfs-<digest>`,
/// keyed by the image's digest, made once through a temporary sibling and a
/// rename so parallel test processes do not race.
fn cached_rootfs(image: &str) -> PathBuf {
    static CACHE: OnceLock<std::sync::Mutex<Vec<(String, PathBuf)>>> = OnceLock::new();
    let mut map = CACHE
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    if let Some((_, p)) = map.iter().find(|(n, _)| n == image) {
        return p.clone();
    }
    let built = crate::fixtures::cached(image);
    let key = built.digest.trim_start_matches("sha256:");
    let owner = if is_root() { "root" } else { "user" };
    let target = std::env::temp_dir().join(format!(
        "husk-rt-rootfs-{}-{owner}",
        &key[..key.len().min(16)]
    ));
    if !target.is_dir() {
        let tmp = std::env::temp_dir().join(format!(".{}", unique("husk-rt-rootfs")));
        unpack_image(&built.layout_dir, &tmp.join("rootfs"))
            .unwrap_or_else(|e| panic!("unpacking fixture {image}: {e:#}"));
        fs::set_permissions(&tmp, fs::Permissions::from_mode(0o755)).unwrap();
        if fs::rename(&tmp, &target).is_err() {
            let _ = fs::remove_dir_all(&tmp);
            assert!(target.is_dir(), "could not create {}", target.display());
        }
    }
    let rootfs = target.join("rootfs");
    map.push((image.to_owned(), rootfs.clone()));
    rootfs
}

fn copy_tree(from: &Path, to: &Path) {
    let out = Command::new("cp")
        .arg("-a")
        .arg(from)
        .arg(to)
        .output()
        .expect("running cp");
    assert!(
        out.status.success(),
        "cp -a {} {}: {}",
        from.display(),
        to.display(),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// An OCI bundle in a temporary directory: `rootfs/` unpacked from a
/// fixture image and `config.json` from `husk-runtime spec`, with
/// `process.terminal` false, `root.readonly` false, the given args and a
/// hostname. Removed on drop.
#[derive(Debug)]
pub struct Bundle {
    dir: tempfile::TempDir,
    user: Option<TestUser>,
}

impl Bundle {
    /// A rootful bundle of `image` running `args`.
    pub fn new(image: &str, args: &[&str]) -> Bundle {
        let dir = temp_dir("husk-rt-bundle");
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
        copy_tree(&cached_rootfs(image), &dir.path().join("rootfs"));
        let out = Command::new(runtime_binary())
            .arg("spec")
            .arg("--bundle")
            .arg(dir.path())
            .output()
            .expect("running husk-runtime spec");
        assert!(
            out.status.success(),
            "husk-runtime spec: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let b = Bundle { dir, user: None };
        b.edit(|c| default_edits(c, args));
        b
    }

    /// A bundle for the rootless test user, with the given id mapping. The
    /// bundle directory and config.json belong to the user; the rootfs is
    /// owned as the mapping requires.
    pub fn rootless(user: &TestUser, mapping: IdMapping, image: &str, args: &[&str]) -> Bundle {
        let dir = temp_dir("husk-rt-bundle");
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
        crate::rootless::make_accessible(dir.path()).unwrap();
        let rootfs = dir.path().join("rootfs");
        copy_tree(&cached_rootfs(image), &rootfs);
        chown(dir.path(), user.uid, user.gid).unwrap();
        match mapping {
            IdMapping::Single => {
                chown_tree(&rootfs, &|_, _| (user.uid, user.gid)).unwrap();
            }
            IdMapping::Multi => {
                let (um, gm) = (user.uid_map(), user.gid_map());
                chown_tree(&rootfs, &|u, g| {
                    (
                        map_id(&um, u).unwrap_or(user.uid),
                        map_id(&gm, g).unwrap_or(user.gid),
                    )
                })
                .unwrap();
            }
        }
        let out = user
            .command(shared_runtime_binary())
            .arg("spec")
            .arg("--rootless")
            .arg("--bundle")
            .arg(dir.path())
            .output()
            .expect("running husk-runtime spec --rootless");
        assert!(
            out.status.success(),
            "husk-runtime spec --rootless: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let b = Bundle {
            dir,
            user: Some(user.clone()),
        };
        b.edit(|c| {
            default_edits(c, args);
            if mapping == IdMapping::Multi {
                let json = |m: Vec<(u32, u32, u32)>| -> Value {
                    m.into_iter()
                        .map(|(c, h, n)| {
                            serde_json::json!({"containerID": c, "hostID": h, "size": n})
                        })
                        .collect()
                };
                c["linux"]["uidMappings"] = json(user.uid_map());
                c["linux"]["gidMappings"] = json(user.gid_map());
            }
        });
        b
    }

    /// The bundle directory.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// The root filesystem directory.
    pub fn rootfs(&self) -> PathBuf {
        self.dir.path().join("rootfs")
    }

    /// The config.json path.
    pub fn config_path(&self) -> PathBuf {
        self.dir.path().join("config.json")
    }

    /// The parsed config.json.
    pub fn config(&self) -> Value {
        let text = fs::read_to_string(self.config_path()).expect("reading config.json");
        serde_json::from_str(&text).expect("config.json is JSON")
    }

    /// Rewrites config.json after `f` edits it.
    pub fn edit(&self, f: impl FnOnce(&mut Value)) -> &Self {
        let mut config = self.config();
        f(&mut config);
        self.write_config(&serde_json::to_string_pretty(&config).unwrap());
        self
    }

    /// Replaces config.json with `text` (kept owned by the bundle's user).
    pub fn write_config(&self, text: &str) {
        let path = self.config_path();
        fs::write(&path, text).expect("writing config.json");
        if let Some(u) = &self.user {
            chown(&path, u.uid, u.gid).unwrap();
        }
    }

    /// Sets `process.args`.
    pub fn set_args(&self, args: &[&str]) -> &Self {
        self.edit(|c| c["process"]["args"] = serde_json::json!(args))
    }

    /// Adds a mount to the config.
    pub fn add_mount(&self, mount: Value) -> &Self {
        self.edit(|c| {
            c["mounts"]
                .as_array_mut()
                .expect("mounts is an array")
                .push(mount)
        })
    }
}

fn default_edits(c: &mut Value, args: &[&str]) {
    c["process"]["terminal"] = Value::Bool(false);
    c["process"]["args"] = serde_json::json!(args);
    c["root"]["readonly"] = Value::Bool(false);
    c["hostname"] = Value::String("husk-test".into());
}

/// What a runtime command did.
#[derive(Debug)]
pub struct Output {
    /// Exit status.
    pub status: ExitStatus,
    /// Standard output, lossily decoded.
    pub stdout: String,
    /// Standard error, lossily decoded.
    pub stderr: String,
}

impl Output {
    /// The exit code (`-1` when killed by a signal).
    pub fn code(&self) -> i32 {
        self.status.code().unwrap_or(-1)
    }

    /// Panics with the whole output unless the command succeeded.
    #[track_caller]
    pub fn ok(&self) -> &Self {
        assert!(self.status.success(), "command failed: {self}");
        self
    }

    /// Panics unless the command failed (exit status 1 per the CLI's
    /// contract) with a `husk-runtime: ` message on stderr that contains
    /// every one of `needles` (case-insensitively).
    #[track_caller]
    pub fn fails_with(&self, needles: &[&str]) -> &Self {
        assert_eq!(self.code(), 1, "expected exit status 1: {self}");
        assert!(
            self.stderr.contains("husk-runtime: "),
            "stderr lacks the `husk-runtime: ` prefix: {self}"
        );
        let lower = self.stderr.to_lowercase();
        for n in needles {
            assert!(
                lower.contains(&n.to_lowercase()),
                "stderr does not mention {n:?}: {self}"
            );
        }
        self
    }
}

impl std::fmt::Display for Output {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.status, self.stdout, self.stderr
        )
    }
}

/// Drives `husk-runtime` with a private state root, as root or as the
/// rootless test user. Leftover containers are force-deleted on drop.
#[derive(Debug)]
pub struct Runtime {
    bin: PathBuf,
    dir: tempfile::TempDir,
    user: Option<TestUser>,
    seq: AtomicU64,
}

impl Runtime {
    /// A rootful runtime with a fresh state root.
    pub fn new() -> Runtime {
        let dir = temp_dir("husk-rt-root");
        Runtime {
            bin: runtime_binary(),
            dir,
            user: None,
            seq: AtomicU64::new(0),
        }
    }

    /// A runtime run as `user`, from a world-executable copy of the binary,
    /// with a state root the user owns.
    pub fn rootless(user: &TestUser) -> Runtime {
        let dir = temp_dir("husk-rt-root");
        crate::rootless::make_accessible(dir.path()).unwrap();
        chown(dir.path(), user.uid, user.gid).unwrap();
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o700)).unwrap();
        Runtime {
            bin: shared_runtime_binary(),
            dir,
            user: Some(user.clone()),
            seq: AtomicU64::new(0),
        }
    }

    /// The binary run.
    pub fn binary(&self) -> &Path {
        &self.bin
    }

    /// The `--root` state directory.
    pub fn root(&self) -> PathBuf {
        self.dir.path().join("state")
    }

    /// A scratch directory private to this runtime (owned by root).
    pub fn scratch(&self) -> PathBuf {
        let p = self.dir.path().join("scratch");
        fs::create_dir_all(&p).unwrap();
        p
    }

    /// The state directory of container `id`.
    pub fn state_dir(&self, id: &str) -> PathBuf {
        self.root().join(id)
    }

    /// `husk-runtime --root <root> ARGS…`, as root or as the test user,
    /// stdin closed.
    pub fn cmd<S: AsRef<OsStr>>(&self, args: &[S]) -> Command {
        self.cmd_with(args, || Ok(()))
    }

    /// Like [`Runtime::cmd`], with `as_root` run in the child before it
    /// execs (as root, before the switch to the test user when rootless).
    pub fn cmd_with<S: AsRef<OsStr>>(
        &self,
        args: &[S],
        as_root: impl FnMut() -> std::io::Result<()> + Send + Sync + 'static,
    ) -> Command {
        let mut cmd = match &self.user {
            Some(u) => u.command_with(&self.bin, as_root),
            None => {
                use std::os::unix::process::CommandExt;
                let mut c = Command::new(&self.bin);
                // SAFETY: the caller's hook runs in the forked child before
                // exec; callers keep it to async-signal-safe work.
                unsafe { c.pre_exec(as_root) };
                c
            }
        };
        cmd.arg("--root").arg(self.root()).args(args);
        cmd.stdin(Stdio::null());
        cmd
    }

    /// Runs a command to completion, capturing its output through pipes.
    /// Only for commands that leave no container process holding them
    /// (everything but `create`, `run --detach` and `exec --detach`).
    pub fn output<S: AsRef<OsStr>>(&self, args: &[S]) -> Output {
        let out = self
            .cmd(args)
            .output()
            .unwrap_or_else(|e| panic!("running {}: {e}", self.bin.display()));
        Output {
            status: out.status,
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// Runs a command whose children outlive it (`create`, `run --detach`):
    /// stdout and stderr go to files, read back when the command exits (a
    /// pipe would stay open as long as the container). Returns the output
    /// and the two files, which keep collecting the container's output.
    pub fn output_detached<S: AsRef<OsStr>>(&self, args: &[S]) -> (Output, PathBuf, PathBuf) {
        let n = self.seq.fetch_add(1, Ordering::Relaxed);
        let out_path = self.scratch().join(format!("stdout-{n}"));
        let err_path = self.scratch().join(format!("stderr-{n}"));
        let status = self
            .cmd(args)
            .stdout(fs::File::create(&out_path).unwrap())
            .stderr(fs::File::create(&err_path).unwrap())
            .status()
            .unwrap_or_else(|e| panic!("running {}: {e}", self.bin.display()));
        let out = Output {
            status,
            stdout: fs::read_to_string(&out_path).unwrap_or_default(),
            stderr: fs::read_to_string(&err_path).unwrap_or_default(),
        };
        (out, out_path, err_path)
    }

    /// `create --bundle B ID` (plus `extra` flags before the id).
    pub fn create(&self, bundle: &Bundle, id: &str, extra: &[&str]) -> Output {
        let mut args: Vec<&OsStr> = vec![OsStr::new("create"), OsStr::new("--bundle")];
        args.push(bundle.path().as_os_str());
        args.extend(extra.iter().map(OsStr::new));
        args.push(OsStr::new(id));
        self.output_detached(&args).0
    }

    /// Foreground `run --bundle B ID`.
    pub fn run(&self, bundle: &Bundle, id: &str) -> Output {
        let mut args: Vec<&OsStr> = vec![OsStr::new("run"), OsStr::new("--bundle")];
        args.push(bundle.path().as_os_str());
        args.push(OsStr::new(id));
        self.output(&args)
    }

    /// The parsed `state ID`, or `None` if the command fails.
    pub fn state(&self, id: &str) -> Option<Value> {
        let out = self.output(&["state", id]);
        if !out.status.success() {
            return None;
        }
        Some(serde_json::from_str(&out.stdout).unwrap_or_else(|e| {
            panic!("state {id} printed no JSON ({e}): {out}");
        }))
    }

    /// The container's status (`created`, `running`, `stopped`), `None` if
    /// `state` fails.
    pub fn status(&self, id: &str) -> Option<String> {
        self.state(id)
            .and_then(|s| s["status"].as_str().map(str::to_owned))
    }

    /// Polls `state` until the status is `want` or `timeout` passes; returns
    /// the last status seen.
    pub fn wait_status(&self, id: &str, want: &str, timeout: Duration) -> Option<String> {
        let deadline = Instant::now() + timeout;
        loop {
            let s = self.status(id);
            if s.as_deref() == Some(want) || Instant::now() >= deadline {
                return s;
            }
            std::thread::sleep(Duration::from_millis(25));
        }
    }

    /// The ids `list -q` prints.
    pub fn list_ids(&self) -> Vec<String> {
        let out = self.output(&["list", "-q"]);
        out.stdout.lines().map(str::to_owned).collect()
    }
}

impl Default for Runtime {
    fn default() -> Self {
        Runtime::new()
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        if !self.root().exists() {
            return;
        }
        for id in self.list_ids() {
            let _ = self.output(&["delete", "--force", &id]);
        }
    }
}

/// Pids of every process whose command line contains `marker`.
pub fn processes_with(marker: &str) -> Vec<i32> {
    let mut pids = Vec::new();
    let me = std::process::id() as i32;
    let Ok(dir) = fs::read_dir("/proc") else {
        return pids;
    };
    for entry in dir.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<i32>().ok())
        else {
            continue;
        };
        if pid == me {
            continue;
        }
        if let Ok(cmdline) = fs::read(entry.path().join("cmdline")) {
            let text = String::from_utf8_lossy(&cmdline).replace('\0', " ");
            if text.contains(marker) {
                pids.push(pid);
            }
        }
    }
    pids
}

/// The parent pid of a process, from `/proc/PID/stat`.
pub fn parent_pid(pid: i32) -> Option<i32> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(1)?.parse().ok()
}

/// Like [`processes_with`], without the processes whose parent carries the
/// marker too: a shell's short-lived forks are not counted.
pub fn marker_roots(marker: &str) -> Vec<i32> {
    let all = processes_with(marker);
    all.iter()
        .copied()
        .filter(|p| parent_pid(*p).is_none_or(|pp| !all.contains(&pp)))
        .collect()
}

/// Polls until no process has `marker` in its command line; returns the
/// ones still there after `timeout`.
pub fn wait_no_processes(marker: &str, timeout: Duration) -> Vec<i32> {
    let deadline = Instant::now() + timeout;
    loop {
        let pids = processes_with(marker);
        if pids.is_empty() || Instant::now() >= deadline {
            return pids;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
}

/// Lines of this process's `/proc/self/mountinfo` that mention `path`.
pub fn mounts_under(path: &Path) -> Vec<String> {
    let text = fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let p = path.to_string_lossy();
    text.lines()
        .filter(|l| l.contains(p.as_ref()))
        .map(str::to_owned)
        .collect()
}

/// Whether `/proc/PID` exists.
pub fn pid_alive(pid: i32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

/// A unix socket for `--console-socket`: the runtime connects and sends the
/// pty master with `SCM_RIGHTS`.
#[derive(Debug)]
pub struct ConsoleSocket {
    path: PathBuf,
    listener: std::os::unix::net::UnixListener,
}

impl ConsoleSocket {
    /// Binds a socket at `path`; with `owner`, the socket file is chowned to
    /// that user so a rootless runtime may connect.
    pub fn bind(path: &Path, owner: Option<&TestUser>) -> ConsoleSocket {
        let listener = std::os::unix::net::UnixListener::bind(path)
            .unwrap_or_else(|e| panic!("binding {}: {e}", path.display()));
        if let Some(u) = owner {
            chown(path, u.uid, u.gid).unwrap();
        }
        ConsoleSocket {
            path: path.to_owned(),
            listener,
        }
    }

    /// The socket's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Accepts one connection (waiting at most `timeout`) and receives the
    /// fd it carries, with the message payload (the pty's name).
    pub fn accept_fd(&self, timeout: Duration) -> Result<(std::os::fd::OwnedFd, Vec<u8>)> {
        use std::os::fd::AsRawFd;
        wait_readable(self.listener.as_raw_fd(), timeout).context("waiting for the runtime")?;
        let (stream, _) = self.listener.accept()?;
        wait_readable(stream.as_raw_fd(), timeout).context("waiting for the pty master")?;
        recv_fd(stream.as_raw_fd())
    }
}

/// Waits until `fd` is readable (or hung up) for at most `timeout`.
pub fn wait_readable(fd: std::os::fd::RawFd, timeout: Duration) -> Result<()> {
    let mut pfd = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    let ms = i32::try_from(timeout.as_millis()).unwrap_or(i32::MAX);
    // SAFETY: pfd is a valid pollfd and we pass a count of exactly one.
    let n = unsafe { libc::poll(&mut pfd, 1, ms) };
    match n {
        n if n < 0 => Err(std::io::Error::last_os_error().into()),
        0 => bail!("timed out after {timeout:?}"),
        _ => Ok(()),
    }
}

/// Receives one message with one `SCM_RIGHTS` fd from a unix socket.
pub fn recv_fd(sock: std::os::fd::RawFd) -> Result<(std::os::fd::OwnedFd, Vec<u8>)> {
    use std::os::fd::{FromRawFd, OwnedFd, RawFd};
    let mut data = [0u8; 4096];
    let mut iov = libc::iovec {
        iov_base: data.as_mut_ptr().cast(),
        iov_len: data.len(),
    };
    // SAFETY: CMSG_SPACE only computes a size from its argument.
    let space = unsafe { libc::CMSG_SPACE(std::mem::size_of::<RawFd>() as u32) } as usize;
    // u64 elements keep the control buffer aligned for cmsghdr.
    let mut control = vec![0u64; space.div_ceil(8) + 1];
    // SAFETY: msghdr is a plain C struct for which all-zero bytes are valid.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.as_mut_ptr().cast();
    msg.msg_controllen = control.len() * 8;
    // SAFETY: msg points at the live iovec and control buffer above, whose
    // lengths are the ones recorded in it.
    let n = unsafe { libc::recvmsg(sock, &mut msg, libc::MSG_CMSG_CLOEXEC) };
    if n < 0 {
        return Err(std::io::Error::last_os_error()).context("recvmsg");
    }
    let payload = data[..n as usize].to_vec();
    // SAFETY: msg was filled in by recvmsg; CMSG_FIRSTHDR only reads its
    // control fields.
    let mut cmsg = unsafe { libc::CMSG_FIRSTHDR(&msg) };
    let mut found = None;
    while !cmsg.is_null() {
        // SAFETY: a non-null pointer from CMSG_FIRSTHDR/CMSG_NXTHDR points at
        // a complete cmsghdr inside the control buffer.
        let hdr = unsafe { &*cmsg };
        if hdr.cmsg_level == libc::SOL_SOCKET && hdr.cmsg_type == libc::SCM_RIGHTS {
            // SAFETY: an SCM_RIGHTS message carries at least one int after
            // its header; the data may be unaligned, so read it as such.
            let fd = unsafe { (libc::CMSG_DATA(cmsg) as *const RawFd).read_unaligned() };
            // SAFETY: the kernel installed this fd in our table for us; no
            // one else owns it.
            let owned = unsafe { OwnedFd::from_raw_fd(fd) };
            if found.is_none() {
                found = Some(owned);
            }
        }
        // SAFETY: msg and cmsg are valid as above.
        cmsg = unsafe { libc::CMSG_NXTHDR(&msg, cmsg) };
    }
    if msg.msg_flags & libc::MSG_CTRUNC != 0 {
        bail!("control message truncated");
    }
    found
        .map(|fd| (fd, payload))
        .ok_or_else(|| anyhow!("message carried no fd"))
}

/// Reads from a pty master until `want` appears in what was read, the slave
/// side is closed (EIO), or `timeout` passes; returns everything read.
pub fn read_pty_until(master: &std::os::fd::OwnedFd, want: &str, timeout: Duration) -> String {
    use std::os::fd::AsRawFd;
    let deadline = Instant::now() + timeout;
    let mut out = Vec::new();
    loop {
        if String::from_utf8_lossy(&out).contains(want) {
            break;
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() || wait_readable(master.as_raw_fd(), left).is_err() {
            break;
        }
        let mut buf = [0u8; 1024];
        // SAFETY: buf is a valid writable buffer of the length given.
        let n = unsafe { libc::read(master.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
        if n <= 0 {
            break;
        }
        out.extend_from_slice(&buf[..n as usize]);
    }
    String::from_utf8_lossy(&out).into_owned()
}

impl Runtime {
    /// This runtime driving `bin` instead of the default binary: a private
    /// copy that a test lets containers attack, so that a successful attack
    /// cannot break other tests.
    pub fn with_binary(mut self, bin: PathBuf) -> Runtime {
        self.bin = bin;
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_ids_through_ranges() {
        let map = [(0, 1001, 1), (1, 100000, 65536)];
        assert_eq!(map_id(&map, 0), Some(1001));
        assert_eq!(map_id(&map, 1), Some(100000));
        assert_eq!(map_id(&map, 1000), Some(100999));
        assert_eq!(map_id(&map, 65536), Some(165535));
        assert_eq!(map_id(&map, 65537), None);
    }

    #[test]
    fn unique_strings_differ_and_are_valid_ids() {
        let a = unique("x");
        let b = unique("x");
        assert_ne!(a, b);
        assert!(a.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-'));
    }
}
