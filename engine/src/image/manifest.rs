//! OCI and Docker schema 2 manifests, indexes and descriptors. Both formats
//! share one JSON shape; they differ in media types, which are kept as
//! strings so that an unknown one can be named in an error.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::digest::Digest;
use super::media;

/// A platform as an index entry or `--platform` names it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Platform {
    /// CPU architecture, GOARCH spelling (`amd64`, `arm64`).
    pub architecture: String,
    /// Operating system, GOOS spelling (`linux`).
    pub os: String,
    /// CPU variant (`v8`, `v7`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
    /// OS version (Windows images).
    #[serde(
        rename = "os.version",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub os_version: Option<String>,
    /// Required OS features.
    #[serde(
        rename = "os.features",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub os_features: Option<Vec<String>>,
}

/// A content descriptor: what a blob is, its digest and size.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Descriptor {
    /// The blob's media type.
    pub media_type: String,
    /// The blob's digest.
    pub digest: Digest,
    /// The blob's size in bytes.
    pub size: u64,
    /// Where else the blob may be fetched from (foreign layers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub urls: Option<Vec<String>>,
    /// Annotations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<BTreeMap<String, String>>,
    /// The platform of an index entry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<Platform>,
    /// The artifact type (OCI 1.1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact_type: Option<String>,
}

/// A single-image manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Manifest {
    /// Always 2.
    pub schema_version: u32,
    /// The manifest's media type; optional in OCI, required by Docker.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    /// The image config.
    pub config: Descriptor,
    /// The layers, base first.
    #[serde(default)]
    pub layers: Vec<Descriptor>,
    /// The artifact type (OCI 1.1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact_type: Option<String>,
    /// The manifest this one refers to (OCI 1.1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<Descriptor>,
    /// Annotations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<BTreeMap<String, String>>,
}

/// A multi-platform index (OCI) or manifest list (Docker).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Index {
    /// Always 2.
    pub schema_version: u32,
    /// The index's media type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    /// One entry per platform (or nested index).
    #[serde(default)]
    pub manifests: Vec<Descriptor>,
    /// The artifact type (OCI 1.1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact_type: Option<String>,
    /// Annotations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<BTreeMap<String, String>>,
}

/// A manifest whose bytes were not what its media type promises.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    /// The JSON does not parse as the media type's document.
    #[error("invalid {media_type} document: {source}")]
    Invalid {
        /// The media type it claimed.
        media_type: String,
        /// The parse error.
        #[source]
        source: serde_json::Error,
    },
    /// A media type husk does not read as a manifest.
    #[error("unsupported manifest media type {0:?} (husk reads OCI and Docker schema 2 manifests and indexes)")]
    Unsupported(String),
    /// A manifest layer whose media type is not a layer husk can unpack.
    #[error("unsupported layer media type {media_type:?} in layer {digest}")]
    UnsupportedLayer {
        /// The layer's media type.
        media_type: String,
        /// The layer's digest.
        digest: Digest,
    },
    /// A config descriptor whose media type is not an image config.
    #[error("unsupported config media type {0:?} (not a container image)")]
    UnsupportedConfig(String),
}

/// A parsed manifest document of either kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ManifestDoc {
    /// A single image.
    Image(Box<Manifest>),
    /// A multi-platform index.
    Index(Index),
}

/// The media type of a manifest document: the one the server sent unless it
/// is generic, else the document's own `mediaType`, else inferred from the
/// shape (OCI allows omitting it).
pub fn detect_media_type(content_type: Option<&str>, bytes: &[u8]) -> String {
    let ct = content_type
        .map(|c| c.split(';').next().unwrap_or("").trim())
        .filter(|c| !c.is_empty() && *c != "application/json" && *c != "application/octet-stream");
    if let Some(c) = ct {
        return c.to_owned();
    }
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Probe {
        media_type: Option<String>,
        manifests: Option<serde_json::Value>,
        config: Option<serde_json::Value>,
    }
    match serde_json::from_slice::<Probe>(bytes) {
        Ok(Probe {
            media_type: Some(m),
            ..
        }) => m,
        Ok(Probe {
            manifests: Some(_), ..
        }) => media::OCI_INDEX.to_owned(),
        Ok(Probe {
            config: Some(_), ..
        }) => media::OCI_MANIFEST.to_owned(),
        _ => String::new(),
    }
}

/// Parses a manifest document of `media_type`, and checks that every layer
/// and the config are of types husk can use.
pub fn parse(media_type: &str, bytes: &[u8]) -> Result<ManifestDoc, ManifestError> {
    let invalid = |source| ManifestError::Invalid {
        media_type: media_type.to_owned(),
        source,
    };
    if media::is_index(media_type) {
        return serde_json::from_slice(bytes)
            .map(ManifestDoc::Index)
            .map_err(invalid);
    }
    if !media::is_manifest(media_type) {
        return Err(ManifestError::Unsupported(media_type.to_owned()));
    }
    let m: Manifest = serde_json::from_slice(bytes).map_err(invalid)?;
    if !media::is_config(&m.config.media_type) {
        return Err(ManifestError::UnsupportedConfig(
            m.config.media_type.clone(),
        ));
    }
    if let Some(l) = m
        .layers
        .iter()
        .find(|l| media::layer_compression(&l.media_type).is_none())
    {
        return Err(ManifestError::UnsupportedLayer {
            media_type: l.media_type.clone(),
            digest: l.digest.clone(),
        });
    }
    Ok(ManifestDoc::Image(Box::new(m)))
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: &str = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    fn manifest(layer_type: &str) -> Vec<u8> {
        serde_json::to_vec(&serde_json::json!({
            "schemaVersion": 2,
            "config": {"mediaType": media::OCI_CONFIG, "digest": D, "size": 0},
            "layers": [{"mediaType": layer_type, "digest": D, "size": 0}],
        }))
        .unwrap()
    }

    #[test]
    fn infers_media_type_and_parses() {
        let b = manifest(media::OCI_LAYER_GZIP);
        let mt = detect_media_type(Some("application/json"), &b);
        assert_eq!(mt, media::OCI_MANIFEST);
        assert!(matches!(parse(&mt, &b).unwrap(), ManifestDoc::Image(_)));
    }

    #[test]
    fn refuses_unknown_layer_types() {
        let b = manifest("application/x-evil");
        let e = parse(media::OCI_MANIFEST, &b).unwrap_err().to_string();
        assert!(e.contains("application/x-evil"), "{e}");
        let e = parse("text/html", &b).unwrap_err().to_string();
        assert!(e.contains("text/html"), "{e}");
    }
}
