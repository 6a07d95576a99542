//! The `husk` command. The container engine's commands arrive with the engine
//! issue; until then this binary reports its version and where to look.

use std::process::ExitCode;

fn main() -> ExitCode {
    let arg = std::env::args().nth(1);
    match arg.as_deref() {
        Some("--version") | Some("version") => {
            println!("husk version {}", env!("CARGO_PKG_VERSION"));
            ExitCode::SUCCESS
        }
        Some(husk_shim::SHIM_MODE_ARG) => husk_shim::entry(std::env::args_os().skip(2).collect()),
        _ => {
            eprintln!(
                "husk {}: the engine commands (run, ps, pull, ...) are not built yet; \
                 use husk-runtime to run an OCI bundle",
                env!("CARGO_PKG_VERSION")
            );
            ExitCode::from(125)
        }
    }
}
