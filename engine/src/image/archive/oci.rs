//! OCI image layouts (`oci-dir`, and inside a tar `oci-archive`): blobs
//! under `blobs/<algorithm>/<hex>` exactly as stored, `index.json` naming
//! the manifest with `org.opencontainers.image.ref.name`, `oci-layout`.
//! A saved layout keeps every digest, the manifest's included.

use serde_json::json;

use super::ingest::Pending;
use super::sink::Sink;
use super::source::Source;
use crate::catalog::images::ImageRecord;
use crate::image::digest::Digest;
use crate::image::error::{ImageError, Result};
use crate::image::manifest::{self, Index, ManifestDoc};
use crate::image::media;
use crate::image::platform::PlatformSpec;
use crate::image::progress::Reporter;
use crate::image::reference::{ImageName, Reference};
use crate::storage::Store;

/// The ref name annotation.
pub const REF_NAME: &str = "org.opencontainers.image.ref.name";

/// Where a blob lives in a layout.
pub fn blob_name(d: &Digest) -> String {
    format!("blobs/{}/{}", d.algorithm().name(), d.hex())
}

fn sink_err(label: &str) -> impl Fn(std::io::Error) -> ImageError + '_ {
    move |e| ImageError::Other(format!("writing {label}: {e}"))
}

/// The stored manifest of `rec`, parsed.
pub fn stored_manifest(store: &Store, rec: &ImageRecord) -> Result<(Vec<u8>, manifest::Manifest)> {
    let bytes = store
        .blobs()
        .read(&rec.manifest_digest)
        .map_err(ImageError::storage(format!(
            "reading the manifest of image {}",
            rec.id
        )))?;
    match manifest::parse(&rec.manifest_media_type, &bytes) {
        Ok(ManifestDoc::Image(m)) => Ok((bytes, *m)),
        Ok(ManifestDoc::Index(_)) => Err(ImageError::BadImage {
            image: rec.id.clone(),
            reason: "its manifest is an index".into(),
        }),
        Err(e) => Err(ImageError::BadImage {
            image: rec.id.clone(),
            reason: e.to_string(),
        }),
    }
}

/// Copies stored blob `d` into the sink under `name`.
fn put_blob(store: &Store, sink: &mut dyn Sink, name: &str, d: &Digest, size: u64) -> Result<()> {
    let mut f = store
        .blobs()
        .open(d)
        .map_err(ImageError::storage(format!("reading blob {d}")))?;
    sink.file(name, size, &mut f).map_err(sink_err(name))
}

/// Writes `rec` as an OCI layout named `name`.
pub fn write(
    store: &Store,
    rec: &ImageRecord,
    name: Option<&str>,
    sink: &mut dyn Sink,
    rep: &Reporter,
) -> Result<()> {
    let (bytes, m) = stored_manifest(store, rec)?;
    let mut algs: Vec<&str> = m
        .layers
        .iter()
        .chain([&m.config])
        .map(|d| d.digest.algorithm().name())
        .chain([rec.manifest_digest.algorithm().name()])
        .collect();
    algs.sort();
    algs.dedup();
    sink.dir("blobs").map_err(sink_err("blobs"))?;
    for a in algs {
        sink.dir(&format!("blobs/{a}")).map_err(sink_err("blobs"))?;
    }
    for l in &m.layers {
        let bp = rep.blob("blob", &l.digest, l.size);
        put_blob(store, sink, &blob_name(&l.digest), &l.digest, l.size)?;
        bp.done();
    }
    rep.blob("config", &m.config.digest, m.config.size).done();
    put_blob(
        store,
        sink,
        &blob_name(&m.config.digest),
        &m.config.digest,
        m.config.size,
    )?;
    rep.line("Writing manifest to image destination");
    let mname = blob_name(&rec.manifest_digest);
    sink.file(&mname, bytes.len() as u64, &mut bytes.as_slice())
        .map_err(sink_err(&mname))?;
    let mut entry = json!({
        "mediaType": rec.manifest_media_type,
        "digest": rec.manifest_digest.to_string(),
        "size": bytes.len(),
    });
    if let Some(n) = name {
        entry["annotations"] = json!({ REF_NAME: n });
    }
    let index = serde_json::to_vec(&json!({"schemaVersion": 2, "manifests": [entry]}))
        .expect("JSON serialises");
    sink.file("index.json", index.len() as u64, &mut index.as_slice())
        .map_err(sink_err("index.json"))?;
    let layout = br#"{"imageLayoutVersion": "1.0.0"}"#;
    sink.file("oci-layout", layout.len() as u64, &mut layout.as_slice())
        .map_err(sink_err("oci-layout"))
}

/// The name a ref name annotation gives: a full reference as it is, a
/// short name under `localhost/`; a bare tag (`latest`, as skopeo writes)
/// names nothing.
fn name_of(annotation: &str) -> Option<String> {
    if !annotation.contains('/') && !annotation.contains(':') && !annotation.contains('@') {
        return None;
    }
    match ImageName::parse(annotation).ok()? {
        ImageName::Qualified(r) => Some(r.or_latest().to_string()),
        ImageName::Short(s) => s
            .qualify("localhost")
            .ok()
            .map(|r: Reference| r.or_latest().to_string()),
    }
}

fn read_checked(src: &Source, d: &Digest, size: Option<u64>) -> Result<Vec<u8>> {
    let bytes = src.read(&blob_name(d))?;
    let got = Digest::sha256_of(&bytes);
    if d.algorithm() == got.algorithm() && *d != got {
        return Err(ImageError::DigestMismatch {
            what: format!("{}:{}", src.label(), blob_name(d)),
            expected: d.clone(),
            actual: got,
        });
    }
    if size.is_some_and(|s| s != bytes.len() as u64) {
        return Err(ImageError::Archive {
            path: src.label(),
            reason: format!(
                "{} is {} bytes, its descriptor says {}",
                blob_name(d),
                bytes.len(),
                size.unwrap_or(0)
            ),
        });
    }
    Ok(bytes)
}

/// The images of an OCI layout, each entry of `index.json` (an index
/// entry resolved to `platform`'s image).
pub fn read(src: &Source, platform: &PlatformSpec) -> Result<Vec<Pending>> {
    let bad = |reason: String| ImageError::Archive {
        path: src.label(),
        reason,
    };
    let top: Index = serde_json::from_slice(&src.read("index.json")?)
        .map_err(|e| bad(format!("index.json: {e}")))?;
    let mut out = Vec::new();
    for entry in &top.manifests {
        let names: Vec<String> = entry
            .annotations
            .as_ref()
            .and_then(|a| a.get(REF_NAME))
            .and_then(|n| name_of(n))
            .into_iter()
            .collect();
        let (index, desc) = if media::is_index(&entry.media_type) {
            let bytes = read_checked(src, &entry.digest, Some(entry.size))?;
            let idx: Index = serde_json::from_slice(&bytes)
                .map_err(|e| bad(format!("index {}: {e}", entry.digest)))?;
            let child = platform.select(&idx)?.clone();
            (Some((entry.digest.clone(), bytes)), child)
        } else {
            (None, entry.clone())
        };
        let bytes = read_checked(src, &desc.digest, Some(desc.size))?;
        let parsed = match manifest::parse(&desc.media_type, &bytes) {
            Ok(ManifestDoc::Image(m)) => *m,
            Ok(ManifestDoc::Index(_)) => return Err(bad(format!("{}: nested index", desc.digest))),
            Err(e) => return Err(bad(format!("manifest {}: {e}", desc.digest))),
        };
        out.push(Pending {
            index,
            manifest: (desc.digest.clone(), desc.media_type.clone(), bytes),
            parsed,
            names,
        });
    }
    Ok(out)
}
