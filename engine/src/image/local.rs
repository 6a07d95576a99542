//! Finding a stored image from what a user typed, as podman does: a full or
//! prefixed id (with or without `sha256:`), a qualified reference, a
//! `repository@digest`, or a short name matched against every stored name
//! whose repository path it names (`busybox` finds
//! `docker.io/library/busybox:latest` and `127.0.0.1:5000/busybox:latest`;
//! `localhost/` first, then `docker.io`, then the rest in name order).

use crate::catalog::images::ImageRecord;
use crate::catalog::{Catalog, CatalogError};
use crate::image::reference::{ImageName, Reference, DEFAULT_TAG};

/// Why a lookup failed (not-found is `Ok(None)`).
#[derive(Debug, thiserror::Error)]
pub enum LookupError {
    /// The catalog failed.
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    /// An id prefix matches several images.
    #[error("{prefix:?} matches {count} images: give more of the id")]
    Ambiguous {
        /// The prefix.
        prefix: String,
        /// How many images it matches.
        count: usize,
    },
    /// The text is neither an id nor a valid reference.
    #[error(transparent)]
    Reference(#[from] crate::image::reference::ReferenceError),
}

fn is_hex(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// The image `input` names, if it is stored.
pub fn lookup(cat: &Catalog, input: &str) -> Result<Option<ImageRecord>, LookupError> {
    let id_text = input.strip_prefix("sha256:").unwrap_or(input);
    if is_hex(id_text) && id_text.len() <= 64 {
        let ids = cat.image_ids_with_prefix(id_text)?;
        match ids.len() {
            0 if input.starts_with("sha256:") => return Ok(None),
            0 => {}
            1 => return Ok(cat.image(&ids[0])?),
            count => {
                // A full name that is also hex ("deadbeef") still wins below.
                if id_text.len() == 64 {
                    return Ok(cat.image(id_text)?);
                }
                if let Ok(Some(r)) = lookup_name(cat, input) {
                    return Ok(Some(r));
                }
                return Err(LookupError::Ambiguous {
                    prefix: id_text.to_owned(),
                    count,
                });
            }
        }
    }
    lookup_name(cat, input)
}

fn lookup_name(cat: &Catalog, input: &str) -> Result<Option<ImageRecord>, LookupError> {
    let name = ImageName::parse(input)?;
    let id = match &name {
        ImageName::Qualified(r) => by_reference(cat, r)?,
        ImageName::Short(s) => {
            let tag = s.tag().unwrap_or(DEFAULT_TAG);
            let mut best: Option<(u8, String, String)> = None;
            for (stored, id) in cat.image_names()? {
                let Ok(r) = Reference::parse(&stored) else {
                    continue;
                };
                let path_matches = r.path() == s.path()
                    || (r.domain() == "docker.io" && r.path() == format!("library/{}", s.path()));
                if !path_matches {
                    continue;
                }
                if s.digest().is_none() && r.tag() != Some(tag) {
                    continue;
                }
                if let Some(d) = s.digest() {
                    if cat
                        .image_id_by_digest(&r.repository().to_string(), d)?
                        .as_deref()
                        != Some(id.as_str())
                    {
                        continue;
                    }
                }
                let rank = match r.domain() {
                    "localhost" => 0,
                    "docker.io" => 1,
                    _ => 2,
                };
                if best
                    .as_ref()
                    .is_none_or(|(br, bn, _)| (rank, &stored) < (*br, bn))
                {
                    best = Some((rank, stored, id));
                }
            }
            best.map(|(_, _, id)| id)
        }
    };
    Ok(match id {
        Some(id) => cat.image(&id)?,
        None => None,
    })
}

fn by_reference(cat: &Catalog, r: &Reference) -> Result<Option<String>, LookupError> {
    if let Some(d) = r.digest() {
        return Ok(cat.image_id_by_digest(&r.repository().to_string(), d)?);
    }
    Ok(cat.image_id_by_name(&r.or_latest().to_string())?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::image::digest::Digest;

    fn put(cat: &mut Catalog, b: u8, names: &[&str]) -> ImageRecord {
        let rec = ImageRecord {
            id: hex::encode([b; 32]),
            manifest_digest: Digest::sha256_of(&[b]),
            manifest_media_type: crate::image::media::OCI_MANIFEST.into(),
            index_digest: None,
            arch: "amd64".into(),
            os: "linux".into(),
            created: None,
            added: "2026-01-01T00:00:00Z".into(),
            size: 1,
            layers: vec![],
            names: vec![],
            digests: vec![],
        };
        let names: Vec<String> = names.iter().map(|s| s.to_string()).collect();
        let repo = names
            .first()
            .map(|n| Reference::parse(n).unwrap().repository().to_string());
        let digests: Vec<(String, Digest)> = repo
            .into_iter()
            .map(|r| (r, rec.manifest_digest.clone()))
            .collect();
        cat.put_image(&rec, &names, &digests).unwrap();
        rec
    }

    #[test]
    fn finds_by_every_kind_of_name() {
        let (_d, mut cat) = crate::catalog::testing::temp();
        let a = put(&mut cat, 0xaa, &["127.0.0.1:5000/busybox:latest"]);
        let b = put(
            &mut cat,
            0xbb,
            &[
                "docker.io/library/busybox:latest",
                "docker.io/library/busybox:1",
            ],
        );
        let c = put(&mut cat, 0xcc, &["localhost/app:latest"]);
        let id = |x: Option<ImageRecord>| x.map(|r| r.id);
        assert_eq!(id(lookup(&cat, "busybox").unwrap()), Some(b.id.clone()));
        assert_eq!(id(lookup(&cat, "busybox:1").unwrap()), Some(b.id.clone()));
        assert_eq!(
            id(lookup(&cat, "127.0.0.1:5000/busybox").unwrap()),
            Some(a.id.clone())
        );
        assert_eq!(id(lookup(&cat, "app").unwrap()), Some(c.id.clone()));
        assert_eq!(id(lookup(&cat, &a.id[..10]).unwrap()), Some(a.id.clone()));
        assert_eq!(
            id(lookup(&cat, &format!("sha256:{}", c.id)).unwrap()),
            Some(c.id.clone())
        );
        let by_digest = format!("127.0.0.1:5000/busybox@{}", a.manifest_digest);
        assert_eq!(id(lookup(&cat, &by_digest).unwrap()), Some(a.id.clone()));
        assert_eq!(id(lookup(&cat, "busybox:2").unwrap()), None);
        assert_eq!(id(lookup(&cat, "nope").unwrap()), None);
        assert!(lookup(&cat, "UPPER").is_err());
    }
}
