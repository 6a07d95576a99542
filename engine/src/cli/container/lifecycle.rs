//! `stop`, `kill`, `rm`, `pause`, `unpause`, `rename`, `wait`,
//! `container exists` and the shim's `container cleanup`.

use std::time::Duration;

use clap::Args;

use super::targets::{always_125, for_each, Targets};
use crate::catalog::containers::State;
use crate::cli::ctx::Ctx;
use crate::container::error::ContainerError;
use crate::container::live::live;
use crate::container::{cleanup, lookup, remove, stop, wait};

/// `husk stop` flags.
#[derive(Debug, Args)]
pub struct StopArgs {
    /// Seconds to wait before killing the container.
    #[arg(
        short = 't',
        long = "time",
        visible_alias = "timeout",
        value_name = "SECONDS"
    )]
    pub time: Option<u64>,
    /// Ignore containers that do not exist.
    #[arg(short = 'i', long)]
    pub ignore: bool,
    /// The containers to act on.
    #[command(flatten)]
    pub targets: Targets,
}

/// `husk stop`.
pub fn stop_cmd(ctx: &mut Ctx, a: StopArgs) -> anyhow::Result<i32> {
    let (targets, errs) = a.targets.resolve(ctx, "stop", a.ignore)?;
    let eng = ctx.engine(false)?;
    Ok(for_each(targets, errs, always_125, |rec| {
        stop::stop(eng, rec, a.time)
    }))
}

/// `husk kill` flags.
#[derive(Debug, Args)]
pub struct KillArgs {
    /// The signal to send.
    #[arg(short = 's', long, default_value = "KILL", value_name = "SIGNAL")]
    pub signal: String,
    /// The containers to act on.
    #[command(flatten)]
    pub targets: Targets,
}

/// `husk kill`.
pub fn kill_cmd(ctx: &mut Ctx, a: KillArgs) -> anyhow::Result<i32> {
    let sig = husk_runtime::signal::parse(&a.signal)
        .map_err(|_| anyhow::anyhow!("invalid signal: {}", a.signal))?;
    let (targets, errs) = a.targets.resolve(ctx, "kill", false)?;
    let eng = ctx.engine(false)?;
    Ok(for_each(targets, errs, always_125, |rec| {
        stop::kill(eng, rec, sig)
    }))
}

/// `husk rm` flags.
#[derive(Debug, Args)]
pub struct RmArgs {
    /// Stop running containers first.
    #[arg(short = 'f', long)]
    pub force: bool,
    /// Seconds to wait for a forced stop before killing.
    #[arg(short = 't', long = "time", value_name = "SECONDS")]
    pub time: Option<u64>,
    /// Ignore containers that do not exist.
    #[arg(short = 'i', long)]
    pub ignore: bool,
    /// Remove anonymous volumes too (husk has none yet: accepted).
    #[arg(short = 'v', long)]
    pub volumes: bool,
    /// The containers to act on.
    #[command(flatten)]
    pub targets: Targets,
}

/// podman rm's statuses: 1 no such container, 2 running without --force.
fn rm_status(e: &ContainerError) -> i32 {
    match e {
        ContainerError::NotFound(_) => 1,
        ContainerError::BadState(_) => 2,
        _ => crate::cli::error::ENGINE_ERROR,
    }
}

/// `husk rm`.
pub fn rm_cmd(ctx: &mut Ctx, a: RmArgs) -> anyhow::Result<i32> {
    if a.time.is_some() && !a.force {
        anyhow::bail!("--force option must be specified to use the --time option");
    }
    // As podman: --force also ignores containers that do not exist.
    let (targets, errs) = a.targets.resolve(ctx, "rm", a.ignore || a.force)?;
    if a.force && ctx.paths.rootless {
        // Stop them from here, before entering a fresh storage namespace:
        // only the user outside can signal processes of a container's own
        // user namespace (a sibling namespace with the same mapping has no
        // capabilities over it).
        // What rm will refuse (a pod's infra) must not be stopped first.
        let eng = ctx.engine(false)?;
        for (_, rec) in &targets {
            if crate::pod::member::refuse_infra_removal(eng, rec).is_ok() {
                let _ = stop::stop(eng, rec, a.time);
            }
        }
    }
    let eng = ctx.engine(true)?;
    Ok(for_each(targets, errs, rm_status, |rec| {
        // Re-read: a rootless stop above may have changed it.
        let cur = eng
            .catalog
            .container(&rec.id)?
            .unwrap_or_else(|| rec.clone());
        remove::remove(eng, &cur, a.force, a.time)
    }))
}

/// `husk pause` / `husk unpause` flags.
#[derive(Debug, Args)]
pub struct PauseArgs {
    /// The containers to act on.
    #[command(flatten)]
    pub targets: Targets,
}

fn set_paused(ctx: &mut Ctx, a: PauseArgs, pause: bool) -> anyhow::Result<i32> {
    let (targets, errs) = a
        .targets
        .resolve(ctx, if pause { "pause" } else { "unpause" }, false)?;
    let eng = ctx.engine(false)?;
    Ok(for_each(targets, errs, always_125, |rec| {
        let l = live(&eng.paths, rec);
        let (want, verb) = if pause {
            (State::Running, "is not running, can't pause")
        } else {
            (State::Paused, "is not paused, can't unpause")
        };
        if pause && l.state == State::Paused {
            return Err(ContainerError::BadState(format!(
                "{:?} is already paused",
                rec.name
            )));
        }
        if l.state != want {
            return Err(ContainerError::BadState(format!("{:?} {verb}", rec.name)));
        }
        let root = eng
            .runtime_root()
            .map_err(|e| ContainerError::io("opening", eng.paths.runtime_root(), e))?;
        if pause {
            husk_runtime::container::pause(&root, &rec.id).map_err(|e| {
                if eng.paths.rootless {
                    ContainerError::Other(format!(
                        "can not pause containers on rootless containers without a delegated cgroup (cgroup v2 with Delegate=yes): {e}"
                    ))
                } else {
                    e.into()
                }
            })?;
        } else {
            husk_runtime::container::resume(&root, &rec.id)?;
        }
        let state = if pause { State::Paused } else { State::Running };
        eng.catalog.update_container(
            &rec.id,
            &crate::catalog::containers::StateUpdate {
                state: Some(state),
                ..Default::default()
            },
        )?;
        Ok(())
    }))
}

/// `husk pause`.
pub fn pause_cmd(ctx: &mut Ctx, a: PauseArgs) -> anyhow::Result<i32> {
    set_paused(ctx, a, true)
}

/// `husk unpause`.
pub fn unpause_cmd(ctx: &mut Ctx, a: PauseArgs) -> anyhow::Result<i32> {
    set_paused(ctx, a, false)
}

/// `husk rename` arguments.
#[derive(Debug, Args)]
pub struct RenameArgs {
    /// The container.
    pub container: String,
    /// Its new name.
    pub name: String,
}

/// `husk rename`.
pub fn rename_cmd(ctx: &mut Ctx, a: RenameArgs) -> anyhow::Result<i32> {
    crate::container::id::validate_name(&a.name).map_err(|e| anyhow::anyhow!(e))?;
    let cat = ctx.catalog()?;
    let rec = lookup::find(cat, &a.container)?;
    cat.rename_container(&rec.id, &rec.name, &a.name)?;
    Ok(0)
}

/// `husk wait` flags.
#[derive(Debug, Args)]
pub struct WaitArgs {
    /// The state to wait for: stopped, exited, running, paused, created.
    #[arg(long, value_name = "STATE", default_value = "stopped")]
    pub condition: Vec<String>,
    /// Polling interval for non-exit conditions (e.g. 250ms).
    #[arg(short = 'i', long, value_name = "DURATION", default_value = "250ms")]
    pub interval: String,
    /// Ignore containers that do not exist.
    #[arg(long)]
    pub ignore: bool,
    /// The containers to act on.
    #[command(flatten)]
    pub targets: Targets,
}

fn parse_interval(s: &str) -> anyhow::Result<Duration> {
    let ns = crate::format::duration::parse_go_duration(s)
        .map_err(|e| anyhow::anyhow!("invalid --interval {s:?}: {e}"))?;
    Ok(Duration::from_nanos(ns.max(0) as u64))
}

/// `husk wait`: prints each container's exit code once it reaches the
/// condition.
pub fn wait_cmd(ctx: &mut Ctx, a: WaitArgs) -> anyhow::Result<i32> {
    let interval = parse_interval(&a.interval)?;
    let mut wanted = Vec::new();
    for c in &a.condition {
        wanted.push(match c.as_str() {
            "stopped" | "exited" => State::Exited,
            "running" => State::Running,
            "paused" => State::Paused,
            "created" => State::Created,
            "configured" => State::Configured,
            other => anyhow::bail!("invalid condition {other:?}: use stopped, exited, running, paused, created or configured"),
        });
    }
    if a.ignore {
        // podman 5: a missing container waits for nothing and reports -1,
        // in its place among the others.
        let cat = ctx.catalog()?;
        let present: Vec<String> = a
            .targets
            .names
            .iter()
            .filter(|n| lookup::find(cat, n).is_ok())
            .cloned()
            .collect();
        for n in &a.targets.names {
            if present.contains(n) {
                let one = WaitArgs {
                    condition: a.condition.clone(),
                    interval: a.interval.clone(),
                    ignore: false,
                    targets: Targets {
                        names: vec![n.clone()],
                        ..Default::default()
                    },
                };
                wait_cmd(ctx, one)?;
            } else {
                println!("-1");
            }
        }
        return Ok(0);
    }
    let (targets, mut errs) = a.targets.resolve(ctx, "wait", a.ignore)?;
    let eng = ctx.engine(false)?;
    for (_, rec) in targets {
        loop {
            let Some(cur) = eng.catalog.container(&rec.id)? else {
                errs.push(ContainerError::NotFound(rec.id.clone()));
                break;
            };
            let l = live(&eng.paths, &cur);
            if wanted.contains(&l.state) {
                if l.state == State::Exited {
                    // The shim records the exit; give it the moment it needs.
                    if l.needs_cleanup || cur.state.is_active() {
                        stop::wait_for_cleanup(eng, &cur)?;
                    }
                    let code = eng
                        .catalog
                        .container(&rec.id)?
                        .and_then(|c| c.exit_code)
                        .or(l.exit.map(|e| e.exit_code))
                        .unwrap_or(-1);
                    println!("{code}");
                } else {
                    println!("-1");
                }
                break;
            }
            // Running toward an exit: sleep on its pidfd; otherwise poll.
            if wanted == [State::Exited] && l.state == State::Running && l.pid > 0 {
                wait::wait_pid(l.pid, None);
            } else {
                std::thread::sleep(interval);
            }
        }
    }
    Ok(super::targets::finish(errs, always_125))
}

/// `husk container exists`.
#[derive(Debug, Args)]
pub struct ExistsArgs {
    /// The container.
    pub container: String,
}

/// `husk container exists`: status 0 when it exists, 1 when not.
pub fn exists_cmd(ctx: &mut Ctx, a: ExistsArgs) -> anyhow::Result<i32> {
    match lookup::find(ctx.catalog()?, &a.container) {
        Ok(_) => Ok(0),
        Err(ContainerError::NotFound(_)) => Ok(1),
        Err(e) => Err(e.into()),
    }
}

/// `husk container cleanup` (run by the shim when a container exits).
#[derive(Debug, Args)]
pub struct CleanupArgs {
    /// The container id.
    pub id: String,
}

/// `husk container cleanup`.
pub fn cleanup_cmd(ctx: &mut Ctx, a: CleanupArgs) -> anyhow::Result<i32> {
    let eng = ctx.engine(true)?;
    cleanup::cleanup(eng, &a.id)?;
    Ok(0)
}

/// `husk container prune` flags.
#[derive(Debug, Args)]
pub struct PruneArgs {
    /// Do not ask for confirmation.
    #[arg(short = 'f', long)]
    pub force: bool,
    /// Only containers matching (label=, until=).
    #[arg(long, value_name = "FILTER")]
    pub filter: Vec<String>,
}

/// `husk container prune`: removes every container that is not running.
pub fn prune_cmd(ctx: &mut Ctx, a: PruneArgs) -> anyhow::Result<i32> {
    if !a.force {
        use std::io::BufRead;
        eprint!("WARNING! This will remove all non running containers.\nAre you sure you want to continue? [y/N] ");
        let mut answer = String::new();
        std::io::stdin().lock().read_line(&mut answer)?;
        if !matches!(answer.trim(), "y" | "Y" | "yes") {
            return Ok(0);
        }
    }
    let mut labels = Vec::new();
    let mut until = None;
    for f in &a.filter {
        match f.split_once('=') {
            Some(("label", v)) => labels.push(v.to_owned()),
            Some(("until", v)) => {
                until = Some(
                    crate::format::times::parse_input_time(
                        v,
                        false,
                        crate::format::times::Timestamp::now(),
                    )
                    .map_err(|e| anyhow::anyhow!("invalid filter {f:?}: {e}"))?,
                )
            }
            _ => anyhow::bail!("invalid filter {f:?}: use label= or until="),
        }
    }
    let eng = ctx.engine(true)?;
    let mut errors = Vec::new();
    for rec in eng.catalog.containers()? {
        // Created containers go too; running and paused ones stay, and an
        // infra container goes with its pod (pod prune, pod rm).
        if matches!(live(&eng.paths, &rec).state, State::Running | State::Paused)
            || crate::pod::member::is_infra(&rec)
        {
            continue;
        }
        let label_ok = labels.iter().all(|l| match l.split_once('=') {
            Some((k, v)) => rec.options.labels.get(k).is_some_and(|x| x == v),
            None => rec.options.labels.contains_key(l),
        });
        let time_ok = until.is_none_or(|u| {
            crate::format::times::Timestamp::parse_rfc3339(&rec.created)
                .is_ok_and(|c| c.unix_nanos() < u.unix_nanos())
        });
        if !label_ok || !time_ok {
            continue;
        }
        match remove::remove(eng, &rec, false, None) {
            Ok(()) => println!("{}", rec.id),
            Err(e) => errors.push(e),
        }
    }
    Ok(super::targets::finish(errors, always_125))
}
