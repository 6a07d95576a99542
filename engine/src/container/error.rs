//! What can go wrong in a container's lifecycle, worded as podman words it
//! (so scripts matching podman's messages keep working).

use std::path::PathBuf;

/// A lifecycle operation failed.
#[derive(Debug, thiserror::Error)]
pub enum ContainerError {
    /// No container by that name or id.
    #[error("no container with name or ID {0:?} found: no such container")]
    NotFound(String),
    /// An id prefix names several containers.
    #[error("more than one result for container {0:?}: container already exists")]
    Ambiguous(String),
    /// The operation does not fit the container's state.
    #[error("{0}: container state improper")]
    BadState(String),
    /// The catalog failed.
    #[error(transparent)]
    Catalog(#[from] crate::catalog::CatalogError),
    /// The runtime failed.
    #[error(transparent)]
    Runtime(#[from] husk_runtime::RuntimeError),
    /// The shim failed.
    #[error(transparent)]
    Shim(#[from] husk_shim::error::ShimError),
    /// A file operation failed.
    #[error("{what} {path}: {source}")]
    Io {
        /// What husk was doing.
        what: &'static str,
        /// On which file.
        path: PathBuf,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// Anything else, already worded.
    #[error("{0}")]
    Other(String),
}

impl ContainerError {
    /// An I/O error on `path`.
    pub fn io(what: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        ContainerError::Io {
            what,
            path: path.into(),
            source,
        }
    }
}

/// Result of lifecycle operations.
pub type Result<T, E = ContainerError> = std::result::Result<T, E>;
