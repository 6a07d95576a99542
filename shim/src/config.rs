//! What the caller tells a shim: [`ShimConfig`], handed over once as JSON on
//! the spawn socket.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::{Result, ShimError};

/// The container's log format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LogDriver {
    /// podman/conmon's CRI format: `TIME STREAM P|F BYTES` lines (binary-safe).
    #[default]
    K8sFile,
    /// docker's `{"log":...,"stream":...,"time":...}` lines.
    JsonFile,
    /// No log: output only reaches attached clients.
    None,
}

impl LogDriver {
    /// Parses the names podman accepts: `k8s-file`, `json-file`, `none`.
    pub fn parse(s: &str) -> Option<LogDriver> {
        match s {
            "k8s-file" => Some(LogDriver::K8sFile),
            "json-file" => Some(LogDriver::JsonFile),
            "none" => Some(LogDriver::None),
            _ => None,
        }
    }

    /// The driver's name as podman spells it.
    pub fn name(self) -> &'static str {
        match self {
            LogDriver::K8sFile => "k8s-file",
            LogDriver::JsonFile => "json-file",
            LogDriver::None => "none",
        }
    }
}

/// A terminal size in character cells.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TtySize {
    /// Rows.
    pub rows: u16,
    /// Columns.
    pub cols: u16,
}

/// The smallest `log_max_size` honoured: a record always fits in a file.
pub const MIN_LOG_SIZE: u64 = 4096;

/// Everything a shim needs to create, hold and record one container.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ShimConfig {
    /// The container id (as the runtime knows it).
    pub id: String,
    /// The OCI bundle directory.
    pub bundle: PathBuf,
    /// The runtime state root (`husk_runtime::state::StateRoot`); must exist.
    pub state_root: PathBuf,
    /// Log format.
    #[serde(default)]
    pub log_driver: LogDriver,
    /// The log file (ignored with [`LogDriver::None`]).
    #[serde(default)]
    pub log_path: PathBuf,
    /// Rotate when the file would exceed this many bytes (0: never;
    /// otherwise at least [`MIN_LOG_SIZE`]).
    #[serde(default)]
    pub log_max_size: u64,
    /// How many files to keep in all, the live one included (docker's
    /// `max-file`); 1 truncates on rotation, as podman does. 0 means 1.
    #[serde(default)]
    pub log_max_files: u32,
    /// Where the exit record is written when the container ends.
    #[serde(default)]
    pub exit_file: Option<PathBuf>,
    /// Directory of the attach socket (`<dir>/attach`); none: no attach.
    #[serde(default)]
    pub attach_dir: Option<PathBuf>,
    /// Keep the container's stdin open for attachers (`-i`); otherwise its
    /// stdin is /dev/null.
    #[serde(default)]
    pub stdin: bool,
    /// The spec asks for a terminal (`process.terminal`): the shim receives
    /// the pty master over the runtime's console socket.
    #[serde(default)]
    pub terminal: bool,
    /// The terminal's size before the container starts.
    #[serde(default)]
    pub tty_size: Option<TtySize>,
    /// Program and arguments run once the exit is recorded (the engine
    /// passes `husk container cleanup ID`).
    #[serde(default)]
    pub exit_command: Vec<String>,
    /// Extra `NAME=VALUE` environment of the exit command.
    #[serde(default)]
    pub exit_command_env: Vec<String>,
    /// Seconds the exit command may run before it is killed (0: 60 s).
    #[serde(default)]
    pub exit_command_timeout_secs: u64,
    /// Where to write the shim's own pid.
    #[serde(default)]
    pub shim_pid_file: Option<PathBuf>,
    /// Where the runtime writes the container's pid (`create --pid-file`).
    #[serde(default)]
    pub container_pid_file: Option<PathBuf>,
}

/// The name of the attach socket inside [`ShimConfig::attach_dir`].
pub const ATTACH_SOCKET: &str = "attach";

impl ShimConfig {
    /// A configuration with the required fields and defaults elsewhere.
    pub fn new(id: &str, bundle: &Path, state_root: &Path) -> ShimConfig {
        ShimConfig {
            id: id.to_owned(),
            bundle: bundle.to_owned(),
            state_root: state_root.to_owned(),
            ..ShimConfig::default()
        }
    }

    /// The attach socket path, when attaching is enabled.
    pub fn attach_socket(&self) -> Option<PathBuf> {
        self.attach_dir.as_ref().map(|d| d.join(ATTACH_SOCKET))
    }

    /// The exit command's timeout.
    pub fn exit_command_timeout(&self) -> Duration {
        match self.exit_command_timeout_secs {
            0 => Duration::from_secs(60),
            s => Duration::from_secs(s),
        }
    }

    /// How many log files are kept in all.
    pub fn log_files(&self) -> u32 {
        self.log_max_files.max(1)
    }

    /// Checks what can be checked without touching the system.
    pub fn validate(&self) -> Result<()> {
        let bad = |reason: &str| {
            Err(ShimError::Config {
                id: self.id.clone(),
                reason: reason.to_owned(),
            })
        };
        if husk_runtime::id::validate(&self.id).is_err() {
            return bad("the container id is not valid");
        }
        if self.log_driver != LogDriver::None && self.log_path.as_os_str().is_empty() {
            return bad("a log path is required unless the log driver is none");
        }
        if self.log_max_size != 0 && self.log_max_size < MIN_LOG_SIZE {
            return bad("log_max_size must be 0 (no rotation) or at least 4096 bytes");
        }
        if self.exit_command.first().is_some_and(|p| p.is_empty()) {
            return bad("the exit command's program is empty");
        }
        Ok(())
    }
}
