//! Pushing a stored image: its blobs and manifest exactly as stored, so the
//! registry serves the digests the image was pulled, loaded or imported
//! with (podman recompresses; husk never does).

use std::path::PathBuf;

use crate::engine::Engine;
use crate::image::digest::Digest;
use crate::image::error::{ImageError, Result};
use crate::image::local;
use crate::image::manifest::{self, ManifestDoc};
use crate::image::progress::Reporter;
use crate::image::reference::{ImageName, Reference};
use crate::image::registry::PushOutcome;
use crate::image::remote::{Remote, RemoteOptions};

/// How to push.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PushOptions {
    /// `--tls-verify`, `--authfile`, `--creds`, `--cert-dir`, `--retry`.
    pub remote: RemoteOptions,
    /// `--quiet`.
    pub quiet: bool,
    /// `--digestfile`: where to write the pushed manifest's digest.
    pub digestfile: Option<PathBuf>,
}

/// Where `dest` (or the image's own name) pushes to.
fn destination(rec_name: &str, dest: Option<&str>) -> Result<Reference> {
    let text = dest.unwrap_or(rec_name);
    const OTHER: [&str; 5] = [
        "oci:",
        "oci-archive:",
        "docker-archive:",
        "dir:",
        "containers-storage:",
    ];
    if OTHER.iter().any(|t| text.starts_with(t)) {
        return Err(ImageError::Unsupported(format!(
            "push destination {text:?}: husk pushes to registries (docker://); use husk save for archives"
        )));
    }
    let text = text.strip_prefix("docker://").unwrap_or(text);
    Ok(match ImageName::parse(text)? {
        ImageName::Qualified(r) => r,
        ImageName::Short(_) => ImageName::parse(text)?.docker_default(),
    }
    .or_latest())
}

/// Pushes the local image `source` to `dest` (default: its own name);
/// returns the manifest digest the registry stored.
pub fn push(
    eng: &mut Engine,
    source: &str,
    dest: Option<&str>,
    opts: &PushOptions,
) -> Result<Digest> {
    let rep = Reporter::new(opts.quiet);
    let rec = local::lookup(&eng.catalog, source)?
        .ok_or_else(|| ImageError::NotKnown(source.to_owned()))?;
    let own = super::pull::found_as(&rec, source);
    let target = destination(&own, dest)?;
    let remote = Remote::new(&opts.remote, eng.paths.host_uid)?;
    let loc = remote.conf.push_destination(&target);
    let repo = remote.repository(&loc.reference, loc.insecure)?;
    let store = eng
        .store()
        .map_err(ImageError::storage("opening the store"))?
        .clone();
    let bytes = store
        .blobs()
        .read(&rec.manifest_digest)
        .map_err(ImageError::storage(format!(
            "reading the manifest of image {}",
            rec.id
        )))?;
    let m = match manifest::parse(&rec.manifest_media_type, &bytes) {
        Ok(ManifestDoc::Image(m)) => m,
        Ok(ManifestDoc::Index(_)) => {
            return Err(ImageError::BadImage {
                image: rec.id.clone(),
                reason: "its manifest is an index".into(),
            })
        }
        Err(e) => {
            return Err(ImageError::BadImage {
                image: rec.id.clone(),
                reason: e.to_string(),
            })
        }
    };
    rep.line("Getting image source signatures");
    let mut blobs: Vec<(&'static str, &crate::image::manifest::Descriptor)> =
        m.layers.iter().map(|l| ("blob", l)).collect();
    blobs.push(("config", &m.config));
    for (kind, d) in blobs {
        let bp = rep.blob(kind, &d.digest, d.size);
        let mut file = store
            .blobs()
            .open(&d.digest)
            .map_err(ImageError::storage(format!("reading {kind} {}", d.digest)))?;
        match repo.push_blob(&d.digest, d.size, &mut file, None, &mut |p| bp.update(&p)) {
            Ok(PushOutcome::Exists) => bp.skipped(),
            Ok(_) => bp.done(),
            Err(e) => {
                bp.failed();
                return Err(ImageError::Registry {
                    what: format!("copying {kind} {}", d.digest),
                    error: Box::new(e),
                });
            }
        }
    }
    rep.line("Writing manifest to image destination");
    let digest = repo
        .put_manifest(&target.tag_or_digest(), &rec.manifest_media_type, &bytes)
        .map_err(ImageError::registry(format!(
            "writing manifest to {target}"
        )))?;
    if let Some(f) = &opts.digestfile {
        std::fs::write(f, digest.to_string()).map_err(ImageError::io("writing", f))?;
    }
    Ok(digest)
}
