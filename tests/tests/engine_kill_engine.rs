//! The engine is only a client: SIGKILL of `husk run` (foreground, `-d`,
//! `--rm`) leaves the container running under its shim, and `ps`, `logs`,
//! `stop` and `rm` still work on it; `--rm` is still honoured when the
//! container exits. Nothing is left once it is removed.

#[macro_use]
mod engine_common;

use std::os::unix::process::ExitStatusExt;

use engine_common::*;

/// The number of `tick` lines in the container's log.
fn ticks(env: &Env, name: &str) -> usize {
    env.husk
        .run(&["logs", name])
        .stdout
        .lines()
        .filter(|l| *l == "tick")
        .count()
}

/// Polls until the log has more ticks than `n`: the container still runs
/// and its output is still logged, with no engine process around.
fn wait_more_ticks(env: &Env, name: &str, n: usize) {
    let deadline = std::time::Instant::now() + husk_tests::husk::state_timeout();
    while ticks(env, name) <= n {
        assert!(
            std::time::Instant::now() < deadline,
            "[{}] {name}'s log stopped growing after the engine was killed",
            env.husk.flavour()
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

const TICKER: &str = "echo started; while :; do echo tick; sleep 0.2; done";

/// The checks after the engine died: the container runs, ps and logs see
/// it, stop and rm work, and nothing is left.
fn survives(env: &mut Env, name: &str, before: &husk_tests::husk::leftovers::Leftovers) {
    env.husk.wait_for_state(name, "running");
    let id = env.husk.id_of(name);
    env.remember(name, &id);
    let n = ticks(env, name);
    wait_more_ticks(env, name, n);
    env.check(&[
        row(&["ps", "--format", "{{.Names}}|{{.Status}}"])
            .err(Out::Empty)
            .out(lines_match(&[&format!("{name}\\|{}", up_pat())])),
        row(&["ps", "-a", "-q"]).prints(&format!("{}\n", &id[..12])),
        row(&["logs", "--tail", "1", name]).prints("tick\n"),
        row(&["exec", name, "echo", "still-here"]).prints("still-here\n"),
        row(&["stop", "-t", "1", name]).out(exact(&format!("{name}\n"))),
        row(&[
            "inspect",
            "--format",
            "{{.State.Status}} {{.State.ExitCode}}",
            name,
        ])
        .prints("exited 137\n")
        .note("sh as pid 1 ignores SIGTERM: killed after -t 1"),
        row(&["rm", name]).prints(&format!("{name}\n")),
        row(&["ps", "-a", "-q"]).prints(""),
    ]);
    let left = env.left_since(before);
    assert!(
        left.is_empty(),
        "[{}] after the killed engine's container was removed:\n{left}",
        env.husk.flavour()
    );
}

flavours!(
    /// SIGKILL of a foreground `husk run` while the container runs.
    fn foreground(env) {
        let _serial = host_lock();
        env.pull();
        let before = env.husk.snapshot();
        let img = env.img();
        let mut fg = env.husk.spawn(&["run", "--name", "fg", img.as_str(), "sh", "-c", TICKER]);
        fg.wait_stdout("started");
        fg.signal(libc::SIGKILL);
        let o = fg.wait();
        assert_eq!(o.status.signal(), Some(libc::SIGKILL), "{o}");
        survives(env, "fg", &before);
    }
);

flavours!(
    /// SIGKILL of `husk run -d` as soon as its container runs (if it has
    /// not returned yet).
    fn detached(env) {
        let _serial = host_lock();
        env.pull();
        let before = env.husk.snapshot();
        let img = env.img();
        let mut bg = env.husk.spawn(&["run", "-d", "--name", "bg", img.as_str(), "sh", "-c", TICKER]);
        let deadline = std::time::Instant::now() + husk_tests::husk::state_timeout();
        while !env.husk.run(&["logs", "bg"]).stdout.contains("started") {
            assert!(std::time::Instant::now() < deadline, "bg never started: {:?}", bg.stderr());
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        if bg.running() {
            bg.signal(libc::SIGKILL);
        }
        let _ = bg.wait();
        survives(env, "bg", &before);
    }
);

flavours!(
    /// SIGKILL of a foreground `husk run --rm`: the container runs on, and
    /// is still removed when it exits (by its shim's exit hook).
    fn rm_without_engine(env) {
        let _serial = host_lock();
        env.pull();
        let before = env.husk.snapshot();
        let img = env.img();
        let mut fg = env.husk.spawn(&[
            "run", "--rm", "--name", "rmfg", img.as_str(), "sh", "-c",
            "echo started; while [ ! -e /tmp/go ]; do sleep 0.1; done; echo done",
        ]);
        fg.wait_stdout("started");
        fg.signal(libc::SIGKILL);
        let _ = fg.wait();
        env.husk.wait_for_state("rmfg", "running");
        env.check(&[row(&["exec", "rmfg", "true"]).prints("")]);
        env.release("rmfg");
        let deadline = std::time::Instant::now() + husk_tests::husk::state_timeout();
        while env.husk.run(&["container", "exists", "rmfg"]).code() == 0 {
            assert!(
                std::time::Instant::now() < deadline,
                "[{}] --rm container outlived its exit without the engine",
                env.husk.flavour()
            );
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        let left = env.left_since(&before);
        assert!(left.is_empty(), "[{}] --rm cleanup left:\n{left}", env.husk.flavour());
    }
);
