//! Creating a pod: its catalog row (which reserves the name in the name
//! space it shares with containers), its directories, and its infra
//! container, created in the runtime (its process waits, as any created
//! container does, with the pod's namespaces already made). A failure at
//! any step removes what the earlier ones made: no row, container, cgroup,
//! directory or mount is left.

use serde_json::json;

use super::error::{PodError, Result};
use super::options::PodOptions;
use super::{cgroup, infra};
use crate::catalog::pods::PodRecord;
use crate::catalog::CatalogError;
use crate::container::create::{self, CreateRequest};
use crate::container::{id, remove, stop};
use crate::engine::Engine;

/// What to create.
#[derive(Debug, Clone, Default)]
pub struct PodRequest {
    /// `--name` (a generated one when `None`).
    pub name: Option<String>,
    /// The options.
    pub opts: PodOptions,
    /// `--share` was given (so it cannot go with `--infra=false`).
    pub share_given: bool,
}

/// Removes a half-made pod unless disarmed.
struct Undo<'a> {
    eng: &'a mut Engine,
    pod: Option<PodRecord>,
}

impl Drop for Undo<'_> {
    fn drop(&mut self) {
        if let Some(pod) = self.pod.take() {
            let _ = purge(self.eng, &pod);
        }
    }
}

/// Removes what is left of a pod whose containers are gone: its cgroup,
/// its directories and, last (so a failure leaves a row to retry on), its
/// row.
pub fn purge(eng: &mut Engine, pod: &PodRecord) -> Result<()> {
    for c in eng.catalog.containers_of_pod(&pod.id)? {
        // Only the infra is left here (rm removes the others first), or a
        // half-made one when create fails.
        stop::stop(eng, &c, Some(0))?;
        remove::purge(eng, &c)?;
    }
    if let Some(cg) = super::lookup::cgroup_parent(pod) {
        cgroup::remove(&cg)?;
    }
    infra::remove_dirs(&eng.paths, &pod.id)?;
    eng.catalog.remove_pod(&pod.id)?;
    Ok(())
}

fn insert(eng: &mut Engine, mut pod: PodRecord, given: bool) -> Result<PodRecord> {
    for _ in 0..16 {
        match eng.catalog.insert_pod(&pod) {
            Ok(()) => return Ok(pod),
            Err(CatalogError::NameInUse { .. }) if !given => pod.name = id::random_name(),
            Err(e) => return Err(e.into()),
        }
    }
    Err(PodError::Invalid(
        "could not find a free name for the pod; give one with --name".into(),
    ))
}

/// Creates a pod and its infra container; returns the pod's record.
pub fn create(eng: &mut Engine, req: &PodRequest) -> Result<PodRecord> {
    let opts = &req.opts;
    opts.check(req.share_given)?;
    if let Some(n) = &req.name {
        id::validate_name(n).map_err(PodError::Invalid)?;
    }
    let pod_id = id::new_id();
    let cgroup_parent = cgroup::path(opts, &pod_id, eng.paths.rootless);
    let pod = PodRecord {
        id: pod_id.clone(),
        name: req.name.clone().unwrap_or_else(id::random_name),
        created: husk_runtime::time::now(),
        infra_id: None,
        options: serde_json::to_value(opts).expect("options serialise"),
        extra: json!({ "cgroup_parent": cgroup_parent }),
    };
    let pod = insert(eng, pod, req.name.is_some())?;
    let mut undo = Undo {
        eng,
        pod: Some(pod.clone()),
    };
    let eng = &mut *undo.eng;
    if opts.infra {
        infra::make_dirs(&eng.paths, &pod, opts)?;
        let copts = infra::options(&eng.paths, &pod, opts, &eng.exe)?;
        let rec = create::create(
            eng,
            &CreateRequest {
                opts: copts,
                image: None,
                pod_id: Some(pod_id.clone()),
                infra: true,
                tty_size: None,
            },
        )?;
        eng.catalog.update_pod(&pod_id, Some(&rec.id), &pod.extra)?;
    }
    undo.pod = None;
    let pod = undo
        .eng
        .catalog
        .pod(&pod_id)?
        .ok_or_else(|| PodError::NotFound(pod_id.clone()))?;
    Ok(pod)
}
