//! Manifests: GET and HEAD with every media type husk reads in `Accept`,
//! the digest checked when fetching by digest, and an index resolved to the
//! image for a platform.

use ureq::http::Method;

use super::transport::{header, response_error, url_of, Body, Call, SMALL_BODY_LIMIT};
use super::{RegistryError, Repository};
use crate::image::digest::{Digest, Digester};
use crate::image::manifest::{self, Manifest, ManifestDoc, ManifestError};
use crate::image::media;
use crate::image::platform::PlatformSpec;
use crate::image::reference::TagOrDigest;

/// A manifest or index as the registry served it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchedManifest {
    /// The exact bytes (their digest is the image's identity).
    pub bytes: Vec<u8>,
    /// The media type (from the response, else the document).
    pub media_type: String,
    /// The digest of `bytes`.
    pub digest: Digest,
}

/// What HEAD says about a manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManifestHead {
    /// `Docker-Content-Digest`, when sent.
    pub digest: Option<Digest>,
    /// `Content-Type`.
    pub media_type: String,
    /// `Content-Length`, when sent.
    pub size: Option<u64>,
}

/// The image chosen for a reference and platform.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PulledImage {
    /// The index the tag named, when it named one.
    pub index: Option<FetchedManifest>,
    /// The image manifest.
    pub manifest: FetchedManifest,
    /// It, parsed and checked (config and layer types husk can use).
    pub parsed: Manifest,
}

impl Repository {
    fn manifest_path(&self, r: &TagOrDigest) -> String {
        format!("/v2/{}/manifests/{r}", self.path)
    }

    fn unknown(
        &self,
        r: &TagOrDigest,
        resp: ureq::http::Response<ureq::Body>,
        method: &str,
    ) -> RegistryError {
        let action = format!("reading manifest {r}");
        match response_error(
            &self.endpoint,
            &self.name(),
            &format!("{action} in"),
            method,
            resp,
        ) {
            RegistryError::Status {
                status: 404,
                code,
                message,
                ..
            } => {
                if code.as_deref() == Some("NAME_UNKNOWN") {
                    RegistryError::NameUnknown {
                        repository: self.name(),
                        action,
                        message: String::new(),
                    }
                } else {
                    let message = if message.is_empty() || message == "manifest unknown" {
                        String::new()
                    } else {
                        message
                    };
                    RegistryError::ManifestUnknown {
                        repository: self.name(),
                        reference: r.to_string(),
                        message,
                    }
                }
            }
            other => other,
        }
    }

    /// The manifest or index `r` names; by digest, its bytes must hash to it.
    pub fn get_manifest(&self, r: &TagOrDigest) -> Result<FetchedManifest, RegistryError> {
        let scopes = self.pull_scope();
        self.client.with_retries(&mut |_| {}, |_| {
            let call =
                Call::get(&self.manifest_path(r), &scopes).header("Accept", media::MANIFEST_ACCEPT);
            let resp = self.client.send(&self.endpoint, &call, Body::Empty)?;
            if !resp.status().is_success() {
                return Err(self.unknown(r, resp, "GET"));
            }
            let url = url_of(&resp);
            let content_type = header(&resp, "content-type").map(str::to_owned);
            let bytes = resp
                .into_body()
                .with_config()
                .limit(SMALL_BODY_LIMIT)
                .read_to_vec()
                .map_err(|e| RegistryError::Protocol {
                    transient: !matches!(e, ureq::Error::BodyExceedsLimit(_)),
                    reason: format!("reading manifest {r}: {e}"),
                    url,
                })?;
            let media_type = manifest::detect_media_type(content_type.as_deref(), &bytes);
            let algorithm = match r {
                TagOrDigest::Digest(d) => d.algorithm(),
                TagOrDigest::Tag(_) => crate::image::digest::Algorithm::Sha256,
            };
            let mut h = Digester::new(std::io::sink(), algorithm);
            std::io::Write::write_all(&mut h, &bytes).expect("hashing into a sink");
            let digest = h.finish().0;
            if let TagOrDigest::Digest(expected) = r {
                if *expected != digest {
                    return Err(RegistryError::DigestMismatch {
                        what: format!("manifest {r}"),
                        repository: self.name(),
                        expected: expected.clone(),
                        computed: digest,
                    });
                }
            }
            Ok(FetchedManifest {
                bytes,
                media_type,
                digest,
            })
        })
    }

    /// HEAD of a manifest: its digest, type and size without the body.
    pub fn head_manifest(&self, r: &TagOrDigest) -> Result<ManifestHead, RegistryError> {
        let scopes = self.pull_scope();
        self.client.with_retries(&mut |_| {}, |_| {
            let call = Call::new(Method::HEAD, &self.manifest_path(r), &scopes)
                .header("Accept", media::MANIFEST_ACCEPT);
            let resp = self.client.send(&self.endpoint, &call, Body::Empty)?;
            if !resp.status().is_success() {
                return Err(self.unknown(r, resp, "HEAD"));
            }
            Ok(ManifestHead {
                digest: header(&resp, "docker-content-digest").and_then(|d| Digest::parse(d).ok()),
                media_type: header(&resp, "content-type").unwrap_or("").to_owned(),
                size: header(&resp, "content-length").and_then(|l| l.parse().ok()),
            })
        })
    }

    /// The image `r` names for `platform`: the manifest itself, or the
    /// index's best entry for the platform (fetched by digest, checked).
    pub fn pull_manifest(
        &self,
        r: &TagOrDigest,
        platform: &PlatformSpec,
    ) -> Result<PulledImage, RegistryError> {
        let top = self.get_manifest(r)?;
        let reference = format!(
            "{}{}{r}",
            self.name(),
            if matches!(r, TagOrDigest::Digest(_)) {
                "@"
            } else {
                ":"
            }
        );
        let (index, manifest) = match self.parse(&reference, &top)? {
            ManifestDoc::Image(m) => {
                return Ok(PulledImage {
                    index: None,
                    manifest: top,
                    parsed: *m,
                })
            }
            ManifestDoc::Index(i) => {
                let entry =
                    platform
                        .select(&i)
                        .map_err(|source| RegistryError::NoMatchingPlatform {
                            reference: reference.clone(),
                            source,
                        })?;
                let m = self.get_manifest(&TagOrDigest::Digest(entry.digest.clone()))?;
                if m.bytes.len() as u64 != entry.size {
                    return Err(RegistryError::SizeMismatch {
                        what: format!("manifest {}", entry.digest),
                        repository: self.name(),
                        expected: entry.size,
                        got: m.bytes.len().to_string(),
                    });
                }
                (top, m)
            }
        };
        let child = format!("{}@{}", self.name(), manifest.digest);
        match self.parse(&child, &manifest)? {
            ManifestDoc::Image(m) => Ok(PulledImage {
                index: Some(index),
                manifest,
                parsed: *m,
            }),
            ManifestDoc::Index(_) => Err(RegistryError::UnsupportedMediaType {
                reference: child,
                media_type: format!("{} (an index inside an index)", manifest.media_type),
            }),
        }
    }

    fn parse(&self, reference: &str, m: &FetchedManifest) -> Result<ManifestDoc, RegistryError> {
        manifest::parse(&m.media_type, &m.bytes).map_err(|e| match e {
            ManifestError::Unsupported(media_type)
            | ManifestError::UnsupportedConfig(media_type) => RegistryError::UnsupportedMediaType {
                reference: reference.to_owned(),
                media_type,
            },
            ManifestError::UnsupportedLayer { media_type, digest } => {
                RegistryError::UnsupportedMediaType {
                    reference: reference.to_owned(),
                    media_type: format!("{media_type} (layer {digest})"),
                }
            }
            other => RegistryError::Protocol {
                url: reference.to_owned(),
                reason: other.to_string(),
                transient: false,
            },
        })
    }
}
