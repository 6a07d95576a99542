//! `husk pod ...`: podman's pod commands.

pub mod create;
pub mod inspect;
pub mod lifecycle;
pub mod member;
pub mod ps;
pub mod targets;
pub mod top;

use clap::Subcommand;

use crate::cli::ctx::Ctx;

pub use inspect::inspect_doc;

/// `husk pod ...`.
#[derive(Debug, Subcommand)]
pub enum PodCommand {
    /// Create a pod (and its infra container).
    Create(Box<create::CreateArgs>),
    /// Start pods: the infra, then the members.
    Start(lifecycle::PodArgs),
    /// Stop pods: the members, then the infra.
    Stop(lifecycle::StopArgs),
    /// Restart pods.
    Restart(lifecycle::RestartArgs),
    /// Send a signal to every running container of pods.
    Kill(lifecycle::KillArgs),
    /// Pause every container of pods.
    Pause(lifecycle::PodArgs),
    /// Unpause every container of pods.
    Unpause(lifecycle::PodArgs),
    /// Remove pods and their containers.
    #[command(visible_alias = "remove")]
    Rm(lifecycle::RmArgs),
    /// List pods.
    #[command(visible_aliases = ["ls", "list"])]
    Ps(ps::PsArgs),
    /// Show pods' configuration and state.
    Inspect(inspect::InspectArgs),
    /// Show the processes of a pod's containers.
    Top(top::TopArgs),
    /// Exit 0 if a pod exists, 1 if not.
    Exists(lifecycle::ExistsArgs),
    /// Remove every pod whose containers have all exited.
    Prune(lifecycle::PruneArgs),
}

/// Runs a pod command.
pub fn dispatch(ctx: &mut Ctx, cmd: PodCommand) -> anyhow::Result<i32> {
    use lifecycle as lc;
    match cmd {
        PodCommand::Create(a) => create::create_cmd(ctx, *a),
        PodCommand::Start(a) => lc::start_cmd(ctx, a),
        PodCommand::Stop(a) => lc::stop_cmd(ctx, a),
        PodCommand::Restart(a) => lc::restart_cmd(ctx, a),
        PodCommand::Kill(a) => lc::kill_cmd(ctx, a),
        PodCommand::Pause(a) => lc::pause_cmd(ctx, a),
        PodCommand::Unpause(a) => lc::unpause_cmd(ctx, a),
        PodCommand::Rm(a) => lc::rm_cmd(ctx, a),
        PodCommand::Ps(a) => ps::ps_cmd(ctx, a),
        PodCommand::Inspect(a) => inspect::inspect_cmd(ctx, a),
        PodCommand::Top(a) => top::top_cmd(ctx, a),
        PodCommand::Exists(a) => lc::exists_cmd(ctx, a),
        PodCommand::Prune(a) => lc::prune_cmd(ctx, a),
    }
}
