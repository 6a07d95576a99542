//! Per-container state under the runtime root: `<root>/<id>/state.json`, the
//! exec fifo, and the status derived from the live process.

use std::collections::HashMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Result, RuntimeError, SysContext};
use crate::id;

/// The OCI runtime spec version this runtime implements.
pub const OCI_VERSION: &str = "1.2.0";
/// Name of the exec fifo inside a container's state directory.
pub const EXEC_FIFO: &str = "exec.fifo";
const STATE_FILE: &str = "state.json";

/// A container's lifecycle status, as the OCI spec names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Being created: init is still setting up.
    Creating,
    /// Created: init waits on the exec fifo.
    Created,
    /// The user process runs.
    Running,
    /// The container's processes are frozen.
    Paused,
    /// The container process has exited.
    Stopped,
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Status::Creating => "creating",
            Status::Created => "created",
            Status::Running => "running",
            Status::Paused => "paused",
            Status::Stopped => "stopped",
        })
    }
}

/// What the runtime records about one container.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ContainerState {
    /// The container id.
    pub id: String,
    /// The container process's pid in the runtime's pid namespace.
    pub pid: i32,
    /// The process's start time (clock ticks since boot, /proc/PID/stat
    /// field 22), to tell the container from a later process reusing its pid.
    pub pid_start: u64,
    /// Absolute path of the bundle.
    pub bundle: PathBuf,
    /// Absolute path of the root filesystem.
    pub rootfs: PathBuf,
    /// Creation time, RFC 3339.
    pub created: String,
    /// The uid that created the container.
    pub owner: u32,
    /// The spec's annotations.
    #[serde(default)]
    pub annotations: HashMap<String, String>,
    /// Whether the container has its own pid namespace.
    #[serde(default)]
    pub own_pid_ns: bool,
    /// The container's cgroup (empty when it runs without one).
    #[serde(default)]
    pub cgroup: crate::cgroup::Cgroup,
}

/// The state as the OCI spec's `state` operation prints it.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OciState<'a> {
    /// Spec version.
    pub oci_version: &'static str,
    /// Container id.
    pub id: &'a str,
    /// Current status.
    pub status: Status,
    /// Pid, 0 once stopped.
    pub pid: i32,
    /// Bundle path.
    pub bundle: &'a Path,
    /// Rootfs path (runc prints it too).
    pub rootfs: &'a Path,
    /// Creation time.
    pub created: &'a str,
    /// Owner name (runc prints the user name; we print it as "" for root and
    /// the uid otherwise, since the runtime does no NSS lookups).
    pub owner: String,
    /// Annotations.
    #[serde(skip_serializing_if = "HashMap::is_empty")]
    pub annotations: &'a HashMap<String, String>,
}

/// The runtime's state root (`--root`).
#[derive(Debug, Clone)]
pub struct StateRoot {
    dir: PathBuf,
}

impl StateRoot {
    /// Uses `dir` as the state root, creating it (mode 0700) if needed.
    pub fn open(dir: impl Into<PathBuf>) -> Result<StateRoot> {
        let dir = dir.into();
        fs::create_dir_all(&dir).ctx(|| format!("creating state root {}", dir.display()))?;
        Ok(StateRoot { dir })
    }

    /// The default root: /run/husk-runtime for root, else
    /// $XDG_RUNTIME_DIR/husk-runtime (or /tmp/husk-runtime-UID). Root inside
    /// a user namespace made for an unprivileged user (rootless podman) is
    /// not the host's root: it gets $XDG_RUNTIME_DIR too, as runc decides.
    pub fn default_dir() -> PathBuf {
        let uid = nix::unistd::geteuid().as_raw();
        let xdg = std::env::var_os("XDG_RUNTIME_DIR").filter(|d| !d.is_empty());
        let unprivileged_root =
            uid == 0 && in_user_namespace() && std::env::var("USER").map_or(true, |u| u != "root");
        match xdg {
            Some(d) if uid != 0 || unprivileged_root => PathBuf::from(d).join("husk-runtime"),
            _ if uid == 0 => PathBuf::from("/run/husk-runtime"),
            _ => PathBuf::from(format!("/tmp/husk-runtime-{uid}")),
        }
    }

    /// The root directory.
    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// The state directory of container `id` (not checked for existence).
    pub fn container_dir(&self, id: &str) -> Result<PathBuf> {
        id::validate(id)?;
        Ok(self.dir.join(id))
    }

    /// Reserves `id`: creates its state directory, failing if it exists.
    pub fn reserve(&self, id: &str) -> Result<PathBuf> {
        let dir = self.container_dir(id)?;
        match fs::create_dir(&dir) {
            Ok(()) => Ok(dir),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                Err(RuntimeError::Exists(id.to_string()))
            }
            Err(e) => Err(RuntimeError::sys(
                format!("creating state directory {}", dir.display()),
                e,
            )),
        }
    }

    /// Loads the state of container `id`.
    pub fn load(&self, id: &str) -> Result<ContainerState> {
        let dir = self.container_dir(id)?;
        let data = match fs::read(dir.join(STATE_FILE)) {
            Ok(d) => d,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(RuntimeError::NotFound(id.to_string()))
            }
            Err(e) => return Err(RuntimeError::sys(format!("reading state of {id}"), e)),
        };
        serde_json::from_slice(&data).map_err(|e| RuntimeError::Config {
            path: dir.join(STATE_FILE),
            reason: e.to_string(),
        })
    }

    /// Writes the state atomically (temp file, fsync-free rename).
    pub fn save(&self, st: &ContainerState) -> Result<()> {
        let dir = self.container_dir(&st.id)?;
        let tmp = dir.join(".state.json.tmp");
        let data = serde_json::to_vec(st).expect("state serialises");
        let mut f = fs::File::create(&tmp).ctx(|| format!("writing {}", tmp.display()))?;
        f.write_all(&data)
            .ctx(|| format!("writing {}", tmp.display()))?;
        fs::rename(&tmp, dir.join(STATE_FILE))
            .ctx(|| format!("renaming {} into place", tmp.display()))
    }

    /// Removes container `id`'s state directory.
    pub fn remove(&self, id: &str) -> Result<()> {
        let dir = self.container_dir(id)?;
        match fs::remove_dir_all(&dir) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(RuntimeError::sys(
                format!("removing state directory {}", dir.display()),
                e,
            )),
            _ => Ok(()),
        }
    }

    /// Ids of every container under the root, sorted.
    pub fn list(&self) -> Result<Vec<String>> {
        let mut ids = Vec::new();
        let rd = fs::read_dir(&self.dir).ctx(|| format!("listing {}", self.dir.display()))?;
        for entry in rd.flatten() {
            if let Some(name) = entry.file_name().to_str() {
                if id::validate(name).is_ok() && entry.path().join(STATE_FILE).exists() {
                    ids.push(name.to_string());
                }
            }
        }
        ids.sort();
        Ok(ids)
    }

    /// The live status of a container.
    pub fn status(&self, st: &ContainerState) -> Status {
        if !process_alive(st.pid, st.pid_start) {
            return Status::Stopped;
        }
        if st.cgroup.is_frozen() {
            return Status::Paused;
        }
        let fifo = self.dir.join(&st.id).join(EXEC_FIFO);
        if fifo.exists() {
            Status::Created
        } else {
            Status::Running
        }
    }
}

impl ContainerState {
    /// The state in the OCI form, with the live `status`.
    pub fn to_oci(&self, status: Status) -> OciState<'_> {
        OciState {
            oci_version: OCI_VERSION,
            id: &self.id,
            status,
            pid: if status == Status::Stopped {
                0
            } else {
                self.pid
            },
            bundle: &self.bundle,
            rootfs: &self.rootfs,
            created: &self.created,
            owner: if self.owner == 0 {
                String::new()
            } else {
                self.owner.to_string()
            },
            annotations: &self.annotations,
        }
    }
}

/// Whether this process runs in a user namespace other than the initial one
/// (whose uid_map is the identity over the whole range).
pub fn in_user_namespace() -> bool {
    match fs::read_to_string("/proc/self/uid_map") {
        Ok(m) => {
            let f: Vec<&str> = m.split_whitespace().collect();
            f != ["0", "0", "4294967295"]
        }
        Err(_) => false,
    }
}

/// Reads field 22 (starttime) of /proc/PID/stat and the state letter.
pub fn proc_stat(pid: i32) -> Option<(char, u64)> {
    let s = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // comm may hold spaces and parens: fields start after the last ')'.
    let rest = &s[s.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let state = fields.first()?.chars().next()?;
    let start = fields.get(19)?.parse().ok()?;
    Some((state, start))
}

/// Whether `pid` still names the process started at `start` and has not
/// exited (zombies count as exited).
pub fn process_alive(pid: i32, start: u64) -> bool {
    if pid <= 0 {
        return false;
    }
    match proc_stat(pid) {
        Some((state, s)) => s == start && state != 'Z' && state != 'X',
        None => false,
    }
}
