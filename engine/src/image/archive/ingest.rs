//! The load side shared by every archive format: an image's manifest (and
//! index), config and layer blobs are copied from the archive into the
//! blob store (digests and sizes checked as they stream), the layers are
//! unpacked base first, and the catalog row is written last, all under the
//! store's shared lock, as a pull does.

use std::io::Read;

use crate::catalog::images::ImageRecord;
use crate::engine::Engine;
use crate::image::digest::Digest;
use crate::image::error::{ImageError, Result};
use crate::image::manifest::Manifest;
use crate::image::progress::Reporter;
use crate::image::record::{self, StoredImage};
use crate::storage::{BoxError, Fetched, LockMode, Store};

use super::source::Source;

/// An image found in an archive.
#[derive(Debug, Clone)]
pub struct Pending {
    /// The index it was chosen from: digest and bytes.
    pub index: Option<(Digest, Vec<u8>)>,
    /// The manifest's digest, media type and bytes.
    pub manifest: (Digest, String, Vec<u8>),
    /// The manifest, parsed.
    pub parsed: Manifest,
    /// The names to give it.
    pub names: Vec<String>,
}

/// Copies the blob `digest` of `size` bytes from `name` in the archive
/// into the store, unless it is stored.
pub fn copy_blob(
    store: &Store,
    src: &Source,
    name: &str,
    digest: &Digest,
    size: u64,
) -> Result<Fetched> {
    store
        .blobs()
        .fetch_once(digest, Some(size), |w| {
            let (mut r, _) = src.open_file(name).map_err(|e| Box::new(e) as BoxError)?;
            std::io::copy(&mut r.by_ref().take(size + 1), w)
                .map_err(|e| Box::new(e) as BoxError)?;
            Ok(())
        })
        .map_err(|e| match e {
            crate::storage::StorageError::Fetch { source, .. } => ImageError::Archive {
                path: format!("{}:{name}", src.label()),
                reason: source.to_string(),
            },
            other => ImageError::Storage {
                what: format!("copying blob {digest} from {}", src.label()),
                error: Box::new(other),
            },
        })
}

/// Stores `p`, taking blobs from `src` at `blob_name(digest)`; returns
/// the image as recorded.
pub fn ingest(
    eng: &mut Engine,
    src: &Source,
    p: &Pending,
    blob_name: &dyn Fn(&Digest) -> String,
    rep: &Reporter,
) -> Result<ImageRecord> {
    let store = eng
        .store()
        .map_err(ImageError::storage("opening the store"))?
        .clone();
    let _shared = store
        .lock(LockMode::Shared)
        .map_err(ImageError::storage("locking the store"))?;
    rep.line("Getting image source signatures");
    if let Some((d, bytes)) = &p.index {
        record::put_exact(&store, d, bytes)?;
    }
    let (mdigest, mtype, mbytes) = &p.manifest;
    record::put_exact(&store, mdigest, mbytes)?;
    for l in &p.parsed.layers {
        let bp = rep.blob("blob", &l.digest, l.size);
        match copy_blob(&store, src, &blob_name(&l.digest), &l.digest, l.size) {
            Ok(Fetched::Present) => bp.skipped(),
            Ok(Fetched::Written) => bp.done(),
            Err(e) => {
                bp.failed();
                return Err(e);
            }
        }
    }
    let c = &p.parsed.config;
    rep.blob("config", &c.digest, c.size).done();
    copy_blob(&store, src, &blob_name(&c.digest), &c.digest, c.size)?;
    let cbytes = store
        .blobs()
        .read(&c.digest)
        .map_err(ImageError::storage(format!("reading config {}", c.digest)))?;
    let config = record::parse_config(&cbytes, &c.digest, p.parsed.layers.len())?;
    let sources = record::layer_sources(&p.parsed.layers, &config)?;
    let mut infos: Vec<crate::storage::LayerInfo> = Vec::new();
    for s in &sources {
        let parent = infos.last().map(|l| l.chain_id.clone());
        infos.push(
            store
                .layers()
                .ensure(store.blobs(), parent.as_ref(), s)
                .map_err(ImageError::storage("unpacking the image"))?,
        );
    }
    rep.line("Writing manifest to image destination");
    let stored = StoredImage {
        manifest_digest: mdigest.clone(),
        manifest_media_type: mtype.clone(),
        manifest_size: mbytes.len() as u64,
        index_digest: p.index.as_ref().map(|(d, _)| d.clone()),
        config_digest: c.digest.clone(),
        config_size: cbytes.len() as u64,
        config,
        layers: infos,
    };
    record::commit(eng, &stored, &p.names, &[])
}
