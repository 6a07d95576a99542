//! Errors of the storage layer. Every variant names the object that failed:
//! the file, the blob or layer digest, the tar entry, the container.

use std::io;
use std::path::PathBuf;

use crate::image::digest::Digest;

use super::chain_id::ChainId;

/// The error a download closure of [`super::BlobStore::fetch_once`] returns:
/// any error of the caller's (the registry client's) choosing.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Result of storage operations.
pub type Result<T, E = StorageError> = std::result::Result<T, E>;

/// Why a storage operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// A file operation failed.
    #[error("{op} {path}: {source}")]
    Io {
        /// What was being done (`creating`, `renaming`, ...).
        op: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The error.
        #[source]
        source: io::Error,
    },
    /// A blob's content does not hash to the digest it was written under.
    #[error("blob {expected}: content hashes to {actual} ({size} bytes); discarded")]
    DigestMismatch {
        /// The digest the blob was announced with.
        expected: Digest,
        /// What the content hashes to.
        actual: Digest,
        /// Bytes received.
        size: u64,
    },
    /// A blob's size is not the one its descriptor states.
    #[error("blob {digest}: {actual} bytes, the descriptor says {expected}; discarded")]
    SizeMismatch {
        /// The blob.
        digest: Digest,
        /// The size the descriptor states.
        expected: u64,
        /// Bytes received (or the first count past the expected size).
        actual: u64,
    },
    /// No blob with this digest is stored.
    #[error("blob {0} is not in the store")]
    BlobNotFound(Digest),
    /// The caller's download closure failed; nothing was stored.
    #[error("fetching blob {digest}: {source}")]
    Fetch {
        /// The blob being fetched.
        digest: Digest,
        /// The closure's error.
        #[source]
        source: BoxError,
    },
    /// One entry of a layer tar could not (or must not) be unpacked.
    #[error("layer {layer}: entry `{entry}`: {kind}")]
    Entry {
        /// The layer blob (or diff id when unpacked from a plain stream).
        layer: Digest,
        /// The entry's name as the tar gives it.
        entry: String,
        /// What is wrong.
        kind: EntryError,
    },
    /// The layer stream is not a valid (compressed) tar.
    #[error("layer {layer}: corrupt layer stream {where_}: {why}", where_ = after_entry(.after), why = short(.source))]
    CorruptTar {
        /// The layer blob.
        layer: Digest,
        /// The last entry read completely, if any.
        after: Option<String>,
        /// The decoder's or tar reader's error.
        #[source]
        source: io::Error,
    },
    /// The unpacked content is not what the image config says it is.
    #[error("layer {layer}: uncompressed content hashes to {actual}, the image config says {expected}; layer discarded")]
    DiffIdMismatch {
        /// The layer blob.
        layer: Digest,
        /// The diff id the image config states.
        expected: Digest,
        /// What the uncompressed stream hashes to.
        actual: Digest,
    },
    /// No layer with this chain id is stored.
    #[error("layer {0} is not in the store")]
    LayerNotFound(ChainId),
    /// A layer was asked for on top of a parent that is not stored.
    #[error("layer {layer}: parent layer {parent} is not in the store (ensure layers base first)")]
    ParentMissing {
        /// The chain id of the layer being made.
        layer: ChainId,
        /// The missing parent.
        parent: ChainId,
    },
    /// A stored layer cannot be used the way it was asked for.
    #[error("layer {layer}: {reason}")]
    LayerUnusable {
        /// The layer.
        layer: ChainId,
        /// Why.
        reason: String,
    },
    /// A metadata file of the store does not parse.
    #[error("{path}: {reason}; remove it or the object it describes")]
    BadMetadata {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A container id that cannot name a directory.
    #[error(
        "invalid container id {0:?}: use 1-128 characters [A-Za-z0-9_.-], not starting with . or -"
    )]
    InvalidId(String),
    /// No container layer with this id.
    #[error("container {0}: no container layer in the store")]
    ContainerNotFound(String),
    /// A container layer with this id exists already.
    #[error("container {0}: a container layer with this id exists already")]
    ContainerExists(String),
    /// Mounting the overlay failed.
    #[error("mounting overlay for container {id} on {target}: {source} (options: {options})")]
    Mount {
        /// The container.
        id: String,
        /// The mount point.
        target: PathBuf,
        /// The overlay options tried.
        options: String,
        /// The kernel's answer.
        #[source]
        source: io::Error,
    },
    /// Unmounting a container's rootfs failed.
    #[error("unmounting {target}: {source}")]
    Unmount {
        /// The mount point.
        target: PathBuf,
        /// The kernel's answer.
        #[source]
        source: io::Error,
    },
    /// The overlay driver was asked for where it cannot work.
    #[error("storage driver overlay is not usable here: {0} (use --storage-driver vfs)")]
    OverlayUnavailable(String),
    /// A path to export does not exist or cannot be exported.
    #[error("exporting {path}: {reason}")]
    Export {
        /// The path, inside the exported tree.
        path: String,
        /// Why.
        reason: String,
    },
}

/// An error's text cut to a readable length: tar readers quote the garbage
/// they found.
fn short(e: &io::Error) -> String {
    let t = e.to_string();
    match t.char_indices().nth(120) {
        Some((i, _)) => format!("{}...", &t[..i]),
        None => t,
    }
}

fn after_entry(after: &Option<String>) -> String {
    match after {
        Some(e) => format!("after entry `{e}`"),
        None => "before the first entry".to_owned(),
    }
}

/// Why one tar entry was refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum EntryError {
    /// The name has a `..` component.
    #[error("the name has a `..` component; refused (a layer must not reach outside itself)")]
    DotDot,
    /// A parent of the entry is a symbolic link.
    #[error("its path goes through the symbolic link `{0}`; refused (entries are never written through links)")]
    ThroughSymlink(String),
    /// A parent of the entry exists and is not a directory.
    #[error("its path goes through `{0}`, which is not a directory")]
    NotADirectory(String),
    /// A hard link whose target is unusable.
    #[error("hard link target `{target}` {reason}")]
    HardlinkTarget {
        /// The target as the tar names it.
        target: String,
        /// Why it cannot be linked.
        reason: &'static str,
    },
    /// A device node, refused by the unpack options.
    #[error("{kind} device {major}:{minor} refused: husk does not unpack device nodes from images (the runtime provides /dev){hint}")]
    Device {
        /// `character` or `block`.
        kind: &'static str,
        /// Major number.
        major: u32,
        /// Minor number.
        minor: u32,
        /// What the caller could do, if anything.
        hint: &'static str,
    },
    /// An owner outside the ids this store can hold.
    #[error("{which} {id} is outside the ids this store maps ({range}): not enough subordinate ids; give the user a larger range in /etc/subuid and /etc/subgid")]
    Unmapped {
        /// `uid` or `gid`.
        which: &'static str,
        /// The id the tar gives.
        id: u64,
        /// The ranges that are mapped.
        range: String,
    },
    /// The stream ended inside the entry's data.
    #[error("truncated: the header says {expected} bytes, the stream ended after {actual}")]
    Truncated {
        /// Size the header states.
        expected: u64,
        /// Bytes present.
        actual: u64,
    },
    /// An entry type husk does not unpack.
    #[error("unsupported entry type {0}")]
    Unsupported(String),
    /// A whiteout whose name is not a file name.
    #[error("invalid whiteout name")]
    BadWhiteout,
    /// A system call on the entry failed.
    #[error("{op}: {source}")]
    Io {
        /// What was being done.
        op: &'static str,
        /// The error.
        #[source]
        source: io::Error,
    },
    /// Setting an extended attribute failed.
    #[error("setting xattr {name}: {source}")]
    Xattr {
        /// The attribute.
        name: String,
        /// The error.
        #[source]
        source: io::Error,
    },
}

/// An I/O error on a path, as a [`StorageError::Io`].
pub(crate) fn io_err(
    op: &'static str,
    path: impl Into<PathBuf>,
) -> impl FnOnce(io::Error) -> StorageError {
    let path = path.into();
    move |source| StorageError::Io { op, path, source }
}
