//! Commands that act on several pods (`pod stop a b`, `pod rm --all`):
//! pick the pods, run the action on each, print the full id of each
//! success (as podman does) and every error, and choose the exit status.

use std::path::PathBuf;

use clap::Args;

use crate::catalog::pods::PodRecord;
use crate::cli::ctx::Ctx;
use crate::cli::error::{self, ENGINE_ERROR};
use crate::pod::error::PodError;
use crate::pod::lookup;

/// Flags that choose pods.
#[derive(Debug, Clone, Default, Args)]
pub struct PodTargets {
    /// Act on all pods.
    #[arg(short = 'a', long)]
    pub all: bool,
    /// Act on the most recently created pod.
    #[arg(short = 'l', long)]
    pub latest: bool,
    /// Read the pod id from this file (repeatable).
    #[arg(long = "pod-id-file", value_name = "FILE")]
    pub pod_id_file: Vec<PathBuf>,
    /// Pods (names or ids).
    #[arg(value_name = "POD")]
    pub names: Vec<String>,
}

/// The exit status for a failed action on one pod.
pub type Classify = fn(&PodError) -> i32;

/// podman's statuses for most pod commands: 125 for everything.
pub fn always_125(_: &PodError) -> i32 {
    ENGINE_ERROR
}

impl PodTargets {
    /// Resolves the pods; a name that matches nothing is an error kept for
    /// the report (unless `ignore_missing`), the others go on.
    pub fn resolve(
        &self,
        ctx: &mut Ctx,
        command: &str,
        ignore_missing: bool,
    ) -> anyhow::Result<(Vec<PodRecord>, Vec<PodError>)> {
        let mut names = self.names.clone();
        for f in &self.pod_id_file {
            match std::fs::read_to_string(f) {
                Ok(t) => names.extend(t.split_whitespace().next().map(str::to_owned)),
                Err(e) if ignore_missing && e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => anyhow::bail!("reading pod id file {}: {e}", f.display()),
            }
        }
        let given = !self.names.is_empty() || !self.pod_id_file.is_empty();
        let n = usize::from(self.all) + usize::from(self.latest) + usize::from(given);
        if n == 0 {
            anyhow::bail!("you must provide at least one pod name or id");
        }
        if n > 1 {
            anyhow::bail!("--all, --latest and pods cannot be used together with pod {command}");
        }
        let cat = ctx.catalog()?;
        let mut out = Vec::new();
        let mut errs = Vec::new();
        if self.all {
            out = cat.pods()?;
        } else if self.latest {
            out.push(lookup::latest(cat)?);
        } else {
            for name in &names {
                match lookup::find(cat, name) {
                    Ok(p) => out.push(p),
                    Err(PodError::NotFound(_)) if ignore_missing => {}
                    Err(e) => errs.push(e),
                }
            }
        }
        Ok((out, errs))
    }
}

/// Prints each error as `Error: ...` and returns the exit status (see
/// [`error::finish_all`]).
pub fn finish(errors: Vec<PodError>, classify: Classify) -> i32 {
    error::finish_all(&errors, classify)
}

/// Runs `action` on every pod, printing its id on success; then reports
/// the errors.
pub fn for_each(
    pods: Vec<PodRecord>,
    mut errors: Vec<PodError>,
    classify: Classify,
    mut action: impl FnMut(&PodRecord) -> Result<(), PodError>,
) -> i32 {
    for pod in pods {
        match action(&pod) {
            Ok(()) => println!("{}", pod.id),
            Err(e) => errors.push(e),
        }
    }
    finish(errors, classify)
}
