//! `husk pod top`: the processes of every running container of a pod
//! (the infra's pause included), with `top`'s format descriptors.

use clap::Args;

use crate::catalog::containers::State;
use crate::cli::container::top;
use crate::cli::ctx::Ctx;
use crate::pod::lookup;
use crate::pod::status::members;

/// `husk pod top` arguments.
#[derive(Debug, Args)]
pub struct TopArgs {
    /// Use the most recently created pod.
    #[arg(short = 'l', long)]
    pub latest: bool,
    /// The pod (unless --latest), then format descriptors.
    #[arg(value_name = "POD [DESCRIPTOR...]")]
    pub args: Vec<String>,
}

/// `husk pod top`.
pub fn top_cmd(ctx: &mut Ctx, a: TopArgs) -> anyhow::Result<i32> {
    let (name, descs) = if a.latest {
        (None, &a.args[..])
    } else if let Some((first, rest)) = a.args.split_first() {
        (Some(first.as_str()), rest)
    } else {
        anyhow::bail!("you must provide the name or id of a running pod");
    };
    let descs = top::descriptors(descs)?;
    let paths = ctx.paths.clone();
    let cat = ctx.catalog()?;
    let pod = match name {
        Some(n) => lookup::find(cat, n)?,
        None => lookup::latest(cat)?,
    };
    let running: Vec<_> = members(&paths, cat, &pod)?
        .into_iter()
        .filter(|m| matches!(m.live.state, State::Running | State::Paused))
        .collect();
    let Some(first) = running.first() else {
        anyhow::bail!(
            "pod top can only be used on pods with at least one running container: pod {} has none",
            pod.id
        );
    };
    if paths.rootless && !crate::userns::inside() {
        // Ids as the pod's user namespace maps them (the infra's, which the
        // members share or were made with the same mapping as).
        crate::userns::join(first.live.pid)?;
    }
    let mut all = Vec::with_capacity(running.len());
    for m in &running {
        all.push(top::processes(&paths, &m.rec.id, m.live.pid)?);
    }
    print!("{}", top::table(&descs, &all));
    Ok(0)
}
