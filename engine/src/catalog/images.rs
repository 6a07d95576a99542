//! Image records: an image is its config digest (podman's image id), the
//! manifest it came with, its layers (chain ids, base first) and the names
//! and repository digests that point at it. A name points at one image:
//! storing a new image under a name moves the name.

use rusqlite::{params, OptionalExtension, Row};
use serde::Serialize;

use super::{Catalog, Result};
use crate::image::digest::Digest;

/// A stored image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ImageRecord {
    /// The config digest's hex value.
    pub id: String,
    /// The digest of the (single-platform) manifest stored with it.
    pub manifest_digest: Digest,
    /// That manifest's media type.
    pub manifest_media_type: String,
    /// The index it was chosen from, when pulled through one.
    pub index_digest: Option<Digest>,
    /// Architecture from the config.
    pub arch: String,
    /// OS from the config.
    pub os: String,
    /// `created` from the config.
    pub created: Option<String>,
    /// When it entered this store (RFC 3339).
    pub added: String,
    /// Unpacked size in bytes.
    pub size: u64,
    /// Layer chain ids (hex), base first.
    pub layers: Vec<String>,
    /// Full references naming it, newest first.
    pub names: Vec<String>,
    /// `repository@digest` references.
    pub digests: Vec<String>,
}

impl ImageRecord {
    /// The config digest.
    pub fn config_digest(&self) -> Digest {
        Digest::parse(&format!("sha256:{}", self.id)).expect("ids are stored validated")
    }
}

const COLUMNS: &str = "id, manifest_digest, manifest_media_type, index_digest, arch, os, created, added, size, layers";

impl Catalog {
    fn image_row(&self, r: &Row<'_>) -> rusqlite::Result<ImageRecord> {
        let digest = |s: String| {
            Digest::parse(&s).map_err(|e| {
                rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, e.into())
            })
        };
        let layers: String = r.get(9)?;
        Ok(ImageRecord {
            id: r.get(0)?,
            manifest_digest: digest(r.get(1)?)?,
            manifest_media_type: r.get(2)?,
            index_digest: r.get::<_, Option<String>>(3)?.map(digest).transpose()?,
            arch: r.get(4)?,
            os: r.get(5)?,
            created: r.get(6)?,
            added: r.get(7)?,
            size: r.get::<_, i64>(8)? as u64,
            layers: serde_json::from_str(&layers).map_err(|e| {
                rusqlite::Error::FromSqlConversionFailure(9, rusqlite::types::Type::Text, e.into())
            })?,
            names: Vec::new(),
            digests: Vec::new(),
        })
    }

    fn fill_names(&self, rec: &mut ImageRecord) -> Result<()> {
        let mut st = self
            .conn()
            .prepare_cached(
                "SELECT name FROM image_names WHERE image_id = ?1 ORDER BY added DESC, name",
            )
            .map_err(|e| self.err(e))?;
        rec.names = st
            .query_map([&rec.id], |r| r.get(0))
            .and_then(|rows| rows.collect())
            .map_err(|e| self.err(e))?;
        let mut st = self
            .conn()
            .prepare_cached(
                "SELECT repo, digest FROM image_digests WHERE image_id = ?1 ORDER BY repo, digest",
            )
            .map_err(|e| self.err(e))?;
        rec.digests = st
            .query_map([&rec.id], |r| {
                Ok(format!(
                    "{}@{}",
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?
                ))
            })
            .and_then(|rows| rows.collect())
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    fn images_where(&self, clause: &str, p: impl rusqlite::Params) -> Result<Vec<ImageRecord>> {
        let sql = format!("SELECT {COLUMNS} FROM images {clause}");
        let mut st = self.conn().prepare_cached(&sql).map_err(|e| self.err(e))?;
        let mut out: Vec<ImageRecord> = st
            .query_map(p, |r| self.image_row(r))
            .and_then(|rows| rows.collect())
            .map_err(|e| self.err(e))?;
        for rec in &mut out {
            self.fill_names(rec)?;
        }
        Ok(out)
    }

    /// Stores an image, or updates an existing one with the same id; then
    /// points `names` at it (taking them from any other image) and records
    /// `digests` (`(repository, manifest or index digest)`).
    pub fn put_image(
        &mut self,
        rec: &ImageRecord,
        names: &[String],
        digests: &[(String, Digest)],
    ) -> Result<()> {
        let now = now_nanos();
        self.write(|tx| {
            let e = |source| super::CatalogError::Sqlite {
                path: tx.path().map(Into::into).unwrap_or_default(),
                source,
            };
            tx.execute(
                "INSERT INTO images (id, manifest_digest, manifest_media_type, index_digest, arch, os, created, added, size, layers)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
                 ON CONFLICT(id) DO UPDATE SET manifest_digest = excluded.manifest_digest,
                   manifest_media_type = excluded.manifest_media_type,
                   index_digest = COALESCE(excluded.index_digest, images.index_digest)",
                params![
                    rec.id,
                    rec.manifest_digest.to_string(),
                    rec.manifest_media_type,
                    rec.index_digest.as_ref().map(|d| d.to_string()),
                    rec.arch,
                    rec.os,
                    rec.created,
                    rec.added,
                    rec.size as i64,
                    serde_json::to_string(&rec.layers).expect("strings serialise"),
                ],
            )
            .map_err(e)?;
            for (i, n) in names.iter().enumerate() {
                tx.execute(
                    "INSERT INTO image_names (name, image_id, added) VALUES (?1, ?2, ?3)
                     ON CONFLICT(name) DO UPDATE SET image_id = excluded.image_id, added = excluded.added",
                    params![n, rec.id, now - i as i64],
                )
                .map_err(e)?;
            }
            for (repo, d) in digests {
                tx.execute(
                    "INSERT INTO image_digests (repo, digest, image_id) VALUES (?1, ?2, ?3)
                     ON CONFLICT(repo, digest) DO UPDATE SET image_id = excluded.image_id",
                    params![repo, d.to_string(), rec.id],
                )
                .map_err(e)?;
            }
            Ok(())
        })
    }

    /// The image with this full id.
    pub fn image(&self, id: &str) -> Result<Option<ImageRecord>> {
        Ok(self.images_where("WHERE id = ?1", [id])?.pop())
    }

    /// Ids starting with `prefix`.
    pub fn image_ids_with_prefix(&self, prefix: &str) -> Result<Vec<String>> {
        let mut st = self
            .conn()
            .prepare_cached("SELECT id FROM images WHERE substr(id, 1, length(?1)) = ?1")
            .map_err(|e| self.err(e))?;
        st.query_map([prefix], |r| r.get(0))
            .and_then(|rows| rows.collect())
            .map_err(|e| self.err(e))
    }

    /// The image a full reference names.
    pub fn image_id_by_name(&self, name: &str) -> Result<Option<String>> {
        self.conn()
            .query_row(
                "SELECT image_id FROM image_names WHERE name = ?1",
                [name],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| self.err(e))
    }

    /// The image a `repository@digest` names.
    pub fn image_id_by_digest(&self, repo: &str, digest: &Digest) -> Result<Option<String>> {
        self.conn()
            .query_row(
                "SELECT image_id FROM image_digests WHERE repo = ?1 AND digest = ?2",
                params![repo, digest.to_string()],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| self.err(e))
    }

    /// Every stored name (for short-name matching).
    pub fn image_names(&self) -> Result<Vec<(String, String)>> {
        let mut st = self
            .conn()
            .prepare_cached("SELECT name, image_id FROM image_names ORDER BY name")
            .map_err(|e| self.err(e))?;
        st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .and_then(|rows| rows.collect())
            .map_err(|e| self.err(e))
    }

    /// Every image, newest first.
    pub fn images(&self) -> Result<Vec<ImageRecord>> {
        self.images_where("ORDER BY added DESC, id", [])
    }

    /// Points `name` at image `id`.
    pub fn tag_image(&mut self, id: &str, name: &str) -> Result<()> {
        let now = now_nanos();
        self.write(|tx| {
            tx.execute(
                "INSERT INTO image_names (name, image_id, added) VALUES (?1, ?2, ?3)
                 ON CONFLICT(name) DO UPDATE SET image_id = excluded.image_id, added = excluded.added",
                params![name, id, now],
            )
            .map_err(|source| super::CatalogError::Sqlite {
                path: tx.path().map(Into::into).unwrap_or_default(),
                source,
            })?;
            Ok(())
        })
    }

    /// Removes `name` from image `id`; false when it did not name it.
    pub fn untag_image(&mut self, id: &str, name: &str) -> Result<bool> {
        let n = self
            .conn()
            .execute(
                "DELETE FROM image_names WHERE name = ?1 AND image_id = ?2",
                params![name, id],
            )
            .map_err(|e| self.err(e))?;
        Ok(n > 0)
    }

    /// Removes the image record with its names and digests.
    pub fn remove_image(&mut self, id: &str) -> Result<()> {
        self.conn()
            .execute("DELETE FROM images WHERE id = ?1", [id])
            .map_err(|e| self.err(e))?;
        Ok(())
    }
}

/// Nanoseconds since the epoch, for ordering names newest first.
fn now_nanos() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as i64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(id_byte: u8) -> ImageRecord {
        let id = hex::encode([id_byte; 32]);
        ImageRecord {
            id,
            manifest_digest: Digest::sha256_of(&[id_byte]),
            manifest_media_type: crate::image::media::OCI_MANIFEST.into(),
            index_digest: None,
            arch: "amd64".into(),
            os: "linux".into(),
            created: None,
            added: "2026-01-01T00:00:00Z".into(),
            size: 10,
            layers: vec!["aa".into()],
            names: vec![],
            digests: vec![],
        }
    }

    #[test]
    fn names_move_to_the_newest_image() {
        let (_d, mut cat) = crate::catalog::testing::temp();
        let a = rec(1);
        let b = rec(2);
        let name = "docker.io/library/busybox:latest".to_string();
        cat.put_image(&a, std::slice::from_ref(&name), &[]).unwrap();
        cat.put_image(
            &b,
            std::slice::from_ref(&name),
            &[(
                "docker.io/library/busybox".into(),
                b.manifest_digest.clone(),
            )],
        )
        .unwrap();
        assert_eq!(
            cat.image_id_by_name(&name).unwrap().as_deref(),
            Some(&*b.id)
        );
        assert!(cat.image(&a.id).unwrap().unwrap().names.is_empty());
        let got = cat.image(&b.id).unwrap().unwrap();
        assert_eq!(got.names, std::slice::from_ref(&name));
        assert_eq!(got.digests.len(), 1);
        assert_eq!(
            cat.image_ids_with_prefix(&b.id[..6]).unwrap(),
            std::slice::from_ref(&b.id)
        );
        assert!(cat.untag_image(&b.id, &name).unwrap());
        cat.remove_image(&b.id).unwrap();
        assert!(cat.image(&b.id).unwrap().is_none());
        assert_eq!(cat.images().unwrap().len(), 1);
    }
}
