//! What container commands need for pod members: `--pod NAME` and
//! `--pod new:NAME` of `run`/`create`, and, rootless, entering the user
//! namespace the pod's infra lives in before a member is created or
//! started (see [`Ctx::enter_pod_ns`]).

use crate::catalog::containers::ContainerRecord;
use crate::catalog::pods::PodRecord;
use crate::cli::ctx::Ctx;
use crate::container::live::live;
use crate::container::options::ContainerOptions;
use crate::pod::create::{self, PodRequest};
use crate::pod::{lookup, member};

/// The infra's shim while the infra exists in the runtime: the process
/// that keeps the user namespace the infra (and its namespaces) belong to.
fn infra_shim(ctx: &mut Ctx, pod: &PodRecord) -> anyhow::Result<Option<i32>> {
    let Some(id) = pod.infra_id.clone() else {
        return Ok(None);
    };
    let paths = ctx.paths.clone();
    let Some(rec) = ctx.catalog()?.container(&id)? else {
        return Ok(None);
    };
    if !live(&paths, &rec).state.is_active() || rec.shim_pid <= 0 {
        return Ok(None);
    }
    // Still that infra's shim, not a recycled pid: its argv names the infra.
    let argv = std::fs::read(format!("/proc/{}/cmdline", rec.shim_pid)).unwrap_or_default();
    let ours = argv.split(|b| *b == 0).any(|a| a == id.as_bytes());
    Ok(ours.then_some(rec.shim_pid))
}

/// Rootless: enters the namespaces a command that creates or starts
/// members of `pod` needs: the infra's user namespace while the infra
/// exists, else a fresh one (in which the infra is then created again).
/// No-op rootful.
pub fn enter_for_pod(ctx: &mut Ctx, pod: &PodRecord) -> anyhow::Result<()> {
    if !ctx.paths.rootless {
        return Ok(());
    }
    match infra_shim(ctx, pod)? {
        Some(pid) => ctx.enter_pod_ns(pid),
        None => ctx.enter_storage_ns(),
    }
}

/// `start`/`restart` of containers: rootless, the namespace of the pod
/// the members among `targets` belong to. Members of different pods are
/// refused together (each needs its own namespace).
pub fn enter_for_members(ctx: &mut Ctx, targets: &[&ContainerRecord]) -> anyhow::Result<()> {
    if !ctx.paths.rootless {
        return Ok(());
    }
    let mut pods: Vec<&str> = targets
        .iter()
        .filter(|r| !member::is_infra(r))
        .filter_map(|r| r.pod_id.as_deref())
        .collect();
    pods.sort();
    pods.dedup();
    match pods[..] {
        [] => Ok(()),
        [one] => {
            let pod = ctx.catalog()?.pod(one)?;
            match pod {
                Some(p) => enter_for_pod(ctx, &p),
                None => Ok(()),
            }
        }
        _ => anyhow::bail!(
            "rootless husk starts containers of one pod at a time: start the members of each pod separately, or use husk pod start"
        ),
    }
}

/// The pod a new container joins.
#[derive(Debug)]
pub struct MemberPod {
    /// The pod.
    pub pod: PodRecord,
    /// `--pod new:NAME` made it (so a failed create removes it again).
    pub made: bool,
}

/// Resolves `--pod` of `run`/`create` (`NAME`, an id, or `new:NAME`, which
/// creates the pod), enters its namespace, and records the pod's name in
/// the options.
pub fn resolve(ctx: &mut Ctx, opts: &mut ContainerOptions) -> anyhow::Result<Option<MemberPod>> {
    let Some(want) = opts.pod.clone() else {
        return Ok(None);
    };
    if let Some(name) = want.strip_prefix("new:") {
        let eng = ctx.engine(true)?;
        let pod = create::create(
            eng,
            &PodRequest {
                name: Some(name.to_owned()),
                ..Default::default()
            },
        )?;
        opts.pod = Some(pod.name.clone());
        return Ok(Some(MemberPod { pod, made: true }));
    }
    let pod = lookup::find(ctx.catalog()?, &want)?;
    enter_for_pod(ctx, &pod)?;
    opts.pod = Some(pod.name.clone());
    Ok(Some(MemberPod { pod, made: false }))
}

impl MemberPod {
    /// After a failed create: removes the pod when this command made it,
    /// so bad input leaves nothing behind.
    pub fn undo(&self, ctx: &mut Ctx) {
        if !self.made {
            return;
        }
        if let Ok(eng) = ctx.engine(true) {
            let _ = crate::pod::remove::remove(eng, &self.pod, true, Some(0));
        }
    }
}
