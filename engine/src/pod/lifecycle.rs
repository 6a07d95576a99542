//! The pod lifecycle, as podman orders it: `start` starts the infra, then
//! the members; `stop` stops the members, then the infra; `restart` is
//! both; `kill`, `pause` and `unpause` act on every container (members
//! first, the infra last). Rootless, the caller enters the namespaces the
//! pod's infra needs first (see `cli::pod`).

use nix::sys::signal::Signal;

use super::error::{PodError, Result};
use super::status::{members, Member};
use crate::catalog::containers::{State, StateUpdate};
use crate::catalog::pods::PodRecord;
use crate::container::error::ContainerError;
use crate::container::{start, stop};
use crate::engine::Engine;

fn split(all: Vec<Member>) -> (Option<Member>, Vec<Member>) {
    let mut infra = None;
    let mut rest = Vec::with_capacity(all.len());
    for m in all {
        if m.infra {
            infra = Some(m);
        } else {
            rest.push(m);
        }
    }
    (infra, rest)
}

/// Runs `f` on every member, then joins the errors into one (each names
/// its container), so one failing member does not stop the others.
fn each(
    pod: &PodRecord,
    (doing, done): (&str, &str),
    list: &[Member],
    mut f: impl FnMut(&Member) -> Result<(), ContainerError>,
) -> Result<()> {
    let mut errs = Vec::new();
    for m in list {
        if let Err(e) = f(m) {
            errs.push(format!("{doing} container {}: {e}", m.rec.id));
        }
    }
    if errs.is_empty() {
        Ok(())
    } else {
        Err(PodError::Invalid(format!(
            "not all containers of pod {} could be {done}: {}",
            pod.id,
            errs.join("; ")
        )))
    }
}

/// Starts the pod: the infra, then every member not running yet.
pub fn start(eng: &mut Engine, pod: &PodRecord) -> Result<()> {
    let (infra, rest) = split(members(&eng.paths, &eng.catalog, pod)?);
    if let Some(i) = infra {
        if i.live.state == State::Paused {
            return Err(PodError::BadState(format!(
                "pod {} is paused, unpause it instead of starting it",
                pod.id
            )));
        }
        start::start(eng, &i.rec)?;
    }
    each(pod, ("starting", "started"), &rest, |m| {
        if m.live.state == State::Paused {
            return Ok(()); // podman leaves paused members alone
        }
        start::start(eng, &m.rec)
    })
}

/// Stops the pod: every member (newest first), then the infra.
pub fn stop(eng: &mut Engine, pod: &PodRecord, timeout: Option<u64>) -> Result<()> {
    let (infra, mut rest) = split(members(&eng.paths, &eng.catalog, pod)?);
    rest.reverse();
    each(pod, ("stopping", "stopped"), &rest, |m| {
        stop::stop(eng, &m.rec, timeout)
    })?;
    if let Some(i) = infra {
        stop::stop(eng, &i.rec, timeout)?;
    }
    Ok(())
}

/// Stops and starts the pod again.
pub fn restart(eng: &mut Engine, pod: &PodRecord, timeout: Option<u64>) -> Result<()> {
    stop(eng, pod, timeout)?;
    start(eng, pod)
}

/// Sends `sig` to every running container of the pod (members first).
pub fn kill(eng: &mut Engine, pod: &PodRecord, sig: Signal) -> Result<()> {
    let (infra, mut rest) = split(members(&eng.paths, &eng.catalog, pod)?);
    rest.extend(infra);
    rest.retain(|m| matches!(m.live.state, State::Running | State::Paused));
    if rest.is_empty() {
        return Err(PodError::BadState(format!(
            "pod {} has no running containers to signal",
            pod.id
        )));
    }
    each(pod, ("killing", "killed"), &rest, |m| {
        stop::kill(eng, &m.rec, sig)
    })
}

fn freeze(eng: &mut Engine, m: &Member, pause: bool) -> Result<(), ContainerError> {
    let root = eng
        .runtime_root()
        .map_err(|e| ContainerError::io("opening", eng.paths.runtime_root(), e))?;
    if pause {
        husk_runtime::container::pause(&root, &m.rec.id)?;
    } else {
        husk_runtime::container::resume(&root, &m.rec.id)?;
    }
    eng.catalog.update_container(
        &m.rec.id,
        &StateUpdate {
            state: Some(if pause { State::Paused } else { State::Running }),
            ..Default::default()
        },
    )?;
    Ok(())
}

/// Pauses (`true`) or unpauses every container of the pod that can be:
/// running ones to pause, paused ones to unpause.
pub fn set_paused(eng: &mut Engine, pod: &PodRecord, pause: bool) -> Result<()> {
    let (infra, mut rest) = split(members(&eng.paths, &eng.catalog, pod)?);
    rest.extend(infra);
    let want = if pause { State::Running } else { State::Paused };
    rest.retain(|m| m.live.state == want);
    if rest.is_empty() {
        return Err(PodError::BadState(format!(
            "pod {} has no {} containers to {}",
            pod.id,
            want,
            if pause { "pause" } else { "unpause" }
        )));
    }
    each(
        pod,
        if pause {
            ("pausing", "paused")
        } else {
            ("unpausing", "unpaused")
        },
        &rest,
        |m| freeze(eng, m, pause),
    )
}
