//! The `husk` command line: podman's commands, flags, output and exit codes.
//! One module per command group; each command returns its exit status.

mod bench;
pub mod container;
pub mod ctx;
pub mod error;
pub mod image;
pub mod inspect;
pub mod pod;
mod quick;
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
    /// Manage pods.
    Pod {
        /// The pod command.
        #[command(subcommand)]
        command: pod::PodCommand,
    },
    /// Run a command in a new container.
    Run(container::run::RunArgs),
    /// Create a container without starting it.
    Create(container::run::RunArgs),
    /// Start containers.
    Start(container::run::StartArgs),
    /// Restart containers.
    Restart(container::run::RestartArgs),
    /// List containers.
    Ps(container::ps::PsArgs),
    /// Print a container's logs.
    Logs(container::logs::LogsArgs),
    /// Run a process in a running container.
    Exec(container::exec::ExecArgs),
    /// Attach to a running container.
    Attach(container::run::AttachArgs),
    /// Copy files between a container and the host.
    Cp(container::fs::CpArgs),
    /// Show a container's filesystem changes.
    Diff(container::fs::DiffArgs),
    /// Mount a container's root filesystem (rootful).
    Mount(container::fs::MountArgs),
    /// Unmount a container's root filesystem.
    #[command(visible_alias = "umount")]
    Unmount(container::fs::MountArgs),
    /// Show a container's processes.
    Top(container::top::TopArgs),
    /// Show containers' resource use.
    Stats(container::stats::StatsArgs),
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
    /// Run a command in husk's rootless user namespace.
    Unshare(system::UnshareArgs),
    /// Show husk's version.
    Version(system::VersionArgs),
    /// Show how husk is set up on this host.
    Info(system::InfoArgs),
    /// Benchmark container start-up against other runtimes and engines.
    Bench(bench::BenchArgs),
}

/// Runs the command line `args` (argv[0] included); returns the exit status.
pub fn run(args: Vec<OsString>) -> i32 {
    let entered = crate::trace::now_ns();
    if args.len() == 2 && (args[1] == "--version" || args[1] == "-v") {
        println!("husk version {}", env!("CARGO_PKG_VERSION"));
        return 0;
    }
    let cli = match quick::parse(&args).map_or_else(|| Cli::try_parse_from(&args), Ok) {
        Ok(c) => c,
        Err(e) => return usage_error(e, subcommand_named(&args).as_deref()),
    };
    let trace = match crate::trace::Session::begin(
        cli.global.trace.as_deref(),
        cli.global.tmpdir.as_deref(),
        entered,
    ) {
        Ok(t) => t,
        Err(e) => {
            error::report(&e.into());
            return error::ENGINE_ERROR;
        }
    };
    let result = Ctx::new(cli.global).and_then(|mut ctx| dispatch(&mut ctx, cli.command));
    let code = match result {
        Ok(code) => code,
        Err(e) => {
            error::report(&e);
            error::exit_status(&e)
        }
    };
    trace.finish();
    code
}

/// The first argument that names a subcommand (for "See 'husk X --help'").
fn subcommand_named(args: &[OsString]) -> Option<String> {
    use clap::CommandFactory;
    let cmd = Cli::command();
    let names: Vec<String> = cmd
        .get_subcommands()
        .flat_map(|c| {
            std::iter::once(c.get_name().to_owned()).chain(c.get_all_aliases().map(str::to_owned))
        })
        .collect();
    args.iter()
        .skip(1)
        .map(|a| a.to_string_lossy().into_owned())
        .find(|a| names.contains(a))
}

/// Prints a command-line error as podman does (`Error: unknown flag:
/// --x` and where to look) and returns its status: 0 for --help, 125
/// otherwise.
fn usage_error(e: clap::Error, sub: Option<&str>) -> i32 {
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    match e.kind() {
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => {
            let _ = e.print();
            return 0;
        }
        ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            let _ = e.print();
            return error::ENGINE_ERROR;
        }
        _ => {}
    }
    let arg = match e
        .get(ContextKind::InvalidArg)
        .or_else(|| e.get(ContextKind::InvalidSubcommand))
    {
        Some(ContextValue::String(s)) => Some(s.clone()),
        _ => None,
    };
    let msg = match (e.kind(), &arg) {
        (ErrorKind::UnknownArgument, Some(a)) if !a.starts_with('-') => {
            format!("`husk {}` takes no arguments", sub.unwrap_or_default())
        }
        (ErrorKind::UnknownArgument, Some(a)) => format!("unknown flag: {a}"),
        (ErrorKind::MissingRequiredArgument, _) => {
            "requires at least 1 arg(s), only received 0".to_owned()
        }
        (ErrorKind::InvalidValue | ErrorKind::ValueValidation, Some(a)) => {
            let value = match e.get(ContextKind::InvalidValue) {
                Some(ContextValue::String(v)) => v.clone(),
                _ => String::new(),
            };
            let reason = std::error::Error::source(&e)
                .map(|s| s.to_string())
                .unwrap_or_else(|| "invalid value".into());
            format!("invalid argument {value:?} for {a:?} flag: {reason}")
        }
        (ErrorKind::InvalidSubcommand, Some(a)) => format!("unrecognized command `husk {a}`"),
        _ => {
            let text = e.render().to_string();
            let first = text.lines().next().unwrap_or_default();
            first.trim_start_matches("error: ").to_owned()
        }
    };
    eprintln!("Error: {msg}");
    match sub {
        Some(s) if e.kind() != ErrorKind::InvalidSubcommand => {
            eprintln!("See 'husk {s} --help'")
        }
        _ => eprintln!("Try 'husk --help' for more information"),
    }
    error::ENGINE_ERROR
}

fn dispatch(ctx: &mut Ctx, cmd: Command) -> anyhow::Result<i32> {
    use container::lifecycle as lc;
    match cmd {
        Command::Container { command } => container::dispatch(ctx, command),
        Command::Pod { command } => pod::dispatch(ctx, command),
        Command::Run(a) => container::run::run_cmd(ctx, a),
        Command::Create(a) => container::run::create_cmd(ctx, a),
        Command::Start(a) => container::run::start_cmd(ctx, a),
        Command::Restart(a) => container::run::restart_cmd(ctx, a),
        Command::Ps(a) => container::ps::ps_cmd(ctx, a),
        Command::Logs(a) => container::logs::logs_cmd(ctx, a),
        Command::Exec(a) => container::exec::exec_cmd(ctx, a),
        Command::Attach(a) => container::run::attach_cmd(ctx, a),
        Command::Cp(a) => container::fs::cp_cmd(ctx, a),
        Command::Diff(a) => container::fs::diff_cmd(ctx, a),
        Command::Mount(a) => container::fs::mount_cmd(ctx, a),
        Command::Unmount(a) => container::fs::unmount_cmd(ctx, a),
        Command::Top(a) => container::top::top_cmd(ctx, a),
        Command::Stats(a) => container::stats::stats_cmd(ctx, a),
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
        Command::Unshare(a) => system::unshare(ctx, a),
        Command::Version(a) => system::version(ctx, a),
        Command::Info(a) => system::info(ctx, a),
        Command::Bench(a) => bench::bench(ctx, a),
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    /// clap checks flag definitions only in debug builds and only for the
    /// command being parsed: check every command here.
    #[test]
    fn every_command_is_well_formed() {
        super::Cli::command().debug_assert();
    }
}
