//! husk's benchmark suite, `husk-bench SUBCOMMAND [-n N] [--json FILE]
//! [--markdown FILE]`: each benchmark prints a markdown section and writes
//! its JSON, measuring husk against crun, runc and podman in the same run
//! so that ratios, not absolute numbers, carry the result.
//! `husk-bench all --out DIR` runs every one and writes `DIR/<name>.json`,
//! `DIR/<name>.md` and `DIR/summary.md` (for docs/performance.md).
//!
//! Everything runs in a private mount namespace with a hybrid host's
//! cgroup2 mount hidden (crun refuses to run next to it), see [`hidden`].

mod args;
mod cgroup_tail;
mod engine_run;
mod engines;
mod hidden;
mod lifecycle;
mod pull;
mod report;
mod runtimes;
mod settle;
mod shim_rss;
mod stats;
mod throughput;
mod trace;

use std::path::PathBuf;

use anyhow::{bail, Context, Result};

use args::Args;
use report::Report;

/// A benchmark: its subcommand, what it measures, and its entry point.
struct Bench {
    name: &'static str,
    about: &'static str,
    run: fn(&Args) -> Result<Report>,
    /// Flags `all --quick` passes (a cheap run that still shows the shape).
    quick: &'static [&'static str],
}

const BENCHES: &[Bench] = &[
    Bench {
        name: "runtime-lifecycle",
        about: "RUNTIME run of busybox true: husk-runtime, crun, runc",
        run: lifecycle::run,
        quick: &["-n", "3"],
    },
    Bench {
        name: "engine-run",
        about: "run --rm busybox true, rootful and rootless: husk, podman+crun, podman+runc",
        run: engine_run::run,
        quick: &["-n", "3", "--warmup", "1"],
    },
    Bench {
        name: "back-to-back",
        about: "50 run --rm in a row per engine",
        run: throughput::back_to_back,
        quick: &["-n", "5"],
    },
    Bench {
        name: "parallel",
        about: "16 run --rm at once against 16 back-to-back (throughput)",
        run: throughput::parallel,
        quick: &["-n", "4", "--reps", "1"],
    },
    Bench {
        name: "pull",
        about: "pull busybox from a local registry: husk pull, skopeo copy, podman pull",
        run: pull::run,
        quick: &["-n", "2"],
    },
    Bench {
        name: "cgroup-tail",
        about: "the cgroup migration tail: back-to-back, after idle, interleaved",
        run: cgroup_tail::run,
        quick: &["-n", "3"],
    },
];

fn usage() -> String {
    let mut s = String::from(
        "usage: husk-bench SUBCOMMAND [-n N] [--json FILE] [--markdown FILE] [flags]\n       \
         husk-bench all --out DIR [--quick]\n\nsubcommands:\n",
    );
    for b in BENCHES {
        s.push_str(&format!("  {:<18} {}\n", b.name, b.about));
    }
    s.push_str("  shim-rss           VmRSS and Pss of idle shims (against conmon when one runs)\n");
    s
}

/// `all --out DIR [--quick]`: every benchmark; one failing is recorded in
/// the summary, not fatal.
fn all(args: &[String]) -> Result<()> {
    let mut a = Args::parse(args)?;
    let out = PathBuf::from(a.take_value("--out")?.context("all needs --out DIR")?);
    let quick = a.take_flag("--quick");
    a.finish(&usage())?;
    std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
    let load = report::load1();
    let mut summary = String::new();
    let mut failed = Vec::new();
    for b in BENCHES {
        let mut own: Vec<String> = if quick {
            b.quick.iter().map(|s| s.to_string()).collect()
        } else {
            Vec::new()
        };
        own.extend([
            "--json".into(),
            out.join(format!("{}.json", b.name)).display().to_string(),
            "--markdown".into(),
            out.join(format!("{}.md", b.name)).display().to_string(),
        ]);
        eprintln!("husk-bench all: {}", b.name);
        let parsed = Args::parse(&own)?;
        match (b.run)(&parsed).and_then(|r| r.emit(&parsed).map(|()| r)) {
            Ok(r) => summary.push_str(&format!("\n{}\n", r.markdown)),
            Err(e) => {
                summary.push_str(&format!("\n### {}\n\nfailed: {e:#}\n", b.name));
                failed.push(b.name);
            }
        }
    }
    // The shim's memory, with its own flags, last: it needs no peer.
    eprintln!("husk-bench all: shim-rss");
    let md = out.join("shim-rss.md");
    let mut own: Vec<String> = vec![
        "--json".into(),
        out.join("shim-rss.json").display().to_string(),
        "--markdown".into(),
        md.display().to_string(),
    ];
    if quick {
        own.extend(["-n", "2", "--rounds", "3"].map(String::from));
    }
    match shim_rss::main(&own).and_then(|()| std::fs::read_to_string(&md).map_err(Into::into)) {
        Ok(t) => summary.push_str(&format!(
            "\n### Shim RSS: idle shims holding a busybox sleep\n\n{t}\n"
        )),
        Err(e) => {
            summary.push_str(&format!("\n### shim-rss\n\nfailed: {e:#}\n"));
            failed.push("shim-rss");
        }
    }
    let summary = format!(
        "## Benchmark summary\n\n`husk-bench all{}`: {}\n{summary}",
        if quick { " --quick" } else { "" },
        report::conditions(load)
    );
    let path = out.join("summary.md");
    std::fs::write(&path, &summary).with_context(|| format!("writing {}", path.display()))?;
    eprintln!("husk-bench all: wrote {}", path.display());
    if !failed.is_empty() {
        bail!("failed: {}", failed.join(", "));
    }
    Ok(())
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(cmd) = args.first() else {
        bail!("{}", usage());
    };
    if cmd == "-h" || cmd == "--help" {
        print!("{}", usage());
        return Ok(());
    }
    // The shim's RSS benchmark has its own flags (-n SHIMS, --rounds N)
    // and needs no hidden mount namespace.
    if cmd == "shim-rss" {
        return shim_rss::main(&args[1..]);
    }
    if cmd != "all" && !BENCHES.iter().any(|b| b.name == cmd) {
        bail!("unknown subcommand {cmd:?}\n{}", usage());
    }
    if hidden::reexec(&args)? {
        return Ok(());
    }
    if cmd == "all" {
        return all(&args[1..]);
    }
    let bench = BENCHES
        .iter()
        .find(|b| b.name == cmd)
        .expect("checked above");
    let a = Args::parse(&args[1..])?;
    (bench.run)(&a)?.emit(&a)
}
