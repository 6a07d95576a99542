//! The runtime's error type: every variant names the object that failed.

use std::path::PathBuf;

/// Errors of the husk runtime library.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    /// The container id is not acceptable (empty, too long, path characters).
    #[error("invalid container id {id:?}: {reason}")]
    InvalidId {
        /// The id as given.
        id: String,
        /// Why it was refused.
        reason: &'static str,
    },
    /// A container with this id already exists under the state root.
    #[error("container {0:?} already exists")]
    Exists(String),
    /// No container with this id exists under the state root.
    #[error("container {0:?} does not exist")]
    NotFound(String),
    /// The bundle's config.json could not be read or parsed.
    #[error("invalid bundle config {path}: {reason}")]
    Config {
        /// The config.json path.
        path: PathBuf,
        /// What was wrong with it.
        reason: String,
    },
    /// The spec is well-formed but asks for something the runtime refuses.
    #[error("invalid spec: {0}")]
    Spec(String),
    /// The container is in a state that does not allow the operation.
    #[error("container {id:?} is {status}: cannot {op}")]
    BadState {
        /// The container id.
        id: String,
        /// Its current status.
        status: String,
        /// What was asked of it.
        op: &'static str,
    },
    /// A system call failed.
    #[error("{what}: {source}")]
    Sys {
        /// What the runtime was doing.
        what: String,
        /// The kernel's answer.
        source: std::io::Error,
    },
    /// The container's init process reported an error during setup.
    #[error("container init: {0}")]
    Init(String),
    /// The process's program could not be found or run.
    #[error("{0}")]
    Program(String),
    /// A hook failed or timed out.
    #[error("hook {path}: {reason}")]
    Hook {
        /// The hook's program.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// The spec's seccomp filter is invalid or could not be loaded.
    #[error("seccomp: {0}")]
    Seccomp(#[from] crate::seccomp::SeccompError),
    /// The named signal is not known.
    #[error("unknown signal {0:?}")]
    Signal(String),
}

/// Result alias for the runtime library.
pub type Result<T, E = RuntimeError> = std::result::Result<T, E>;

impl RuntimeError {
    /// Wraps an `io::Error` with a description of what was being done.
    pub fn sys(what: impl Into<String>, source: impl Into<std::io::Error>) -> Self {
        RuntimeError::Sys {
            what: what.into(),
            source: source.into(),
        }
    }
}

/// Adds context to `io::Result`s and `nix::Result`s.
pub trait SysContext<T> {
    /// Turns the error into [`RuntimeError::Sys`] described by `what`.
    fn ctx(self, what: impl FnOnce() -> String) -> Result<T>;
}

impl<T> SysContext<T> for std::io::Result<T> {
    fn ctx(self, what: impl FnOnce() -> String) -> Result<T> {
        self.map_err(|e| RuntimeError::sys(what(), e))
    }
}

impl<T> SysContext<T> for nix::Result<T> {
    fn ctx(self, what: impl FnOnce() -> String) -> Result<T> {
        self.map_err(|e| RuntimeError::sys(what(), std::io::Error::from(e)))
    }
}
