//! Image commands, at the top level (`husk pull`, `husk images`, `husk
//! rmi`) and in the `husk image` group.

pub mod archive;
pub mod filter;
pub mod flags;
pub mod inspect;
pub mod list;
pub mod pull;
pub mod push;
pub mod rm;
pub mod tag;

use clap::Subcommand;

use crate::cli::ctx::Ctx;

pub use inspect::inspect_doc;

/// `husk image ...`.
#[derive(Debug, Subcommand)]
pub enum ImageCommand {
    /// Pull images from a registry.
    Pull(pull::PullArgs),
    /// Push an image to a registry.
    Push(push::PushArgs),
    /// List images.
    #[command(visible_aliases = ["ls", "list"])]
    Images(list::ImagesArgs),
    /// Remove images.
    #[command(visible_alias = "rmi")]
    Rm(rm::RmiArgs),
    /// Remove unused images.
    Prune(rm::PruneArgs),
    /// Add names to an image.
    Tag(tag::TagArgs),
    /// Remove names from an image.
    Untag(tag::UntagArgs),
    /// Exit 0 if an image exists, 1 if not.
    Exists(tag::ExistsArgs),
    /// Show images' details.
    Inspect(inspect::ImageInspectArgs),
    /// Show an image's history.
    History(inspect::HistoryArgs),
    /// Save images to an archive.
    Save(archive::SaveArgs),
    /// Load images from an archive.
    Load(archive::LoadArgs),
    /// Make an image from a root filesystem tarball.
    Import(archive::ImportArgs),
}

/// Runs an image command.
pub fn dispatch(ctx: &mut Ctx, cmd: ImageCommand) -> anyhow::Result<i32> {
    match cmd {
        ImageCommand::Pull(a) => pull::pull_cmd(ctx, a),
        ImageCommand::Push(a) => push::push_cmd(ctx, a),
        ImageCommand::Images(a) => list::images_cmd(ctx, a),
        ImageCommand::Rm(a) => rm::rmi_cmd(ctx, a),
        ImageCommand::Prune(a) => rm::prune_cmd(ctx, a),
        ImageCommand::Tag(a) => tag::tag_cmd(ctx, a),
        ImageCommand::Untag(a) => tag::untag_cmd(ctx, a),
        ImageCommand::Exists(a) => tag::exists_cmd(ctx, a),
        ImageCommand::Inspect(a) => inspect::inspect_cmd(ctx, a),
        ImageCommand::History(a) => inspect::history_cmd(ctx, a),
        ImageCommand::Save(a) => archive::save_cmd(ctx, a),
        ImageCommand::Load(a) => archive::load_cmd(ctx, a),
        ImageCommand::Import(a) => archive::import_cmd(ctx, a),
    }
}
