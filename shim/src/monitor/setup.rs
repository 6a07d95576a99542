//! From the spawn socket to a running monitor: read the configuration,
//! detach (setsid + fork), open the log and the attach socket, create the
//! container through the helper, report to the caller.

use std::fs::File;
use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixListener;
use std::path::PathBuf;
use std::process::ExitCode;

use super::helper::{self, Created};
use super::{Monitor, CHUNK};
use crate::config::ShimConfig;
use crate::error::ShimError;
use crate::logs::LogWriter;
use crate::sys::{self, Fork};
use crate::{proto, sockpath};

/// Files the monitor made, removed again if it fails before reporting.
#[derive(Default)]
struct Made(Vec<PathBuf>);

impl Made {
    fn undo(&mut self) {
        for p in self.0.drain(..) {
            let _ = std::fs::remove_file(p);
        }
    }
}

fn read_config(spawn: &OwnedFd) -> Result<ShimConfig, String> {
    let frame = proto::read_frame(spawn.as_fd(), proto::MAX_SPAWN_PAYLOAD)
        .map_err(|e| format!("reading the shim configuration: {e}"))?;
    let Some((proto::CONFIG, data)) = frame else {
        return Err("the caller sent no shim configuration".into());
    };
    let cfg: ShimConfig = serde_json::from_slice(&data)
        .map_err(|e| format!("the shim configuration is not valid: {e}"))?;
    cfg.validate().map_err(|e| e.to_string())?;
    Ok(cfg)
}

fn report_failure(spawn: &OwnedFd, msg: &str) {
    let _ = proto::write_frame(spawn.as_fd(), proto::FAILED, msg.as_bytes());
}

/// The shim process, with the spawn socket as `spawn`: reads the
/// configuration, then forks the monitor into its own session and returns
/// (the caller reaps this first process at once).
pub fn run(spawn: OwnedFd) -> ExitCode {
    let cfg = match read_config(&spawn) {
        Ok(c) => c,
        Err(e) => {
            report_failure(&spawn, &e);
            return ExitCode::from(125);
        }
    };
    // A new session: no controlling terminal, no signals from the caller's
    // terminal or process group.
    if let Err(e) = sys::setsid() {
        report_failure(&spawn, &format!("setsid: {e}"));
        return ExitCode::from(125);
    }
    match sys::fork() {
        Ok(Fork::Parent(_)) => ExitCode::SUCCESS,
        Ok(Fork::Child) => sys::exit_now(monitor_main(cfg, spawn)),
        Err(e) => {
            report_failure(&spawn, &format!("forking the monitor: {e}"));
            ExitCode::from(125)
        }
    }
}

/// The container's side of its stdio and the monitor's side.
struct Stdio {
    container: [OwnedFd; 3],
    out: Option<OwnedFd>,
    err: Option<OwnedFd>,
    input: Option<OwnedFd>,
    /// With a terminal: the console socket, its directory (kept open for a
    /// long path) and the path the helper connects to.
    console: Option<(UnixListener, OwnedFd, PathBuf, PathBuf)>,
}

fn dev_null() -> Result<OwnedFd, ShimError> {
    File::options()
        .read(true)
        .write(true)
        .open("/dev/null")
        .map(OwnedFd::from)
        .map_err(|e| ShimError::path("opening", "/dev/null", e))
}

fn stdio(cfg: &ShimConfig, made: &mut Made) -> Result<Stdio, ShimError> {
    let pipe = || sys::pipe().map_err(|e| ShimError::sys("creating a pipe", e));
    if cfg.terminal {
        let dir = cfg
            .attach_dir
            .clone()
            .unwrap_or_else(|| cfg.state_root.clone());
        let path = dir.join(format!(".husk-console-{}", std::process::id()));
        let dirfd: OwnedFd = File::open(&dir)
            .map_err(|e| ShimError::path("opening console socket directory", &dir, e))?
            .into();
        let listener = sockpath::bind(&path)
            .map_err(|e| ShimError::path("binding console socket", &path, e))?;
        made.0.push(path.clone());
        let short = sockpath::short_path(&dirfd, &path);
        return Ok(Stdio {
            container: [dev_null()?, dev_null()?, dev_null()?],
            out: None,
            err: None,
            input: None,
            console: Some((listener, dirfd, path, short)),
        });
    }
    let (out_r, out_w) = pipe()?;
    let (err_r, err_w) = pipe()?;
    let (in_r, input) = if cfg.stdin {
        let (r, w) = pipe()?;
        (r, Some(w))
    } else {
        (dev_null()?, None)
    };
    Ok(Stdio {
        container: [in_r, out_w, err_w],
        out: Some(out_r),
        err: Some(err_r),
        input,
        console: None,
    })
}

/// Receives the pty master the container's init sent over the console
/// socket (before it reported ready, so it is already queued).
fn receive_master(listener: &UnixListener) -> Result<OwnedFd, ShimError> {
    let mut p = [libc::pollfd {
        fd: listener.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    }];
    let _ = sys::poll(&mut p, 10_000);
    listener
        .set_nonblocking(true)
        .and_then(|()| listener.accept())
        .and_then(|(conn, _)| {
            conn.set_nonblocking(false)?;
            sys::recv_fd(conn.as_fd())
        })
        .map_err(|e| ShimError::sys("receiving the pty master over the console socket", e))
}

fn monitor_main(cfg: ShimConfig, spawn: OwnedFd) -> i32 {
    let mut made = Made::default();
    match prepare(cfg, &spawn, &mut made) {
        Ok(mut m) => {
            drop(spawn);
            sys::trim_heap();
            crate::resident::drop_clean_text();
            m.run();
            m.finish();
            0
        }
        Err(e) => {
            made.undo();
            report_failure(&spawn, &e.to_string());
            // The kernel closes the spawn socket only after this process's
            // memory is gone: when the caller reads end-of-file, no shim is
            // left (a close here would let it look while we still exist).
            sys::exit_now(125)
        }
    }
}

fn prepare(cfg: ShimConfig, spawn: &OwnedFd, made: &mut Made) -> Result<Monitor, ShimError> {
    sys::ignore_signal(libc::SIGPIPE);
    // Blocked before any child exists, so no SIGCHLD is missed.
    let signals =
        sys::signalfd(&[libc::SIGCHLD]).map_err(|e| ShimError::sys("creating a signalfd", e))?;
    husk_runtime::wait::become_subreaper()
        .map_err(|e| ShimError::sys(e.to_string(), std::io::Error::other("prctl")))?;
    if !cfg.state_root.is_dir() {
        return Err(ShimError::NoStateRoot(cfg.state_root.clone()));
    }
    if let Some(p) = &cfg.shim_pid_file {
        husk_runtime::container::write_pid_file(p, std::process::id() as i32).map_err(|e| {
            ShimError::sys(
                format!("writing the shim pid file {}", p.display()),
                std::io::Error::other(e.to_string()),
            )
        })?;
        made.0.push(p.clone());
    }
    let log_existed = cfg.log_path.exists();
    let log = LogWriter::open(&cfg)?;
    if log.enabled() && !log_existed {
        made.0.push(cfg.log_path.clone());
    }
    let listener = match cfg.attach_socket() {
        Some(path) => {
            let l = sockpath::bind(&path)
                .map_err(|e| ShimError::path("binding attach socket", &path, e))?;
            made.0.push(path);
            l.set_nonblocking(true)
                .map_err(|e| ShimError::sys("setting the attach socket nonblocking", e))?;
            Some(l)
        }
        None => None,
    };
    let mut io = stdio(&cfg, made)?;
    let mut close: Vec<RawFd> = vec![spawn.as_raw_fd(), signals.as_raw_fd()];
    close.extend(listener.as_ref().map(|l| l.as_raw_fd()));
    close.extend(io.out.as_ref().map(|f| f.as_raw_fd()));
    close.extend(io.err.as_ref().map(|f| f.as_raw_fd()));
    close.extend(io.input.as_ref().map(|f| f.as_raw_fd()));
    close.extend(io.console.as_ref().map(|c| c.0.as_raw_fd()));
    let raw = [0, 1, 2].map(|i| io.container[i].as_raw_fd());
    let created = helper::create(&cfg, raw, &close, io.console.as_ref().map(|c| c.3.clone()))
        .map_err(|e| ShimError::sys("forking the create helper", e))?;
    drop(io.container);
    let (pid, cgroup, warnings) = match created {
        Created::Ok {
            pid,
            cgroup,
            warnings,
        } => (pid, cgroup, warnings),
        Created::Failed(reason) => {
            return Err(ShimError::Create {
                id: cfg.id.clone(),
                reason,
            })
        }
    };
    let mut tty = None;
    if let Some((listener, _dir, path, _)) = io.console.take() {
        let master = receive_master(&listener);
        let _ = std::fs::remove_file(&path);
        let master = match master {
            Ok(m) => m,
            Err(e) => {
                kill_container(&cfg);
                return Err(e);
            }
        };
        if let Some(s) = cfg.tty_size {
            let _ = sys::set_winsize(master.as_raw_fd(), s.rows, s.cols);
        }
        tty = master.try_clone().ok();
        if cfg.stdin {
            io.input = master.try_clone().ok();
        }
        io.out = Some(master);
    }
    for fd in [&io.out, &io.err, &io.input].into_iter().flatten() {
        let _ = sys::set_nonblocking(fd.as_fd(), true);
    }
    let pidfd = sys::pidfd_open(pid).ok();
    let started_watch = sys::watch_dir(&cfg.state_root.join(&cfg.id)).ok();
    let shim_pid = std::process::id() as i32;
    let mut report = proto::two_i32(pid, shim_pid).to_vec();
    report.extend_from_slice(warnings.as_bytes());
    // A caller that is gone changes nothing: the container runs on, held by us.
    let _ = proto::write_frame(spawn.as_fd(), proto::CREATED, &report);
    made.0.clear();
    let hello_flags = if cfg.terminal { proto::HELLO_TTY } else { 0 }
        | if cfg.stdin { proto::HELLO_STDIN } else { 0 };
    Ok(Monitor {
        cfg,
        log,
        out: io.out,
        err: io.err,
        input: io.input,
        input_pending: Vec::new(),
        tty,
        listener,
        clients: Vec::new(),
        hello_flags,
        signals,
        pidfd,
        started_watch,
        retired: Vec::new(),
        pid,
        cgroup,
        started_at: None,
        ended: None,
        buf: vec![0u8; CHUNK],
    })
}

/// Undoes a create whose stdio could not be set up.
fn kill_container(cfg: &ShimConfig) {
    if let Ok(root) = husk_runtime::state::StateRoot::open(&cfg.state_root) {
        let _ = husk_runtime::container::delete(&root, &cfg.id, true);
    }
    while let Ok(Some(_)) = sys::try_wait(-1) {}
}
