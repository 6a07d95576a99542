//! The runtime commands.

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use clap::Args;
use husk_runtime::container::{self, CreateOptions};
use husk_runtime::state::{StateRoot, Status};
use husk_runtime::{signal, wait};

use super::{info, Cli, Command};

/// A container id.
#[derive(Debug, Args)]
pub struct IdArg {
    /// The container id.
    pub id: String,
}

/// `create` options.
#[derive(Debug, Args)]
pub struct CreateArgs {
    /// Path to the bundle directory.
    #[arg(short, long, default_value = ".")]
    pub bundle: PathBuf,
    /// File to write the container's pid to.
    #[arg(long)]
    pub pid_file: Option<PathBuf>,
    /// Unix socket that receives the pty master.
    #[arg(long)]
    pub console_socket: Option<PathBuf>,
    /// Number of extra fds (after stdio) passed to the container.
    #[arg(long, default_value_t = 0)]
    pub preserve_fds: i32,
    /// Use MS_MOVE and chroot instead of pivot_root.
    #[arg(long)]
    pub no_pivot: bool,
    /// Keep the caller's session keyring (by default the container gets a new one).
    #[arg(long)]
    pub no_new_keyring: bool,
    /// The container id.
    pub id: String,
}

/// `run` options.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Everything `create` takes.
    #[command(flatten)]
    pub create: CreateArgs,
    /// Do not wait for the container; exit once it started.
    #[arg(short, long)]
    pub detach: bool,
    /// Keep the container's state after it exits.
    #[arg(long)]
    pub keep: bool,
}

/// `kill` options.
#[derive(Debug, Args)]
pub struct KillArgs {
    /// Signal every process in the container.
    #[arg(short, long)]
    pub all: bool,
    /// The container id.
    pub id: String,
    /// Signal name or number.
    #[arg(default_value = "SIGTERM")]
    pub signal: String,
}

/// `delete` options.
#[derive(Debug, Args)]
pub struct DeleteArgs {
    /// Kill a running container before deleting it.
    #[arg(short, long)]
    pub force: bool,
    /// The container id.
    pub id: String,
}

/// `list` options.
#[derive(Debug, Args)]
pub struct ListArgs {
    /// Output format: table or json.
    #[arg(short, long, default_value = "table", value_parser = ["table", "json"])]
    pub format: String,
    /// Print only the ids.
    #[arg(short, long)]
    pub quiet: bool,
}

/// `ps` options.
#[derive(Debug, Args)]
pub struct PsArgs {
    /// Output format: table or json.
    #[arg(short, long, default_value = "table", value_parser = ["table", "json"])]
    pub format: String,
    /// The container id.
    pub id: String,
    /// Options for ps(1) in table format.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub ps_args: Vec<String>,
}

/// `spec` options.
#[derive(Debug, Args)]
pub struct SpecArgs {
    /// Write a spec for running without root.
    #[arg(long)]
    pub rootless: bool,
    /// Add husk's default seccomp profile (seccomp-profiles/default.json),
    /// resolved for the spec's capabilities and this host.
    #[arg(long)]
    pub seccomp: bool,
    /// Bundle directory to write config.json into.
    #[arg(short, long, default_value = ".")]
    pub bundle: PathBuf,
}

fn state_root(cli: &Cli) -> Result<StateRoot> {
    let dir = cli.root.clone().unwrap_or_else(StateRoot::default_dir);
    Ok(StateRoot::open(dir)?)
}

fn create_options(a: &CreateArgs) -> CreateOptions {
    CreateOptions {
        id: a.id.clone(),
        bundle: a.bundle.clone(),
        pid_file: a.pid_file.clone(),
        console_socket: a.console_socket.clone(),
        preserve_fds: a.preserve_fds,
        no_pivot: a.no_pivot,
        no_new_keyring: a.no_new_keyring,
        stdio: None,
    }
}

/// Runs the parsed command; returns the exit status on success.
pub fn dispatch(cli: &Cli) -> Result<i32> {
    if cli.systemd_cgroup {
        if !std::path::Path::new("/run/systemd/system").exists() {
            bail!("--systemd-cgroup: systemd is not running on this host; drop the flag to use cgroupfs");
        }
        bail!("--systemd-cgroup: the systemd cgroup manager is not supported yet; drop the flag to use cgroupfs");
    }
    match &cli.command {
        Command::Create(a) => {
            container::create(&state_root(cli)?, &create_options(a))?;
            Ok(0)
        }
        Command::Start(a) => {
            container::start(&state_root(cli)?, &a.id)?;
            Ok(0)
        }
        Command::Run(a) => run(cli, a),
        Command::Exec(a) => exec(cli, a),
        Command::Events(a) => super::events::run(&state_root(cli)?, a),
        Command::Pause(a) => {
            container::pause(&state_root(cli)?, &a.id)?;
            Ok(0)
        }
        Command::Resume(a) => {
            container::resume(&state_root(cli)?, &a.id)?;
            Ok(0)
        }
        Command::State(a) => {
            let (st, status) = container::load(&state_root(cli)?, &a.id)?;
            println!("{}", serde_json::to_string_pretty(&st.to_oci(status))?);
            Ok(0)
        }
        Command::Kill(a) => {
            let sig = signal::parse(&a.signal)?;
            container::signal(&state_root(cli)?, &a.id, sig, a.all)?;
            Ok(0)
        }
        Command::Delete(a) => {
            container::delete(&state_root(cli)?, &a.id, a.force)?;
            Ok(0)
        }
        Command::List(a) => info::list(&state_root(cli)?, &a.format, a.quiet),
        Command::Ps(a) => info::ps(&state_root(cli)?, &a.id, &a.format, &a.ps_args),
        Command::Features => {
            println!("{}", serde_json::to_string_pretty(&info::features())?);
            Ok(0)
        }
        Command::Spec(a) => info::write_spec(&a.bundle, a.rootless, a.seccomp),
    }
}

fn run(cli: &Cli, a: &RunArgs) -> Result<i32> {
    let root = state_root(cli)?;
    // The container may be forked by an intermediate process (joined pid
    // namespace): as subreaper we still get its exit.
    wait::become_subreaper()?;
    let set = wait::block_signals()?;
    let st = container::create(&root, &create_options(&a.create))?;
    if let Err(e) = container::start(&root, &st.id) {
        let _ = container::delete(&root, &st.id, true);
        return Err(e.into());
    }
    if a.detach {
        return Ok(0);
    }
    let code = wait::wait_forwarding(nix::unistd::Pid::from_raw(st.pid), &set)
        .with_context(|| format!("waiting for container {}", st.id))?;
    if !a.keep {
        let (_, status) = container::load(&root, &st.id)?;
        if status == Status::Stopped {
            container::delete(&root, &st.id, false)?;
        }
    }
    Ok(code)
}

/// `exec` options.
#[derive(Debug, Args)]
pub struct ExecArgs {
    /// JSON file with the process to run (an OCI process object).
    #[arg(short, long)]
    pub process: Option<PathBuf>,
    /// Allocate a pseudo-terminal.
    #[arg(short, long)]
    pub tty: bool,
    /// Unix socket that receives the pty master.
    #[arg(long)]
    pub console_socket: Option<PathBuf>,
    /// Working directory in the container.
    #[arg(long)]
    pub cwd: Option<PathBuf>,
    /// Environment variables (NAME=VALUE), added to the container's.
    #[arg(short, long)]
    pub env: Vec<String>,
    /// User as UID[:GID].
    #[arg(short, long)]
    pub user: Option<String>,
    /// Additional gids.
    #[arg(short = 'g', long)]
    pub additional_gids: Vec<u32>,
    /// Capabilities to add to the process.
    #[arg(short, long)]
    pub cap: Vec<String>,
    /// Do not wait for the process.
    #[arg(short, long)]
    pub detach: bool,
    /// File to write the process's pid to.
    #[arg(long)]
    pub pid_file: Option<PathBuf>,
    /// Number of extra fds (after stdio) passed to the process.
    #[arg(long, default_value_t = 0)]
    pub preserve_fds: i32,
    /// Set no_new_privs for the process.
    #[arg(long)]
    pub no_new_privs: bool,
    /// The container id.
    pub id: String,
    /// The command and its arguments.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub command: Vec<String>,
}

/// `exec`: runs a process in the container and waits for it unless --detach.
pub fn exec(cli: &Cli, a: &ExecArgs) -> Result<i32> {
    let root = state_root(cli)?;
    let process = super::exec_process::build(&root, a)?;
    let opts = husk_runtime::exec::ExecOptions {
        id: a.id.clone(),
        process,
        console_socket: a.console_socket.clone(),
        pid_file: a.pid_file.clone(),
        preserve_fds: a.preserve_fds,
    };
    if a.detach {
        husk_runtime::exec::exec(&root, &opts)?;
        return Ok(0);
    }
    wait::become_subreaper()?;
    let set = wait::block_signals()?;
    let pid = husk_runtime::exec::exec(&root, &opts)?;
    Ok(wait::wait_forwarding(pid, &set)?)
}

/// `events` options.
#[derive(Debug, Args)]
pub struct EventsArgs {
    /// Print the statistics once and exit.
    #[arg(long)]
    pub stats: bool,
    /// Seconds between statistics (e.g. 5 or 5s).
    #[arg(long, default_value = "5s")]
    pub interval: String,
    /// The container id.
    pub id: String,
}
