//! The `husk` command line: podman's commands, flags, output and exit codes.
//! One module per command group; each command returns its exit status.

pub mod container;
pub mod ctx;
pub mod error;
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
        Command::Version(a) => system::version(ctx, a),
        Command::Info(a) => system::info(ctx, a),
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
