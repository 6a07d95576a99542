//! One name space for containers and pods, as podman has: a name is held by
//! one container or one pod. Reserving a name is the INSERT itself, so two
//! `husk run --name x` at once cannot both win.

use rusqlite::{params, OptionalExtension, Transaction};

use super::{CatalogError, Result};

/// What holds a name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameKind {
    /// A container.
    Container,
    /// A pod.
    Pod,
}

impl NameKind {
    /// The word stored and shown in errors.
    pub fn as_str(self) -> &'static str {
        match self {
            NameKind::Container => "container",
            NameKind::Pod => "pod",
        }
    }
}

/// Reserves `name` for `id`; fails with [`CatalogError::NameInUse`] naming
/// the holder.
pub fn reserve(tx: &Transaction<'_>, name: &str, kind: NameKind, id: &str) -> Result<()> {
    let holder: Option<(String, String)> = tx
        .query_row("SELECT kind, id FROM names WHERE name = ?1", [name], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .optional()
        .map_err(|e| sqlite(tx, e))?;
    if let Some((kind, id)) = holder {
        return Err(CatalogError::NameInUse {
            name: name.to_owned(),
            kind,
            id,
        });
    }
    tx.execute(
        "INSERT INTO names (name, kind, id) VALUES (?1, ?2, ?3)",
        params![name, kind.as_str(), id],
    )
    .map_err(|e| sqlite(tx, e))?;
    Ok(())
}

/// Frees `name`.
pub fn release(tx: &Transaction<'_>, name: &str) -> Result<()> {
    tx.execute("DELETE FROM names WHERE name = ?1", [name])
        .map_err(|e| sqlite(tx, e))?;
    Ok(())
}

fn sqlite(tx: &Transaction<'_>, source: rusqlite::Error) -> CatalogError {
    CatalogError::Sqlite {
        path: tx.path().map(Into::into).unwrap_or_default(),
        source,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_has_one_holder() {
        let (_d, mut cat) = crate::catalog::testing::temp();
        cat.write(|tx| reserve(tx, "web", NameKind::Pod, "p1"))
            .unwrap();
        let e = cat
            .write(|tx| reserve(tx, "web", NameKind::Container, "c1"))
            .unwrap_err();
        assert!(
            matches!(&e, CatalogError::NameInUse { kind, id, .. } if kind == "pod" && id == "p1"),
            "{e}"
        );
        cat.write(|tx| release(tx, "web")).unwrap();
        cat.write(|tx| reserve(tx, "web", NameKind::Container, "c1"))
            .unwrap();
    }
}
