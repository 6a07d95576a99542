//! What happens after a container's process ends: the shim runs
//! `husk container cleanup ID` (its exit command), which records the exit in
//! the catalog, deletes the runtime state and cgroup, unmounts the rootfs,
//! and removes the container when it was made with `--rm`. Every step is
//! idempotent, so `husk rm -f` or `husk stop` racing the shim's cleanup, or
//! redoing it after a killed shim, is safe.

use husk_runtime::RuntimeError;
use husk_shim::exit::ExitRecord;

use super::error::Result;
use super::{remove, rootfs};
use crate::catalog::containers::{ContainerRecord, State, StateUpdate};
use crate::engine::Engine;

/// Cleans up container `id` after its exit. A container that is gone
/// already is not an error.
pub fn cleanup(eng: &mut Engine, id: &str) -> Result<()> {
    let Some(rec) = eng.catalog.container(id)? else {
        return Ok(());
    };
    let t = crate::trace::span("engine.cleanup.record");
    record_exit(eng, &rec)?;
    t.end();
    release(eng, &rec)?;
    if rec.options.rm {
        let _t = crate::trace::span("engine.cleanup.purge");
        remove::purge(eng, &rec)?;
    }
    Ok(())
}

/// Writes the shim's exit record (if any) into the catalog as `exited`.
pub fn record_exit(eng: &mut Engine, rec: &ContainerRecord) -> Result<()> {
    let exit = ExitRecord::read(&eng.paths.exit_file(&rec.id))
        .ok()
        .flatten();
    let update = StateUpdate {
        state: Some(State::Exited),
        pid: Some(0),
        exit_code: exit.as_ref().map(|e| e.exit_code),
        oom_killed: exit.as_ref().map(|e| e.oom_killed),
        finished_at: exit
            .as_ref()
            .map(|e| e.finished_at.clone())
            .or_else(|| Some(husk_runtime::time::now())),
        ..Default::default()
    };
    eng.catalog.update_container(&rec.id, &update)?;
    Ok(())
}

/// Deletes the runtime's state (and cgroup) and unmounts the rootfs.
pub fn release(eng: &mut Engine, rec: &ContainerRecord) -> Result<()> {
    let t = crate::trace::span("engine.cleanup.runtime-delete");
    if let Ok(root) = eng.runtime_root() {
        match husk_runtime::container::delete(&root, &rec.id, true) {
            Ok(()) | Err(RuntimeError::NotFound(_)) => {}
            Err(e) => return Err(e.into()),
        }
    }
    t.end();
    let _t = crate::trace::span("engine.cleanup.unmount");
    rootfs::unmount(eng, &rec.id)
}
