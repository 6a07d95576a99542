//! podman's `image inspect` document and `history` rows, from the catalog
//! row, the stored config and manifest, and the layer store.

use serde::Serialize;
use serde_json::{json, Map, Value};

use crate::catalog::images::ImageRecord;
use crate::engine::Engine;
use crate::format::times::Timestamp;
use crate::image::config::ImageConfig;
use crate::image::error::{ImageError, Result};
use crate::image::manifest::{self, ManifestDoc};
use crate::image::reference::Reference;
use crate::storage::{ChainId, Store};

/// The names of `rec` in the order they were given (podman's `Names`;
/// the catalog keeps them newest first, podman's NamesHistory order).
pub fn names_in_order(rec: &ImageRecord) -> Vec<String> {
    rec.names.iter().rev().cloned().collect()
}

/// The names of `rec` that carry a tag (podman's RepoTags).
pub fn repo_tags(rec: &ImageRecord) -> Vec<String> {
    names_in_order(rec)
        .iter()
        .filter(|n| Reference::parse(n).is_ok_and(|r| r.tag().is_some()))
        .cloned()
        .collect()
}

/// podman's RepoDigests: every repository the image is known in (its
/// names and recorded digests), at the manifest digest and the recorded
/// ones; sorted.
pub fn repo_digests(rec: &ImageRecord) -> Vec<String> {
    let mut out: Vec<String> = rec.digests.clone();
    for n in &rec.names {
        if let Ok(r) = Reference::parse(n) {
            out.push(format!("{}@{}", r.repository(), rec.manifest_digest));
        }
    }
    out.sort();
    out.dedup();
    out
}

/// The digest podman shows: the index's when pulled through one, else the
/// manifest's.
pub fn shown_digest(rec: &ImageRecord) -> String {
    rec.index_digest
        .as_ref()
        .unwrap_or(&rec.manifest_digest)
        .to_string()
}

/// `created` as podman prints it (RFC 3339, nanoseconds when present).
pub fn created_text(created: Option<&str>) -> String {
    created
        .and_then(|c| Timestamp::parse_rfc3339(c).ok())
        .map(|t| t.to_utc().format_rfc3339_nano())
        .unwrap_or_else(|| "0001-01-01T00:00:00Z".to_owned())
}

/// The config as stored (raw, for fields husk does not model) and parsed.
pub fn read_config(store: &Store, rec: &ImageRecord) -> Result<(Value, ImageConfig)> {
    let bytes = store
        .blobs()
        .read(&rec.config_digest())
        .map_err(ImageError::storage(format!(
            "reading the config of image {}",
            rec.id
        )))?;
    let bad = |e: serde_json::Error| ImageError::BadImage {
        image: rec.id.clone(),
        reason: format!("config is not an image config: {e}"),
    };
    Ok((
        serde_json::from_slice(&bytes).map_err(bad)?,
        serde_json::from_slice(&bytes).map_err(bad)?,
    ))
}

/// The layer directories of `rec`, base first.
fn layer_dirs(store: &Store, rec: &ImageRecord) -> Vec<String> {
    rec.layers
        .iter()
        .filter_map(|h| ChainId::parse(&format!("sha256:{h}")).ok())
        .map(|id| store.layers().diff_path(&id).display().to_string())
        .collect()
}

/// podman's GraphDriver: the top layer as UpperDir, the others (top down)
/// as LowerDir.
fn graph_driver(store: &Store, rec: &ImageRecord) -> Value {
    let mut dirs = layer_dirs(store, rec);
    let mut data = Map::new();
    if let Some(top) = dirs.pop() {
        if !dirs.is_empty() {
            dirs.reverse();
            data.insert("LowerDir".into(), json!(dirs.join(":")));
        }
        data.insert("UpperDir".into(), json!(top));
    }
    json!({"Name": store.driver().to_string(), "Data": data})
}

/// podman's `image inspect` document for `rec`.
pub fn inspect(eng: &mut Engine, rec: &ImageRecord) -> Result<Value> {
    let store = eng
        .store()
        .map_err(ImageError::storage("opening the store"))?
        .clone();
    let (raw, config) = read_config(&store, rec)?;
    let annotations = store
        .blobs()
        .read(&rec.manifest_digest)
        .ok()
        .and_then(|b| match manifest::parse(&rec.manifest_media_type, &b) {
            Ok(ManifestDoc::Image(m)) => m.annotations,
            _ => None,
        })
        .unwrap_or_default();
    let run = config.config.clone().unwrap_or_default();
    let labels = run.labels.clone().map(|l| json!(l)).unwrap_or(Value::Null);
    let history: Vec<Value> = raw
        .get("history")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    Ok(json!({
        "Id": rec.id,
        "Digest": shown_digest(rec),
        "RepoTags": repo_tags(rec),
        "RepoDigests": repo_digests(rec),
        "Parent": "",
        "Comment": config.history.first().and_then(|h| h.comment.clone()).unwrap_or_default(),
        "Created": created_text(config.created.as_deref()),
        "Config": serde_json::to_value(&run).unwrap_or_else(|_| json!({})),
        "Version": raw.get("docker_version").and_then(Value::as_str).unwrap_or_default(),
        "Author": config.author.clone().unwrap_or_default(),
        "Architecture": config.architecture,
        "Os": config.os,
        "Size": rec.size,
        "VirtualSize": rec.size,
        "GraphDriver": graph_driver(&store, rec),
        "RootFS": {
            "Type": config.rootfs.kind,
            "Layers": config.rootfs.diff_ids.iter().map(|d| d.to_string()).collect::<Vec<_>>(),
        },
        "Labels": labels,
        "Annotations": annotations,
        "ManifestType": rec.manifest_media_type,
        "User": run.user.clone().unwrap_or_default(),
        "History": history,
        "NamesHistory": rec.names,
    }))
}

/// One row of `husk history`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct HistoryEntry {
    /// The image whose top layer this entry made, or `<missing>`.
    #[serde(rename = "ID")]
    pub id: String,
    /// When (RFC 3339), if known.
    pub created: Option<String>,
    /// The command.
    pub created_by: String,
    /// The layer's uncompressed size (0 for an entry without a layer).
    pub size: u64,
    /// The comment.
    pub comment: String,
    /// The names of the image `id` names.
    pub tags: Vec<String>,
}

/// The history of `rec`, newest first. An entry's id is the image whose
/// top layer it made (the image itself for the newest), else `<missing>`.
pub fn history(eng: &mut Engine, rec: &ImageRecord) -> Result<Vec<HistoryEntry>> {
    let store = eng
        .store()
        .map_err(ImageError::storage("opening the store"))?
        .clone();
    let (_, config) = read_config(&store, rec)?;
    let images = eng.catalog.images()?;
    let mut layer = 0usize;
    let mut rows = Vec::new();
    let entries: Vec<_> = if config.history.is_empty() {
        // An image without history still has layers to show.
        rec.layers
            .iter()
            .map(|_| crate::image::config::History::default())
            .collect()
    } else {
        config.history.clone()
    };
    for h in &entries {
        let (size, chain) = if h.empty_layer == Some(true) {
            (0, None)
        } else {
            let hex = rec.layers.get(layer).cloned();
            layer += 1;
            let size = hex
                .as_ref()
                .and_then(|x| ChainId::parse(&format!("sha256:{x}")).ok())
                .and_then(|id| store.layers().get(&id).ok())
                .map(|l| l.tar_size)
                .unwrap_or(0);
            (size, hex)
        };
        let owner = chain.as_ref().and_then(|c| {
            images
                .iter()
                .filter(|i| i.layers.last() == Some(c))
                .min_by_key(|i| (i.id != rec.id, i.added.clone()))
        });
        rows.push(HistoryEntry {
            id: owner
                .map(|o| o.id.clone())
                .unwrap_or_else(|| "<missing>".into()),
            created: h.created.clone(),
            created_by: h.created_by.clone().unwrap_or_default(),
            size,
            comment: h.comment.clone().unwrap_or_default(),
            tags: owner.map(repo_tags).unwrap_or_default(),
        });
    }
    rows.reverse();
    if let Some(first) = rows.first_mut() {
        first.id = rec.id.clone();
        first.tags = repo_tags(rec);
    }
    Ok(rows)
}
