//! Parsing the commands that sit on the start-up path (`run`, the shim's
//! `container cleanup`, `ps`, `rm`...) without building the whole command
//! tree. clap builds every subcommand's flags before it parses anything; for
//! husk's tree that is about a millisecond of a `run --rm` that takes twenty,
//! and a `run --rm` pays it twice (itself and its cleanup).
//!
//! The trimmed tree holds the global flags and the one subcommand the
//! command line names, built from the same definitions as the full tree, so
//! a command line it accepts parses exactly as the full tree parses it. Any
//! error, `--help` included, returns `None` and the caller parses again with
//! the full tree, whose messages and help text are the ones users see.

use std::ffi::OsString;

use clap::{Args, Command, FromArgMatches};

use super::container::{exec, lifecycle, logs, ps, run};
use super::Cli;

/// Adds a subcommand's flags to its (empty) command.
type Build = fn(Command) -> Command;

/// Top-level subcommands parsed on their own.
const TOP: [(&str, Build); 12] = [
    ("run", run::RunArgs::augment_args),
    ("create", run::RunArgs::augment_args),
    ("start", run::StartArgs::augment_args),
    ("ps", ps::PsArgs::augment_args),
    ("rm", lifecycle::RmArgs::augment_args),
    ("stop", lifecycle::StopArgs::augment_args),
    ("kill", lifecycle::KillArgs::augment_args),
    ("wait", lifecycle::WaitArgs::augment_args),
    ("exec", exec::ExecArgs::augment_args),
    ("logs", logs::LogsArgs::augment_args),
    ("pull", super::image::pull::PullArgs::augment_args),
    ("images", super::image::list::ImagesArgs::augment_args),
];

/// Subcommands of `container` parsed on their own.
const CONTAINER: [(&str, Build); 4] = [
    ("cleanup", lifecycle::CleanupArgs::augment_args),
    ("run", run::RunArgs::augment_args),
    ("rm", lifecycle::RmArgs::augment_args),
    ("ps", ps::PsArgs::augment_args),
];

fn find(table: &[(&'static str, Build)], word: &str) -> Option<(&'static str, Build)> {
    table.iter().find(|(n, _)| *n == word).copied()
}

/// The trimmed tree for `args`, when its first known word is a command of
/// the tables (a global flag's value that happens to be a command name
/// makes the trimmed parse fail, and the caller falls back).
fn trimmed(args: &[OsString]) -> Option<Command> {
    let words: Vec<&str> = args.iter().skip(1).filter_map(|a| a.to_str()).collect();
    let at = words
        .iter()
        .position(|w| !w.starts_with('-') && is_command(w))?;
    let top = words[at];
    let sub = if top == "container" {
        let (name, build) = find(&CONTAINER, words.get(at + 1)?)?;
        Command::new("container").subcommand(build(Command::new(name)))
    } else {
        let (name, build) = find(&TOP, top)?;
        build(Command::new(name))
    };
    let base = Command::new("husk").disable_help_subcommand(true);
    Some(super::ctx::GlobalOpts::augment_args(base).subcommand(sub))
}

fn is_command(w: &str) -> bool {
    w == "container" || find(&TOP, w).is_some()
}

/// Parses `args` with the trimmed tree; `None` when the command is not a
/// hot one or the trimmed tree does not accept the line.
pub fn parse(args: &[OsString]) -> Option<Cli> {
    let matches = trimmed(args)?.try_get_matches_from(args).ok()?;
    Cli::from_arg_matches(&matches).ok()
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    fn line(s: &str) -> Vec<std::ffi::OsString> {
        std::iter::once("husk")
            .chain(s.split_whitespace())
            .map(Into::into)
            .collect()
    }

    /// What the trimmed tree accepts, it parses as the full tree does.
    #[test]
    fn same_result_as_the_full_tree() {
        for l in [
            "run --rm busybox true",
            "--root /r --runroot /rr run -d --name a -e X=1 -v /a:/b:ro busybox sh -c x",
            "run --rm busybox ls -h",
            "run --root /r busybox",
            "--log-level run run busybox",
            "create -t --init busybox",
            "start -a x",
            "ps -a --format {{.Names}}",
            "rm -f a b",
            "stop -t 3 a",
            "kill -s HUP a",
            "wait --condition stopped a",
            "exec -it -u 1 a sh",
            "logs -f --tail 3 a",
            "pull busybox",
            "images -q",
            "--root /r container cleanup abc",
            "container rm -f x",
            "container ps -a",
            "container run --rm busybox true",
        ] {
            let args = line(l);
            let quick = super::parse(&args).unwrap_or_else(|| panic!("{l}: not parsed"));
            let full = super::Cli::try_parse_from(&args).expect(l);
            assert_eq!(format!("{quick:?}"), format!("{full:?}"), "{l}");
        }
    }

    /// Errors, help and commands outside the tables go to the full tree.
    #[test]
    fn falls_back() {
        for l in [
            "run --help",
            "run -h",
            "--help",
            "ps --nope",
            "--root run ps",
            "version",
            "container inspect x",
            "container",
            "pod ps",
            "ps --format",
            "",
        ] {
            assert!(super::parse(&line(l)).is_none(), "{l}");
        }
    }
}
