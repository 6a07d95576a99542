//! docker-archive (what `docker save` and `podman save` write) and
//! docker-dir (containers/image's `dir:`). A docker-archive holds the
//! config as `<id>.json`, each layer uncompressed as `<diff id>.tar` and
//! `manifest.json` listing them with the names; it has no manifest, so a
//! load makes one (an OCI manifest over the layer blobs as found): the
//! image id survives a round trip, the manifest digest does not, as with
//! docker and podman. docker-dir keeps the manifest and every blob.

use std::collections::HashSet;
use std::io::{BufRead, BufReader, Read};

use serde::{Deserialize, Serialize};

use super::ingest::Pending;
use super::oci::stored_manifest;
use super::sink::Sink;
use super::source::Source;
use crate::catalog::images::ImageRecord;
use crate::image::digest::Digest;
use crate::image::error::{ImageError, Result};
use crate::image::manifest::{self, Descriptor, Manifest, ManifestDoc};
use crate::image::media::{self, Compression};
use crate::image::progress::Reporter;
use crate::image::record;
use crate::image::reference::ImageName;
use crate::storage::{decompress, sniff, ChainId, Store};

/// One entry of a docker-archive's `manifest.json`.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Entry {
    config: String,
    #[serde(default)]
    repo_tags: Option<Vec<String>>,
    layers: Vec<String>,
}

fn sink_err(name: &str) -> impl Fn(std::io::Error) -> ImageError + '_ {
    move |e| ImageError::Other(format!("writing {name}: {e}"))
}

/// Writes `images` (each with the names to list) as one docker-archive.
pub fn write(
    store: &Store,
    images: &[(ImageRecord, Vec<String>)],
    sink: &mut dyn Sink,
    rep: &Reporter,
) -> Result<()> {
    let mut written = HashSet::new();
    let mut entries = Vec::new();
    for (rec, names) in images {
        let (_, m) = stored_manifest(store, rec)?;
        let config_bytes =
            store
                .blobs()
                .read(&rec.config_digest())
                .map_err(ImageError::storage(format!(
                    "reading the config of image {}",
                    rec.id
                )))?;
        let config = record::parse_config(&config_bytes, &rec.config_digest(), m.layers.len())?;
        let sources = record::layer_sources(&m.layers, &config)?;
        let mut layer_names = Vec::new();
        let mut parent: Option<ChainId> = None;
        for (src, l) in sources.iter().zip(&m.layers) {
            let chain = ChainId::of(parent.as_ref(), &src.diff_id);
            parent = Some(chain.clone());
            let name = format!("{}.tar", src.diff_id.hex());
            layer_names.push(name.clone());
            if !written.insert(name.clone()) {
                continue;
            }
            let bp = rep.blob("blob", &src.diff_id, l.size);
            let open = || -> Result<Box<dyn Read>> {
                let f = store
                    .blobs()
                    .open(&l.digest)
                    .map_err(ImageError::storage(format!("reading blob {}", l.digest)))?;
                decompress(f, src.compression).map_err(ImageError::io(
                    "decompressing",
                    store.blobs().path(&l.digest),
                ))
            };
            let size = match store.layers().get(&chain) {
                Ok(info) => info.tar_size,
                // Not unpacked here: count the uncompressed bytes first.
                Err(_) => std::io::copy(&mut open()?, &mut std::io::sink()).map_err(
                    ImageError::io("decompressing", store.blobs().path(&l.digest)),
                )?,
            };
            sink.file(&name, size, &mut open()?)
                .map_err(sink_err(&name))?;
            bp.done();
        }
        rep.blob("config", &rec.config_digest(), config_bytes.len() as u64)
            .done();
        let cname = format!("{}.json", rec.id);
        if written.insert(cname.clone()) {
            sink.file(
                &cname,
                config_bytes.len() as u64,
                &mut config_bytes.as_slice(),
            )
            .map_err(sink_err(&cname))?;
        }
        entries.push(Entry {
            config: cname,
            repo_tags: Some(names.clone()),
            layers: layer_names,
        });
    }
    rep.line("Writing manifest to image destination");
    let json = serde_json::to_vec(&entries).expect("JSON serialises");
    sink.file("manifest.json", json.len() as u64, &mut json.as_slice())
        .map_err(sink_err("manifest.json"))
}

/// A docker-archive name as podman stores it: qualified (`busybox:1` is
/// `docker.io/library/busybox:1`), `latest` when untagged.
fn normalize(tag: &str) -> Option<String> {
    let n = ImageName::parse(tag).ok()?;
    let r = match n {
        ImageName::Qualified(r) => r,
        short => short.docker_default(),
    };
    Some(r.or_latest().to_string())
}

/// Stores the layer file `name` as a blob as it is; returns its
/// descriptor (media type from its compression).
fn store_layer(store: &Store, src: &Source, name: &str) -> Result<Descriptor> {
    let (r, _) = src.open_file(name)?;
    let mut r = BufReader::with_capacity(128 << 10, r);
    let compression = sniff(
        r.fill_buf()
            .map_err(ImageError::io("reading", format!("{}:{name}", src.label())))?,
    );
    let mut w = store
        .blobs()
        .writer_new()
        .map_err(ImageError::storage("storing a layer"))?;
    let size = std::io::copy(&mut r, &mut w)
        .map_err(ImageError::io("storing", format!("{}:{name}", src.label())))?;
    let digest = w.commit().map_err(ImageError::storage("storing a layer"))?;
    let media_type = match compression {
        Compression::None => media::OCI_LAYER_TAR,
        Compression::Gzip => media::OCI_LAYER_GZIP,
        Compression::Zstd => media::OCI_LAYER_ZSTD,
    };
    Ok(Descriptor {
        media_type: media_type.into(),
        digest,
        size,
        urls: None,
        annotations: None,
        platform: None,
        artifact_type: None,
    })
}

/// The images of a docker-archive; their layer and config blobs are
/// stored on the way (the caller holds the store's shared lock).
pub fn read(store: &Store, src: &Source) -> Result<Vec<Pending>> {
    let bad = |reason: String| ImageError::Archive {
        path: src.label(),
        reason,
    };
    let entries: Vec<Entry> = serde_json::from_slice(&src.read("manifest.json")?)
        .map_err(|e| bad(format!("manifest.json: {e}")))?;
    let mut out = Vec::new();
    for e in entries {
        let cbytes = src.read(&e.config)?;
        let cdigest = Digest::sha256_of(&cbytes);
        let config = record::parse_config(&cbytes, &cdigest, e.layers.len())?;
        record::put_exact(store, &cdigest, &cbytes)?;
        let mut layers = Vec::new();
        for (name, diff) in e.layers.iter().zip(&config.rootfs.diff_ids) {
            let d = store_layer(store, src, name)?;
            if d.media_type == media::OCI_LAYER_TAR && d.digest != *diff {
                return Err(bad(format!(
                    "layer {name} hashes to {}, the config says {diff}",
                    d.digest
                )));
            }
            layers.push(d);
        }
        let parsed = Manifest {
            schema_version: 2,
            media_type: Some(media::OCI_MANIFEST.into()),
            config: Descriptor {
                media_type: media::OCI_CONFIG.into(),
                digest: cdigest,
                size: cbytes.len() as u64,
                urls: None,
                annotations: None,
                platform: None,
                artifact_type: None,
            },
            layers,
            artifact_type: None,
            subject: None,
            annotations: None,
        };
        let bytes = serde_json::to_vec(&parsed).expect("JSON serialises");
        let names = e
            .repo_tags
            .unwrap_or_default()
            .iter()
            .filter_map(|t| normalize(t))
            .collect();
        out.push(Pending {
            index: None,
            manifest: (Digest::sha256_of(&bytes), media::OCI_MANIFEST.into(), bytes),
            parsed,
            names,
        });
    }
    Ok(out)
}

/// docker-dir's version file.
const DIR_VERSION: &[u8] = b"Directory Transport Version: 1.1\n";

/// Writes `rec` as a docker-dir: `manifest.json` (the stored manifest),
/// `version`, and each blob under its hex digest.
pub fn write_dir(
    store: &Store,
    rec: &ImageRecord,
    sink: &mut dyn Sink,
    rep: &Reporter,
) -> Result<()> {
    let (bytes, m) = stored_manifest(store, rec)?;
    for (kind, d) in m
        .layers
        .iter()
        .map(|l| ("blob", l))
        .chain([("config", &m.config)])
    {
        let bp = rep.blob(kind, &d.digest, d.size);
        let mut f = store
            .blobs()
            .open(&d.digest)
            .map_err(ImageError::storage(format!("reading blob {}", d.digest)))?;
        sink.file(d.digest.hex(), d.size, &mut f)
            .map_err(sink_err(d.digest.hex()))?;
        bp.done();
    }
    rep.line("Writing manifest to image destination");
    sink.file("manifest.json", bytes.len() as u64, &mut bytes.as_slice())
        .map_err(sink_err("manifest.json"))?;
    sink.file("version", DIR_VERSION.len() as u64, &mut &DIR_VERSION[..])
        .map_err(sink_err("version"))
}

/// The image of a docker-dir.
pub fn read_dir(src: &Source) -> Result<Pending> {
    let bytes = src.read("manifest.json")?;
    let media_type = manifest::detect_media_type(None, &bytes);
    let parsed = match manifest::parse(&media_type, &bytes) {
        Ok(ManifestDoc::Image(m)) => *m,
        Ok(ManifestDoc::Index(_)) => {
            return Err(ImageError::Unsupported(format!(
                "{}: a dir holding an index is not supported",
                src.label()
            )))
        }
        Err(e) => {
            return Err(ImageError::Archive {
                path: src.label(),
                reason: format!("manifest.json: {e}"),
            })
        }
    };
    Ok(Pending {
        index: None,
        manifest: (Digest::sha256_of(&bytes), media_type, bytes),
        parsed,
        names: Vec::new(),
    })
}
