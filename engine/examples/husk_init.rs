//! husk's `--init` as a binary of its own, for the engine's tests until
//! `husk` itself dispatches on argv[0] (`container::init::is_init_argv0`).

fn main() -> std::process::ExitCode {
    husk_engine::container::init::init_main(std::env::args_os())
}
