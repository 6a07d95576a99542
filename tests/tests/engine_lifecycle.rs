//! Lifecycle commands on real containers: start (-a, -i), stop (-t), kill
//! (-s), restart, wait (--condition), pause, unpause, rename, rm (-f, -v,
//! --all), container exists, container prune; what each prints (podman
//! echoes the name or id the user gave, `--all` prints full ids) and its
//! exit status, rootful and rootless.

#[macro_use]
mod engine_common;

use engine_common::*;
use husk_tests::husk::leftovers::is_unified_host;

/// A container that prints `out1`, then exits 7 on SIGTERM.
const TRAPPER: &[&str] = &[
    "sh",
    "-c",
    "echo out1; trap 'echo got-term; exit 7' TERM; while :; do sleep 0.1; done",
];

flavours!(
    /// start, start -a, stop -t, kill -s, wait, and their errors.
    fn start_stop_kill_wait(env) {
        env.pull();
        env.start_detached("r", &[], TRAPPER);
        env.husk.wait_for_log("r", "out1");
        let id = env
            .ok(&["create", "--name", "c", "{img}", "sh", "-c", "echo created-out; exit 4"])
            .trim()
            .to_owned();
        env.remember("c", &id);
        env.check(&[
            row(&["start", "c"]).prints("c\n"),
            row(&["wait", "c"]).prints("4\n"),
            row(&["start", "-a", "c"]).code(4).out(exact("created-out\n")).err(Out::Empty),
            row(&["start", "--attach", "c"]).code(4).out(exact("created-out\n")).err(Out::Empty),
            // podman echoes what the user typed.
            row(&["start", "{c.short}"]).prints("{c.short}\n"),
            row(&["wait", "{c.id}"]).prints("4\n"),
            row(&["container", "start", "c"]).prints("c\n"),
            row(&["start", "nosuch"])
                .fails(125, &["no container with name or ID \"nosuch\" found", "no such container"]),
            row(&["stop", "-t", "5", "r"]).prints("r\n"),
            row(&["wait", "r"]).prints("7\n").note("the TERM trap ran"),
            row(&["ps", "-a", "--filter", "name=^r$", "--format", "{{.Status}}"])
                .out(re(&format!("^{}\n$", exited_pat(7))))
                .err(Out::Empty),
            row(&["logs", "r"]).prints("out1\ngot-term\n"),
            row(&["stop", "r"]).prints("r\n").note("stopping a stopped container succeeds"),
            row(&["stop", "nosuch"]).fails(125, &["no container with name or ID \"nosuch\" found"]),
            row(&["stop", "-i", "nosuch"]).prints(""),
            row(&["stop", "--ignore", "r", "nosuch"]).prints("r\n"),
            row(&["stop", "-t", "x", "r"]).fails(125, &["\"x\"", "time"]),
            row(&["start", "r"]).prints("r\n"),
        ]);
        env.husk.wait_for_state("r", "running");
        env.husk.wait_for_log("r", "out1\ngot-term\nout1");
        env.check(&[
            row(&["kill", "-s", "TERM", "r"]).prints("r\n"),
            row(&["wait", "r"]).prints("7\n"),
            row(&["kill", "r"]).fails(
                125,
                &["can only kill running containers", "{r.id}", "is in state exited"],
            ),
            row(&["kill", "-s", "BOGUS", "r"]).fails(125, &["invalid signal: BOGUS"]),
            row(&["kill", "nosuch"]).fails(125, &["no container with name or ID \"nosuch\" found"]),
            row(&["start", "r"]).prints("r\n"),
        ]);
        env.husk.wait_for_state("r", "running");
        env.check(&[
            row(&["kill", "--signal", "SIGKILL", "r"]).prints("r\n"),
            row(&["wait", "r"]).prints("137\n"),
            row(&["inspect", "--format", "{{.State.ExitCode}}", "r"]).prints("137\n"),
        ]);
        // Default signal: KILL.
        env.ok(&["start", "r"]);
        env.husk.wait_for_state("r", "running");
        env.check(&[row(&["kill", "r"]).prints("r\n"), row(&["wait", "r"]).prints("137\n")]);
        // stop -t: a container ignoring TERM is killed after the timeout.
        env.start_detached(
            "stubborn",
            &[],
            &["sh", "-c", "trap '' TERM; while :; do sleep 0.1; done"],
        );
        env.check(&[
            row(&["stop", "--time", "1", "stubborn"]).out(exact("stubborn\n")),
            row(&["wait", "stubborn"]).prints("137\n"),
        ]);
    }
);

flavours!(
    /// A foreground `run` ends with the container: `husk kill` from
    /// elsewhere makes it exit 137.
    fn foreground_run_killed(env) {
        env.pull();
        let img = env.img();
        let mut fg = env.husk.spawn(&["run", "--name", "fg", img.as_str(), "sh", "-c", "echo up; sleep 1000"]);
        fg.wait_stdout("up");
        env.check(&[row(&["kill", "fg"]).prints("fg\n")]);
        let o = fg.wait();
        assert_eq!(o.code(), 137, "[{}] foreground run of a killed container: {o}", env.husk.flavour());
        assert_eq!(o.stdout, "up\n");
    }
);

flavours!(
    /// wait --condition, with several containers, and its errors.
    fn wait_conditions(env) {
        env.pull();
        env.start_detached("w2", &[], TRAPPER);
        env.ok(&["create", "--name", "w3", "{img}", "sh", "-c", "exit 5"]);
        let o = env.run(&["run", "--name", "w1", "{img}", "sh", "-c", "exit 3"]);
        assert_eq!(o.code(), 3, "{o}");
        env.check(&[
            row(&["wait", "w1"]).prints("3\n"),
            row(&["wait", "--condition", "stopped", "w1"]).prints("3\n"),
            row(&["wait", "--condition", "exited", "w1"]).prints("3\n"),
            row(&["wait", "--condition", "running", "w2"]).prints("-1\n"),
            row(&["wait", "--condition", "created", "w3"]).prints("-1\n"),
            row(&["container", "wait", "w1"]).prints("3\n"),
            row(&["wait", "--condition", "bogus", "w2"]).fails(125, &["bogus"]),
            row(&["wait", "nosuch"]).fails(125, &["no container with name or ID \"nosuch\" found"]),
            row(&["wait", "--ignore", "nosuch", "w1"])
                .prints("-1\n3\n")
                .note("podman 5: a missing container's status is -1")
                .v5("wait --ignore is podman 5's"),
        ]);
        // wait blocks until the container stops, one line per container.
        let waiter = env.husk.spawn(&["wait", "w2", "w1"]);
        env.ok(&["start", "w3"]);
        env.ok(&["stop", "w2"]);
        let o = waiter.wait();
        assert_eq!((o.code(), o.stdout.as_str()), (0, "7\n3\n"), "{o}");
    }
);

flavours!(
    /// restart, pause, unpause (needs a cgroup: rootless on cgroup v1 it is
    /// refused, as podman refuses it).
    fn restart_pause_unpause(env) {
        env.pull();
        env.start_detached("p", &[], TRAPPER);
        let o = env.run(&["run", "--name", "ex", "{img}", "sh", "-c", "exit 3"]);
        assert_eq!(o.code(), 3, "{o}");
        env.check(&[
            row(&["restart", "-t", "5", "p"]).prints("p\n"),
            row(&["inspect", "--format", "{{.State.Status}}", "p"]).prints("running\n"),
            row(&["restart", "ex"]).prints("ex\n").note("restart starts a stopped container"),
            row(&["wait", "ex"]).prints("3\n"),
            row(&["container", "restart", "--time", "0", "p"]).prints("p\n"),
            row(&["restart", "nosuch"]).fails(125, &["no container with name or ID \"nosuch\" found"]),
            row(&["pause", "ex"]).fails(125, &["is not running, can't pause"]),
        ]);
        env.husk.wait_for_state("p", "running");
        if env.rootless_env() && !is_unified_host() {
            env.check(&[row(&["pause", "p"])
                .fails(125, &["pause", "cgroup"])
                .note("podman: can not pause containers on rootless containers with cgroup V1")]);
            return;
        }
        env.check(&[
            row(&["pause", "p"]).prints("p\n"),
            row(&["inspect", "--format", "{{.State.Status}} {{.State.Paused}} {{.State.Running}}", "p"])
                .prints("paused true false\n"),
            row(&["ps", "-q"]).prints("").note("ps without -a shows running containers only"),
            row(&["ps", "-a", "-q", "--filter", "status=paused"]).prints("{p.short}\n"),
            row(&["ps", "-a", "--filter", "name=^p$", "--format", "{{.Status}}"]).prints("Paused\n"),
            row(&["pause", "p"]).fails(125, &["already paused"]),
            row(&["exec", "p", "true"]).code(125).err(error(&["paused"])).v5("4.3 exits 255"),
            row(&["unpause", "p"]).prints("p\n"),
            row(&["inspect", "--format", "{{.State.Status}}", "p"]).prints("running\n"),
            row(&["unpause", "p"]).fails(125, &["is not paused, can't unpause"]),
            row(&["exec", "p", "echo", "alive"]).prints("alive\n"),
        ]);
    }
);

flavours!(
    /// rename and container exists.
    fn rename_and_exists(env) {
        env.pull();
        env.start_detached("r", &[], &["sleep", "1000"]);
        env.ok(&["create", "--name", "other", "{img}", "true"]);
        env.check(&[
            row(&["rename", "r", "r2"]).prints(""),
            row(&["container", "exists", "r2"]).prints(""),
            row(&["container", "exists", "r"]).code(1).out(Out::Empty).err(Out::Empty),
            row(&["container", "exists", "{r.short}"]).prints(""),
            row(&["container", "exists", "nosuch"]).code(1).out(Out::Empty).err(Out::Empty),
            row(&["inspect", "--format", "{{.Name}}", "{r.id}"]).prints("r2\n"),
            row(&["ps", "--format", "{{.Names}}"]).prints("r2\n"),
            row(&["container", "rename", "r2", "r3"]).prints(""),
            row(&["rename", "nosuch", "x"]).fails(125, &["no container with name or ID \"nosuch\" found"]),
            row(&["rename", "r3", "bad name"])
                .fails(125, &["names must match [a-zA-Z0-9][a-zA-Z0-9_.-]*"]),
            row(&["rename", "r3", "other"]).fails(125, &["other", "already in use"]),
            row(&["exec", "r3", "true"]).prints("").note("a renamed container keeps running"),
        ]);
    }
);

flavours!(
    /// rm: running without -f (exit 2), -f, -v, -i, --all, missing (exit
    /// 1), and container prune.
    fn rm_and_prune(env) {
        env.pull();
        env.start_detached("run1", &[], TRAPPER);
        env.start_detached("run2", &[], TRAPPER);
        let o = env.run(&["run", "--name", "ex1", "{img}", "true"]);
        assert_eq!(o.code(), 0, "{o}");
        let id = env.husk.id_of("ex1");
        env.remember("ex1", &id);
        env.ok(&["create", "--name", "cr1", "{img}", "true"]);
        let id = env.husk.id_of("cr1");
        env.remember("cr1", &id);
        env.ok(&["run", "--name", "ex2", "{img}", "true"]);
        let id = env.husk.id_of("ex2");
        env.remember("ex2", &id);
        env.check(&[
            row(&["rm", "run1"]).fails(
                2,
                &[
                    "cannot remove container {run1.id} as it is running",
                    "running or paused containers cannot be removed without force",
                ],
            ),
            row(&["container", "exists", "run1"]).prints(""),
            row(&["rm", "nosuch"]).fails(1, &["no container with name or ID \"nosuch\" found"]),
            row(&["rm", "-f", "nosuch"]).prints(""),
            row(&["rm", "-i", "nosuch"]).prints(""),
            row(&["rm", "-t", "0", "ex1"])
                .fails(125, &["--force option must be specified to use the --time option"]),
            row(&["rm", "-v", "ex1"]).prints("ex1\n"),
            row(&["rm", "-f", "-t", "0", "run1"]).prints("run1\n"),
            row(&["container", "exists", "run1"]).code(1).out(Out::Empty),
            row(&["container", "rm", "{ex2.short}"]).prints("{ex2.short}\n"),
            // prune removes stopped containers (created ones too) and keeps
            // running ones; it prints the full ids.
            row(&["container", "prune", "-f"]).err(Out::Empty).out(line_set(&["{cr1.id}"])),
            row(&["container", "prune", "--force"]).prints(""),
            row(&["ps", "-a", "--format", "{{.Names}}"]).prints("run2\n"),
        ]);
        let o = env.run(&["run", "--name", "ex3", "{img}", "true"]);
        assert_eq!(o.code(), 0, "{o}");
        let id = env.husk.id_of("ex3");
        env.remember("ex3", &id);
        let id = env.husk.id_of("run2");
        env.remember("run2", &id);
        env.check(&[
            row(&["rm", "--all"]).code(2).out(exact("{ex3.id}\n")).err(error(&["{run2.id}", "is running"]))
                .note("--all without --force removes what it can, fails on running ones"),
            row(&["rm", "-a", "-f", "-t", "0"]).prints("{run2.id}\n"),
            row(&["ps", "-a", "-q"]).prints(""),
            row(&["rm", "--all"]).prints(""),
        ]);
    }
);

flavours!(
    /// A container whose processes run as another user (`-u 1000`, a
    /// subordinate id rootless) can still be stopped, killed and removed
    /// with `rm -f`: rootless, the signals must come from outside its user
    /// namespace, not from a fresh one with the same mapping.
    fn other_user_stop_and_force_rm(env) {
        env.pull();
        let before = env.husk.snapshot();
        env.start_detached("u1", &["-u", "1000"], &["sleep", "1000"]);
        env.check(&[row(&["stop", "-t", "1", "u1"]).prints("u1\n")]);
        env.start_detached("u2", &["-u", "1000:1000"], &["sleep", "1000"]);
        env.check(&[
            row(&["kill", "-s", "STOP", "u2"]).prints("u2\n"),
            row(&["rm", "-f", "-t", "1", "u2"]).prints("u2\n"),
            row(&["rm", "u1"]).prints("u1\n"),
            row(&["ps", "-a", "-q"]).prints(""),
        ]);
        let left = env.left_since(&before);
        assert!(left.is_empty(), "[{}] left:\n{left}", env.husk.flavour());
    }
);
