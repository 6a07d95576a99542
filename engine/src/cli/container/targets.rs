//! Commands that act on several containers (`stop a b`, `rm --all`): pick
//! the targets, run the action on each, print what succeeded and every
//! error, and choose the exit status as podman does.

use clap::Args;

use crate::catalog::containers::ContainerRecord;
use crate::cli::ctx::Ctx;
use crate::cli::error::{self, ENGINE_ERROR};
use crate::container::error::ContainerError;
use crate::container::lookup;

/// Flags that choose containers.
#[derive(Debug, Clone, Default, Args)]
pub struct Targets {
    /// Act on all containers.
    #[arg(short = 'a', long)]
    pub all: bool,
    /// Act on the most recently created container.
    #[arg(short = 'l', long)]
    pub latest: bool,
    /// Containers (names or ids).
    #[arg(value_name = "CONTAINER")]
    pub names: Vec<String>,
}

/// Target flags of `start`, whose `-a` means `--attach`: `--all` has no
/// short form there, as in podman.
#[derive(Debug, Clone, Default, Args)]
pub struct StartTargets {
    /// Act on all containers.
    #[arg(long)]
    pub all: bool,
    /// Act on the most recently created container.
    #[arg(short = 'l', long)]
    pub latest: bool,
    /// Containers (names or ids).
    #[arg(value_name = "CONTAINER")]
    pub names: Vec<String>,
}

impl From<StartTargets> for Targets {
    fn from(t: StartTargets) -> Targets {
        Targets {
            all: t.all,
            latest: t.latest,
            names: t.names,
        }
    }
}

/// One target: what the user typed (or the id, for --all) and its record.
pub type Target = (String, ContainerRecord);

/// The exit status for a failed action on one container.
pub type Classify = fn(&ContainerError) -> i32;

/// podman's statuses for most commands: 125 for everything.
pub fn always_125(_: &ContainerError) -> i32 {
    ENGINE_ERROR
}

impl Targets {
    /// Resolves the targets; a name that matches nothing is an error kept
    /// for the report, the others go on.
    pub fn resolve(
        &self,
        ctx: &mut Ctx,
        command: &str,
        ignore_missing: bool,
    ) -> anyhow::Result<(Vec<Target>, Vec<ContainerError>)> {
        let n =
            usize::from(self.all) + usize::from(self.latest) + usize::from(!self.names.is_empty());
        if n == 0 {
            anyhow::bail!("you must provide at least one name or id");
        }
        if n > 1 {
            anyhow::bail!("--all, --latest and containers cannot be used together with {command}");
        }
        let cat = ctx.catalog()?;
        let mut out = Vec::new();
        let mut errs = Vec::new();
        if self.all {
            for c in cat.containers()? {
                out.push((c.id.clone(), c));
            }
        } else if self.latest {
            let c = lookup::latest(cat)?;
            out.push((c.id.clone(), c));
        } else {
            for name in &self.names {
                match lookup::find(cat, name) {
                    Ok(c) => out.push((name.clone(), c)),
                    Err(ContainerError::NotFound(_)) if ignore_missing => {}
                    Err(e) => errs.push(e),
                }
            }
        }
        Ok((out, errs))
    }
}

/// Prints each error as `Error: ...` and returns the exit status (see
/// [`error::finish_all`]).
pub fn finish(errors: Vec<ContainerError>, classify: Classify) -> i32 {
    error::finish_all(&errors, classify)
}

/// Runs `action` on every target, printing the user's name for each
/// success; then reports the errors.
pub fn for_each(
    targets: Vec<Target>,
    mut errors: Vec<ContainerError>,
    classify: Classify,
    mut action: impl FnMut(&ContainerRecord) -> Result<(), ContainerError>,
) -> i32 {
    for (shown, rec) in targets {
        match action(&rec) {
            Ok(()) => println!("{shown}"),
            Err(e) => errors.push(e),
        }
    }
    finish(errors, classify)
}
