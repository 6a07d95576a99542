//! Pod membership, as the container lifecycle sees it: where a new
//! container of a pod goes (the infra's namespaces by path, the pod's
//! cgroup), which member options podman refuses, keeping a member's spec
//! pointed at the infra's current process when the infra was re-created,
//! starting the infra before a member, and refusing to remove an infra on
//! its own.
//!
//! A member's spec names `/proc/<infra pid>/ns/<kind>` for each shared
//! namespace; the pid is recorded in the member's `extra.pod_infra_pid`.
//! Every time the member is instantiated again (`start` after an exit),
//! the infra is made to exist first and those paths are re-pointed at its
//! pid of now, so a member never joins a recycled pid's namespaces.

use std::path::PathBuf;

use serde_json::Value;

use super::error::PodError;
use super::infra;
use super::lookup;
use super::options::{Namespace, PodOptions};
use crate::catalog::containers::{ContainerRecord, State, StateUpdate};
use crate::catalog::pods::PodRecord;
use crate::container::error::{ContainerError, Result};
use crate::container::live::live;
use crate::container::options::ContainerOptions;
use crate::container::spec::NamespaceJoins;
use crate::container::start;
use crate::engine::Engine;
use crate::paths::Paths;

/// The key of a member's `extra` that holds the infra pid its spec joins.
pub const INFRA_PID_KEY: &str = "pod_infra_pid";

/// The key of an infra container's `extra` that marks it (`ps`'s IsInfra).
pub const INFRA_KEY: &str = "infra";

fn pod_err(e: PodError) -> ContainerError {
    match e {
        PodError::Container(c) => c,
        PodError::Catalog(c) => ContainerError::Catalog(c),
        other => ContainerError::Other(other.to_string()),
    }
}

/// Where a new container goes: nowhere special (`Default`), or into a pod.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Placement {
    /// The infra's namespaces to join.
    pub joins: NamespaceJoins,
    /// The pod's cgroup.
    pub cgroup_parent: Option<String>,
    /// The infra pid the joins name.
    pub infra_pid: Option<i32>,
    /// This is the pod's infra container.
    pub infra: bool,
}

impl Placement {
    /// Records the facts later steps need in the container's `extra`.
    pub fn record(&self, extra: &mut Value) {
        if self.infra {
            extra[INFRA_KEY] = Value::Bool(true);
        }
        if let Some(p) = self.infra_pid {
            extra[INFRA_PID_KEY] = Value::from(p);
        }
    }
}

/// Whether `rec` is an infra container.
pub fn is_infra(rec: &ContainerRecord) -> bool {
    rec.extra.get(INFRA_KEY).and_then(Value::as_bool) == Some(true)
}

/// Refuses what podman refuses for a container created in a pod.
pub fn check_options(pod: &PodOptions, o: &ContainerOptions) -> Result<(), PodError> {
    if pod.shares(Namespace::Net) && o.network.is_some() {
        return Err(PodError::Invalid(
            "invalid config provided: networks must be defined when the pod is created: network cannot be configured when it is shared with a pod".into(),
        ));
    }
    if pod.shares(Namespace::Uts) && o.uts.is_none() && o.hostname.is_some() {
        return Err(PodError::Invalid(
            "cannot set hostname when joining the pod UTS namespace: invalid config provided"
                .into(),
        ));
    }
    if o.userns.is_some() {
        return Err(PodError::Invalid(
            "--userns and --pod cannot be set together".into(),
        ));
    }
    if pod.infra && (!o.uidmap.is_empty() || !o.gidmap.is_empty()) {
        return Err(PodError::Invalid(
            "--uidmap/--gidmap and --pod cannot be set together: a pod's containers share its user namespace".into(),
        ));
    }
    Ok(())
}

fn ns_path(pid: i32, kind: &str) -> PathBuf {
    PathBuf::from(format!("/proc/{pid}/ns/{kind}"))
}

fn same_ns(a: &std::path::Path, b: &std::path::Path) -> bool {
    match (std::fs::read_link(a), std::fs::read_link(b)) {
        (Ok(x), Ok(y)) => x == y,
        _ => false,
    }
}

/// The namespaces a member with options `o` joins, the infra being `pid`.
/// A namespace the member set explicitly (`--ipc`, `--uts`, `--pid`,
/// `--cgroupns`) is its own, as in podman.
pub fn joins(
    paths: &Paths,
    pod: &PodRecord,
    opts: &PodOptions,
    o: &ContainerOptions,
    pid: i32,
) -> NamespaceJoins {
    let share = |ns: Namespace, own: &Option<String>| {
        (opts.shares(ns) && own.is_none()).then(|| ns_path(pid, ns.proc_name()))
    };
    let user = ns_path(pid, "user");
    let ipc = share(Namespace::Ipc, &o.ipc);
    NamespaceJoins {
        // The infra has a user namespace of its own (`pod create
        // --userns`): members join it. Otherwise they share the one this
        // process is in, which is the infra's.
        user: (!same_ns(&user, std::path::Path::new("/proc/self/ns/user"))).then_some(user),
        pid: share(Namespace::Pid, &o.pid),
        uts: share(Namespace::Uts, &o.uts),
        network: share(Namespace::Net, &o.network),
        cgroup: share(Namespace::Cgroup, &o.cgroupns),
        shm: ipc.as_ref().map(|_| infra::shm_dir(paths, &pod.id)),
        ipc,
    }
}

/// Makes sure the pod's infra exists in the runtime (created or running)
/// so its namespaces can be joined; returns its pid.
pub fn ensure_infra(eng: &mut Engine, pod: &PodRecord) -> Result<i32, PodError> {
    let missing = || PodError::InfraMissing {
        pod: pod.id.clone(),
        infra: pod.infra_id.clone().unwrap_or_default(),
    };
    let id = pod.infra_id.clone().ok_or_else(missing)?;
    let rec = eng.catalog.container(&id)?.ok_or_else(missing)?;
    let l = live(&eng.paths, &rec);
    if l.state.is_active() && l.pid > 0 {
        return Ok(l.pid);
    }
    // Another husk may be making it at the same moment: what counts is
    // that it exists afterwards.
    let made = start::prepare(eng, &rec, None);
    let rec = eng.catalog.container(&id)?.ok_or_else(missing)?;
    let l = live(&eng.paths, &rec);
    if let (Err(e), false) = (made, l.state.is_active()) {
        return Err(e.into());
    }
    if l.pid > 0 {
        Ok(l.pid)
    } else {
        Err(PodError::BadState(format!(
            "the infra container {id} of pod {} did not start",
            pod.id
        )))
    }
}

/// Where a new container goes (see [`Placement`]); `infra` when it is the
/// pod's infra container being made. Checks the member's options before
/// anything else; may create the infra in the runtime.
pub fn place(
    eng: &mut Engine,
    pod_id: Option<&str>,
    infra: bool,
    o: &ContainerOptions,
) -> Result<Placement> {
    let Some(pod_id) = pod_id else {
        return Ok(Placement::default());
    };
    let pod = eng
        .catalog
        .pod(pod_id)?
        .ok_or_else(|| pod_err(PodError::NotFound(pod_id.to_owned())))?;
    let opts = lookup::options(&pod);
    let cgroup_parent = lookup::cgroup_parent(&pod);
    if infra {
        return Ok(Placement {
            cgroup_parent,
            infra: true,
            ..Default::default()
        });
    }
    check_options(&opts, o).map_err(pod_err)?;
    if !opts.infra {
        return Ok(Placement {
            cgroup_parent,
            ..Default::default()
        });
    }
    let pid = ensure_infra(eng, &pod).map_err(pod_err)?;
    Ok(Placement {
        joins: joins(&eng.paths, &pod, &opts, o, pid),
        cgroup_parent,
        infra_pid: Some(pid),
        infra: false,
    })
}

/// Re-points the namespace paths of `config` (an OCI spec) from infra pid
/// `old` to `new`; returns whether anything changed.
pub fn repoint(config: &mut Value, old: i32, new: i32) -> bool {
    let from = format!("/proc/{old}/ns/");
    let to = format!("/proc/{new}/ns/");
    let mut changed = false;
    let Some(list) = config
        .pointer_mut("/linux/namespaces")
        .and_then(Value::as_array_mut)
    else {
        return false;
    };
    for ns in list {
        if let Some(Value::String(p)) = ns.get_mut("path") {
            if let Some(rest) = p.strip_prefix(&from) {
                *p = format!("{to}{rest}");
                changed = true;
            }
        }
    }
    changed
}

/// Before a member is instantiated: the infra must exist, and the
/// member's spec must name its current pid.
pub fn refresh(eng: &mut Engine, rec: &ContainerRecord) -> Result<()> {
    let Some(pod_id) = rec.pod_id.as_deref() else {
        return Ok(());
    };
    let Some(cur) = eng.catalog.container(&rec.id)? else {
        return Ok(());
    };
    let Some(old) = cur.extra.get(INFRA_PID_KEY).and_then(Value::as_i64) else {
        return Ok(()); // the infra itself, or a pod without one
    };
    let pod = eng
        .catalog
        .pod(pod_id)?
        .ok_or_else(|| pod_err(PodError::NotFound(pod_id.to_owned())))?;
    let new = ensure_infra(eng, &pod).map_err(pod_err)?;
    if i64::from(new) == old {
        return Ok(());
    }
    let path = eng.paths.userdata(&rec.id).join("config.json");
    let text = std::fs::read(&path).map_err(|e| ContainerError::io("reading", &path, e))?;
    let mut config: Value = serde_json::from_slice(&text)
        .map_err(|e| ContainerError::Other(format!("{}: {e}", path.display())))?;
    repoint(&mut config, old as i32, new);
    let text = serde_json::to_vec(&config).expect("JSON serialises");
    std::fs::write(&path, text).map_err(|e| ContainerError::io("writing", &path, e))?;
    let mut extra = cur.extra.clone();
    extra[INFRA_PID_KEY] = Value::from(new);
    eng.catalog.update_container(
        &rec.id,
        &StateUpdate {
            extra: Some(extra),
            ..Default::default()
        },
    )?;
    Ok(())
}

/// Before a member's program starts: its pod's infra runs first (podman
/// starts a container's dependencies, the infra among them).
pub fn start_infra_first(eng: &mut Engine, id: &str) -> Result<()> {
    let Some(rec) = eng.catalog.container(id)? else {
        return Ok(());
    };
    let (Some(pod_id), true) = (
        rec.pod_id.as_deref(),
        rec.extra.get(INFRA_PID_KEY).is_some(),
    ) else {
        return Ok(());
    };
    let Some(infra_id) = eng.catalog.pod(pod_id)?.and_then(|p| p.infra_id) else {
        return Ok(());
    };
    let Some(infra) = eng.catalog.container(&infra_id)? else {
        return Ok(());
    };
    match live(&eng.paths, &infra).state {
        State::Created => match start::start_created(eng, &infra_id) {
            // Started by another husk meanwhile.
            Err(_) if live(&eng.paths, &infra).state == State::Running => Ok(()),
            other => other,
        },
        State::Running | State::Paused => Ok(()),
        other => Err(ContainerError::BadState(format!(
            "the infra container {infra_id} of pod {pod_id} is {other}; start the pod with husk pod start {pod_id}"
        ))),
    }
}

/// Refuses to remove an infra container while its pod exists (remove the
/// pod instead).
pub fn refuse_infra_removal(eng: &Engine, rec: &ContainerRecord) -> Result<()> {
    if !is_infra(rec) {
        return Ok(());
    }
    let Some(pod) = rec.pod_id.as_deref() else {
        return Ok(());
    };
    if eng.catalog.pod(pod)?.is_some() {
        return Err(ContainerError::Other(format!(
            "container {} is the infra container of pod {pod} and cannot be removed without removing the pod",
            rec.id
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_what_podman_refuses() {
        let pod = PodOptions::default();
        let net = ContainerOptions {
            network: Some("host".into()),
            ..Default::default()
        };
        let e = check_options(&pod, &net).unwrap_err().to_string();
        assert!(e.contains("network cannot be configured"), "{e}");
        let h = ContainerOptions {
            hostname: Some("x".into()),
            ..Default::default()
        };
        let e = check_options(&pod, &h).unwrap_err().to_string();
        assert!(e.contains("joining the pod UTS namespace"), "{e}");
        // With a UTS namespace of its own, a member may name itself.
        check_options(
            &pod,
            &ContainerOptions {
                uts: Some("private".into()),
                ..h.clone()
            },
        )
        .unwrap();
        let u = ContainerOptions {
            userns: Some("keep-id".into()),
            ..Default::default()
        };
        assert!(check_options(&pod, &u).is_err());
        let alone = PodOptions {
            share: vec![Namespace::Ipc],
            ..Default::default()
        };
        check_options(&alone, &net).unwrap();
        check_options(&alone, &h).unwrap();
    }

    #[test]
    fn joins_follow_share_and_explicit_modes() {
        let pod = PodRecord {
            id: "p".repeat(64),
            name: "p".into(),
            created: String::new(),
            infra_id: None,
            options: serde_json::json!({}),
            extra: serde_json::json!({}),
        };
        let opts = PodOptions {
            share: vec![Namespace::Ipc, Namespace::Net, Namespace::Pid],
            ..Default::default()
        };
        let o = ContainerOptions {
            pid: Some("private".into()),
            ..Default::default()
        };
        let self_pid = std::process::id() as i32;
        let paths = Paths::resolve(
            Some(std::path::Path::new("/r")),
            Some(std::path::Path::new("/rr")),
        );
        let j = joins(&paths, &pod, &opts, &o, self_pid);
        assert_eq!(j.network, Some(ns_path(self_pid, "net")));
        assert_eq!(j.ipc, Some(ns_path(self_pid, "ipc")));
        assert_eq!(j.shm, Some(infra::shm_dir(&paths, &pod.id)));
        assert_eq!((j.pid, j.uts, j.cgroup), (None, None, None));
        // Our own user namespace: shared, not joined.
        assert_eq!(j.user, None);
    }

    #[test]
    fn repoints_only_the_infra_paths() {
        let mut c = serde_json::json!({"linux": {"namespaces": [
            {"type": "network", "path": "/proc/10/ns/net"},
            {"type": "pid", "path": "/proc/100/ns/pid"},
            {"type": "mount"}
        ]}});
        assert!(repoint(&mut c, 10, 42));
        assert_eq!(c["linux"]["namespaces"][0]["path"], "/proc/42/ns/net");
        assert_eq!(c["linux"]["namespaces"][1]["path"], "/proc/100/ns/pid");
        assert!(!repoint(&mut c, 7, 8));
    }
}
