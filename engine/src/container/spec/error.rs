//! Why a spec could not be generated. Every message names the flag and the
//! value at fault (the CLI prints it after `Error: ` and exits 125, as
//! podman does).

use std::path::PathBuf;

/// A spec generation failure.
#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    /// A flag's value is malformed or not allowed: `invalid --ulimit
    /// "nofile=a": ...`.
    #[error("invalid {flag} {value:?}: {reason}")]
    Invalid {
        /// The flag, as the user spells it (`--ulimit`).
        flag: &'static str,
        /// The value given.
        value: String,
        /// What is wrong with it.
        reason: String,
    },
    /// Flags that cannot be used together, or a flag the chosen mode
    /// forbids.
    #[error("{0}")]
    Conflict(String),
    /// `-u NAME` names no entry of the container's /etc/passwd.
    #[error("unable to find user {0}: no matching entries in passwd file")]
    NoSuchUser(String),
    /// A group name (`-u USER:GROUP`, `--group-add`) is not in /etc/group.
    #[error("unable to find group {0}: no matching entries in group file")]
    NoSuchGroup(String),
    /// A podman feature husk does not have yet.
    #[error("{what} is not supported yet: {hint}")]
    Unsupported {
        /// The feature, with the flag that asked for it.
        what: String,
        /// What to do instead.
        hint: String,
    },
    /// Neither the command line nor the image says what to run.
    #[error("no command or entrypoint provided, and no CMD or ENTRYPOINT from image")]
    NoCommand,
    /// `-w DIR` names a directory the image does not have.
    #[error("workdir {dir:?} does not exist on container {id}")]
    NoWorkdir {
        /// The working directory asked for.
        dir: String,
        /// The container id.
        id: String,
    },
    /// A resource limit the host cannot enforce for this user.
    #[error("cannot set {flag}: {reason}")]
    Resource {
        /// The flag (`--memory`).
        flag: &'static str,
        /// Why not.
        reason: String,
    },
    /// Reading or writing a file failed.
    #[error("{what} {path}: {source}")]
    Io {
        /// What was being done (`reading`, `creating`...).
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// The engine passed an input the generator cannot use (a bug in the
    /// caller, not the user's input).
    #[error("internal error: {0}")]
    Internal(String),
}

impl SpecError {
    /// A [`SpecError::Invalid`].
    pub fn invalid(flag: &'static str, value: &str, reason: impl Into<String>) -> SpecError {
        SpecError::Invalid {
            flag,
            value: value.to_owned(),
            reason: reason.into(),
        }
    }

    /// A [`SpecError::Io`].
    pub fn io(what: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> SpecError {
        SpecError::Io {
            what,
            path: path.into(),
            source,
        }
    }

    /// A [`SpecError::Unsupported`].
    pub fn unsupported(what: impl Into<String>, hint: impl Into<String>) -> SpecError {
        SpecError::Unsupported {
            what: what.into(),
            hint: hint.into(),
        }
    }
}

/// Results of spec generation.
pub type Result<T, E = SpecError> = std::result::Result<T, E>;
