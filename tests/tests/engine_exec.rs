//! `husk exec` (-i, -t, -e, -u, -w, -d, --privileged, exit statuses),
//! `husk attach` and `husk top`, rootful and rootless.

#[macro_use]
mod engine_common;

use engine_common::*;

flavours!(
    /// exec's flags and exit statuses.
    fn exec_table(env) {
        env.pull();
        env.start_detached("e", &[], &["sleep", "1000"]);
        env.ok(&["create", "--name", "stopped", "{img}", "true"]);
        env.check(&[
            row(&["exec", "e", "echo", "hi"]).prints("hi\n"),
            row(&["container", "exec", "e", "echo", "grouped"]).prints("grouped\n"),
            row(&["exec", "e", "sh", "-c", "echo out; echo err >&2; exit 5"])
                .code(5)
                .out(exact("out\n"))
                .err(exact("err\n")),
            row(&["exec", "e", "nosuchcmd"]).fails(127, &["nosuchcmd", "not found"]),
            row(&["exec", "e", "/etc"])
                .fails(126, &["permission denied"])
                .v5("husk-runtime under podman exits 127 silently"),
            row(&["exec", "-e", "FOO=bar", "e", "sh", "-c", "echo $FOO"]).prints("bar\n"),
            row(&["exec", "--env", "A=1", "--env", "B=2", "e", "sh", "-c", "echo $A$B"]).prints("12\n"),
            row(&["exec", "-u", "1000", "e", "id"]).prints("uid=1000(user) gid=1000(user)\n"),
            row(&["exec", "--user", "1000:65534", "e", "id"])
                .prints("uid=1000(user) gid=65534(nogroup)\n"),
            row(&["exec", "-u", "user", "e", "id", "-u"]).prints("1000\n"),
            row(&["exec", "-u", "nosuchuser", "e", "id"])
                .code(125)
                .out(Out::Empty)
                .err(error(&["unable to find user nosuchuser"]))
                .v5("podman 4.3 exits 255 when the exec session cannot be created"),
            row(&["exec", "-w", "/tmp", "e", "pwd"]).prints("/tmp\n"),
            row(&["exec", "--workdir", "/etc", "e", "pwd"]).prints("/etc\n"),
            row(&["exec", "-w", "/nonexistent", "e", "pwd"]).fails(127, &["/nonexistent"]),
            row(&["exec", "e", "grep", "CapEff", "/proc/self/status"])
                .prints(&format!("CapEff:\t{DEFAULT_CAPS}\n"))
                .v5("4.3's default capabilities differ"),
            row(&["exec", "--privileged", "e", "sh", "-c", "grep -E 'CapEff|CapBnd' /proc/self/status"])
                .out(check(|t, _| {
                    let v: Vec<&str> = t.lines().map(|l| l.split('\t').nth(1).unwrap_or("")).collect();
                    if v.len() == 2 && v[0] == v[1] && u64::from_str_radix(v[0], 16).is_ok_and(|c| c & (1 << 21) != 0) {
                        Ok(())
                    } else {
                        Err("exec --privileged: want CapEff == CapBnd with CAP_SYS_ADMIN".to_owned())
                    }
                })),
            row(&["exec", "-i", "e", "cat"]).stdin("piped\n").prints("piped\n"),
            row(&["exec", "e", "cat"]).stdin("not passed\n").prints("").note("stdin only with -i"),
            row(&["exec", "-t", "e", "tty"]).out(re(r"^/dev/pts/\d+\r\n$")).err(Out::Empty),
            row(&["exec", "-d", "e", "sh", "-c", "echo detached > /tmp/d"]).out(re(ID_LINE)).err(Out::Empty)
                .note("exec -d prints the exec session's id"),
            // Same pid namespace: pid 1 is the container's.
            row(&["exec", "e", "cat", "/proc/1/cmdline"]).prints("sleep\u{0}1000\u{0}"),
            row(&["exec", "stopped", "true"])
                .fails(125, &["can only create exec sessions on running containers"])
                .v5("podman 4.3 exits 255"),
            row(&["exec", "e"])
                .fails(125, &["must provide a non-empty command to start an exec session"])
                .v5("podman 4.3 exits 255 (fixed in podman 5.1, containers/podman#22347)"),
            row(&["exec", "nosuch", "true"]).fails(125, &["no container with name or ID \"nosuch\" found"]),
        ]);
        // exec -d ran in the background.
        env.check(&[row(&["exec", "e", "sh", "-c", "while [ ! -s /tmp/d ]; do sleep 0.1; done; cat /tmp/d"])
            .prints("detached\n")]);
    }
);

flavours!(
    /// exec -it on a real terminal: an interactive shell in the container.
    fn exec_interactive_tty(env) {
        env.pull();
        env.start_detached("t", &[], &["sleep", "1000"]);
        let mut s = env.husk.pty(&["exec", "-it", "t", "sh"]);
        s.send(b"echo in-exec-$((3*3)); stty size\n");
        assert!(
            s.expect("in-exec-9", husk_tests::husk::state_timeout()),
            "[{}] {:?}",
            env.husk.flavour(),
            s.output()
        );
        s.send(b"exit 6\n");
        let (status, out) = s.wait(husk_tests::husk::state_timeout());
        assert_eq!(status.code(), Some(6), "[{}] exec -it: {out:?}", env.husk.flavour());
        let (rows, cols) = husk_tests::husk::pty::PTY_SIZE;
        assert!(out.contains(&format!("{rows} {cols}")), "exec -it tty size: {out:?}");
        env.check(&[row(&["inspect", "--format", "{{.State.Status}}", "t"]).prints("running\n")]);
    }
);

flavours!(
    /// attach: the container's output until it exits, then podman's
    /// newline; stopped containers cannot be attached.
    fn attach(env) {
        env.pull();
        env.start_detached(
            "a",
            &[],
            &["sh", "-c", "while [ ! -e /tmp/go ]; do echo tick; sleep 0.2; done; echo attached-out; exit 6"],
        );
        let mut att = env.husk.spawn(&["attach", "--no-stdin", "a"]);
        // Attached once it relays a tick.
        att.wait_stdout("tick\n");
        env.release("a");
        let o = att.wait();
        let body = o.stdout.strip_suffix("attached-out\n\n").unwrap_or_else(|| {
            panic!("[{}] attach output must end with the container's last line and podman's newline: {o}", env.husk.flavour())
        });
        assert!(body.lines().all(|l| l == "tick"), "attach relayed {:?}", o.stdout);
        assert_eq!(o.code(), 0, "[{}] attach exits 0 (podman 4.3 and 5): {o}", env.husk.flavour());
        env.check(&[
            row(&["wait", "a"]).prints("6\n"),
            row(&["attach", "a"]).fails(125, &["you can only attach to running containers"]),
            row(&["attach", "nosuch"]).fails(125, &["no container with name or ID \"nosuch\" found"]),
        ]);
    }
);

flavours!(
    /// top: podman's default descriptors, chosen descriptors, and ps(1)
    /// options run inside the container.
    fn top(env) {
        env.pull();
        env.start_detached("t", &[], &["sleep", "1000"]);
        env.ok(&["create", "--name", "stopped", "{img}", "true"]);
        env.check(&[
            row(&["top", "t"]).err(Out::Empty).out(check(|text, _| {
                let mut lines = text.lines();
                let head: Vec<&str> = lines.next().unwrap_or("").split_whitespace().collect();
                if head != ["USER", "PID", "PPID", "%CPU", "ELAPSED", "TTY", "TIME", "COMMAND"] {
                    return Err(format!("header {head:?}"));
                }
                let r: Vec<&str> = lines.next().unwrap_or("").split_whitespace().collect();
                if r.len() >= 9 && r[0] == "root" && r[1] == "1" && r[2] == "0" && r[7] == "sleep" && r[8] == "1000" {
                    Ok(())
                } else {
                    Err(format!("want root 1 0 ... sleep 1000, got {r:?}"))
                }
            })),
            row(&["container", "top", "t", "pid", "comm", "args", "user"])
                .err(Out::Empty)
                .out(check(|text, _| {
                    let l: Vec<Vec<&str>> = text.lines().map(|l| l.split_whitespace().collect()).collect();
                    let want = vec![
                        vec!["PID", "COMMAND", "COMMAND", "USER"],
                        vec!["1", "sleep", "sleep", "1000", "root"],
                    ];
                    if l == want {
                        Ok(())
                    } else {
                        Err(format!("want {want:?}, got {l:?}"))
                    }
                })),
            row(&["top", "stopped"]).fails(125, &["top can only be used on running containers"]),
            row(&["top", "nosuch"]).fails(125, &["no container with name or ID \"nosuch\" found"]),
        ]);
    }
);
