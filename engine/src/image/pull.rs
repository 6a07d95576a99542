//! Pulling images, as `husk pull` and `husk run` do: the user's name
//! resolved through registries.conf (aliases, search registries), each
//! candidate tried at its mirrors and then its location, credentials from
//! `--creds` or auth.json, the manifest chosen for the platform, then
//! [`fetch`] stores blobs and layers and the catalog row makes the image
//! visible. The store's shared lock is held from the first blob written to
//! the row committed, so garbage collection (exclusive) never removes what
//! a pull is about to record.
//!
//! `husk run` and `husk create` call [`resolve_for_run`]: with the image
//! present and policy `missing` it is one catalog lookup, no registry and no
//! store work.

mod fetch;
mod stream;

use std::str::FromStr;

use crate::catalog::images::ImageRecord;
use crate::engine::Engine;
use crate::image::config::ImageConfig;
use crate::image::digest::Digest;
use crate::image::local;
use crate::image::platform::PlatformSpec;
use crate::image::progress::Reporter;
use crate::image::record;
use crate::image::reference::{ImageName, Reference, DEFAULT_TAG};
use crate::image::registries::Location;
use crate::image::remote::{Remote, RemoteOptions};
use crate::storage::LockMode;

pub use crate::image::error::ImageError as PullError;
use crate::image::error::{ImageError, Result};

/// How to pull.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PullOptions {
    /// The platform to choose from an index (`--platform`, `--os`,
    /// `--arch`, `--variant`; the host's by default).
    pub platform: PlatformSpec,
    /// `--tls-verify`, `--authfile`, `--creds`, `--cert-dir`, `--retry`.
    pub remote: RemoteOptions,
    /// `--quiet`: no progress on stderr.
    pub quiet: bool,
}

impl Default for PullOptions {
    fn default() -> Self {
        PullOptions {
            platform: PlatformSpec::host(),
            remote: RemoteOptions::default(),
            quiet: false,
        }
    }
}

/// `--pull`: when `run` and `create` pull.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PullPolicy {
    /// Always pull (a no-op download when nothing changed).
    Always,
    /// Pull when no local image has the name (the default).
    Missing,
    /// Never pull.
    Never,
    /// Pull when the registry has a different manifest than the local one.
    Newer,
}

impl FromStr for PullPolicy {
    type Err = ImageError;

    fn from_str(s: &str) -> Result<PullPolicy> {
        Ok(match s.to_ascii_lowercase().as_str() {
            "always" | "true" => PullPolicy::Always,
            "missing" | "ifmissing" | "ifnotpresent" => PullPolicy::Missing,
            "never" | "false" => PullPolicy::Never,
            "newer" | "ifnewer" => PullPolicy::Newer,
            _ => {
                return Err(ImageError::Other(format!(
                    "unsupported pull policy {s:?}: use always, missing, never or newer"
                )))
            }
        })
    }
}

/// The name a pull records for `r`: with its tag (`latest` when none),
/// or `repository@digest` when pulled by digest.
fn recorded_name(r: &Reference) -> String {
    match r.digest() {
        Some(d) => r.repository().with_digest(d.clone()).to_string(),
        None => r.or_latest().to_string(),
    }
}

/// `docker://…` or a bare name, as podman's pull takes.
fn strip_transport(name: &str) -> &str {
    name.strip_prefix("docker://").unwrap_or(name)
}

/// `oci:DIR[:TAG]`, `oci-archive:FILE[:TAG]`, `docker-archive:FILE[:TAG]`:
/// podman's local transports, read with the archive loader. The image is
/// named `localhost/<DIR>:<TAG>` when the archive gives it no name.
fn pull_local_transport(
    eng: &mut Engine,
    name: &str,
    rep: &Reporter,
) -> Result<Option<ImageRecord>> {
    let Some(rest) = ["oci:", "oci-archive:", "docker-archive:"]
        .iter()
        .find_map(|t| name.strip_prefix(t))
    else {
        return Ok(None);
    };
    let (path, tag) = match rest.rsplit_once(':') {
        Some((p, t)) if std::path::Path::new(p).exists() && !t.contains('/') => (p, Some(t)),
        _ => (rest, None),
    };
    rep.line(&format!("Trying to pull {name}..."));
    let mut recs = super::archive::load(eng, Some(std::path::Path::new(path)), true)?;
    let Some(mut rec) = recs.drain(..).next() else {
        return Err(ImageError::Other(format!(
            "{name}: the archive holds no image"
        )));
    };
    if rec.names.is_empty() {
        let base = std::path::Path::new(path)
            .file_name()
            .map(|n| n.to_string_lossy().to_lowercase())
            .unwrap_or_else(|| "image".into());
        let full = format!("localhost/{base}:{}", tag.unwrap_or("latest"));
        eng.catalog
            .tag_image(&rec.id, &full)
            .map_err(|e| ImageError::Other(e.to_string()))?;
        rec.names.push(full);
    }
    Ok(Some(rec))
}

/// Pulls `name`, printing podman's progress on stderr unless
/// `opts.quiet`; returns the stored image.
pub fn pull(eng: &mut Engine, name: &str, opts: &PullOptions) -> Result<ImageRecord> {
    pull_reporting(eng, name, opts, &Reporter::new(opts.quiet))
}

/// [`pull`] with the caller's reporter.
pub fn pull_reporting(
    eng: &mut Engine,
    name: &str,
    opts: &PullOptions,
    rep: &Reporter,
) -> Result<ImageRecord> {
    let _t = crate::trace::span("pull");
    if let Some(rec) = pull_local_transport(eng, name, rep)? {
        return Ok(rec);
    }
    let parsed = ImageName::parse(strip_transport(name))?;
    let t = crate::trace::span("pull.registries-conf");
    let remote = Remote::new(&opts.remote, eng.paths.host_uid)?;
    t.end();
    let candidates = remote.conf.resolve(&parsed)?;
    let mut errors = Vec::new();
    for cand in &candidates {
        rep.line(&format!("Trying to pull {}...", cand.reference.or_latest()));
        let sources = match remote.conf.pull_sources(&cand.reference) {
            Ok(s) => s,
            Err(e) => {
                errors.push(e.into());
                continue;
            }
        };
        for src in &sources {
            match pull_from(eng, &remote, &cand.reference, src, opts, rep) {
                Ok(rec) => return Ok(rec),
                Err(e) => errors.push(e),
            }
        }
    }
    Err(match errors.len() {
        1 => errors.pop().expect("one"),
        _ => ImageError::Several(errors),
    })
}

/// Pulls `logical` from one location (a mirror or the registry itself).
fn pull_from(
    eng: &mut Engine,
    remote: &Remote,
    logical: &Reference,
    src: &Location,
    opts: &PullOptions,
    rep: &Reporter,
) -> Result<ImageRecord> {
    let repo = remote.repository(&src.reference, src.insecure)?;
    let t = crate::trace::span("pull.manifest");
    let pulled = repo
        .pull_manifest(&src.reference.tag_or_digest(), &opts.platform)
        .map_err(|error| ImageError::Source {
            source_ref: format!("docker://{}", recorded_name(&src.reference)),
            error: Box::new(error),
        })?;
    t.end();
    let t = crate::trace::span("pull.store-open");
    let store = eng
        .store()
        .map_err(ImageError::storage("opening the store"))?
        .clone();
    let _shared = store
        .lock(LockMode::Shared)
        .map_err(ImageError::storage("locking the store"))?;
    t.end();
    let stored = fetch::fetch(&store, &repo, &pulled, rep)?;
    let _t = crate::trace::span("pull.record");
    rep.line("Writing manifest to image destination");
    let repo_name = logical.repository().to_string();
    let mut digests = vec![(repo_name.clone(), stored.manifest_digest.clone())];
    if let Some(i) = &stored.index_digest {
        digests.push((repo_name, i.clone()));
    }
    record::commit(eng, &stored, &[recorded_name(logical)], &digests)
}

/// The config document of a stored image.
pub fn image_config(eng: &mut Engine, rec: &ImageRecord) -> Result<ImageConfig> {
    let digest = rec.config_digest();
    let bytes = eng
        .store()
        .map_err(ImageError::storage("opening the store"))?
        .blobs()
        .read(&digest)
        .map_err(ImageError::storage(format!(
            "reading the config of image {}",
            rec.id
        )))?;
    serde_json::from_slice(&bytes).map_err(|e| ImageError::BadImage {
        image: rec.id.clone(),
        reason: format!("config is not an image config: {e}"),
    })
}

/// The stored name `input` found `rec` by, fully qualified (for an id,
/// the image's newest name, else its id).
pub fn found_as(rec: &ImageRecord, input: &str) -> String {
    let fallback = || rec.names.first().cloned().unwrap_or_else(|| rec.id.clone());
    match ImageName::parse(input) {
        Ok(ImageName::Qualified(r)) => recorded_name(&r),
        Ok(ImageName::Short(s)) => {
            let tag = s.tag().unwrap_or(DEFAULT_TAG);
            let mut best: Option<(u8, &String)> = None;
            for n in &rec.names {
                let Ok(r) = Reference::parse(n) else { continue };
                let path_ok = r.path() == s.path()
                    || (r.domain() == "docker.io" && r.path() == format!("library/{}", s.path()));
                let tag_ok = s.digest().is_some() || r.tag() == Some(tag);
                if !(path_ok && tag_ok) {
                    continue;
                }
                let rank = match r.domain() {
                    "localhost" => 0,
                    "docker.io" => 1,
                    _ => 2,
                };
                if best.is_none_or(|(br, bn)| (rank, n) < (br, bn)) {
                    best = Some((rank, n));
                }
            }
            match (best, s.digest()) {
                (Some((_, n)), None) => n.clone(),
                (Some((_, n)), Some(d)) => Reference::parse(n)
                    .map(|r| r.repository().with_digest(d.clone()).to_string())
                    .unwrap_or_else(|_| n.clone()),
                (None, _) => fallback(),
            }
        }
        Err(_) => fallback(),
    }
}

/// The image `run`/`create` use for `name` under `policy`, pulling it when
/// the policy says so; returns it with the name it was found or pulled as,
/// fully qualified. The common case (present, `missing`) is one catalog
/// lookup.
pub fn resolve_for_run(
    eng: &mut Engine,
    name: &str,
    policy: PullPolicy,
    opts: &PullOptions,
) -> Result<(ImageRecord, String)> {
    let local = if policy == PullPolicy::Always {
        None
    } else {
        local::lookup(&eng.catalog, strip_transport(name))?
    };
    match (policy, local) {
        (PullPolicy::Missing | PullPolicy::Never, Some(rec)) => {
            let n = found_as(&rec, name);
            Ok((rec, n))
        }
        (PullPolicy::Never, None) => Err(ImageError::NotKnown(name.to_owned())),
        (PullPolicy::Newer, Some(rec)) => {
            if remote_unchanged(eng, name, &rec, opts) {
                let n = found_as(&rec, name);
                return Ok((rec, n));
            }
            pulled(eng, name, opts)
        }
        _ => pulled(eng, name, opts),
    }
}

fn pulled(eng: &mut Engine, name: &str, opts: &PullOptions) -> Result<(ImageRecord, String)> {
    let rec = pull(eng, name, opts)?;
    let n = found_as(&rec, strip_transport(name));
    Ok((rec, n))
}

/// Whether the registry still serves the manifest (or index) the local
/// image came with; a registry that cannot be asked counts as unchanged,
/// so `--pull newer` works offline.
fn remote_unchanged(eng: &Engine, name: &str, rec: &ImageRecord, opts: &PullOptions) -> bool {
    let Ok(parsed) = ImageName::parse(strip_transport(name)) else {
        return true;
    };
    let Ok(remote) = Remote::new(&opts.remote, eng.paths.host_uid) else {
        return true;
    };
    let Ok(cands) = remote.conf.resolve(&parsed) else {
        return true;
    };
    let known = |d: &Digest| *d == rec.manifest_digest || rec.index_digest.as_ref() == Some(d);
    for c in cands {
        let Ok(sources) = remote.conf.pull_sources(&c.reference) else {
            continue;
        };
        for src in sources {
            let Ok(repo) = remote.repository(&src.reference, src.insecure) else {
                continue;
            };
            if let Ok(head) = repo.head_manifest(&src.reference.tag_or_digest()) {
                return head.digest.as_ref().is_none_or(known);
            }
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(names: &[&str]) -> ImageRecord {
        ImageRecord {
            id: "ab".repeat(32),
            manifest_digest: Digest::sha256_of(b"m"),
            manifest_media_type: crate::image::media::OCI_MANIFEST.into(),
            index_digest: None,
            arch: "amd64".into(),
            os: "linux".into(),
            created: None,
            added: String::new(),
            size: 0,
            layers: vec![],
            names: names.iter().map(|s| s.to_string()).collect(),
            digests: vec![],
        }
    }

    #[test]
    fn policies_parse_as_podman_spells_them() {
        assert_eq!("always".parse::<PullPolicy>().unwrap(), PullPolicy::Always);
        assert_eq!(
            "Missing".parse::<PullPolicy>().unwrap(),
            PullPolicy::Missing
        );
        assert_eq!("never".parse::<PullPolicy>().unwrap(), PullPolicy::Never);
        assert_eq!("newer".parse::<PullPolicy>().unwrap(), PullPolicy::Newer);
        assert!("sometimes".parse::<PullPolicy>().is_err());
    }

    #[test]
    fn names_found_as_are_qualified() {
        let r = rec(&[
            "127.0.0.1:5000/busybox:latest",
            "docker.io/library/busybox:latest",
        ]);
        assert_eq!(found_as(&r, "busybox"), "docker.io/library/busybox:latest");
        assert_eq!(
            found_as(&r, "127.0.0.1:5000/busybox"),
            "127.0.0.1:5000/busybox:latest"
        );
        assert_eq!(found_as(&r, &r.id[..12]), "127.0.0.1:5000/busybox:latest");
        assert_eq!(found_as(&rec(&[]), "abab"), "ab".repeat(32));
        let d = Digest::sha256_of(b"x");
        assert_eq!(
            recorded_name(&Reference::parse(&format!("h:1/a:t@{d}")).unwrap()),
            format!("h:1/a@{d}")
        );
        assert_eq!(
            recorded_name(&Reference::parse("h:1/a").unwrap()),
            "h:1/a:latest"
        );
    }
}
