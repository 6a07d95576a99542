//! Bad input: unknown images, name conflicts, rm of a running container,
//! exec into a stopped one, invalid flag values and combinations, a
//! missing `--rootfs`. Each row must fail with podman's exit status and
//! `Error: ` message, and leave nothing behind: no catalog row, no file
//! under the storage root or run root, no mount under the test's
//! directory, no husk cgroup on the host.
//!
//! The tests of this binary hold one lock, so a new husk cgroup seen
//! during a row can only be that row's (other test binaries do not run at
//! the same time under `cargo test`).

#[macro_use]
mod engine_common;

use std::fmt::Write as _;

use engine_common::*;

/// Runs each row and checks it left nothing behind.
fn check_leaves_nothing(env: &Env, rows: &[Row]) {
    let mut failures = String::new();
    let mut n = 0;
    for r in rows {
        if podman43() && r.not_on_podman43.is_some() {
            continue;
        }
        let before = env.husk.snapshot();
        let mut why = match env.check_row(r) {
            Ok(_) => String::new(),
            Err(e) => e,
        };
        let left = env.left_since(&before);
        if !left.is_empty() {
            let args: Vec<String> = r.args.iter().map(|a| env.fill(a)).collect();
            if why.is_empty() {
                why = format!("husk {}", shell_words(&args));
            }
            let _ = write!(why, "\n  left behind:\n{left}");
        }
        if !why.is_empty() {
            n += 1;
            let _ = writeln!(failures, "{why}\n");
        }
    }
    assert!(
        n == 0,
        "[{}] {n} of {} bad-input rows failed:\n\n{failures}",
        env.husk.flavour(),
        rows.len()
    );
}

flavours!(
    /// Bad images, names, states and flag values.
    fn bad_input_leaves_nothing(env) {
        let _serial = host_lock();
        env.pull();
        env.start_detached("dup", &[], &["sleep", "1000"]);
        env.ok(&["create", "--name", "stopped", "{img}", "true"]);
        let mut rows = vec![
            row(&["run", "--rm", "nosuchimage", "true"]).fails(125, &["nosuchimage", "manifest unknown"]),
            row(&["create", "nosuchimage"]).fails(125, &["nosuchimage"]),
            row(&["run", "--rm", "127.0.0.1:1/nothing-listens:latest", "true"]).fails(125, &["127.0.0.1:1"]),
            row(&["run", "--name", "dup", "{img}", "true"]).fails(
                125,
                &["the container name \"dup\" is already in use by {dup.id}"],
            ),
            row(&["create", "--name", "dup", "{img}", "true"]).fails(125, &["\"dup\" is already in use"]),
            row(&["rename", "stopped", "dup"]).fails(125, &["dup", "already in use"]),
            row(&["rm", "dup"]).fails(
                2,
                &["cannot remove container {dup.id} as it is running", "without force"],
            ),
            row(&["exec", "stopped", "true"])
                .fails(125, &["can only create exec sessions on running containers"])
                .v5("podman 4.3 exits 255"),
            row(&["exec", "dup", "nosuchcmd"])
                .fails(127, &["nosuchcmd"])
                .v5("podman 4.3 keeps the failed exec session's files until the container goes"),
            row(&["run", "--rm", "--memory", "lots", "{img}", "true"])
                .fails(125, &["invalid value for memory", "lots"]),
            row(&["run", "--rm", "--restart", "always", "{img}", "true"])
                .fails(125, &["the --rm option conflicts with --restart, when the restartPolicy is not \"\" and \"no\""]),
            row(&["run", "--restart", "bogus", "{img}", "true"])
                .fails(125, &["\"bogus\" is not a valid restart policy"]),
            row(&["run", "--rm", "--pull", "sometimes", "{img}", "true"])
                .fails(125, &["unsupported pull policy \"sometimes\""]),
            row(&["run", "--rm", "--ulimit", "nofile=a", "{img}", "true"])
                .fails(125, &["ulimit option \"nofile=a\" requires name=SOFT:HARD", "\"a\""]),
            row(&["run", "--rm", "--ulimit", "bogus=1:2", "{img}", "true"])
                .fails(125, &["invalid ulimit type: bogus"]),
            row(&["run", "--rm", "--ulimit", "nofile=2048:1024", "{img}", "true"])
                .fails(125, &["soft limit must be less than or equal to hard limit: 2048 > 1024"]),
            row(&["run", "--rm", "--uidmap", "bad", "{img}", "true"])
                .fails(125, &["UID setting is malformed", "bad"]),
            row(&["run", "--rm", "--gidmap", "0:1", "{img}", "true"])
                .fails(125, &["setting is malformed", "0:1"])
                .note("podman says \"UID setting\" for --gidmap too"),
            row(&["run", "--rm", "--rootfs", "/nonexistent/rootfs", "true"])
                .fails(125, &["/nonexistent/rootfs", "no such file or directory"]),
            row(&["run", "--rm", "--cpus", "abc", "{img}", "true"]).fails(125, &["\"abc\"", "--cpus"]),
            row(&["run", "--rm", "--pids-limit", "abc", "{img}", "true"])
                .fails(125, &["\"abc\"", "--pids-limit"]),
            row(&["run", "--rm", "--cpu-shares", "x", "{img}", "true"]).fails(125, &["\"x\"", "--cpu-shares"]),
            row(&["run", "--rm", "--name", "bad/name", "{img}", "true"])
                .fails(125, &["names must match [a-zA-Z0-9][a-zA-Z0-9_.-]*"]),
            row(&["run", "--rm", "--cap-add", "BOGUS", "{img}", "true"])
                .fails(125, &["\"CAP_BOGUS\": unknown capability"]),
            row(&["run", "--rm", "--stop-signal", "BOGUS", "{img}", "true"])
                .fails(125, &["invalid signal: BOGUS"]),
            row(&["run", "--rm", "--userns", "bogus", "{img}", "true"])
                .fails(125, &["unrecognized namespace mode bogus"]),
            row(&["run", "--rm", "--security-opt", "seccomp=/nonexistent.json", "{img}", "true"])
                .fails(125, &["opening seccomp profile failed", "/nonexistent.json"]),
            row(&["run", "--rm", "--security-opt", "bogus", "{img}", "true"])
                .fails(125, &["invalid --security-opt", "bogus"]),
            row(&["run", "--rm", "-v", "/nonexistent/dir:/x", "{img}", "true"])
                .fails(125, &["/nonexistent/dir", "no such file or directory"]),
            row(&["run", "--rm", "--env-file", "/nonexistent/env", "{img}", "true"])
                .fails(125, &["parsing env file \"/nonexistent/env\""]),
            row(&["run", "--rm", "--log-driver", "bogus", "{img}", "true"])
                .fails(125, &["invalid log driver"]),
            row(&["run", "--rm", "--mount", "type=bogus,dst=/x", "{img}", "true"])
                .fails(125, &["invalid filesystem type \"bogus\""]),
            row(&["run", "--rm", "--tmpfs", "relative", "{img}", "true"])
                .fails(125, &["invalid container path \"relative\", must be an absolute path"]),
            row(&["run", "--rm", "-a", "bogus", "{img}", "true"])
                .fails(125, &["invalid stream \"bogus\" for --attach"]),
            row(&["run", "--rm", "--network", "bogus", "{img}", "true"]).fails(125, &["bogus"]),
            row(&["run", "--rm", "--bogus-flag", "{img}", "true"]).fails(125, &["unknown flag: --bogus-flag"]),
            row(&["run"]).fails(125, &["requires at least 1 arg"]),
            // Failures after the container exists, with --rm: removed.
            row(&["run", "--rm", "{img}", "nosuchcmd"]).fails(127, &["nosuchcmd"]),
            row(&["run", "--rm", "-w", "/newdir", "{img}", "pwd"])
                .fails(126, &["workdir \"/newdir\" does not exist on container"]),
            row(&["start", "nosuch"]).fails(125, &["no container with name or ID \"nosuch\" found"]),
            row(&["stop", "nosuch"]).fails(125, &["no container with name or ID \"nosuch\" found"]),
            row(&["kill", "stopped"]).fails(125, &["can only kill running containers"]),
            row(&["logs", "nosuch"]).fails(125, &["no container with name or ID \"nosuch\" found"]),
            row(&["inspect", "nosuch"]).code(125).out(exact("[]\n")).err(error(&["no such object"])),
            row(&["ps", "--filter", "bogus=1"]).fails(125, &["bogus is an invalid filter"]),
        ];
        if !env.rootless_env() || husk_tests::husk::leftovers::is_unified_host() {
            // Rootless without a delegated cgroup, podman drops resource
            // flags (with a warning) before validating them.
            rows.push(
                row(&["run", "--rm", "--memory-swap", "128m", "{img}", "true"])
                    .fails(125, &["you should always set a memory limit when using a memoryswap limit"]),
            );
        }
        if !env.rootless_env() {
            rows.push(
                row(&["run", "--rm", "--userns", "keep-id", "{img}", "true"])
                    .fails(125, &["keep-id is only supported in rootless mode"]),
            );
        }
        check_leaves_nothing(env, &rows);
        // The setup containers are untouched.
        env.check(&[
            row(&["inspect", "--format", "{{.State.Status}}", "dup"]).prints("running\n"),
            row(&["inspect", "--format", "{{.State.Status}}", "stopped"]).prints("created\n"),
        ]);
    }
);

flavours!(
    /// After a failed run that created a container (no --rm), the container
    /// stays as podman leaves it, and `rm` then removes everything: no
    /// state, mount or cgroup is left.
    fn failed_start_then_rm(env) {
        let _serial = host_lock();
        env.pull();
        let before = env.husk.snapshot();
        let o = env.run(&["run", "--name", "bad", "{img}", "nosuchcmd"]);
        assert_eq!(o.code(), 127, "{o}");
        let id = env.husk.id_of("bad");
        env.remember("bad", &id);
        env.check(&[
            row(&["ps", "-a", "--format", "{{.Names}} {{.State}}"])
                .out(re(r"^bad (created|exited)\n$"))
                .err(Out::Empty)
                .v5("4.3's .State is the status text"),
            row(&["rm", "bad"]).prints("bad\n"),
        ]);
        let left = env.left_since(&before);
        assert!(left.is_empty(), "[{}] rm after a failed start left:\n{left}", env.husk.flavour());
        assert!(
            husk_tests::husk::leftovers::cgroups_of(&id).is_empty(),
            "cgroups of {id} remain"
        );
    }
);
