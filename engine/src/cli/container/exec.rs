//! `husk exec`: run a process in a running container.

use clap::Args;

use crate::catalog::containers::State;
use crate::cli::ctx::Ctx;
use crate::cli::error::{coded, CANNOT_INVOKE, NOT_FOUND};
use crate::container::exec::{self, ExecRequest};
use crate::container::{live, lookup, pty};

/// `husk exec` flags.
#[derive(Debug, Args)]
#[command(disable_help_flag = true)]
pub struct ExecArgs {
    /// Print help.
    #[arg(long, action = clap::ArgAction::Help)]
    pub help: Option<bool>,
    /// Run in the background.
    #[arg(short = 'd', long)]
    pub detach: bool,
    /// Keys that detach (accepted; exec sessions relay directly).
    #[arg(long = "detach-keys", value_name = "KEYS")]
    pub detach_keys: Option<String>,
    /// Set environment variables.
    #[arg(short = 'e', long, value_name = "NAME=VALUE")]
    pub env: Vec<String>,
    /// Read environment variables from a file.
    #[arg(long = "env-file", value_name = "FILE")]
    pub env_file: Vec<std::path::PathBuf>,
    /// Keep stdin open.
    #[arg(short = 'i', long)]
    pub interactive: bool,
    /// Use the most recently created container.
    #[arg(short = 'l', long)]
    pub latest: bool,
    /// Give the process every capability.
    #[arg(long)]
    pub privileged: bool,
    /// Allocate a pseudo-terminal.
    #[arg(short = 't', long)]
    pub tty: bool,
    /// Run as this user (user[:group]).
    #[arg(short = 'u', long, value_name = "USER")]
    pub user: Option<String>,
    /// Working directory.
    #[arg(short = 'w', long, value_name = "DIR")]
    pub workdir: Option<String>,
    /// The container (unless --latest), then the command.
    #[arg(
        value_name = "CONTAINER COMMAND [ARG...]",
        trailing_var_arg = true,
        allow_hyphen_values = true,
        required = true
    )]
    pub args: Vec<String>,
}

fn read_env_files(files: &[std::path::PathBuf]) -> anyhow::Result<Vec<String>> {
    let mut out = Vec::new();
    for f in files {
        let text = std::fs::read_to_string(f)
            .map_err(|e| anyhow::anyhow!("reading env file {}: {e}", f.display()))?;
        for line in text.lines() {
            let l = line.trim_start();
            if l.is_empty() || l.starts_with('#') {
                continue;
            }
            if l.contains('=') {
                out.push(l.to_owned());
            } else if let Ok(v) = std::env::var(l) {
                out.push(format!("{l}={v}"));
            }
        }
    }
    Ok(out)
}

/// `husk exec`.
pub fn exec_cmd(ctx: &mut Ctx, a: ExecArgs) -> anyhow::Result<i32> {
    let (name, command) = if a.latest {
        (None, &a.args[..])
    } else {
        (Some(a.args[0].as_str()), &a.args[1..])
    };
    if let Some(n) = name.filter(|n| n.starts_with('-')) {
        anyhow::bail!("unknown flag: {n}");
    }
    if command.is_empty() {
        anyhow::bail!(
            "must provide a non-empty command to start an exec session: invalid argument"
        );
    }
    let eng = ctx.engine(false)?;
    let rec = match name {
        Some(n) => lookup::find(&eng.catalog, n)?,
        None => lookup::latest(&eng.catalog)?,
    };
    let l = live::live(&eng.paths, &rec);
    if l.state == State::Paused {
        anyhow::bail!(
            "{} is paused: can only create exec sessions on running containers: container state improper",
            rec.name
        );
    }
    if l.state != State::Running {
        anyhow::bail!(
            "can only create exec sessions on running containers: container state improper"
        );
    }
    let mut env = read_env_files(&a.env_file)?;
    env.extend(a.env.iter().map(|e| {
        if e.contains('=') {
            e.clone()
        } else {
            format!("{e}={}", std::env::var(e).unwrap_or_default())
        }
    }));
    let req = ExecRequest {
        command: command.to_vec(),
        env,
        user: a.user.clone(),
        workdir: a.workdir.clone(),
        tty: a.tty,
        privileged: a.privileged,
    };
    if eng.paths.rootless && !crate::userns::inside() {
        // The container shares the user namespace its shim keeps: exec
        // from inside it, as root of it.
        crate::userns::join(l.pid)?;
    }
    let process = exec::process(eng, &rec, l.pid, &req)?;
    let root = eng.runtime_root()?;
    let console = if a.tty {
        Some(ConsoleDir::new()?)
    } else {
        None
    };
    if !a.interactive || a.detach {
        // The process inherits stdin: give it nothing to read.
        let null = std::fs::File::open("/dev/null")?;
        nix::unistd::dup2(std::os::fd::AsRawFd::as_raw_fd(&null), 0)?;
    }
    let opts = husk_runtime::exec::ExecOptions {
        id: rec.id.clone(),
        process,
        console_socket: console.as_ref().map(|c| c.path.clone()),
        pid_file: None,
        preserve_fds: 0,
    };
    if a.detach {
        husk_runtime::exec::exec(&root, &opts).map_err(exec_error)?;
        println!("{}", crate::container::id::new_id());
        return Ok(0);
    }
    husk_runtime::wait::become_subreaper()?;
    let set = husk_runtime::wait::block_signals()?;
    let pid = husk_runtime::exec::exec(&root, &opts).map_err(exec_error)?;
    if let Some(c) = &console {
        let master = exec::recv_master(&c.listener)?;
        pty::relay(&master);
    }
    Ok(husk_runtime::wait::wait_forwarding(pid, &set)?)
}

/// A console socket in a private directory with a short path (sun_path
/// holds 108 bytes), removed when dropped.
struct ConsoleDir {
    dir: std::path::PathBuf,
    path: std::path::PathBuf,
    listener: std::os::unix::net::UnixListener,
}

impl ConsoleDir {
    fn new() -> anyhow::Result<ConsoleDir> {
        use std::os::unix::fs::DirBuilderExt;
        let base = std::env::var_os("TMPDIR").unwrap_or_else(|| "/tmp".into());
        let dir = std::path::Path::new(&base).join(format!(
            "husk-exec-{}",
            &crate::container::id::new_id()[..16]
        ));
        std::fs::DirBuilder::new().mode(0o700).create(&dir)?;
        let path = dir.join("c.sock");
        let listener = std::os::unix::net::UnixListener::bind(&path)?;
        Ok(ConsoleDir {
            dir,
            path,
            listener,
        })
    }
}

impl Drop for ConsoleDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn exec_error(e: husk_runtime::RuntimeError) -> anyhow::Error {
    let text = e.to_string();
    if text.contains("executable file not found") || text.contains("entering cwd") {
        coded(
            NOT_FOUND,
            anyhow::anyhow!("{text}: OCI runtime attempted to invoke a command that was not found"),
        )
    } else if text.contains("ermission denied") {
        coded(
            CANNOT_INVOKE,
            anyhow::anyhow!("{text}: OCI permission denied"),
        )
    } else {
        e.into()
    }
}
