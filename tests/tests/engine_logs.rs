//! `husk logs`: stdout and stderr replayed to the matching stream, partial
//! lines kept partial, `--tail`, `--since`, `--until`, `-t`, `-f`, several
//! containers, and errors, rootful and rootless.

#[macro_use]
mod engine_common;

use engine_common::*;

/// A k8s-file timestamp as `logs -t` prints it (RFC 3339, nanoseconds).
const TS: &str = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?(Z|[+-]\d\d:\d\d)";

flavours!(
    /// A finished container's log, whole and in part.
    fn replay_tail_since_until(env) {
        env.pull();
        // stderr goes to stderr; the last line has no newline.
        let o = env.run(&[
            "run", "--name", "l", "{img}", "sh", "-c", "echo line1; echo line2 >&2; echo line3; printf partial",
        ]);
        assert_eq!(o.code(), 0, "{o}");
        let o = env.run(&["run", "--name", "out", "{img}", "sh", "-c", "echo a; echo b; echo c"]);
        assert_eq!(o.code(), 0, "{o}");
        let o = env.run(&["run", "--name", "out2", "{img}", "sh", "-c", "echo x; echo y"]);
        assert_eq!(o.code(), 0, "{o}");
        env.check(&[
            row(&["logs", "l"]).code(0).out(exact("line1\nline3\npartial")).err(exact("line2\n")),
            row(&["container", "logs", "out"]).prints("a\nb\nc\n"),
            row(&["logs", "--tail", "2", "out"]).prints("b\nc\n"),
            row(&["logs", "--tail=1", "out"]).prints("c\n"),
            row(&["logs", "--tail", "0", "out"]).prints(""),
            row(&["logs", "--tail", "-1", "out"]).prints("a\nb\nc\n").note("-1: everything"),
            row(&["logs", "--tail", "10", "out"]).prints("a\nb\nc\n"),
            row(&["logs", "-t", "out"])
                .out(re(&format!("^{TS} a\n{TS} b\n{TS} c\n$")))
                .err(Out::Empty),
            row(&["logs", "--timestamps", "--tail", "1", "out"])
                .out(re(&format!("^{TS} c\n$")))
                .err(Out::Empty),
            row(&["logs", "--since", "1h", "out"]).prints("a\nb\nc\n"),
            row(&["logs", "--since", "2000-01-01T00:00:00Z", "out"]).prints("a\nb\nc\n"),
            row(&["logs", "--since", "2099-01-01T00:00:00Z", "out"]).prints(""),
            row(&["logs", "--until", "2000-01-01T00:00:00Z", "out"]).prints(""),
            row(&["logs", "--until", "2099-01-01T00:00:00Z", "out"]).prints("a\nb\nc\n"),
            row(&["logs", "--since", "946684800", "out"]).prints("a\nb\nc\n").note("unix seconds"),
            row(&["logs", "--since", "bogus", "out"]).fails(125, &["bogus"]),
            row(&["logs", "--tail", "x", "out"]).fails(125, &["\"x\"", "tail"]),
            row(&["logs", "nosuch"]).fails(125, &["no container with name or ID \"nosuch\" found"]),
            row(&["logs"]).fails(125, &[]),
        ]);
        // Several containers: every line prefixed with its short id
        // (interleaved by time; a partial last line would run into the next
        // container's line, as in podman, so these end in newlines).
        let out = env.husk.id_of("out");
        let out2 = env.husk.id_of("out2");
        env.remember("out", &out);
        env.remember("out2", &out2);
        env.check(&[row(&["logs", "out", "out2"])
            .err(Out::Empty)
            .out(line_set(&["{out.short} a", "{out.short} b", "{out.short} c", "{out2.short} x", "{out2.short} y"]))]);
    }
);

flavours!(
    /// A running container's log, and `-f` following it to the end.
    fn follow(env) {
        env.pull();
        env.start_detached(
            "f",
            &[],
            &["sh", "-c", "echo n1; while [ ! -e /tmp/go ]; do sleep 0.1; done; echo n2; echo n3"],
        );
        env.husk.wait_for_log("f", "n1");
        env.check(&[row(&["logs", "f"]).prints("n1\n")]);
        let mut fol = env.husk.spawn(&["logs", "-f", "f"]);
        fol.wait_stdout("n1\n");
        assert!(fol.running(), "logs -f exited while the container runs: {:?}", fol.stdout());
        env.release("f");
        let o = fol.wait();
        assert_eq!((o.code(), o.stdout.as_str()), (0, "n1\nn2\nn3\n"), "logs -f: {o}");
        env.check(&[
            row(&["logs", "--follow", "--tail", "1", "f"]).prints("n3\n").note("-f of a stopped container returns"),
            row(&["logs", "-f", "f"]).prints("n1\nn2\nn3\n"),
        ]);
    }
);
