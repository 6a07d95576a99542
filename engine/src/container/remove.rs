//! Removing containers: refused while running unless forced (then stopped
//! first), and then everything goes: the container's layer, its userdata
//! (bundle, log, /etc files), its run dir (exit file, sockets) and its
//! catalog row.

use super::error::{ContainerError, Result};
use super::live::live;
use super::{cleanup, rootfs, stop};
use crate::catalog::containers::ContainerRecord;
use crate::engine::Engine;

/// Removes `rec`; with `force` a running container is stopped first
/// (`timeout` as for stop). A pod's infra container goes only with its pod.
pub fn remove(
    eng: &mut Engine,
    rec: &ContainerRecord,
    force: bool,
    timeout: Option<u64>,
) -> Result<()> {
    crate::pod::member::refuse_infra_removal(eng, rec)?;
    let l = live(&eng.paths, rec);
    if l.state.is_active() {
        // As podman: only running or paused containers need --force; a
        // created one never ran, its waiting init just goes.
        if !force && l.state != crate::catalog::containers::State::Created {
            return Err(ContainerError::BadState(format!(
                "cannot remove container {} as it is {} - running or paused containers cannot be removed without force",
                rec.id, l.state
            )));
        }
        stop::stop(eng, rec, timeout)?;
    } else if l.needs_cleanup {
        cleanup::release(eng, rec)?;
    }
    purge(eng, rec)
}

fn remove_dir(path: std::path::PathBuf) -> Result<()> {
    match std::fs::remove_dir_all(&path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(ContainerError::io("removing", path, e)),
    }
}

/// Removes what is left of a stopped container, catalog row last (so a
/// failure leaves a row to retry `rm` on).
pub fn purge(eng: &mut Engine, rec: &ContainerRecord) -> Result<()> {
    rootfs::remove(eng, &rec.id)?;
    remove_dir(eng.paths.userdata(&rec.id))?;
    remove_dir(eng.paths.run_dir(&rec.id))?;
    eng.catalog.remove_container(&rec.id)?;
    Ok(())
}
