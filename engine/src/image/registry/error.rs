//! Registry client errors: one enum whose messages name the registry,
//! repository, reference or digest, and an [`ErrorKind`] to match on (the
//! CLI maps every kind to exit status 125, as podman does).

use std::time::Duration;

use serde::Deserialize;

use crate::image::digest::Digest;
use crate::image::platform::PlatformError;

/// What went wrong, for matching.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// No such manifest or tag (`MANIFEST_UNKNOWN`, 404 on a manifest).
    ManifestUnknown,
    /// No such repository (`NAME_UNKNOWN`).
    NameUnknown,
    /// No such blob (`BLOB_UNKNOWN`, 404 on a blob).
    BlobUnknown,
    /// Credentials missing, wrong, or not allowed (401, 403).
    Unauthorized,
    /// The registry cannot be reached (refused, DNS, timeout, reset).
    Unreachable,
    /// TLS failed (untrusted certificate, handshake).
    Tls,
    /// Content does not hash to the digest it should.
    DigestMismatch,
    /// Content is not the size it should be.
    SizeMismatch,
    /// A manifest of a media type husk does not read.
    UnsupportedMediaType,
    /// No index entry for the wanted platform.
    NoMatchingPlatform,
    /// Transient failures (5xx, 429, cut connections) outlasted the retries.
    TooManyRetries,
    /// Any other unexpected answer.
    Protocol,
    /// The caller's writer or reader failed.
    Io,
}

/// A registry error.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// No such manifest or tag.
    #[error("reading manifest {reference} in {repository}: manifest unknown{}", detail(.message))]
    ManifestUnknown {
        /// `host/path`.
        repository: String,
        /// The tag or digest.
        reference: String,
        /// The registry's message, when it says more.
        message: String,
    },
    /// No such repository.
    #[error("{action} in {repository}: name unknown: repository name not known to registry{}", detail(.message))]
    NameUnknown {
        /// `host/path`.
        repository: String,
        /// What was being done (`reading manifest latest`).
        action: String,
        /// The registry's message, when it says more.
        message: String,
    },
    /// No such blob.
    #[error("fetching blob {digest} from {repository}: blob unknown")]
    BlobUnknown {
        /// `host/path`.
        repository: String,
        /// The blob.
        digest: Digest,
    },
    /// 401 or 403.
    #[error("{}", unauthorized_text(.action, .repository, *.status, .code, .message, *.had_credentials))]
    Unauthorized {
        /// What was being done.
        action: String,
        /// `host/path`, or the host for a ping or login.
        repository: String,
        /// 401 or 403.
        status: u16,
        /// The registry's error code (`UNAUTHORIZED`, `DENIED`).
        code: Option<String>,
        /// The registry's message.
        message: String,
        /// Whether credentials were sent.
        had_credentials: bool,
    },
    /// Connection refused, DNS failure, timeout or reset.
    #[error("cannot reach container registry {registry}: {method} {url}: {cause}{}", attempts_text(*.attempts))]
    Unreachable {
        /// `host[:port]`.
        registry: String,
        /// The HTTP method.
        method: String,
        /// The URL.
        url: String,
        /// What failed.
        cause: String,
        /// How many times it was tried.
        attempts: u32,
    },
    /// TLS failure.
    #[error("TLS with container registry {registry} failed: {method} {url}: {cause} (a private CA goes in /etc/containers/certs.d/{registry}/ca.crt; --tls-verify=false skips verification)")]
    Tls {
        /// `host[:port]`.
        registry: String,
        /// The HTTP method.
        method: String,
        /// The URL.
        url: String,
        /// What failed.
        cause: String,
    },
    /// Content with the wrong digest.
    #[error("digest mismatch for {what} from {repository}: expected {expected}, got {computed}")]
    DigestMismatch {
        /// `manifest latest`, `blob sha256:...`.
        what: String,
        /// `host/path`.
        repository: String,
        /// The digest it should have.
        expected: Digest,
        /// The digest it has.
        computed: Digest,
    },
    /// Content with the wrong size.
    #[error("size mismatch for {what} from {repository}: expected {expected} bytes, got {got}")]
    SizeMismatch {
        /// What.
        what: String,
        /// `host/path`.
        repository: String,
        /// The size it should have.
        expected: u64,
        /// What arrived (`at least N` when the server sent too much).
        got: String,
    },
    /// A manifest media type husk does not read.
    #[error("unsupported media type {media_type:?} in {reference} (husk reads OCI and Docker schema 2 images)")]
    UnsupportedMediaType {
        /// The reference.
        reference: String,
        /// Its media type.
        media_type: String,
    },
    /// No index entry for the wanted platform.
    #[error("choosing an image from index {reference}: {source}")]
    NoMatchingPlatform {
        /// The reference.
        reference: String,
        /// The platforms.
        #[source]
        source: PlatformError,
    },
    /// Transient failures outlasted the retries.
    #[error("giving up after {attempts} attempts: {last}")]
    TooManyRetries {
        /// How many times it was tried.
        attempts: u32,
        /// The last failure.
        last: Box<RegistryError>,
    },
    /// An HTTP status that means nothing known here.
    #[error("{method} {url}: unexpected status {status}{}", code_text(.code, .message))]
    Status {
        /// The method.
        method: String,
        /// The URL.
        url: String,
        /// The status.
        status: u16,
        /// The registry's error code.
        code: Option<String>,
        /// The registry's message.
        message: String,
        /// Retry-After, for 429 and 503.
        retry_after: Option<Duration>,
    },
    /// A response husk cannot use.
    #[error("{url}: {reason}")]
    Protocol {
        /// The URL.
        url: String,
        /// What is wrong.
        reason: String,
        /// Whether trying again may help (a body cut short).
        transient: bool,
    },
    /// The caller's writer or reader failed.
    #[error("{what}: {source}")]
    Io {
        /// What was being written or read.
        what: String,
        /// The error.
        #[source]
        source: std::io::Error,
    },
}

fn detail(message: &str) -> String {
    if message.is_empty() {
        String::new()
    } else {
        format!(" ({message})")
    }
}

fn code_text(code: &Option<String>, message: &str) -> String {
    match (code, message.is_empty()) {
        (Some(c), false) => format!(": {c}: {message}"),
        (Some(c), true) => format!(": {c}"),
        (None, false) => format!(": {message}"),
        (None, true) => String::new(),
    }
}

fn unauthorized_text(
    action: &str,
    repository: &str,
    status: u16,
    code: &Option<String>,
    message: &str,
    had_credentials: bool,
) -> String {
    let (what, hint) = match (status, had_credentials) {
        (403, _) => ("access denied", ""),
        (_, true) => ("authentication required", " (the credentials were refused)"),
        (_, false) => (
            "authentication required",
            " (no credentials: use husk login)",
        ),
    };
    format!(
        "{action} {repository}: {what}{}{hint}",
        code_text(code, message)
    )
}

fn attempts_text(n: u32) -> String {
    if n > 1 {
        format!(" (after {n} attempts)")
    } else {
        String::new()
    }
}

impl RegistryError {
    /// What went wrong, for matching.
    pub fn kind(&self) -> ErrorKind {
        match self {
            RegistryError::ManifestUnknown { .. } => ErrorKind::ManifestUnknown,
            RegistryError::NameUnknown { .. } => ErrorKind::NameUnknown,
            RegistryError::BlobUnknown { .. } => ErrorKind::BlobUnknown,
            RegistryError::Unauthorized { .. } => ErrorKind::Unauthorized,
            RegistryError::Unreachable { .. } => ErrorKind::Unreachable,
            RegistryError::Tls { .. } => ErrorKind::Tls,
            RegistryError::DigestMismatch { .. } => ErrorKind::DigestMismatch,
            RegistryError::SizeMismatch { .. } => ErrorKind::SizeMismatch,
            RegistryError::UnsupportedMediaType { .. } => ErrorKind::UnsupportedMediaType,
            RegistryError::NoMatchingPlatform { .. } => ErrorKind::NoMatchingPlatform,
            RegistryError::TooManyRetries { .. } => ErrorKind::TooManyRetries,
            RegistryError::Status { .. } | RegistryError::Protocol { .. } => ErrorKind::Protocol,
            RegistryError::Io { .. } => ErrorKind::Io,
        }
    }

    /// Whether trying again may succeed: connection failures, 5xx, 408,
    /// 429, bodies cut short. Never a 4xx answer.
    pub fn is_transient(&self) -> bool {
        match self {
            RegistryError::Unreachable { cause, .. } => !cause.starts_with(DNS_CAUSE),
            RegistryError::Status { status, .. } => {
                matches!(status, 408 | 429 | 500 | 502 | 503 | 504)
            }
            RegistryError::Protocol { transient, .. } => *transient,
            _ => false,
        }
    }

    /// How long the server asked us to wait, if it did.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            RegistryError::Status { retry_after, .. } => *retry_after,
            _ => None,
        }
    }
}

/// The cause text of a name that does not resolve (not worth retrying).
pub(super) const DNS_CAUSE: &str = "host not found";

/// The `errors` body of a distribution API error response.
#[derive(Debug, Default, Deserialize)]
pub(super) struct ErrorBody {
    #[serde(default)]
    pub errors: Vec<ErrorEntry>,
}

/// One entry of an error body.
#[derive(Debug, Default, Deserialize)]
pub(super) struct ErrorEntry {
    #[serde(default)]
    pub code: String,
    #[serde(default)]
    pub message: String,
}

impl ErrorBody {
    /// Parses an error body; anything else is an empty one.
    pub fn parse(bytes: &[u8]) -> ErrorBody {
        serde_json::from_slice(bytes).unwrap_or_default()
    }

    /// The first error's code, if any.
    pub fn code(&self) -> Option<String> {
        self.errors
            .first()
            .map(|e| e.code.clone())
            .filter(|c| !c.is_empty())
    }

    /// The first error's message.
    pub fn message(&self) -> String {
        self.errors
            .first()
            .map(|e| e.message.clone())
            .unwrap_or_default()
    }
}
