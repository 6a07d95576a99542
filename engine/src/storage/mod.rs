//! Image storage: the content-addressed blob store, safe layer unpacking,
//! the shared layer store and container root filesystems (native overlay,
//! rootful and rootless, or the vfs copy).
//!
//! Layout of a store root (see docs/storage.md):
//!
//! ```text
//! <root>/blobs/sha256/<hex>        blobs exactly as fetched
//! <root>/blobs/tmp/                in-flight blob writes (O_TMPFILE: usually empty)
//! <root>/layers/<chain-id hex>/    diff/ (the unpacked layer) and layer.json
//! <root>/layers/l/<short>          -> ../<chain-id hex>/diff, for short lowerdirs
//! <root>/containers/<id>/          container.json; upper/ work/ merged/ or rootfs/
//! <root>/tmp/                      staging, renamed into place when complete
//! <root>/locks/                    flock files
//! <root>/driver.json               the driver probe's answer for this kernel
//! ```
//!
//! Every change is staged and renamed into place, so an object is either
//! complete or absent; bad input leaves nothing behind.

mod beneath;
mod blob_writer;
mod blobs;
mod chain_id;
mod changes;
mod compress;
mod containers;
mod driver;
mod error;
mod export;
mod idmap;
mod layers;
mod lock;
mod overlay;
mod staging;
mod store;
mod sys;
mod tar_writer;
pub mod unpack;
mod vfs;
mod xattr;

pub use blob_writer::BlobWriter;
pub use blobs::{BlobStore, Fetched};
pub use chain_id::ChainId;
pub use changes::{Change, ChangeKind};
pub use compress::{
    decompress, sniff, sniff_reader, CompressedLayer, GzipLayerWriter, HashingReader,
};
pub use containers::{check_id, ContainerLayer, ContainerStore, LayerIdMap};
pub use driver::{kernel_release, probe, Driver, Probe};
pub use error::{BoxError, EntryError, Result, StorageError};
pub use export::{export_path, export_tree, ExportOptions};
pub use idmap::{parse_proc_map, IdMap, IdRange};
pub use layers::{LayerInfo, LayerSource, LayerStore};
pub use lock::{Lock, LockMode};
pub use store::{Store, StoreOptions};
pub use unpack::{unpack, DevicePolicy, UnpackOptions, UnpackSummary, WhiteoutFormat};
pub use xattr::{is_overlay_private, TRUSTED_OPAQUE, USER_OPAQUE};
