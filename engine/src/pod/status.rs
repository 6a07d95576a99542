//! A pod's containers with their live states, and the pod's own state
//! derived from them by podman's rules.

use std::fmt;

use crate::catalog::containers::{ContainerRecord, State};
use crate::catalog::pods::PodRecord;
use crate::catalog::Catalog;
use crate::container::live::{live, Live};
use crate::paths::Paths;

use super::error::Result;

/// One container of a pod.
#[derive(Debug, Clone)]
pub struct Member {
    /// Its record.
    pub rec: ContainerRecord,
    /// Its state now.
    pub live: Live,
    /// Whether it is the pod's infra container.
    pub infra: bool,
}

/// The containers of `pod` (the infra included), oldest first, so the
/// infra comes first.
pub fn members(paths: &Paths, cat: &Catalog, pod: &PodRecord) -> Result<Vec<Member>> {
    Ok(cat
        .containers_of_pod(&pod.id)?
        .into_iter()
        .map(|rec| {
            let live = live(paths, &rec);
            let infra = pod.infra_id.as_deref() == Some(rec.id.as_str());
            Member { rec, live, infra }
        })
        .collect())
}

/// A pod's state, with podman's names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PodState {
    /// No container has run yet (or the pod is empty).
    Created,
    /// Every container runs.
    Running,
    /// Some containers run, others do not.
    Degraded,
    /// Every container is paused.
    Paused,
    /// Every container has exited.
    Exited,
    /// Some exited, none runs.
    Stopped,
    /// A container is in a state husk cannot place.
    Error,
}

impl PodState {
    /// podman's word.
    pub fn as_str(self) -> &'static str {
        match self {
            PodState::Created => "Created",
            PodState::Running => "Running",
            PodState::Degraded => "Degraded",
            PodState::Paused => "Paused",
            PodState::Exited => "Exited",
            PodState::Stopped => "Stopped",
            PodState::Error => "Error",
        }
    }
}

impl fmt::Display for PodState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The state of a pod whose containers are in `states`.
pub fn pod_state(states: &[State]) -> PodState {
    let n = states.len();
    let count = |f: &dyn Fn(State) -> bool| states.iter().filter(|s| f(**s)).count();
    let running = count(&|s| s == State::Running);
    let paused = count(&|s| s == State::Paused);
    let stopped = count(&|s| matches!(s, State::Exited | State::Stopped));
    let created = count(&|s| matches!(s, State::Created | State::Configured));
    match () {
        _ if n == 0 => PodState::Created,
        _ if running > 0 && running == n => PodState::Running,
        _ if running > 0 => PodState::Degraded,
        _ if paused == n => PodState::Paused,
        _ if stopped == n => PodState::Exited,
        _ if stopped > 0 => PodState::Stopped,
        _ if running + paused + stopped + created < n => PodState::Error,
        _ => PodState::Created,
    }
}

/// The state of a pod from its members.
pub fn state_of(members: &[Member]) -> PodState {
    let states: Vec<State> = members.iter().map(|m| m.live.state).collect();
    pod_state(&states)
}

#[cfg(test)]
mod tests {
    use super::*;
    use State::*;

    #[test]
    fn podman_rules() {
        assert_eq!(pod_state(&[]), PodState::Created);
        assert_eq!(pod_state(&[Created, Configured]), PodState::Created);
        assert_eq!(pod_state(&[Running, Running]), PodState::Running);
        assert_eq!(pod_state(&[Running, Exited]), PodState::Degraded);
        assert_eq!(pod_state(&[Running, Paused]), PodState::Degraded);
        assert_eq!(pod_state(&[Paused, Paused]), PodState::Paused);
        assert_eq!(pod_state(&[Exited, Exited]), PodState::Exited);
        assert_eq!(pod_state(&[Exited, Created]), PodState::Stopped);
        assert_eq!(pod_state(&[Paused, Created]), PodState::Created);
        assert_eq!(pod_state(&[Removing]), PodState::Error);
        assert_eq!(PodState::Degraded.to_string(), "Degraded");
    }
}
