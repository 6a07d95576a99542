//! Container commands, at the top level (`husk stop`) and in the
//! `husk container` group.

pub mod exec;
pub mod flags;
pub mod fs;
pub mod lifecycle;
pub mod logs;
pub mod ps;
pub mod run;
pub mod stats;
pub mod targets;
pub mod top;

use clap::Subcommand;

use crate::cli::ctx::Ctx;
use lifecycle::*;

/// `husk container ...`.
#[derive(Debug, Subcommand)]
pub enum ContainerCommand {
    /// List containers.
    #[command(visible_aliases = ["ls", "list"])]
    Ps(ps::PsArgs),
    /// Run a command in a new container.
    Run(run::RunArgs),
    /// Create a container without starting it.
    Create(run::RunArgs),
    /// Start containers.
    Start(run::StartArgs),
    /// Restart containers.
    Restart(run::RestartArgs),
    /// Print a container's logs.
    Logs(logs::LogsArgs),
    /// Run a process in a running container.
    Exec(exec::ExecArgs),
    /// Attach to a running container.
    Attach(run::AttachArgs),
    /// Copy files between a container and the host.
    Cp(fs::CpArgs),
    /// Show a container's filesystem changes.
    Diff(fs::DiffArgs),
    /// Mount a container's root filesystem (rootful).
    Mount(fs::MountArgs),
    /// Unmount a container's root filesystem.
    #[command(visible_alias = "umount")]
    Unmount(fs::MountArgs),
    /// Show a container's processes.
    Top(top::TopArgs),
    /// Show containers' resource use.
    Stats(stats::StatsArgs),
    /// Remove every container that is not running.
    Prune(PruneArgs),
    /// Show a container's configuration and state.
    Inspect(crate::cli::inspect::InspectArgs),
    /// Stop containers.
    Stop(StopArgs),
    /// Send a signal to containers.
    Kill(KillArgs),
    /// Remove containers.
    Rm(RmArgs),
    /// Pause containers.
    Pause(PauseArgs),
    /// Unpause containers.
    Unpause(PauseArgs),
    /// Rename a container.
    Rename(RenameArgs),
    /// Wait for containers to reach a state; print their exit codes.
    Wait(WaitArgs),
    /// Exit 0 if a container exists, 1 if not.
    Exists(ExistsArgs),
    /// Clean up after a container's exit (run by its shim).
    #[command(hide = true)]
    Cleanup(CleanupArgs),
}

/// Runs a container command.
pub fn dispatch(ctx: &mut Ctx, cmd: ContainerCommand) -> anyhow::Result<i32> {
    match cmd {
        ContainerCommand::Ps(a) => ps::ps_cmd(ctx, a),
        ContainerCommand::Run(a) => run::run_cmd(ctx, a),
        ContainerCommand::Create(a) => run::create_cmd(ctx, a),
        ContainerCommand::Start(a) => run::start_cmd(ctx, a),
        ContainerCommand::Restart(a) => run::restart_cmd(ctx, a),
        ContainerCommand::Logs(a) => logs::logs_cmd(ctx, a),
        ContainerCommand::Exec(a) => exec::exec_cmd(ctx, a),
        ContainerCommand::Attach(a) => run::attach_cmd(ctx, a),
        ContainerCommand::Cp(a) => fs::cp_cmd(ctx, a),
        ContainerCommand::Diff(a) => fs::diff_cmd(ctx, a),
        ContainerCommand::Mount(a) => fs::mount_cmd(ctx, a),
        ContainerCommand::Unmount(a) => fs::unmount_cmd(ctx, a),
        ContainerCommand::Top(a) => top::top_cmd(ctx, a),
        ContainerCommand::Stats(a) => stats::stats_cmd(ctx, a),
        ContainerCommand::Prune(a) => prune_cmd(ctx, a),
        ContainerCommand::Inspect(a) => {
            crate::cli::inspect::run(ctx, crate::cli::inspect::Kind::Container, a)
        }
        ContainerCommand::Stop(a) => stop_cmd(ctx, a),
        ContainerCommand::Kill(a) => kill_cmd(ctx, a),
        ContainerCommand::Rm(a) => rm_cmd(ctx, a),
        ContainerCommand::Pause(a) => pause_cmd(ctx, a),
        ContainerCommand::Unpause(a) => unpause_cmd(ctx, a),
        ContainerCommand::Rename(a) => rename_cmd(ctx, a),
        ContainerCommand::Wait(a) => wait_cmd(ctx, a),
        ContainerCommand::Exists(a) => exists_cmd(ctx, a),
        ContainerCommand::Cleanup(a) => cleanup_cmd(ctx, a),
    }
}
