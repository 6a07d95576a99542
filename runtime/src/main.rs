//! `husk-runtime`: the runc-compatible command line of husk's OCI runtime.

mod cli;

fn main() {
    std::process::exit(cli::main());
}
