//! Shim mode of the `husk` binary: `husk __husk-shim MODE ...`. `monitor`
//! is the shim itself (reached through [`crate::spawn`]); `spawn`, `attach`
//! and `logs` are a small internal command line over the library, for the
//! end-to-end tests. None of it is a user interface.

use std::ffi::OsString;
use std::os::fd::{FromRawFd, OwnedFd};
use std::path::PathBuf;
use std::process::ExitCode;

use crate::attach::{self, AttachOptions, AttachOutcome};
use crate::config::{LogDriver, ShimConfig, TtySize};
use crate::logs::{LogOptions, LogReader, Stream};
use crate::spawn::{self, MONITOR_ARG, SPAWN_FD};
use crate::{sys, timestamp};

const USAGE: &str = "usage (internal):
  husk __husk-shim spawn --id ID --bundle DIR --root DIR [--log-path FILE]
      [--log-driver k8s-file|json-file|none] [--log-max-size N] [--log-max-files N]
      [-i] [-t] [--tty-size ROWSxCOLS] [--exit-file FILE] [--attach-dir DIR]
      [--pid-file FILE] [--container-pid-file FILE] [--exit-timeout SECS]
      [--exit-env NAME=VALUE]... [--start] [--hold] [--exit-command PROG [ARG...]]
  husk __husk-shim attach SOCKET [--detach-keys KEYS] [--no-stdin]
  husk __husk-shim logs FILE [--log-driver D] [--tail N] [--since T] [--until T]
      [--follow --exit-file FILE]";

fn fail(msg: impl std::fmt::Display) -> ExitCode {
    eprintln!("husk: {msg}");
    ExitCode::from(125)
}

/// Runs shim mode with the arguments after `__husk-shim`.
pub fn entry(args: Vec<OsString>) -> ExitCode {
    let mut args = args.into_iter();
    match args.next().as_ref().and_then(|a| a.to_str()) {
        Some(MONITOR_ARG) => {
            // SAFETY: fd 3 is the spawn socket `spawn` put there for us; we
            // take sole ownership of it.
            let sock = unsafe { OwnedFd::from_raw_fd(SPAWN_FD) };
            if sys::set_nonblocking(std::os::fd::AsFd::as_fd(&sock), false).is_err() {
                return fail(
                    "shim mode `monitor` is started by husk itself (no spawn socket on fd 3)",
                );
            }
            crate::monitor::run(sock)
        }
        Some("spawn") => spawn_cmd(args.collect()),
        Some("attach") => attach_cmd(args.collect()),
        Some("logs") => logs_cmd(args.collect()),
        _ => fail(USAGE),
    }
}

struct Args(std::vec::IntoIter<OsString>);

impl Args {
    fn value(&mut self, flag: &str) -> Result<OsString, String> {
        self.0.next().ok_or_else(|| format!("{flag} needs a value"))
    }
    fn string(&mut self, flag: &str) -> Result<String, String> {
        self.value(flag)?
            .into_string()
            .map_err(|_| format!("{flag}: not UTF-8"))
    }
    fn number<T: std::str::FromStr>(&mut self, flag: &str) -> Result<T, String> {
        let s = self.string(flag)?;
        s.parse()
            .map_err(|_| format!("{flag}: {s:?} is not a number"))
    }
}

/// What `spawn` does besides spawning, as the engine's `run` would.
#[derive(Default)]
struct Then {
    /// Start the container (husk_runtime::container::start) once created.
    start: bool,
    /// Stay alive until stdin closes (so a test can kill the caller).
    hold: bool,
}

fn parse_spawn(v: Vec<OsString>) -> Result<(ShimConfig, Then), String> {
    let mut a = Args(v.into_iter());
    let mut cfg = ShimConfig::default();
    let mut then = Then::default();
    while let Some(flag) = a.0.next() {
        let flag = flag.to_string_lossy().into_owned();
        match flag.as_str() {
            "--start" => then.start = true,
            "--hold" => then.hold = true,
            "--id" => cfg.id = a.string(&flag)?,
            "--bundle" => cfg.bundle = a.value(&flag)?.into(),
            "--root" => cfg.state_root = a.value(&flag)?.into(),
            "--log-path" => cfg.log_path = a.value(&flag)?.into(),
            "--log-driver" => {
                let d = a.string(&flag)?;
                cfg.log_driver = LogDriver::parse(&d).ok_or(format!("unknown log driver {d:?}"))?;
            }
            "--log-max-size" => cfg.log_max_size = a.number(&flag)?,
            "--log-max-files" => cfg.log_max_files = a.number(&flag)?,
            "-i" | "--interactive" => cfg.stdin = true,
            "-t" | "--tty" => cfg.terminal = true,
            "--tty-size" => {
                let s = a.string(&flag)?;
                let (r, c) = s.split_once('x').ok_or("--tty-size is ROWSxCOLS")?;
                cfg.tty_size = Some(TtySize {
                    rows: r.parse().map_err(|_| "--tty-size rows")?,
                    cols: c.parse().map_err(|_| "--tty-size cols")?,
                });
            }
            "--exit-file" => cfg.exit_file = Some(a.value(&flag)?.into()),
            "--attach-dir" => cfg.attach_dir = Some(a.value(&flag)?.into()),
            "--pid-file" => cfg.shim_pid_file = Some(a.value(&flag)?.into()),
            "--container-pid-file" => cfg.container_pid_file = Some(a.value(&flag)?.into()),
            "--exit-timeout" => cfg.exit_command_timeout_secs = a.number(&flag)?,
            "--exit-env" => cfg.exit_command_env.push(a.string(&flag)?),
            "--exit-command" => {
                cfg.exit_command =
                    a.0.by_ref()
                        .map(|s| s.to_string_lossy().into_owned())
                        .collect();
                if cfg.exit_command.is_empty() {
                    return Err("--exit-command needs a program".into());
                }
            }
            other => return Err(format!("unknown flag {other:?}\n{USAGE}")),
        }
    }
    if cfg.id.is_empty()
        || cfg.bundle.as_os_str().is_empty()
        || cfg.state_root.as_os_str().is_empty()
    {
        return Err(format!("--id, --bundle and --root are required\n{USAGE}"));
    }
    if cfg.log_path.as_os_str().is_empty() && cfg.log_driver != LogDriver::None {
        return Err("--log-path is required unless --log-driver none".into());
    }
    Ok((cfg, then))
}

fn spawn_cmd(v: Vec<OsString>) -> ExitCode {
    let (cfg, then) = match parse_spawn(v) {
        Ok(c) => c,
        Err(e) => return fail(e),
    };
    let exe = match std::env::current_exe() {
        Ok(e) => e,
        Err(e) => return fail(format!("locating the husk binary: {e}")),
    };
    match spawn::spawn(&exe, &cfg) {
        Ok(s) => {
            if then.start {
                let started = husk_runtime::state::StateRoot::open(&cfg.state_root)
                    .and_then(|root| husk_runtime::container::start(&root, &cfg.id));
                if let Err(e) = started {
                    return fail(format!("starting container {:?}: {e}", cfg.id));
                }
            }
            eprint!("{}", s.warnings);
            println!("{} {}", s.container_pid, s.shim_pid);
            if then.hold {
                use std::io::{Read, Write};
                let _ = std::io::stdout().flush();
                let _ = std::io::stdin().read_to_end(&mut Vec::new());
            }
            ExitCode::SUCCESS
        }
        Err(e) => fail(e),
    }
}

fn attach_cmd(v: Vec<OsString>) -> ExitCode {
    let mut a = Args(v.into_iter());
    let mut socket: Option<PathBuf> = None;
    let mut opts = AttachOptions::default();
    while let Some(arg) = a.0.next() {
        match arg.to_str() {
            Some("--detach-keys") => match a.string("--detach-keys") {
                Ok(k) => opts.detach_keys = k,
                Err(e) => return fail(e),
            },
            Some("--no-stdin") => opts.stdin = false,
            _ if socket.is_none() => socket = Some(arg.into()),
            _ => return fail(USAGE),
        }
    }
    let Some(socket) = socket else {
        return fail(USAGE);
    };
    match attach::attach(&socket, &opts) {
        Ok(AttachOutcome::Exited(c)) => ExitCode::from(c.clamp(0, 255) as u8),
        Ok(AttachOutcome::Detached) => {
            eprintln!("husk: detached");
            ExitCode::SUCCESS
        }
        Ok(AttachOutcome::Disconnected) => {
            fail("the shim closed the connection without an exit code")
        }
        Err(e) => fail(e),
    }
}

fn logs_cmd(v: Vec<OsString>) -> ExitCode {
    let mut a = Args(v.into_iter());
    let mut opts = LogOptions::default();
    let mut path: Option<PathBuf> = None;
    let time =
        |s: String| timestamp::parse(s.as_bytes()).ok_or(format!("{s:?} is not an RFC 3339 time"));
    while let Some(arg) = a.0.next() {
        let r: Result<(), String> = match arg.to_str() {
            Some("--log-driver") => a.string("--log-driver").and_then(|d| {
                opts.driver = LogDriver::parse(&d).ok_or(format!("unknown log driver {d:?}"))?;
                Ok(())
            }),
            Some("--tail") => a.number("--tail").map(|n| opts.tail = Some(n)),
            Some("--since") => a
                .string("--since")
                .and_then(time)
                .map(|t| opts.since = Some(t)),
            Some("--until") => a
                .string("--until")
                .and_then(time)
                .map(|t| opts.until = Some(t)),
            Some("--follow") | Some("-f") => {
                opts.follow = true;
                Ok(())
            }
            Some("--exit-file") => a
                .value("--exit-file")
                .map(|p| opts.exit_file = Some(p.into())),
            _ if path.is_none() => {
                path = Some(arg.into());
                Ok(())
            }
            _ => Err(USAGE.into()),
        };
        if let Err(e) = r {
            return fail(e);
        }
    }
    let Some(path) = path else { return fail(USAGE) };
    opts.path = path;
    let reader = match LogReader::open(opts) {
        Ok(r) => r,
        Err(e) => return fail(e),
    };
    // SAFETY: fds 1 and 2 are this process's stdout and stderr.
    let (out, err) = unsafe {
        (
            std::os::fd::BorrowedFd::borrow_raw(1),
            std::os::fd::BorrowedFd::borrow_raw(2),
        )
    };
    for entry in reader {
        match entry {
            Ok(e) => {
                let fd = if e.stream == Stream::Stdout { out } else { err };
                if sys::write_all(fd, &e.line).is_err() {
                    return ExitCode::from(1);
                }
            }
            Err(e) => return fail(e),
        }
    }
    ExitCode::SUCCESS
}
