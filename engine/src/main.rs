//! The `husk` binary: the engine's command line, and the modes in which it
//! re-executes itself (the per-container shim).

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    if args.get(1).is_some_and(|a| a == husk_shim::SHIM_MODE_ARG) {
        return husk_shim::entry(args.into_iter().skip(2).collect());
    }
    let code = husk_engine::cli::run(args);
    ExitCode::from(u8::try_from(code).unwrap_or(125))
}
