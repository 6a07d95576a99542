//! The `husk` binary: the engine's command line, and the modes in which it
//! re-executes itself (the per-container shim, and `--init` inside a
//! container, a pod's pause and the rootless namespace's holder, recognised
//! by argv[0]).

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    // Before anything else: the init forks and waits with sigwaitinfo, so
    // no thread may exist yet.
    if args
        .first()
        .is_some_and(|a0| husk_engine::container::init::is_init_argv0(a0))
    {
        return husk_engine::container::init::init_main(args);
    }
    // A pod's infra: the same rule, and it should touch as little as it can.
    if args
        .first()
        .is_some_and(|a0| husk_engine::pod::pause::is_pause_argv0(a0))
    {
        return husk_engine::pod::pause::pause_main();
    }
    // The rootless user namespace's holder waits the same way.
    if args
        .first()
        .is_some_and(|a0| husk_engine::userns::holder::is_holder_argv0(a0))
    {
        return husk_engine::userns::holder::holder_main();
    }
    if args.get(1).is_some_and(|a| a == husk_shim::SHIM_MODE_ARG) {
        return husk_shim::entry(args.into_iter().skip(2).collect());
    }
    let code = husk_engine::cli::run(args);
    ExitCode::from(u8::try_from(code).unwrap_or(125))
}
