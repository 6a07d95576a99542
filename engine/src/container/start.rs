//! Starting a container: a created one only needs its exec fifo opened; an
//! exited one is instantiated again first (rootfs mounted, a new shim),
//! keeping its id, name, options and upper layer, as podman's restart does.

use husk_shim::config::TtySize;

use super::create::instantiate;
use super::error::{ContainerError, Result};
use super::live::live;
use super::{cleanup, stop};
use crate::catalog::containers::{ContainerRecord, State, StateUpdate};
use crate::engine::Engine;

/// Makes sure `rec` has a created (not yet started) instance in the
/// runtime; returns false when it is running already.
pub fn prepare(eng: &mut Engine, rec: &ContainerRecord, tty: Option<TtySize>) -> Result<bool> {
    let l = live(&eng.paths, rec);
    match l.state {
        State::Running => Ok(false),
        State::Paused => Err(ContainerError::BadState(format!(
            "{:?} is paused, unpause it instead of starting it",
            rec.name
        ))),
        State::Created => Ok(true),
        State::Removing => Err(ContainerError::BadState(format!(
            "{:?} is being removed",
            rec.name
        ))),
        State::Configured | State::Exited | State::Stopped => {
            if l.needs_cleanup {
                cleanup::record_exit(eng, rec)?;
                cleanup::release(eng, rec)?;
            }
            let cur = eng
                .catalog
                .container(&rec.id)?
                .ok_or_else(|| ContainerError::NotFound(rec.id.clone()))?;
            instantiate(eng, &cur, tty)?;
            Ok(true)
        }
    }
}

/// Opens the created container's exec fifo: its program runs (a pod
/// member's infra first).
pub fn start_created(eng: &mut Engine, id: &str) -> Result<()> {
    let _t = crate::trace::span("engine.start");
    crate::pod::member::start_infra_first(eng, id)?;
    let root = eng
        .runtime_root()
        .map_err(|e| ContainerError::io("opening", eng.paths.runtime_root(), e))?;
    husk_runtime::container::start(&root, id)?;
    eng.catalog.update_container(
        id,
        &StateUpdate {
            state: Some(State::Running),
            started_at: Some(husk_runtime::time::now()),
            ..Default::default()
        },
    )?;
    Ok(())
}

/// Starts `rec` (a no-op when it is running).
pub fn start(eng: &mut Engine, rec: &ContainerRecord) -> Result<()> {
    if prepare(eng, rec, None)? {
        start_created(eng, &rec.id)?;
    }
    Ok(())
}

/// Stops (when running) and starts `rec` again.
pub fn restart(eng: &mut Engine, rec: &ContainerRecord, timeout: Option<u64>) -> Result<()> {
    stop::stop(eng, rec, timeout)?;
    let cur = eng
        .catalog
        .container(&rec.id)?
        .ok_or_else(|| ContainerError::NotFound(rec.id.clone()))?;
    start(eng, &cur)
}
