//! The `husk` command line: podman's commands, flags, output and exit codes.
//! One module per command group; each command returns its exit status.

mod bench;
pub mod ctx;
pub mod error;
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

fn dispatch(ctx: &mut Ctx, cmd: Command) -> anyhow::Result<i32> {
    match cmd {
        Command::Version(a) => system::version(ctx, a),
        Command::Info(a) => system::info(ctx, a),
        Command::Bench(a) => bench::bench(ctx, a),
    }
}
