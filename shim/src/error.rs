//! The shim library's error type: every variant names the object that failed.

use std::path::PathBuf;

/// Errors of the husk shim library.
#[derive(Debug, thiserror::Error)]
pub enum ShimError {
    /// A file or directory operation failed.
    #[error("{what} {path}: {source}")]
    Path {
        /// What the shim was doing ("opening log file", ...).
        what: &'static str,
        /// The path it was working on.
        path: PathBuf,
        /// The kernel's answer.
        #[source]
        source: std::io::Error,
    },
    /// A system call not tied to a path failed.
    #[error("{what}: {source}")]
    Sys {
        /// What the shim was doing.
        what: String,
        /// The kernel's answer.
        #[source]
        source: std::io::Error,
    },
    /// The configuration handed to the shim is unusable.
    #[error("invalid shim configuration for container {id:?}: {reason}")]
    Config {
        /// The container id.
        id: String,
        /// What is wrong.
        reason: String,
    },
    /// The runtime state root does not exist.
    #[error("runtime state root {0} does not exist (create it first)")]
    NoStateRoot(PathBuf),
    /// The runtime failed to create the container; its own message follows.
    #[error("creating container {id:?}: {reason}")]
    Create {
        /// The container id.
        id: String,
        /// The runtime's error, as it reported it.
        reason: String,
    },
    /// What the shim reported as failed; the text names the container and
    /// the object (the runtime's own error for a failed create).
    #[error("{0}")]
    Reported(String),
    /// The shim process ended or broke the protocol before reporting.
    #[error("shim for container {id:?}: {reason}")]
    Shim {
        /// The container id.
        id: String,
        /// What happened.
        reason: String,
    },
    /// No shim serves this attach socket (the container is not running, or
    /// the path is wrong).
    #[error(
        "attaching to {path}: no shim is listening there (is the container running?): {source}"
    )]
    NotAttachable {
        /// The attach socket.
        path: PathBuf,
        /// The connect error.
        #[source]
        source: std::io::Error,
    },
    /// A peer spoke the wire protocol wrongly.
    #[error("protocol error on {peer}: {reason}")]
    Protocol {
        /// Which connection.
        peer: String,
        /// What was wrong.
        reason: String,
    },
    /// A detach-keys specification could not be parsed.
    #[error("invalid detach keys {keys:?}: {reason}")]
    DetachKeys {
        /// The specification as given.
        keys: String,
        /// Why it was refused.
        reason: String,
    },
    /// A log file or exit file has content the reader cannot parse.
    #[error("{path}: {reason}")]
    Format {
        /// The file.
        path: PathBuf,
        /// What is wrong at which place.
        reason: String,
    },
}

/// Result alias of the shim library.
pub type Result<T, E = ShimError> = std::result::Result<T, E>;

impl ShimError {
    /// A path error.
    pub fn path(what: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        ShimError::Path {
            what,
            path: path.into(),
            source,
        }
    }

    /// A system call error described by `what`.
    pub fn sys(what: impl Into<String>, source: std::io::Error) -> Self {
        ShimError::Sys {
            what: what.into(),
            source,
        }
    }

    /// The last OS error, described by `what`.
    pub fn last_os(what: impl Into<String>) -> Self {
        Self::sys(what, std::io::Error::last_os_error())
    }
}
