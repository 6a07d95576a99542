//! `husk pod inspect`, and the pod document the generic `husk inspect`
//! looks up.

use clap::Args;
use serde_json::Value;

use crate::cli::ctx::Ctx;
use crate::format::json::{self, JsonStyle};
use crate::format::{self, Headers, Origin, Report};
use crate::pod::{inspect, lookup, PodError};

/// `husk pod inspect` flags.
#[derive(Debug, Args)]
pub struct InspectArgs {
    /// Go template, or json (the default).
    #[arg(short = 'f', long, value_name = "FORMAT")]
    pub format: Option<String>,
    /// Inspect the latest pod.
    #[arg(short = 'l', long)]
    pub latest: bool,
    /// Pods (names or ids).
    #[arg(value_name = "POD")]
    pub names: Vec<String>,
}

/// The inspect document of the pod `name` names; `None` when there is no
/// such pod.
pub fn inspect_doc(ctx: &mut Ctx, name: &str) -> anyhow::Result<Option<Value>> {
    let paths = ctx.paths.clone();
    let cat = ctx.catalog()?;
    match lookup::find(cat, name) {
        Ok(pod) => Ok(Some(inspect::inspect(&paths, cat, &pod)?)),
        Err(PodError::NotFound(_)) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// `husk pod inspect`: podman 5's array of documents; a missing pod is an
/// error (exit 125) after the others are printed.
pub fn inspect_cmd(ctx: &mut Ctx, a: InspectArgs) -> anyhow::Result<i32> {
    let report = match a.format.as_deref() {
        Some(f) if !format::is_json(f) => Some(Report::parse("pod inspect", Origin::User, f)?),
        _ => None,
    };
    let names = if a.latest {
        vec![lookup::latest(ctx.catalog()?)?.id]
    } else if a.names.is_empty() {
        anyhow::bail!("you must provide at least one pod name or id (or --latest)");
    } else {
        a.names
    };
    let mut docs = Vec::new();
    let mut missing = Vec::new();
    for n in &names {
        match inspect_doc(ctx, n)? {
            Some(d) => docs.push(d),
            None => missing.push(PodError::NotFound(n.clone())),
        }
    }
    match report {
        Some(r) => print!("{}", r.render(&docs, &Headers::default(), false)?),
        None => println!("{}", json::to_string(&docs, JsonStyle::INSPECT)?),
    }
    match missing.pop() {
        None => Ok(0),
        Some(last) => {
            for e in missing {
                eprintln!("Error: {e}");
            }
            Err(last.into())
        }
    }
}
