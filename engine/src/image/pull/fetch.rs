//! One image from one registry location into the store: the manifest (and
//! index) bytes as blobs, the layers downloaded concurrently (one thread
//! each, `fetch_once`, so concurrent pulls of one image download each blob
//! once), the config, then the layers unpacked base first, each as soon as
//! its own download is done while later ones still download. The diff ids
//! are checked by the layer store. Nothing is recorded here: the caller
//! commits the catalog row once everything is in place.

use std::thread;

use super::stream;

use crate::image::error::{ImageError, Result};
use crate::image::progress::Reporter;
use crate::image::record::{self, StoredImage};
use crate::image::registry::{PulledImage, RegistryError, Repository};
use crate::storage::{BoxError, Fetched, StorageError, Store};

/// Turns a failed `fetch_once` into the registry error the download hit,
/// when that is what failed.
fn blob_error(what: String, e: StorageError) -> ImageError {
    match e {
        StorageError::Fetch { source, .. } => match source.downcast::<RegistryError>() {
            Ok(error) => ImageError::Registry { what, error },
            Err(other) => ImageError::Other(format!("{what}: {other}")),
        },
        error => ImageError::Storage {
            what,
            error: Box::new(error),
        },
    }
}

/// Downloads blob `digest` of `size` bytes unless stored, reporting on
/// `bp`, feeding `feed` (the layer's unpacker) as bytes arrive.
fn fetch_blob(
    store: &Store,
    repo: &Repository,
    digest: &crate::image::digest::Digest,
    size: u64,
    bp: crate::image::progress::BlobProgress,
    mut feed: Option<stream::Feed>,
) -> Result<Fetched> {
    let r = store.blobs().fetch_once(digest, Some(size), |w| {
        let res = match feed.as_mut() {
            Some(f) => {
                let r = {
                    let mut tee = f.tee(w);
                    repo.fetch_blob(digest, size, &mut tee, &mut |p| bp.update(&p))
                };
                if r.is_ok() {
                    f.verified();
                }
                r
            }
            None => repo.fetch_blob(digest, size, w, &mut |p| bp.update(&p)),
        };
        res.map_err(|e| Box::new(e) as BoxError)
    });
    if let Some(f) = feed {
        f.finish(r.as_ref().map(|_| ()).map_err(|e| e.to_string()));
    }
    match &r {
        Ok(Fetched::Present) => bp.skipped(),
        Ok(Fetched::Written) => bp.done(),
        Err(_) => bp.failed(),
    }
    r.map_err(|e| blob_error(format!("copying blob {digest}"), e))
}

/// Stores everything of `pulled` (fetched through `repo`) in `store`.
pub(super) fn fetch(
    store: &Store,
    repo: &Repository,
    pulled: &PulledImage,
    rep: &Reporter,
) -> Result<StoredImage> {
    let t = crate::trace::span("pull.blobs");
    rep.line("Getting image source signatures");
    if let Some(index) = &pulled.index {
        record::put_exact(store, &index.digest, &index.bytes)?;
    }
    let m = &pulled.manifest;
    record::put_exact(store, &m.digest, &m.bytes)?;
    let layers = &pulled.parsed.layers;
    let config_desc = &pulled.parsed.config;
    // Progress objects are made here, in manifest order, so plain output
    // lists the blobs in a stable order whatever the threads do.
    let bars: Vec<_> = layers
        .iter()
        .map(|l| rep.blob("blob", &l.digest, l.size))
        .collect();
    let (feeds, streams): (Vec<_>, Vec<_>) = layers
        .iter()
        .map(|l| stream::channel(store.blobs(), &l.digest))
        .unzip();
    thread::scope(|s| {
        let handles: Vec<_> = layers
            .iter()
            .zip(bars)
            .zip(feeds)
            .map(|((l, bp), feed)| {
                s.spawn(move || fetch_blob(store, repo, &l.digest, l.size, bp, Some(feed)))
            })
            .collect();
        let cp = rep.blob("config", &config_desc.digest, config_desc.size);
        let config = fetch_blob(store, repo, &config_desc.digest, config_desc.size, cp, None)
            .map_err(|e| match e {
                ImageError::Registry { error, .. } => ImageError::Registry {
                    what: format!("copying config {}", config_desc.digest),
                    error,
                },
                other => other,
            })
            .and_then(|_| {
                store
                    .blobs()
                    .read(&config_desc.digest)
                    .map_err(ImageError::storage(format!(
                        "reading config {}",
                        config_desc.digest
                    )))
            })
            .and_then(|bytes| {
                record::parse_config(&bytes, &config_desc.digest, layers.len())
                    .map(|c| (c, bytes.len() as u64))
            });
        let (config, config_size) = config?;
        let sources = record::layer_sources(layers, &config)?;
        t.end();
        let _u = crate::trace::span("pull.unpack");
        let mut infos: Vec<crate::storage::LayerInfo> = Vec::with_capacity(layers.len());
        let mut downloads = Vec::with_capacity(layers.len());
        for ((h, stream), src) in handles.into_iter().zip(streams).zip(&sources) {
            let parent = infos.last().map(|l| l.chain_id.clone());
            let unpacked = store.layers().ensure_from(
                parent.as_ref(),
                &src.diff_id,
                Some(&src.blob),
                src.compression,
                stream,
            );
            match unpacked {
                Ok(info) => {
                    infos.push(info);
                    downloads.push((h, src));
                }
                Err(e) => {
                    // A failed download explains a failed unpack best.
                    if let Ok(Err(d)) = h.join() {
                        return Err(d);
                    }
                    return Err(ImageError::storage("unpacking the image")(e));
                }
            }
        }
        for (h, src) in downloads {
            h.join().map_err(|_| {
                ImageError::Other(format!("downloading layer {} panicked", src.blob))
            })??;
        }
        Ok(StoredImage {
            manifest_digest: m.digest.clone(),
            manifest_media_type: m.media_type.clone(),
            manifest_size: m.bytes.len() as u64,
            index_digest: pulled.index.as_ref().map(|i| i.digest.clone()),
            config_digest: config_desc.digest.clone(),
            config_size,
            config,
            layers: infos,
        })
    })
}
