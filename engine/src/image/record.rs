//! The last step of every way an image enters the store (pull, load,
//! import): its blobs and layers are in place, now the catalog row makes it
//! visible, in one transaction. Until then nothing of a half-made image is
//! seen by `images`, `run` or `rmi`; what a killed pull left (complete
//! blobs and layers, no row) is reused by the next pull and collected by
//! `image prune`.

use crate::catalog::images::ImageRecord;
use crate::engine::Engine;
use crate::image::config::ImageConfig;
use crate::image::digest::Digest;
use crate::image::error::{ImageError, Result};
use crate::image::media;
use crate::image::reference::{ImageName, Reference};
use crate::storage::{LayerInfo, LayerSource, Store};

/// An image whose documents and layers are stored.
#[derive(Debug, Clone)]
pub struct StoredImage {
    /// The manifest's digest (its bytes are a blob).
    pub manifest_digest: Digest,
    /// Its media type.
    pub manifest_media_type: String,
    /// Its size in bytes.
    pub manifest_size: u64,
    /// The index it was chosen from, if any (also a blob).
    pub index_digest: Option<Digest>,
    /// The config's digest: the image id.
    pub config_digest: Digest,
    /// The config's size in bytes.
    pub config_size: u64,
    /// The config, parsed.
    pub config: ImageConfig,
    /// The layers, base first.
    pub layers: Vec<LayerInfo>,
}

impl StoredImage {
    /// podman's image size: the layers' uncompressed sizes plus the stored
    /// documents (containers/storage counts the manifest twice, under its
    /// digest and as "manifest", and the config once), so `images` shows
    /// the same SIZE for the same image.
    pub fn size(&self) -> u64 {
        self.layers.iter().map(|l| l.tar_size).sum::<u64>()
            + self.config_size
            + 2 * self.manifest_size
    }

    /// The catalog record (names and digests are filled by the catalog).
    pub fn record(&self) -> ImageRecord {
        ImageRecord {
            id: self.config_digest.hex().to_owned(),
            manifest_digest: self.manifest_digest.clone(),
            manifest_media_type: self.manifest_media_type.clone(),
            index_digest: self.index_digest.clone(),
            arch: self.config.architecture.clone(),
            os: self.config.os.clone(),
            created: self.config.created.clone(),
            added: husk_runtime::time::now(),
            size: self.size(),
            layers: self
                .layers
                .iter()
                .map(|l| l.chain_id.hex().to_owned())
                .collect(),
            names: Vec::new(),
            digests: Vec::new(),
        }
    }
}

/// Records `img` under `names` with `digests` (`(repository, digest)`);
/// returns the row as stored.
pub fn commit(
    eng: &mut Engine,
    img: &StoredImage,
    names: &[String],
    digests: &[(String, Digest)],
) -> Result<ImageRecord> {
    let rec = img.record();
    eng.catalog.put_image(&rec, names, digests)?;
    eng.catalog
        .image(&rec.id)?
        .ok_or_else(|| ImageError::Other(format!("image {} vanished while recorded", rec.id)))
}

/// Parses a stored config and checks it describes `layer_count` layers.
pub fn parse_config(bytes: &[u8], digest: &Digest, layer_count: usize) -> Result<ImageConfig> {
    let config: ImageConfig = serde_json::from_slice(bytes).map_err(|e| ImageError::BadImage {
        image: digest.to_string(),
        reason: format!("config is not an image config: {e}"),
    })?;
    if config.rootfs.diff_ids.len() != layer_count {
        return Err(ImageError::BadImage {
            image: digest.to_string(),
            reason: format!(
                "the config lists {} layer diff ids, the manifest {} layers",
                config.rootfs.diff_ids.len(),
                layer_count
            ),
        });
    }
    Ok(config)
}

/// The layer sources of a manifest's layers with the config's diff ids.
pub fn layer_sources(
    layers: &[crate::image::manifest::Descriptor],
    config: &ImageConfig,
) -> Result<Vec<LayerSource>> {
    layers
        .iter()
        .zip(&config.rootfs.diff_ids)
        .map(|(l, diff)| {
            let compression = media::layer_compression(&l.media_type).ok_or_else(|| {
                ImageError::Unsupported(format!(
                    "unsupported layer media type {:?} in layer {}",
                    l.media_type, l.digest
                ))
            })?;
            Ok(LayerSource {
                blob: l.digest.clone(),
                compression,
                diff_id: diff.clone(),
            })
        })
        .collect()
}

/// Stores `bytes` as the blob `digest` (whatever its algorithm), unless
/// it is there.
pub fn put_exact(store: &Store, digest: &Digest, bytes: &[u8]) -> Result<()> {
    store
        .blobs()
        .fetch_once(digest, Some(bytes.len() as u64), |w| {
            w.write_all(bytes).map_err(|e| Box::new(e) as _)
        })
        .map_err(ImageError::storage(format!("storing {digest}")))?;
    Ok(())
}

/// A name as `tag`, `import` and `save` store it: a short name goes under
/// `localhost/`, a missing tag is `latest`; digests are refused.
pub fn local_name(name: &str) -> Result<Reference> {
    let bad = |e: crate::image::reference::ReferenceError| {
        ImageError::Other(format!("normalizing name {name:?}: {e}"))
    };
    let r = match ImageName::parse(name).map_err(bad)? {
        ImageName::Qualified(r) => r,
        ImageName::Short(s) => s.qualify("localhost").map_err(bad)?,
    };
    if r.digest().is_some() {
        return Err(ImageError::Other(format!(
            "{name}: tag by digest not supported"
        )));
    }
    Ok(r.or_latest())
}
