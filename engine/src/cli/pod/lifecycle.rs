//! `pod start`, `stop`, `restart`, `kill`, `pause`, `unpause`, `rm`,
//! `prune` and `exists`.

use clap::Args;

use super::member::enter_for_pod;
use super::targets::{always_125, finish, for_each, PodTargets};
use crate::cli::ctx::Ctx;
use crate::cli::error::ENGINE_ERROR;
use crate::pod::error::PodError;
use crate::pod::{lifecycle, lookup, remove};

/// Flags of `pod start`, `pod restart`, `pod pause` and `pod unpause`.
#[derive(Debug, Args)]
pub struct PodArgs {
    /// The pods to act on.
    #[command(flatten)]
    pub targets: PodTargets,
}

/// Rootless, pods whose members need different user namespaces cannot be
/// started by one process: refuse more than one pod then.
fn one_at_a_time(ctx: &Ctx, n: usize, command: &str) -> anyhow::Result<()> {
    if ctx.paths.rootless && n > 1 {
        anyhow::bail!(
            "rootless husk can {command} one pod at a time (each pod lives in a user namespace of its own)"
        );
    }
    Ok(())
}

/// `husk pod start`.
pub fn start_cmd(ctx: &mut Ctx, a: PodArgs) -> anyhow::Result<i32> {
    let (pods, errs) = a.targets.resolve(ctx, "start", false)?;
    one_at_a_time(ctx, pods.len(), "start")?;
    if let Some(p) = pods.first() {
        enter_for_pod(ctx, p)?;
    }
    let eng = ctx.engine(true)?;
    Ok(for_each(pods, errs, always_125, |p| {
        lifecycle::start(eng, p)
    }))
}

/// `husk pod stop` flags.
#[derive(Debug, Args)]
pub struct StopArgs {
    /// Seconds to wait before killing the containers.
    #[arg(
        short = 't',
        long = "time",
        visible_alias = "timeout",
        value_name = "SECONDS"
    )]
    pub time: Option<u64>,
    /// Ignore pods that do not exist.
    #[arg(short = 'i', long)]
    pub ignore: bool,
    /// The pods to act on.
    #[command(flatten)]
    pub targets: PodTargets,
}

/// `husk pod stop`.
pub fn stop_cmd(ctx: &mut Ctx, a: StopArgs) -> anyhow::Result<i32> {
    let (pods, errs) = a.targets.resolve(ctx, "stop", a.ignore)?;
    let eng = ctx.engine(false)?;
    Ok(for_each(pods, errs, always_125, |p| {
        lifecycle::stop(eng, p, a.time)
    }))
}

/// `husk pod restart` flags.
#[derive(Debug, Args)]
pub struct RestartArgs {
    /// The pods to act on.
    #[command(flatten)]
    pub targets: PodTargets,
}

/// `husk pod restart`: stop, then start (in a fresh namespace rootless:
/// the infra is created again).
pub fn restart_cmd(ctx: &mut Ctx, a: RestartArgs) -> anyhow::Result<i32> {
    let (pods, errs) = a.targets.resolve(ctx, "restart", false)?;
    one_at_a_time(ctx, pods.len(), "restart")?;
    let eng = ctx.engine(false)?;
    let mut errs = errs;
    let mut stopped = Vec::new();
    for p in pods {
        match lifecycle::stop(eng, &p, None) {
            Ok(()) => stopped.push(p),
            Err(e) => errs.push(e),
        }
    }
    if let Some(p) = stopped.first() {
        enter_for_pod(ctx, p)?;
    }
    let eng = ctx.engine(true)?;
    Ok(for_each(stopped, errs, always_125, |p| {
        lifecycle::start(eng, p)
    }))
}

/// `husk pod kill` flags.
#[derive(Debug, Args)]
pub struct KillArgs {
    /// The signal to send.
    #[arg(short = 's', long, default_value = "KILL", value_name = "SIGNAL")]
    pub signal: String,
    /// The pods to act on.
    #[command(flatten)]
    pub targets: PodTargets,
}

/// `husk pod kill`.
pub fn kill_cmd(ctx: &mut Ctx, a: KillArgs) -> anyhow::Result<i32> {
    let sig = husk_runtime::signal::parse(&a.signal)
        .map_err(|_| anyhow::anyhow!("invalid signal: {}", a.signal))?;
    let (pods, errs) = a.targets.resolve(ctx, "kill", false)?;
    let eng = ctx.engine(false)?;
    Ok(for_each(pods, errs, always_125, |p| {
        lifecycle::kill(eng, p, sig)
    }))
}

fn set_paused(ctx: &mut Ctx, a: PodArgs, pause: bool) -> anyhow::Result<i32> {
    let verb = if pause { "pause" } else { "unpause" };
    let (pods, errs) = a.targets.resolve(ctx, verb, false)?;
    let eng = ctx.engine(false)?;
    Ok(for_each(pods, errs, always_125, |p| {
        lifecycle::set_paused(eng, p, pause)
    }))
}

/// `husk pod pause`.
pub fn pause_cmd(ctx: &mut Ctx, a: PodArgs) -> anyhow::Result<i32> {
    set_paused(ctx, a, true)
}

/// `husk pod unpause`.
pub fn unpause_cmd(ctx: &mut Ctx, a: PodArgs) -> anyhow::Result<i32> {
    set_paused(ctx, a, false)
}

/// `husk pod rm` flags.
#[derive(Debug, Args)]
pub struct RmArgs {
    /// Stop running containers first, then remove them all.
    #[arg(short = 'f', long)]
    pub force: bool,
    /// Seconds to wait for a forced stop before killing.
    #[arg(short = 't', long = "time", value_name = "SECONDS")]
    pub time: Option<u64>,
    /// Ignore pods that do not exist.
    #[arg(short = 'i', long)]
    pub ignore: bool,
    /// The pods to act on.
    #[command(flatten)]
    pub targets: PodTargets,
}

/// podman pod rm's statuses: 1 no such pod, 2 a member runs, 125 else.
fn rm_status(e: &PodError) -> i32 {
    match e {
        PodError::NotFound(_) => 1,
        PodError::BadState(_) => 2,
        _ => ENGINE_ERROR,
    }
}

/// `husk pod rm`.
pub fn rm_cmd(ctx: &mut Ctx, a: RmArgs) -> anyhow::Result<i32> {
    if a.time.is_some() && !a.force {
        anyhow::bail!("--force option must be specified to use the --time option");
    }
    let (pods, mut errs) = a.targets.resolve(ctx, "rm", a.ignore)?;
    // Signals first, from the namespace husk was started in (see
    // remove::stop_for_removal); the files then from husk's own.
    let eng = ctx.engine(false)?;
    let mut stopped = Vec::with_capacity(pods.len());
    for p in pods {
        match remove::stop_for_removal(eng, &p, a.force, a.time) {
            Ok(()) => stopped.push(p),
            Err(e) => errs.push(e),
        }
    }
    ctx.enter_storage_ns()?;
    let eng = ctx.engine(true)?;
    let code = for_each(stopped, errs, rm_status, |p| {
        remove::remove(eng, p, a.force, a.time)
    });
    for f in &a.targets.pod_id_file {
        if code == 0 {
            let _ = std::fs::remove_file(f);
        }
    }
    Ok(code)
}

/// `husk pod prune` flags.
#[derive(Debug, Args)]
pub struct PruneArgs {
    /// Do not ask for confirmation.
    #[arg(short = 'f', long)]
    pub force: bool,
}

/// `husk pod prune`: removes every pod whose containers have all exited.
pub fn prune_cmd(ctx: &mut Ctx, a: PruneArgs) -> anyhow::Result<i32> {
    if !a.force {
        use std::io::BufRead;
        eprint!("WARNING! This will remove all stopped/exited pods..\nAre you sure you want to continue? [y/N] ");
        let mut answer = String::new();
        std::io::stdin().lock().read_line(&mut answer)?;
        if !matches!(answer.trim(), "y" | "Y" | "yes") {
            return Ok(0);
        }
    }
    // Only pods with no running container go: nothing to signal, so
    // husk's own namespace suits the whole command.
    let eng = ctx.engine(true)?;
    let mut errs = Vec::new();
    for pod in eng.catalog.pods()? {
        if !remove::prunable(eng, &pod)? {
            continue;
        }
        match remove::remove(eng, &pod, false, None) {
            Ok(()) => println!("{}", pod.id),
            Err(e) => errs.push(e),
        }
    }
    Ok(finish(errs, always_125))
}

/// `husk pod exists` arguments.
#[derive(Debug, Args)]
pub struct ExistsArgs {
    /// The pod.
    pub pod: String,
}

/// `husk pod exists`: status 0 when the pod exists, 1 when not.
pub fn exists_cmd(ctx: &mut Ctx, a: ExistsArgs) -> anyhow::Result<i32> {
    match lookup::find(ctx.catalog()?, &a.pod) {
        Ok(_) => Ok(0),
        Err(PodError::NotFound(_)) => Ok(1),
        Err(e) => Err(e.into()),
    }
}
