//! The `husk` command line: podman's commands, flags, output and exit codes.
//! One module per command group; each command returns its exit status.

pub mod container;
pub mod ctx;
pub mod error;
pub mod image;
pub mod inspect;
pub mod pod;
mod system;

use std::ffi::OsString;

use clap::{Parser, Subcommand};

use ctx::{Ctx, GlobalOpts};

/// husk: a daemonless, rootless-first container engine.
#[derive(Debug, Parser)]
#[command(
    name = "husk",
    about = "Manage containers, pods and images (daemonless, rootless-first)",
    disable_help_subcommand = true
)]
struct Cli {
    #[command(flatten)]
    global: GlobalOpts,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Manage containers.
    Container {
        /// The container command.
        #[command(subcommand)]
        command: container::ContainerCommand,
    },
    /// List containers.
    Ps(container::ps::PsArgs),
    /// Stop containers.
    Stop(container::lifecycle::StopArgs),
    /// Send a signal to containers.
    Kill(container::lifecycle::KillArgs),
    /// Remove containers.
    Rm(container::lifecycle::RmArgs),
    /// Pause containers.
    Pause(container::lifecycle::PauseArgs),
    /// Unpause containers.
    Unpause(container::lifecycle::PauseArgs),
    /// Rename a container.
    Rename(container::lifecycle::RenameArgs),
    /// Wait for containers to reach a state; print their exit codes.
    Wait(container::lifecycle::WaitArgs),
    /// Manage images.
    Image {
        /// The image command.
        #[command(subcommand)]
        command: image::ImageCommand,
    },
    /// Pull images from a registry.
    Pull(image::pull::PullArgs),
    /// Push an image to a registry.
    Push(image::push::PushArgs),
    /// Log in to a registry.
    Login(image::push::LoginArgs),
    /// Log out of a registry.
    Logout(image::push::LogoutArgs),
    /// List images.
    Images(image::list::ImagesArgs),
    /// Remove images.
    Rmi(image::rm::RmiArgs),
    /// Add names to an image.
    Tag(image::tag::TagArgs),
    /// Remove names from an image.
    Untag(image::tag::UntagArgs),
    /// Show an image's history.
    History(image::inspect::HistoryArgs),
    /// Save images to an archive.
    Save(image::archive::SaveArgs),
    /// Load images from an archive.
    Load(image::archive::LoadArgs),
    /// Make an image from a root filesystem tarball.
    Import(image::archive::ImportArgs),
    /// Write a container's root filesystem as a tar.
    Export(image::archive::ExportArgs),
    /// Show containers', images' and pods' details.
    Inspect(inspect::InspectArgs),
    /// Show husk's version.
    Version(system::VersionArgs),
    /// Show how husk is set up on this host.
    Info(system::InfoArgs),
}

/// Runs the command line `args` (argv[0] included); returns the exit status.
pub fn run(args: Vec<OsString>) -> i32 {
    if args.len() == 2 && (args[1] == "--version" || args[1] == "-v") {
        println!("husk version {}", env!("CARGO_PKG_VERSION"));
        return 0;
    }
    let cli = match Cli::try_parse_from(args) {
        Ok(c) => c,
        Err(e) => {
            use clap::error::ErrorKind;
            let code = match e.kind() {
                ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => 0,
                _ => error::ENGINE_ERROR,
            };
            let _ = e.print();
            return code;
        }
    };
    let result = Ctx::new(cli.global).and_then(|mut ctx| dispatch(&mut ctx, cli.command));
    match result {
        Ok(code) => code,
        Err(e) => {
            error::report(&e);
            error::exit_status(&e)
        }
    }
}

fn dispatch(ctx: &mut Ctx, cmd: Command) -> anyhow::Result<i32> {
    use container::lifecycle as lc;
    match cmd {
        Command::Container { command } => container::dispatch(ctx, command),
        Command::Ps(a) => container::ps::ps_cmd(ctx, a),
        Command::Stop(a) => lc::stop_cmd(ctx, a),
        Command::Kill(a) => lc::kill_cmd(ctx, a),
        Command::Rm(a) => lc::rm_cmd(ctx, a),
        Command::Pause(a) => lc::pause_cmd(ctx, a),
        Command::Unpause(a) => lc::unpause_cmd(ctx, a),
        Command::Rename(a) => lc::rename_cmd(ctx, a),
        Command::Wait(a) => lc::wait_cmd(ctx, a),
        Command::Image { command } => image::dispatch(ctx, command),
        Command::Pull(a) => image::pull::pull_cmd(ctx, a),
        Command::Push(a) => image::push::push_cmd(ctx, a),
        Command::Login(a) => image::push::login_cmd(ctx, a),
        Command::Logout(a) => image::push::logout_cmd(ctx, a),
        Command::Images(a) => image::list::images_cmd(ctx, a),
        Command::Rmi(a) => image::rm::rmi_cmd(ctx, a),
        Command::Tag(a) => image::tag::tag_cmd(ctx, a),
        Command::Untag(a) => image::tag::untag_cmd(ctx, a),
        Command::History(a) => image::inspect::history_cmd(ctx, a),
        Command::Save(a) => image::archive::save_cmd(ctx, a),
        Command::Load(a) => image::archive::load_cmd(ctx, a),
        Command::Import(a) => image::archive::import_cmd(ctx, a),
        Command::Export(a) => image::archive::export_cmd(ctx, a),
        Command::Inspect(a) => inspect::run(ctx, inspect::Kind::All, a),
        Command::Version(a) => system::version(ctx, a),
        Command::Info(a) => system::info(ctx, a),
    }
}
