//! The OCI lifecycle operations: create, start, state, kill, delete.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::sys::stat::Mode;
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;

use crate::bundle::{self, Bundle};
use crate::clone::{clone_process, Forked};
use crate::error::{Result, RuntimeError, SysContext};
use crate::hooks;
use crate::idmap;
use crate::process::init::{self, InitArgs};
use crate::state::{self, ContainerState, StateRoot, Status, EXEC_FIFO};
use crate::sync::{Message, SyncSocket};

/// Options of `create`.
#[derive(Debug, Clone, Default)]
pub struct CreateOptions {
    /// The container id.
    pub id: String,
    /// The bundle directory.
    pub bundle: PathBuf,
    /// Where to write the container's pid.
    pub pid_file: Option<PathBuf>,
    /// Unix socket to send the pty master to.
    pub console_socket: Option<PathBuf>,
    /// Extra fds passed to the container after stdio.
    pub preserve_fds: i32,
    /// MS_MOVE + chroot instead of pivot_root.
    pub no_pivot: bool,
}

/// Removes what a failed create made: the child and the state directory.
struct Cleanup<'a> {
    root: &'a StateRoot,
    id: String,
    child: Option<Pid>,
    armed: bool,
}

impl Drop for Cleanup<'_> {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        if let Some(pid) = self.child {
            let _ = kill(pid, Signal::SIGKILL);
            let _ = waitpid(pid, None);
        }
        let _ = self.root.remove(&self.id);
    }
}

fn oci_state_json(st: &ContainerState, status: Status) -> String {
    serde_json::to_string(&st.to_oci(status)).expect("state serialises")
}

/// Writes `pid` to `path` atomically.
pub fn write_pid_file(path: &Path, pid: i32) -> Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let tmp = dir.join(format!(
        ".{}.tmp",
        path.file_name()
            .map(|n| n.to_string_lossy())
            .unwrap_or_default()
    ));
    std::fs::write(&tmp, pid.to_string()).ctx(|| format!("writing pid file {}", tmp.display()))?;
    std::fs::rename(&tmp, path).ctx(|| format!("writing pid file {}", path.display()))
}

/// Creates the container: namespaces, rootfs, a process waiting on the exec
/// fifo. Returns its recorded state.
pub fn create(root: &StateRoot, opts: &CreateOptions) -> Result<ContainerState> {
    crate::id::validate(&opts.id)?;
    let b = bundle::load(&opts.bundle)?;
    let joins = b.plan.open_joins()?;
    warn_unsupported(&b);
    let process = b.spec.process().as_ref().expect("checked by bundle::load");
    let console = crate::process::terminal::connect_console(
        opts.console_socket.as_deref(),
        process.terminal() == Some(true),
    )?;
    let dir = root.reserve(&opts.id)?;
    let mut cleanup = Cleanup {
        root,
        id: opts.id.clone(),
        child: None,
        armed: true,
    };
    let fifo_path = dir.join(EXEC_FIFO);
    nix::unistd::mkfifo(&fifo_path, Mode::from_bits_truncate(0o622))
        .ctx(|| format!("creating exec fifo {}", fifo_path.display()))?;
    // mkfifo honours the umask; the container's user must be able to write it.
    std::fs::set_permissions(
        &fifo_path,
        std::os::unix::fs::PermissionsExt::from_mode(0o622),
    )
    .ctx(|| format!("setting mode of {}", fifo_path.display()))?;
    let fifo = nix::fcntl::open(
        &fifo_path,
        nix::fcntl::OFlag::O_PATH | nix::fcntl::OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .ctx(|| format!("opening exec fifo {}", fifo_path.display()))?;
    // SAFETY: open just returned this fd; OwnedFd owns it.
    let fifo = unsafe { OwnedFd::from_raw_fd(fifo) };
    let (parent_sock, child_sock) = SyncSocket::pair()?;
    let created = crate::time::now();
    let mut st = ContainerState {
        id: opts.id.clone(),
        pid: 0,
        pid_start: 0,
        bundle: b.dir.clone(),
        rootfs: b.rootfs.clone(),
        created,
        owner: nix::unistd::geteuid().as_raw(),
        annotations: b.spec.annotations().clone().unwrap_or_default(),
        paused: false,
        own_pid_ns: b.plan.new_pid(),
        cgroup: None,
    };
    let clone_flags = if joins.is_empty() {
        b.plan.new
    } else {
        nix::sched::CloneFlags::empty()
    };
    let forked = clone_process(clone_flags, None)
        .ctx(|| format!("creating the container process (clone3 with {clone_flags:?})"))?;
    let child = match forked {
        Forked::Child => {
            drop(parent_sock);
            init::run(InitArgs {
                spec: &b.spec,
                bundle: &b.dir,
                rootfs: &b.rootfs,
                plan: &b.plan,
                joins: &joins,
                sync: &child_sock,
                fifo: Some(&fifo),
                console: console.as_ref().map(|c| c.as_raw_fd()),
                preserve_fds: opts.preserve_fds,
                no_pivot: opts.no_pivot,
                ready: std::cell::Cell::new(false),
                state: &st,
            })
        }
        Forked::Parent(pid) => pid,
    };
    cleanup.child = Some(child);
    drop(child_sock);
    drop(console);
    let pid = drive_child(&b, &parent_sock, child, &mut st)?;
    st.pid = pid.as_raw();
    st.pid_start = state::proc_stat(st.pid).map(|(_, s)| s).unwrap_or(0);
    root.save(&st)?;
    if let Some(p) = &opts.pid_file {
        write_pid_file(p, st.pid)?;
    }
    cleanup.armed = false;
    Ok(st)
}

/// Says out loud what the spec asks for that this runtime does not apply yet,
/// instead of ignoring it silently.
fn warn_unsupported(b: &Bundle) {
    let Some(linux) = b.spec.linux().as_ref() else {
        return;
    };
    if linux.seccomp().is_some() {
        eprintln!("husk-runtime: warning: linux.seccomp is not applied by this version");
    }
    if linux.resources().as_ref().is_some_and(|r| {
        r.memory().is_some() || r.cpu().is_some() || r.pids().is_some() || r.block_io().is_some()
    }) {
        eprintln!("husk-runtime: warning: linux.resources (cgroup limits) are not applied by this version");
    }
}

/// Serves the child's requests until it reports Ready; returns the container
/// process's pid.
fn drive_child(b: &Bundle, sock: &SyncSocket, child: Pid, st: &mut ContainerState) -> Result<Pid> {
    let mut pid = child;
    loop {
        match sock.recv()? {
            Some(Message::MapRequest) => {
                let linux = b.spec.linux().as_ref().expect("user ns needs linux");
                idmap::write_maps(
                    child,
                    linux.uid_mappings().as_deref().unwrap_or(&[]),
                    linux.gid_mappings().as_deref().unwrap_or(&[]),
                )?;
                sock.send(&Message::MapsDone)?;
            }
            Some(Message::Pid(p)) => {
                pid = Pid::from_raw(p);
                // Reap the intermediate process right away.
                let _ = waitpid(child, None);
            }
            Some(Message::Ready) => return Ok(pid),
            Some(Message::HooksRequest) => {
                st.pid = pid.as_raw();
                let json = oci_state_json(st, Status::Creating);
                let h = b.spec.hooks().as_ref();
                #[allow(deprecated)]
                let prestart = h.and_then(|h| h.prestart().as_ref());
                hooks::run_all(prestart, &json)?;
                hooks::run_all(h.and_then(|h| h.create_runtime().as_ref()), &json)?;
                sock.send(&Message::HooksDone)?;
            }
            Some(Message::Error(e)) => return Err(RuntimeError::Init(e)),
            Some(Message::MapsDone | Message::HooksDone) => {
                return Err(RuntimeError::Init("unexpected message from init".into()))
            }
            None => {
                let why = match waitpid(child, Some(WaitPidFlag::WNOHANG)) {
                    Ok(WaitStatus::Exited(_, c)) => format!("exited with status {c}"),
                    Ok(WaitStatus::Signaled(_, s, _)) => format!("was killed by {s}"),
                    _ => "closed the sync socket".to_string(),
                };
                return Err(RuntimeError::Init(format!(
                    "container init {why} before reporting ready"
                )));
            }
        }
    }
}

/// Loads a container and its live status.
pub fn load(root: &StateRoot, id: &str) -> Result<(ContainerState, Status)> {
    let st = root.load(id)?;
    let status = root.status(&st);
    Ok((st, status))
}

/// Starts a created container: opens its exec fifo, letting init exec.
pub fn start(root: &StateRoot, id: &str) -> Result<ContainerState> {
    let (st, status) = load(root, id)?;
    if status != Status::Created {
        return Err(RuntimeError::BadState {
            id: id.to_string(),
            status: status.to_string(),
            op: "start it (only created containers can be started)",
        });
    }
    let fifo_path = root.container_dir(id)?.join(EXEC_FIFO);
    let fifo = nix::fcntl::open(
        &fifo_path,
        nix::fcntl::OFlag::O_RDONLY | nix::fcntl::OFlag::O_NONBLOCK | nix::fcntl::OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .ctx(|| format!("opening exec fifo {}", fifo_path.display()))?;
    // SAFETY: open just returned this fd.
    let fifo = unsafe { OwnedFd::from_raw_fd(fifo) };
    let mut byte = [0u8; 1];
    loop {
        match nix::unistd::read(fifo.as_raw_fd(), &mut byte) {
            Ok(1) => break,
            Ok(_) | Err(nix::errno::Errno::EAGAIN) => {
                if !state::process_alive(st.pid, st.pid_start) {
                    return Err(RuntimeError::BadState {
                        id: id.to_string(),
                        status: "stopped".into(),
                        op: "start it (init exited before start)",
                    });
                }
                std::thread::sleep(Duration::from_micros(200));
            }
            Err(e) => return Err(RuntimeError::sys("reading the exec fifo", e)),
        }
    }
    let _ = std::fs::remove_file(&fifo_path);
    let spec = bundle_hooks(&st);
    let json = oci_state_json(&st, Status::Running);
    if let Err(e) = hooks::run_all(spec.as_ref().and_then(|h| h.poststart().as_ref()), &json) {
        // runc: a failing poststart hook is reported, the container runs on.
        eprintln!("husk-runtime: {e}");
    }
    Ok(st)
}

fn bundle_hooks(st: &ContainerState) -> Option<oci_spec::runtime::Hooks> {
    let data = std::fs::read(st.bundle.join("config.json")).ok()?;
    let spec: oci_spec::runtime::Spec = serde_json::from_slice(&data).ok()?;
    spec.hooks().clone()
}

/// Every pid in the container: the processes sharing its pid namespace, or
/// only its init when it shares the host's.
pub fn pids(st: &ContainerState) -> Vec<i32> {
    if !state::process_alive(st.pid, st.pid_start) {
        return Vec::new();
    }
    if !st.own_pid_ns {
        return vec![st.pid];
    }
    let Ok(target) = std::fs::read_link(format!("/proc/{}/ns/pid", st.pid)) else {
        return vec![st.pid];
    };
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else {
            continue;
        };
        if std::fs::read_link(format!("/proc/{pid}/ns/pid")).is_ok_and(|l| l == target) {
            out.push(pid);
        }
    }
    out.sort();
    out
}

/// Sends `sig` to the container's init, or with `all` to every process in it.
pub fn signal(root: &StateRoot, id: &str, sig: Signal, all: bool) -> Result<()> {
    let (st, status) = load(root, id)?;
    if status == Status::Stopped {
        return Err(RuntimeError::BadState {
            id: id.to_string(),
            status: status.to_string(),
            op: "signal it (container not running)",
        });
    }
    let targets = if all { pids(&st) } else { vec![st.pid] };
    for p in targets {
        match kill(Pid::from_raw(p), sig) {
            Ok(()) | Err(nix::errno::Errno::ESRCH) => {}
            Err(e) => return Err(RuntimeError::sys(format!("sending {sig} to pid {p}"), e)),
        }
    }
    Ok(())
}

/// Deletes a container. A created container is killed first (it never ran);
/// a running or paused one only with `force`.
pub fn delete(root: &StateRoot, id: &str, force: bool) -> Result<()> {
    let (st, status) = match load(root, id) {
        Ok(x) => x,
        Err(RuntimeError::NotFound(_)) if force => return Ok(()),
        Err(e) => return Err(e),
    };
    match status {
        Status::Stopped => {}
        Status::Created => kill_and_wait(&st)?,
        _ if force => kill_and_wait(&st)?,
        _ => {
            return Err(RuntimeError::BadState {
                id: id.to_string(),
                status: status.to_string(),
                op: "delete it (stop it first or use --force)",
            })
        }
    }
    root.remove(id)?;
    let json = oci_state_json(&st, Status::Stopped);
    if let Err(e) = hooks::run_all(
        bundle_hooks(&st)
            .as_ref()
            .and_then(|h| h.poststop().as_ref()),
        &json,
    ) {
        eprintln!("husk-runtime: {e}");
    }
    Ok(())
}

fn kill_and_wait(st: &ContainerState) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let live = pids(st);
        if live.is_empty() {
            return Ok(());
        }
        for p in live {
            let _ = kill(Pid::from_raw(p), Signal::SIGKILL);
            // Reap it if it is ours (run, or create in this process).
            let _ = waitpid(Pid::from_raw(p), Some(WaitPidFlag::WNOHANG));
        }
        if Instant::now() > deadline {
            return Err(RuntimeError::Init(format!(
                "container {} did not die within 10s of SIGKILL",
                st.id
            )));
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}
