//! A container's live state: what the catalog last recorded, corrected by
//! what the runtime and the shim's exit file say now. The catalog is only
//! updated by lifecycle commands and the shim's cleanup; when the engine or
//! the shim was killed before recording an exit, this is where it shows.

use std::path::PathBuf;

use husk_runtime::state::{StateRoot, Status};
use husk_shim::exit::ExitRecord;

use crate::catalog::containers::{ContainerRecord, State};
use crate::paths::Paths;

/// File names under a container's run dir.
pub mod files {
    /// The shim's exit record.
    pub const EXIT: &str = "exit";
    /// The shim's pid.
    pub const SHIM_PID: &str = "shim.pid";
    /// The container log, under userdata (podman's name).
    pub const LOG: &str = "ctr.log";
}

impl Paths {
    /// Where the shim writes the container's exit record.
    pub fn exit_file(&self, id: &str) -> PathBuf {
        self.run_dir(id).join(files::EXIT)
    }

    /// The default log file of a container.
    pub fn log_file(&self, id: &str) -> PathBuf {
        self.userdata(id).join(files::LOG)
    }
}

/// The state of a container now.
#[derive(Debug, Clone, PartialEq)]
pub struct Live {
    /// Its state.
    pub state: State,
    /// Its init's host pid while it has one, else 0.
    pub pid: i32,
    /// The shim's exit record, once it exited (and until it is restarted).
    pub exit: Option<ExitRecord>,
    /// Whether its runtime state still exists (cleanup pending).
    pub needs_cleanup: bool,
}

/// Derives the live state of `rec`.
pub fn live(paths: &Paths, rec: &ContainerRecord) -> Live {
    let exit_file = || ExitRecord::read(&paths.exit_file(&rec.id)).ok().flatten();
    if !rec.state.is_active() {
        return Live {
            state: rec.state,
            pid: 0,
            exit: None,
            needs_cleanup: false,
        };
    }
    let runtime = StateRoot::open(paths.runtime_root())
        .ok()
        .and_then(|root| husk_runtime::container::load(&root, &rec.id).ok());
    match runtime {
        Some((st, status)) => {
            let state = match status {
                Status::Creating | Status::Created => State::Created,
                Status::Running => State::Running,
                Status::Paused => State::Paused,
                Status::Stopped => State::Exited,
            };
            let exited = state == State::Exited;
            Live {
                state,
                pid: if exited { 0 } else { st.pid },
                exit: if exited { exit_file() } else { None },
                needs_cleanup: exited,
            }
        }
        // The runtime knows nothing: it exited and was cleaned up, but the
        // catalog was not told (or it never got as far as the runtime).
        None => Live {
            state: if rec.state == State::Created && rec.pid == 0 {
                State::Configured
            } else {
                State::Exited
            },
            pid: 0,
            exit: exit_file(),
            needs_cleanup: false,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inactive_records_are_taken_as_they_are() {
        let dir = tempfile::tempdir().unwrap();
        let paths = Paths::resolve(Some(dir.path()), Some(&dir.path().join("run")));
        let rec = ContainerRecord {
            id: "c".repeat(64),
            name: "x".into(),
            image_id: String::new(),
            image_name: String::new(),
            pod_id: None,
            created: String::new(),
            options: Default::default(),
            command: vec![],
            state: State::Exited,
            pid: 0,
            shim_pid: 0,
            started_at: None,
            finished_at: None,
            exit_code: Some(3),
            oom_killed: false,
            restart_count: 0,
            extra: serde_json::json!({}),
        };
        assert_eq!(live(&paths, &rec).state, State::Exited);
        // Recorded running, but the runtime has never heard of it.
        let rec = ContainerRecord {
            state: State::Running,
            pid: 42,
            ..rec
        };
        let l = live(&paths, &rec);
        assert_eq!((l.state, l.pid), (State::Exited, 0));
    }
}
