//! Removing pods: refused while a member runs or is paused, unless forced
//! (then every member is stopped first). The members go first, then the
//! infra, then the pod's cgroup, directories and row. As in podman, a pod
//! whose own containers have all exited is removed without `-f` even when
//! its infra still runs.

use super::error::{PodError, Result};
use super::status::{members, state_of, PodState};
use crate::catalog::containers::State;
use crate::catalog::pods::PodRecord;
use crate::container::{remove, stop};
use crate::engine::Engine;

/// Refuses a pod with a running or paused member unless `force`, then
/// stops every container of the pod (members first).
///
/// Rootless, call it from the user namespace husk was started in, before
/// entering a fresh one for the storage: a fresh namespace of husk's is a
/// sibling of the one the pod was made in and may not signal processes in
/// a user namespace nested in that (`pod create --userns`) unless they run
/// as the user's own uid.
pub fn stop_for_removal(
    eng: &mut Engine,
    pod: &PodRecord,
    force: bool,
    timeout: Option<u64>,
) -> Result<()> {
    let all = members(&eng.paths, &eng.catalog, pod)?;
    if !force {
        if let Some(m) = all
            .iter()
            .find(|m| !m.infra && matches!(m.live.state, State::Running | State::Paused))
        {
            return Err(PodError::BadState(format!(
                "pod {} has containers that are not ready to be removed: cannot remove container {} as it is {} - running or paused containers cannot be removed without force",
                pod.id, m.rec.id, m.live.state
            )));
        }
    }
    super::lifecycle::stop(eng, pod, timeout)
}

/// Removes `pod` and its containers; with `force` running members are
/// stopped first (`timeout` as for stop).
pub fn remove(eng: &mut Engine, pod: &PodRecord, force: bool, timeout: Option<u64>) -> Result<()> {
    stop_for_removal(eng, pod, force, timeout)?;
    let all = members(&eng.paths, &eng.catalog, pod)?;
    for m in all.iter().rev().filter(|m| !m.infra) {
        // Created members (a process waiting to start) go without asking,
        // as exited ones do.
        remove::remove(eng, &m.rec, true, timeout)?;
    }
    if let Some(i) = all.iter().find(|m| m.infra) {
        stop::stop(eng, &i.rec, timeout)?;
    }
    super::create::purge(eng, pod)
}

/// Whether `pod prune` removes the pod: all its containers have exited
/// (podman prunes Exited and Stopped pods).
pub fn prunable(eng: &Engine, pod: &PodRecord) -> Result<bool> {
    let all = members(&eng.paths, &eng.catalog, pod)?;
    Ok(matches!(
        state_of(&all),
        PodState::Exited | PodState::Stopped
    ))
}
