//! Command-line parsing and dispatch, with runc's flags and exit codes.

mod commands;
mod events;
mod exec_process;
mod info;
mod log;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// husk's OCI runtime, driven like runc.
#[derive(Debug, Parser)]
#[command(
    name = "husk-runtime",
    version,
    about = "husk's OCI runtime (runc-compatible CLI)"
)]
pub struct Cli {
    /// Root directory for container state.
    #[arg(long)]
    pub root: Option<PathBuf>,
    /// Log file for errors and debug output (default: stderr).
    #[arg(long)]
    pub log: Option<PathBuf>,
    /// Log format: text or json.
    #[arg(long, default_value = "text", value_parser = ["text", "json"])]
    pub log_format: String,
    /// Log debug messages.
    #[arg(long)]
    pub debug: bool,
    /// Manage cgroups through systemd.
    #[arg(long)]
    pub systemd_cgroup: bool,
    /// Rootless mode: true, false or auto (detected from the effective uid).
    #[arg(long, num_args = 0..=1, default_missing_value = "true")]
    pub rootless: Option<String>,
    /// The command.
    #[command(subcommand)]
    pub command: Command,
}

/// Runtime commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create a container from a bundle; its process waits for `start`.
    Create(commands::CreateArgs),
    /// Start a created container.
    Start(commands::IdArg),
    /// Create and start a container, then wait for it unless --detach.
    Run(commands::RunArgs),
    /// Print a container's state as JSON.
    State(commands::IdArg),
    /// Send a signal to a container.
    Kill(commands::KillArgs),
    /// Delete a container.
    Delete(commands::DeleteArgs),
    /// List containers.
    #[command(alias = "ls")]
    List(commands::ListArgs),
    /// List a container's processes.
    Ps(commands::PsArgs),
    /// Run a process in a running container.
    Exec(commands::ExecArgs),
    /// Freeze every process of a running container.
    Pause(commands::IdArg),
    /// Thaw a paused container.
    Resume(commands::IdArg),
    /// Print a container's resource usage (`--stats` once, else every
    /// `--interval`), and OOM kills as they happen.
    Events(commands::EventsArgs),
    /// Print the runtime's features document.
    Features,
    /// Write a sample config.json.
    Spec(commands::SpecArgs),
}

/// Parses the command line, runs it and returns the exit status.
pub fn main() -> i32 {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            // Help and version are not errors; a bad command line exits 1,
            // as runc's does (clap would use 2).
            return if e.use_stderr() { 1 } else { 0 };
        }
    };
    let logger = log::Logger::new(cli.log.clone(), cli.log_format == "json", cli.debug);
    logger.debug(&format!(
        "{:?} (root {})",
        cli.command,
        cli.root
            .clone()
            .unwrap_or_else(husk_runtime::state::StateRoot::default_dir)
            .display()
    ));
    match commands::dispatch(&cli) {
        Ok(code) => {
            logger.debug(&format!("done, exit status {code}"));
            code
        }
        Err(e) => {
            logger.error(&describe(&e));
            1
        }
    }
}

/// The error and its causes in one line, without repeating a cause that the
/// message already quotes (library errors embed their source's text).
fn describe(e: &anyhow::Error) -> String {
    let mut msg = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if msg.ends_with(&text) {
            continue;
        }
        if !msg.is_empty() {
            msg.push_str(": ");
        }
        msg.push_str(&text);
    }
    msg
}
