//! Container records: the options a container was made with, and the last
//! state husk recorded for it. The live state (is the process still there?)
//! is derived by the container module from the runtime and the shim's exit
//! file; the catalog holds what was last written.

use std::fmt;

use rusqlite::{params, OptionalExtension, Row};
use serde::{Deserialize, Serialize};

use super::names::{self, NameKind};
use super::{Catalog, CatalogError, Result};
use crate::container::options::ContainerOptions;

/// A container's state, with podman's names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    /// In the catalog, not yet in the runtime.
    Configured,
    /// Created in the runtime, not started.
    Created,
    /// Running.
    Running,
    /// Frozen.
    Paused,
    /// Stopped by husk, cleanup pending.
    Stopped,
    /// Exited, cleaned up.
    Exited,
    /// Being removed.
    Removing,
}

impl State {
    /// The name podman prints.
    pub fn as_str(self) -> &'static str {
        match self {
            State::Configured => "configured",
            State::Created => "created",
            State::Running => "running",
            State::Paused => "paused",
            State::Stopped => "stopped",
            State::Exited => "exited",
            State::Removing => "removing",
        }
    }

    /// Parses a stored state.
    pub fn parse(s: &str) -> Option<State> {
        Some(match s {
            "configured" => State::Configured,
            "created" => State::Created,
            "running" => State::Running,
            "paused" => State::Paused,
            "stopped" => State::Stopped,
            "exited" => State::Exited,
            "removing" => State::Removing,
            _ => return None,
        })
    }

    /// Whether a process of the container may be alive.
    pub fn is_active(self) -> bool {
        matches!(self, State::Created | State::Running | State::Paused)
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A stored container.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ContainerRecord {
    /// 64-hex id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// The image id it was made from ('' for --rootfs).
    pub image_id: String,
    /// The image name as resolved (or the --rootfs dir).
    pub image_name: String,
    /// Its pod.
    pub pod_id: Option<String>,
    /// Creation time (RFC 3339).
    pub created: String,
    /// The options it was made with.
    pub options: ContainerOptions,
    /// The command it runs (entrypoint + cmd as resolved).
    pub command: Vec<String>,
    /// Last recorded state.
    pub state: State,
    /// Host pid of its init (0 when none).
    pub pid: i32,
    /// Host pid of its shim (0 when none).
    pub shim_pid: i32,
    /// When it last started.
    pub started_at: Option<String>,
    /// When it last exited.
    pub finished_at: Option<String>,
    /// Its last exit code.
    pub exit_code: Option<i32>,
    /// Whether the kernel OOM-killed it.
    pub oom_killed: bool,
    /// Restarts so far.
    pub restart_count: u32,
    /// Other recorded facts (mount point, log path, ...).
    pub extra: serde_json::Value,
}

const COLUMNS: &str = "id, name, image_id, image_name, pod_id, created, options, command, state, pid, shim_pid, started_at, finished_at, exit_code, oom_killed, restart_count, extra";

fn json_col<T: serde::de::DeserializeOwned>(r: &Row<'_>, i: usize) -> rusqlite::Result<T> {
    let s: String = r.get(i)?;
    serde_json::from_str(&s).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(i, rusqlite::types::Type::Text, e.into())
    })
}

fn row(r: &Row<'_>) -> rusqlite::Result<ContainerRecord> {
    let state: String = r.get(8)?;
    Ok(ContainerRecord {
        id: r.get(0)?,
        name: r.get(1)?,
        image_id: r.get(2)?,
        image_name: r.get(3)?,
        pod_id: r.get(4)?,
        created: r.get(5)?,
        options: json_col(r, 6)?,
        command: json_col(r, 7)?,
        state: State::parse(&state).ok_or_else(|| {
            rusqlite::Error::FromSqlConversionFailure(
                8,
                rusqlite::types::Type::Text,
                format!("unknown state {state:?}").into(),
            )
        })?,
        pid: r.get(9)?,
        shim_pid: r.get(10)?,
        started_at: r.get(11)?,
        finished_at: r.get(12)?,
        exit_code: r.get(13)?,
        oom_killed: r.get::<_, i64>(14)? != 0,
        restart_count: r.get::<_, i64>(15)? as u32,
        extra: json_col(r, 16)?,
    })
}

/// Fields a lifecycle step updates together.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StateUpdate {
    /// The new state.
    pub state: Option<State>,
    /// New init pid.
    pub pid: Option<i32>,
    /// New shim pid.
    pub shim_pid: Option<i32>,
    /// Start time.
    pub started_at: Option<String>,
    /// Exit time.
    pub finished_at: Option<String>,
    /// Exit code.
    pub exit_code: Option<i32>,
    /// OOM flag.
    pub oom_killed: Option<bool>,
    /// Restart count.
    pub restart_count: Option<u32>,
    /// Replaces `extra`.
    pub extra: Option<serde_json::Value>,
    /// Replaces the command.
    pub command: Option<Vec<String>>,
}

impl Catalog {
    /// Stores a new container, reserving its name in the same transaction.
    pub fn insert_container(&mut self, rec: &ContainerRecord) -> Result<()> {
        let options = serde_json::to_string(&rec.options).expect("options serialise");
        let command = serde_json::to_string(&rec.command).expect("strings serialise");
        let extra = rec.extra.to_string();
        self.write(|tx| {
            names::reserve(tx, &rec.name, NameKind::Container, &rec.id)?;
            tx.execute(
                &format!("INSERT INTO containers ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17)"),
                params![
                    rec.id, rec.name, rec.image_id, rec.image_name, rec.pod_id, rec.created,
                    options, command, rec.state.as_str(), rec.pid, rec.shim_pid, rec.started_at,
                    rec.finished_at, rec.exit_code, i64::from(rec.oom_killed),
                    i64::from(rec.restart_count), extra,
                ],
            )
            .map_err(|source| CatalogError::Sqlite {
                path: tx.path().map(Into::into).unwrap_or_default(),
                source,
            })?;
            Ok(())
        })
    }

    /// The container with this full id.
    pub fn container(&self, id: &str) -> Result<Option<ContainerRecord>> {
        self.conn()
            .query_row(
                &format!("SELECT {COLUMNS} FROM containers WHERE id = ?1"),
                [id],
                row,
            )
            .optional()
            .map_err(|e| self.err(e))
    }

    /// Finds a container by name, full id or unique id prefix. Returns the
    /// matches (more than one means the prefix is ambiguous).
    pub fn find_containers(&self, name_or_id: &str) -> Result<Vec<ContainerRecord>> {
        self.find_named("containers", COLUMNS, name_or_id, row)
    }

    /// Every container, newest first.
    pub fn containers(&self) -> Result<Vec<ContainerRecord>> {
        let mut st = self
            .conn()
            .prepare_cached(&format!(
                "SELECT {COLUMNS} FROM containers ORDER BY created DESC, id"
            ))
            .map_err(|e| self.err(e))?;
        st.query_map([], row)
            .and_then(|r| r.collect())
            .map_err(|e| self.err(e))
    }

    /// Containers made from image `image_id`.
    pub fn containers_of_image(&self, image_id: &str) -> Result<Vec<ContainerRecord>> {
        let mut st = self
            .conn()
            .prepare_cached(&format!(
                "SELECT {COLUMNS} FROM containers WHERE image_id = ?1 ORDER BY created DESC"
            ))
            .map_err(|e| self.err(e))?;
        st.query_map([image_id], row)
            .and_then(|r| r.collect())
            .map_err(|e| self.err(e))
    }

    /// Containers of pod `pod_id`.
    pub fn containers_of_pod(&self, pod_id: &str) -> Result<Vec<ContainerRecord>> {
        let mut st = self
            .conn()
            .prepare_cached(&format!(
                "SELECT {COLUMNS} FROM containers WHERE pod_id = ?1 ORDER BY created"
            ))
            .map_err(|e| self.err(e))?;
        st.query_map([pod_id], row)
            .and_then(|r| r.collect())
            .map_err(|e| self.err(e))
    }

    /// Applies a state update; false when the container is gone.
    pub fn update_container(&mut self, id: &str, u: &StateUpdate) -> Result<bool> {
        let n = self
            .conn()
            .execute(
                "UPDATE containers SET
                    state = COALESCE(?2, state),
                    pid = COALESCE(?3, pid),
                    shim_pid = COALESCE(?4, shim_pid),
                    started_at = COALESCE(?5, started_at),
                    finished_at = COALESCE(?6, finished_at),
                    exit_code = COALESCE(?7, exit_code),
                    oom_killed = COALESCE(?8, oom_killed),
                    restart_count = COALESCE(?9, restart_count),
                    extra = COALESCE(?10, extra),
                    command = COALESCE(?11, command)
                 WHERE id = ?1",
                params![
                    id,
                    u.state.map(State::as_str),
                    u.pid,
                    u.shim_pid,
                    u.started_at,
                    u.finished_at,
                    u.exit_code,
                    u.oom_killed.map(i64::from),
                    u.restart_count.map(i64::from),
                    u.extra.as_ref().map(|v| v.to_string()),
                    u.command
                        .as_ref()
                        .map(|c| serde_json::to_string(c).expect("strings serialise")),
                ],
            )
            .map_err(|e| self.err(e))?;
        Ok(n > 0)
    }

    /// Renames a container.
    pub fn rename_container(&mut self, id: &str, old: &str, new: &str) -> Result<()> {
        self.write(|tx| {
            names::reserve(tx, new, NameKind::Container, id)?;
            names::release(tx, old)?;
            tx.execute(
                "UPDATE containers SET name = ?2 WHERE id = ?1",
                params![id, new],
            )
            .map_err(|source| CatalogError::Sqlite {
                path: tx.path().map(Into::into).unwrap_or_default(),
                source,
            })?;
            Ok(())
        })
    }

    /// Removes a container record and frees its name; false when it was
    /// already gone.
    pub fn remove_container(&mut self, id: &str) -> Result<bool> {
        self.write(|tx| {
            let name: Option<String> = tx
                .query_row("SELECT name FROM containers WHERE id = ?1", [id], |r| {
                    r.get(0)
                })
                .optional()
                .map_err(|source| CatalogError::Sqlite {
                    path: tx.path().map(Into::into).unwrap_or_default(),
                    source,
                })?;
            let Some(name) = name else {
                return Ok(false);
            };
            names::release(tx, &name)?;
            tx.execute("DELETE FROM containers WHERE id = ?1", [id])
                .map_err(|source| CatalogError::Sqlite {
                    path: tx.path().map(Into::into).unwrap_or_default(),
                    source,
                })?;
            Ok(true)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(id: &str, name: &str) -> ContainerRecord {
        ContainerRecord {
            id: id.into(),
            name: name.into(),
            image_id: "img".into(),
            image_name: "busybox".into(),
            pod_id: None,
            created: "2026-01-01T00:00:00.000000001Z".into(),
            options: ContainerOptions::default(),
            command: vec!["true".into()],
            state: State::Configured,
            pid: 0,
            shim_pid: 0,
            started_at: None,
            finished_at: None,
            exit_code: None,
            oom_killed: false,
            restart_count: 0,
            extra: serde_json::json!({}),
        }
    }

    #[test]
    fn lifecycle_of_a_record() {
        let (_d, mut cat) = crate::catalog::testing::temp();
        cat.insert_container(&rec("abc123", "web")).unwrap();
        let e = cat.insert_container(&rec("def456", "web")).unwrap_err();
        assert!(e.to_string().contains("already in use"), "{e}");
        assert_eq!(cat.find_containers("web").unwrap()[0].id, "abc123");
        assert_eq!(cat.find_containers("abc").unwrap()[0].name, "web");
        cat.update_container(
            "abc123",
            &StateUpdate {
                state: Some(State::Running),
                pid: Some(42),
                ..Default::default()
            },
        )
        .unwrap();
        let r = cat.container("abc123").unwrap().unwrap();
        assert_eq!((r.state, r.pid, r.shim_pid), (State::Running, 42, 0));
        cat.rename_container("abc123", "web", "web2").unwrap();
        cat.insert_container(&rec("def456", "web")).unwrap();
        assert!(cat.remove_container("abc123").unwrap());
        assert!(!cat.remove_container("abc123").unwrap());
        assert!(cat.find_containers("web2").unwrap().is_empty());
        assert_eq!(cat.containers().unwrap().len(), 1);
    }
}
