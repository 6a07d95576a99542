//! Errors of the image operations (pull, push, save, load, import, remove,
//! inspect). Messages follow podman's where users and scripts know them
//! (`initializing source docker://…: …`, `nope: image not known`, `image
//! is in use by a container`); the CLI picks the exit status from the
//! variant ([`ImageError::exit_status`]).

use crate::catalog::CatalogError;
use crate::container::error::ContainerError;
use crate::image::auth::AuthError;
use crate::image::digest::Digest;
use crate::image::local::LookupError;
use crate::image::platform::PlatformError;
use crate::image::reference::ReferenceError;
use crate::image::registries::RegistriesError;
use crate::image::registry::RegistryError;
use crate::storage::StorageError;

/// Why an image operation failed.
#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    /// The name is not a valid reference.
    #[error(transparent)]
    Reference(#[from] ReferenceError),
    /// registries.conf could not be read, or refused the reference.
    #[error(transparent)]
    Registries(#[from] RegistriesError),
    /// The credential files could not be read or written.
    #[error(transparent)]
    Auth(#[from] AuthError),
    /// `--platform` and friends.
    #[error(transparent)]
    Platform(#[from] PlatformError),
    /// Fetching the manifest failed (podman's wording).
    #[error("initializing source {source_ref}: {error}")]
    Source {
        /// `docker://host/path:tag`.
        source_ref: String,
        /// What the registry said.
        #[source]
        error: Box<RegistryError>,
    },
    /// Any other registry exchange failed.
    #[error("{what}: {error}")]
    Registry {
        /// What was being done (`copying blob sha256:…`).
        what: String,
        /// What the registry said.
        #[source]
        error: Box<RegistryError>,
    },
    /// The store failed (a hostile or corrupt layer, a full disk).
    #[error("{what}: {error}")]
    Storage {
        /// What was being done.
        what: String,
        /// The storage error.
        #[source]
        error: Box<StorageError>,
    },
    /// The catalog failed.
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    /// A local name lookup failed (ambiguous id, bad name).
    #[error(transparent)]
    Lookup(#[from] LookupError),
    /// No local image has that name.
    #[error("{0}: image not known")]
    NotKnown(String),
    /// A name given to untag does not name the image.
    #[error("{0}: tag not known")]
    TagNotKnown(String),
    /// Several candidates of a short name failed.
    #[error("{} errors occurred while pulling:{}", .0.len(), several(.0))]
    Several(Vec<ImageError>),
    /// The image is used by a container (podman's exit status 2).
    #[error("image used by {container}: image is in use by a container: consider listing external containers and force-removing image")]
    InUse {
        /// The image id.
        image: String,
        /// A container using it.
        container: String,
    },
    /// `rmi ID` of an image with several names, without force.
    #[error("unable to delete image {id:?} by ID with more than one tag ([{}]): please force removal", .names.join(" "))]
    MultipleTags {
        /// The image id.
        id: String,
        /// Its names.
        names: Vec<String>,
    },
    /// An image whose stored documents are not what they must be.
    #[error("image {image}: {reason}")]
    BadImage {
        /// The image (id, name or digest).
        image: String,
        /// What is wrong.
        reason: String,
    },
    /// A digest the user gave does not match what was found.
    #[error("{what}: expected {expected}, got {actual}")]
    DigestMismatch {
        /// What was checked.
        what: String,
        /// The digest asked for.
        expected: Digest,
        /// The digest found.
        actual: Digest,
    },
    /// An archive (docker-archive, oci-archive, OCI layout) is unusable.
    #[error("{path}: {reason}")]
    Archive {
        /// The file or directory.
        path: String,
        /// What is wrong.
        reason: String,
    },
    /// A file operation failed.
    #[error("{what} {path}: {source}")]
    Io {
        /// What was being done.
        what: &'static str,
        /// The file.
        path: String,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// Removing a container (`rmi --force`) failed.
    #[error(transparent)]
    Container(#[from] ContainerError),
    /// A request husk does not support.
    #[error("{0}")]
    Unsupported(String),
    /// Anything else, already worded for the user.
    #[error("{0}")]
    Other(String),
}

fn several(errors: &[ImageError]) -> String {
    errors.iter().map(|e| format!("\n * {e}")).collect()
}

/// Result of image operations.
pub type Result<T, E = ImageError> = std::result::Result<T, E>;

impl ImageError {
    /// A storage error with what was being done.
    pub fn storage(what: impl Into<String>) -> impl FnOnce(StorageError) -> ImageError {
        let what = what.into();
        move |error| ImageError::Storage {
            what,
            error: Box::new(error),
        }
    }

    /// A registry error with what was being done.
    pub fn registry(what: impl Into<String>) -> impl FnOnce(RegistryError) -> ImageError {
        let what = what.into();
        move |error| ImageError::Registry {
            what,
            error: Box::new(error),
        }
    }

    /// A file error.
    pub fn io(
        what: &'static str,
        path: impl AsRef<std::path::Path>,
    ) -> impl FnOnce(std::io::Error) -> ImageError {
        let path = path.as_ref().display().to_string();
        move |source| ImageError::Io { what, path, source }
    }

    /// The exit status podman gives this error: 2 for an image in use, 125
    /// otherwise (commands with their own rules, like `rmi`'s 1 for an
    /// unknown image, decide themselves).
    pub fn exit_status(&self) -> i32 {
        match self {
            ImageError::InUse { .. } => 2,
            _ => 125,
        }
    }
}
