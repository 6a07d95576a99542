//! Image commands, at the top level (`husk pull`, `husk images`, `husk
//! rmi`) and in the `husk image` group.

pub mod flags;
pub mod pull;

use clap::Subcommand;

use crate::cli::ctx::Ctx;

/// `husk image ...`.
#[derive(Debug, Subcommand)]
pub enum ImageCommand {
    /// Pull images from a registry.
    Pull(pull::PullArgs),
}

/// Runs an image command.
pub fn dispatch(ctx: &mut Ctx, cmd: ImageCommand) -> anyhow::Result<i32> {
    match cmd {
        ImageCommand::Pull(a) => pull::pull_cmd(ctx, a),
    }
}
