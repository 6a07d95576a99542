//! The catalog: one SQLite database (WAL) per store for images, names,
//! containers and pods. Many husk processes use it at once; transactions are
//! short and never held across a container start, so parallel `husk run`s
//! do not serialise on it.

pub mod containers;
pub mod images;
pub mod names;
pub mod pods;

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

/// The schema version this build writes (`PRAGMA user_version`).
const SCHEMA_VERSION: i64 = 1;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS images (
    id TEXT PRIMARY KEY,
    manifest_digest TEXT NOT NULL,
    manifest_media_type TEXT NOT NULL,
    index_digest TEXT,
    arch TEXT NOT NULL DEFAULT '',
    os TEXT NOT NULL DEFAULT '',
    created TEXT,
    added TEXT NOT NULL,
    size INTEGER NOT NULL DEFAULT 0,
    layers TEXT NOT NULL DEFAULT '[]'
);
CREATE TABLE IF NOT EXISTS image_names (
    name TEXT PRIMARY KEY,
    image_id TEXT NOT NULL REFERENCES images(id) ON DELETE CASCADE,
    added INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS image_names_by_image ON image_names(image_id);
CREATE TABLE IF NOT EXISTS image_digests (
    repo TEXT NOT NULL,
    digest TEXT NOT NULL,
    image_id TEXT NOT NULL REFERENCES images(id) ON DELETE CASCADE,
    PRIMARY KEY (repo, digest)
);
CREATE INDEX IF NOT EXISTS image_digests_by_image ON image_digests(image_id);
CREATE TABLE IF NOT EXISTS names (
    name TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    id TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS containers (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    image_id TEXT NOT NULL DEFAULT '',
    image_name TEXT NOT NULL DEFAULT '',
    pod_id TEXT,
    created TEXT NOT NULL,
    options TEXT NOT NULL,
    command TEXT NOT NULL DEFAULT '[]',
    state TEXT NOT NULL,
    pid INTEGER NOT NULL DEFAULT 0,
    shim_pid INTEGER NOT NULL DEFAULT 0,
    started_at TEXT,
    finished_at TEXT,
    exit_code INTEGER,
    oom_killed INTEGER NOT NULL DEFAULT 0,
    restart_count INTEGER NOT NULL DEFAULT 0,
    extra TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX IF NOT EXISTS containers_by_pod ON containers(pod_id);
CREATE INDEX IF NOT EXISTS containers_by_image ON containers(image_id);
CREATE TABLE IF NOT EXISTS pods (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    created TEXT NOT NULL,
    infra_id TEXT,
    options TEXT NOT NULL,
    extra TEXT NOT NULL DEFAULT '{}'
);
";

/// A catalog operation failed.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    /// SQLite reported an error.
    #[error("catalog {path}: {source}")]
    Sqlite {
        /// The database file.
        path: PathBuf,
        /// The error.
        #[source]
        source: rusqlite::Error,
    },
    /// Creating the catalog's directory failed.
    #[error("creating {path}: {source}")]
    Io {
        /// The directory.
        path: PathBuf,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// The database was written by a newer husk.
    #[error("catalog {path} has schema version {found}, newer than this husk's {SCHEMA_VERSION}; upgrade husk")]
    TooNew {
        /// The database file.
        path: PathBuf,
        /// The version found.
        found: i64,
    },
    /// A name is already taken.
    #[error("the {kind} name {name:?} is already in use by {id}. You have to remove that {kind} to be able to reuse that name: that name is already in use")]
    NameInUse {
        /// The name.
        name: String,
        /// `container` or `pod`.
        kind: String,
        /// Who holds it.
        id: String,
    },
}

/// Result of catalog operations.
pub type Result<T, E = CatalogError> = std::result::Result<T, E>;

/// An open catalog.
#[derive(Debug)]
pub struct Catalog {
    conn: Connection,
    path: PathBuf,
}

impl Catalog {
    /// Opens (creating if needed) the catalog at `path`.
    pub fn open(path: &Path) -> Result<Catalog> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|source| CatalogError::Io {
                path: dir.to_path_buf(),
                source,
            })?;
        }
        let err = |source| CatalogError::Sqlite {
            path: path.to_path_buf(),
            source,
        };
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE
                | OpenFlags::SQLITE_OPEN_CREATE
                | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(err)?;
        conn.busy_timeout(Duration::from_secs(60)).map_err(err)?;
        // WAL: readers never block the writer; NORMAL: no fsync per commit
        // (a commit survives a crash of husk, the WAL is synced at
        // checkpoints), which keeps parallel runs from queueing on fsync.
        // Switching a new database to WAL can answer SQLITE_BUSY at once,
        // without the busy handler, while another process does the same:
        // retry for a while.
        let pragmas = "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;";
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        loop {
            match conn.execute_batch(pragmas) {
                Ok(()) => break,
                Err(rusqlite::Error::SqliteFailure(e, _))
                    if e.code == rusqlite::ErrorCode::DatabaseBusy
                        && std::time::Instant::now() < deadline =>
                {
                    std::thread::sleep(Duration::from_millis(5));
                }
                Err(e) => return Err(err(e)),
            }
        }
        let cat = Catalog {
            conn,
            path: path.to_path_buf(),
        };
        cat.migrate()?;
        Ok(cat)
    }

    fn migrate(&self) -> Result<()> {
        let v: i64 = self
            .conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(|e| self.err(e))?;
        if v == SCHEMA_VERSION {
            return Ok(());
        }
        if v > SCHEMA_VERSION {
            return Err(CatalogError::TooNew {
                path: self.path.clone(),
                found: v,
            });
        }
        self.conn
            .execute_batch(&format!(
                "BEGIN IMMEDIATE; {SCHEMA} PRAGMA user_version = {SCHEMA_VERSION}; COMMIT;"
            ))
            .map_err(|e| self.err(e))
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    pub(crate) fn err(&self, source: rusqlite::Error) -> CatalogError {
        CatalogError::Sqlite {
            path: self.path.clone(),
            source,
        }
    }

    /// The rows of `table` whose name or id is `name_or_id`, else those
    /// whose id starts with it (several: an ambiguous prefix).
    pub(crate) fn find_named<T>(
        &self,
        table: &str,
        columns: &str,
        name_or_id: &str,
        row: fn(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
    ) -> Result<Vec<T>> {
        let query = |sql: String| -> Result<Vec<T>> {
            let mut st = self.conn.prepare_cached(&sql).map_err(|e| self.err(e))?;
            st.query_map([name_or_id], row)
                .and_then(|r| r.collect())
                .map_err(|e| self.err(e))
        };
        let exact = query(format!(
            "SELECT {columns} FROM {table} WHERE name = ?1 OR id = ?1"
        ))?;
        if !exact.is_empty() || name_or_id.is_empty() {
            return Ok(exact);
        }
        query(format!(
            "SELECT {columns} FROM {table} WHERE substr(id, 1, length(?1)) = ?1"
        ))
    }

    pub(crate) fn conn(&self) -> &Connection {
        &self.conn
    }

    /// Runs `f` in an IMMEDIATE transaction (the write lock taken at once,
    /// so two writers never deadlock upgrading), committing on success.
    pub fn write<T>(
        &mut self,
        f: impl FnOnce(&rusqlite::Transaction<'_>) -> Result<T>,
    ) -> Result<T> {
        let path = self.path.clone();
        let err = |source| CatalogError::Sqlite {
            path: path.clone(),
            source,
        };
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(err)?;
        let out = f(&tx)?;
        tx.commit().map_err(err)?;
        Ok(out)
    }
}

#[cfg(test)]
pub(crate) mod testing {
    use super::Catalog;

    /// A catalog in a fresh temp dir (kept alive by the returned guard).
    pub fn temp() -> (tempfile::TempDir, Catalog) {
        let dir = tempfile::tempdir().unwrap();
        let cat = Catalog::open(&dir.path().join("catalog.db")).unwrap();
        (dir, cat)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn opens_twice_and_keeps_schema() {
        let (dir, cat) = super::testing::temp();
        drop(cat);
        let cat = super::Catalog::open(&dir.path().join("catalog.db")).unwrap();
        let v: i64 = cat
            .conn()
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(v, super::SCHEMA_VERSION);
    }
}
