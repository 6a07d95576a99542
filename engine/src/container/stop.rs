//! Stopping and signalling containers: the stop signal, a grace period, then
//! SIGKILL to every process; then waiting for the shim's cleanup so that the
//! container reads `exited` when the command returns.

use std::time::Duration;

use nix::sys::signal::Signal;

use super::error::{ContainerError, Result};
use super::live::live;
use super::{cleanup, wait};
use crate::catalog::containers::{ContainerRecord, State};
use crate::engine::Engine;

/// podman's default grace period, in seconds.
pub const DEFAULT_STOP_TIMEOUT: u64 = 10;

/// How long a shim may take to record an exit before husk does it itself.
const CLEANUP_WAIT: Duration = Duration::from_secs(30);

/// The signal that stops `rec`: `--stop-signal`, else the image's
/// StopSignal (recorded at create), else SIGTERM.
pub fn stop_signal(rec: &ContainerRecord) -> Signal {
    let recorded = rec
        .extra
        .get("stop_signal")
        .and_then(|v| v.as_i64())
        .and_then(|n| Signal::try_from(n as i32).ok());
    rec.options
        .stop_signal
        .as_deref()
        .and_then(|s| husk_runtime::signal::parse(s).ok())
        .or(recorded)
        .unwrap_or(Signal::SIGTERM)
}

fn signal_runtime(eng: &Engine, id: &str, sig: Signal, all: bool) -> Result<()> {
    let root = eng
        .runtime_root()
        .map_err(|e| ContainerError::io("opening", eng.paths.runtime_root(), e))?;
    match husk_runtime::container::signal(&root, id, sig, all) {
        Ok(()) => Ok(()),
        // It exited meanwhile: nothing left to signal.
        Err(husk_runtime::RuntimeError::BadState { .. })
        | Err(husk_runtime::RuntimeError::NotFound(_)) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

fn thaw(eng: &Engine, id: &str) {
    if let Ok(root) = eng.runtime_root() {
        let _ = husk_runtime::container::resume(&root, id);
    }
}

/// Sends `sig` to the container's init (`husk kill`).
pub fn kill(eng: &mut Engine, rec: &ContainerRecord, sig: Signal) -> Result<()> {
    let l = live(&eng.paths, rec);
    if !matches!(l.state, State::Running | State::Paused) {
        return Err(ContainerError::BadState(format!(
            "can only kill running containers. {} is in state {}",
            rec.id, l.state
        )));
    }
    signal_runtime(eng, &rec.id, sig, false)?;
    if sig == Signal::SIGKILL && l.state == State::Paused {
        thaw(eng, &rec.id);
    }
    Ok(())
}

/// Stops the container: its stop signal, up to `timeout` seconds (None:
/// its `--stop-timeout`, else 10), then SIGKILL to all its processes; then
/// waits for the exit to be recorded. A container that is not running is
/// left as it is.
pub fn stop(eng: &mut Engine, rec: &ContainerRecord, timeout: Option<u64>) -> Result<()> {
    let l = live(&eng.paths, rec);
    if !l.state.is_active() {
        if l.needs_cleanup {
            cleanup::cleanup(eng, &rec.id)?;
        }
        return Ok(());
    }
    let secs = timeout
        .or(rec.options.stop_timeout)
        .or_else(|| rec.extra.get("stop_timeout").and_then(|v| v.as_u64()))
        .unwrap_or(DEFAULT_STOP_TIMEOUT);
    let init = wait::pidfd(l.pid);
    let mut gone = init.is_none();
    if !gone && secs > 0 && l.state != State::Created {
        signal_runtime(eng, &rec.id, stop_signal(rec), false)?;
        if l.state == State::Paused {
            thaw(eng, &rec.id);
        }
        gone = init
            .as_ref()
            .is_some_and(|fd| wait::wait_fd(fd, Some(Duration::from_secs(secs))));
    }
    if !gone {
        signal_runtime(eng, &rec.id, Signal::SIGKILL, true)?;
        thaw(eng, &rec.id);
        if let Some(fd) = &init {
            wait::wait_fd(fd, Some(CLEANUP_WAIT));
        }
    }
    wait_for_cleanup(eng, rec)
}

/// Waits for the shim to record the exit and clean up; does it here when the
/// shim is gone (killed) or too slow.
pub fn wait_for_cleanup(eng: &mut Engine, rec: &ContainerRecord) -> Result<()> {
    let current = eng.catalog.container(&rec.id)?;
    let shim = current.as_ref().map(|c| c.shim_pid).unwrap_or(0);
    wait::wait_pid(shim, Some(CLEANUP_WAIT));
    match eng.catalog.container(&rec.id)? {
        Some(c) if c.state.is_active() || live(&eng.paths, &c).needs_cleanup => {
            cleanup::cleanup(eng, &rec.id)
        }
        _ => Ok(()),
    }
}
