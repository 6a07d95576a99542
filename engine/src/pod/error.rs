//! What can go wrong with a pod, worded as podman words it.

use std::path::PathBuf;

use crate::container::error::ContainerError;

/// A pod operation failed.
#[derive(Debug, thiserror::Error)]
pub enum PodError {
    /// No pod by that name or id.
    #[error("no pod with name or ID {0} found: no such pod")]
    NotFound(String),
    /// An id prefix names several pods.
    #[error("more than one result for pod ID {0}: pod already exists")]
    Ambiguous(String),
    /// `--share` names something that is not a shareable namespace.
    #[error(
        "invalid kernel namespace to share: {0}. Options are: cgroup, ipc, net, pid, uts or none"
    )]
    InvalidShare(String),
    /// A flag or a combination of flags husk (or podman) refuses.
    #[error("{0}")]
    Invalid(String),
    /// The operation does not fit the state of the pod's containers.
    #[error("{0}: container state improper")]
    BadState(String),
    /// The pod record names an infra container that is gone.
    #[error("the infra container {infra} of pod {pod} is missing; remove the pod with husk pod rm -f {pod}")]
    InfraMissing {
        /// The pod.
        pod: String,
        /// Its infra container id.
        infra: String,
    },
    /// A container lifecycle step failed.
    #[error(transparent)]
    Container(#[from] ContainerError),
    /// The catalog failed.
    #[error(transparent)]
    Catalog(#[from] crate::catalog::CatalogError),
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
}

impl PodError {
    /// An I/O error on `path`.
    pub fn io(what: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        PodError::Io {
            what,
            path: path.into(),
            source,
        }
    }
}

/// Result of pod operations.
pub type Result<T, E = PodError> = std::result::Result<T, E>;
