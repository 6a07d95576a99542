//! Pod records: a pod's name, its infra container and the options it was
//! created with. Members point at their pod from the containers table.

use rusqlite::{params, OptionalExtension, Row};
use serde::Serialize;

use super::names::{self, NameKind};
use super::{Catalog, CatalogError, Result};

/// A stored pod.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PodRecord {
    /// 64-hex id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// Creation time (RFC 3339).
    pub created: String,
    /// Its infra container, when it has one.
    pub infra_id: Option<String>,
    /// The options it was created with (owned by the pod module).
    pub options: serde_json::Value,
    /// Other recorded facts.
    pub extra: serde_json::Value,
}

const COLUMNS: &str = "id, name, created, infra_id, options, extra";

fn row(r: &Row<'_>) -> rusqlite::Result<PodRecord> {
    let json = |i: usize| -> rusqlite::Result<serde_json::Value> {
        let s: String = r.get(i)?;
        serde_json::from_str(&s).map_err(|e| {
            rusqlite::Error::FromSqlConversionFailure(i, rusqlite::types::Type::Text, e.into())
        })
    };
    Ok(PodRecord {
        id: r.get(0)?,
        name: r.get(1)?,
        created: r.get(2)?,
        infra_id: r.get(3)?,
        options: json(4)?,
        extra: json(5)?,
    })
}

fn sql_err(tx: &rusqlite::Transaction<'_>, source: rusqlite::Error) -> CatalogError {
    CatalogError::Sqlite {
        path: tx.path().map(Into::into).unwrap_or_default(),
        source,
    }
}

impl Catalog {
    /// Stores a new pod, reserving its name.
    pub fn insert_pod(&mut self, rec: &PodRecord) -> Result<()> {
        self.write(|tx| {
            names::reserve(tx, &rec.name, NameKind::Pod, &rec.id)?;
            tx.execute(
                &format!("INSERT INTO pods ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6)"),
                params![
                    rec.id,
                    rec.name,
                    rec.created,
                    rec.infra_id,
                    rec.options.to_string(),
                    rec.extra.to_string()
                ],
            )
            .map_err(|e| sql_err(tx, e))?;
            Ok(())
        })
    }

    /// Finds pods by name, full id or id prefix.
    pub fn find_pods(&self, name_or_id: &str) -> Result<Vec<PodRecord>> {
        self.find_named("pods", COLUMNS, name_or_id, row)
    }

    /// The pod with this full id.
    pub fn pod(&self, id: &str) -> Result<Option<PodRecord>> {
        self.conn()
            .query_row(
                &format!("SELECT {COLUMNS} FROM pods WHERE id = ?1"),
                [id],
                row,
            )
            .optional()
            .map_err(|e| self.err(e))
    }

    /// Every pod, newest first.
    pub fn pods(&self) -> Result<Vec<PodRecord>> {
        let mut st = self
            .conn()
            .prepare_cached(&format!("SELECT {COLUMNS} FROM pods ORDER BY created DESC"))
            .map_err(|e| self.err(e))?;
        st.query_map([], row)
            .and_then(|r| r.collect())
            .map_err(|e| self.err(e))
    }

    /// Sets a pod's infra container and extra facts.
    pub fn update_pod(
        &mut self,
        id: &str,
        infra_id: Option<&str>,
        extra: &serde_json::Value,
    ) -> Result<()> {
        self.conn()
            .execute(
                "UPDATE pods SET infra_id = COALESCE(?2, infra_id), extra = ?3 WHERE id = ?1",
                params![id, infra_id, extra.to_string()],
            )
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    /// Removes a pod record and frees its name.
    pub fn remove_pod(&mut self, id: &str) -> Result<bool> {
        self.write(|tx| {
            let name: Option<String> = tx
                .query_row("SELECT name FROM pods WHERE id = ?1", [id], |r| r.get(0))
                .optional()
                .map_err(|e| sql_err(tx, e))?;
            let Some(name) = name else {
                return Ok(false);
            };
            names::release(tx, &name)?;
            tx.execute("DELETE FROM pods WHERE id = ?1", [id])
                .map_err(|e| sql_err(tx, e))?;
            Ok(true)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pods_share_the_name_space() {
        let (_d, mut cat) = crate::catalog::testing::temp();
        let p = PodRecord {
            id: "p1".into(),
            name: "app".into(),
            created: "2026-01-01T00:00:00Z".into(),
            infra_id: None,
            options: serde_json::json!({}),
            extra: serde_json::json!({}),
        };
        cat.insert_pod(&p).unwrap();
        cat.update_pod("p1", Some("c1"), &serde_json::json!({"x": 1}))
            .unwrap();
        assert_eq!(
            cat.find_pods("app").unwrap()[0].infra_id.as_deref(),
            Some("c1")
        );
        assert!(cat.remove_pod("p1").unwrap());
        assert!(cat.pods().unwrap().is_empty());
    }
}
