//! The OCI lifecycle operations: create, start, state, kill, delete.

use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::sys::stat::Mode;
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;

use crate::bundle::{self, Bundle};
use crate::cgroup::Cgroup;
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
    /// Keep the caller's session keyring instead of giving the container a
    /// new one of its own.
    pub no_new_keyring: bool,
    /// The container's stdin, stdout and stderr, when they are not the
    /// caller's own fds 0-2 (the shim keeps its stderr for the runtime's
    /// warnings, out of the container's log).
    pub stdio: Option<[std::os::fd::RawFd; 3]>,
}

/// Removes what a failed create made: the child and the state directory.
struct Cleanup<'a> {
    root: &'a StateRoot,
    id: String,
    child: Option<Pid>,
    cgroup: Option<Cgroup>,
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
        if let Some(cg) = &self.cgroup {
            let _ = cg.kill_all();
            let _ = cg.remove();
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
    let _trace = crate::trace::span("runtime.create");
    crate::id::validate(&opts.id)?;
    let t = crate::trace::span("runtime.bundle");
    let b = bundle::load(&opts.bundle)?;
    t.end();
    let joins = b.plan.open_joins()?;
    let process = b.spec.process().as_ref().expect("checked by bundle::load");
    let console = crate::process::terminal::connect_console(
        opts.console_socket.as_deref(),
        process.terminal() == Some(true),
    )?;
    let t = crate::trace::span("runtime.cgroup");
    let cg = container_cgroup(&opts.id, &b, root)?;
    let dir = root.reserve(&opts.id)?;
    let mut cleanup = Cleanup {
        root,
        id: opts.id.clone(),
        child: None,
        cgroup: None,
        armed: true,
    };
    cg.create()?;
    cleanup.cgroup = Some(cg.clone());
    // Limits are in force before the container process exists.
    if let Some(r) = b.spec.linux().as_ref().and_then(|l| l.resources().as_ref()) {
        crate::cgroup::resources::apply(&cg, r)?;
    }
    // On cgroup v2 the child is born in its cgroup (no later move).
    let cg_fd = cg
        .unified
        .as_ref()
        .and_then(|d| {
            nix::fcntl::open(
                d,
                nix::fcntl::OFlag::O_DIRECTORY
                    | nix::fcntl::OFlag::O_RDONLY
                    | nix::fcntl::OFlag::O_CLOEXEC,
                Mode::empty(),
            )
            .ok()
        })
        // SAFETY: open just returned this fd; OwnedFd owns it.
        .map(|fd| unsafe { OwnedFd::from_raw_fd(fd) });
    t.end();
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
        own_pid_ns: b.plan.new_pid(),
        cgroup: cg.clone(),
    };
    let new_cgroupns = b.plan.new.contains(nix::sched::CloneFlags::CLONE_NEWCGROUP);
    let clone_flags = if !b.needs_second_fork() {
        b.plan.new - nix::sched::CloneFlags::CLONE_NEWCGROUP
    } else {
        nix::sched::CloneFlags::empty()
    };
    // The rootfs and the bind sources are cloned now, with the runtime's
    // credentials; init attaches the clones (see rootfs::detached).
    let new_mountns = b.plan.new.contains(nix::sched::CloneFlags::CLONE_NEWNS);
    // Cloning needs CAP_SYS_ADMIN over our mount namespace: an unprivileged
    // caller (rootless without a user namespace of its own) has none, and
    // its container's root is the caller itself, which may walk the paths:
    // init then binds by path as before.
    let rootfs_tree = if new_mountns {
        match crate::rootfs::detached::clone_tree(&b.rootfs, true) {
            Ok(t) => Some(t),
            Err(nix::errno::Errno::EPERM) if is_rootless() => None,
            Err(e) => {
                return Err(RuntimeError::sys(
                    format!("cloning rootfs {}", b.rootfs.display()),
                    e,
                ))
            }
        }
    } else {
        None
    };
    let bind_sources = if rootfs_tree.is_some() {
        crate::rootfs::mounts::open_bind_sources(b.spec.mounts().as_deref().unwrap_or(&[]), &b.dir)?
    } else {
        Vec::new()
    };
    if let (Some(tree), true) = (&rootfs_tree, b.plan.new_user()) {
        precreate_targets(&b, tree, &bind_sources);
    }
    let raw_cg_fd = cg_fd.as_ref().map(|f| f.as_raw_fd());
    let t = crate::trace::span("runtime.clone");
    let (forked, born_in_cgroup) = match clone_process(clone_flags, raw_cg_fd) {
        Err(_) if raw_cg_fd.is_some() => (clone_process(clone_flags, None), false),
        other => (other, raw_cg_fd.is_some()),
    };
    let forked =
        forked.ctx(|| format!("creating the container process (clone3 with {clone_flags:?})"))?;
    let child = match forked {
        Forked::Child => {
            drop(parent_sock);
            if let Some(fds) = opts.stdio {
                for (target, fd) in fds.into_iter().enumerate() {
                    // A failure leaves fd `target` as it was; init's own
                    // errors still travel over the sync socket.
                    let _ = nix::unistd::dup2(fd, target as i32);
                }
            }
            init::run(InitArgs {
                spec: &b.spec,
                bundle: &b.dir,
                rootfs: &b.rootfs,
                rootfs_tree: rootfs_tree.as_ref(),
                bind_sources: &bind_sources,
                plan: &b.plan,
                joins: &joins,
                time_offsets: &b.time_offsets,
                seccomp: b.seccomp.as_ref(),
                sync: &child_sock,
                fifo: Some(&fifo),
                console: console.as_ref().map(|c| c.as_raw_fd()),
                preserve_fds: opts.preserve_fds,
                no_pivot: opts.no_pivot,
                new_keyring: !opts.no_new_keyring,
                ready: std::cell::Cell::new(false),
                host_pid: std::cell::Cell::new(0),
                state: &st,
                new_cgroupns,
            })
        }
        Forked::Parent(pid) => pid,
    };
    t.end();
    cleanup.child = Some(child);
    drop(child_sock);
    // The child holds its own copies of the trees.
    drop(rootfs_tree);
    drop(bind_sources);
    drop(console);
    let place = Placement {
        cgroup: &cg,
        born_in_cgroup,
    };
    let t = crate::trace::span("runtime.init");
    let pid = drive_child(&b, &parent_sock, child, &mut st, &place)?;
    t.end();
    let _t = crate::trace::span("runtime.state");
    st.pid = pid.as_raw();
    st.pid_start = state::proc_stat(st.pid).map(|(_, s)| s).unwrap_or(0);
    root.save(&st)?;
    if let Some(p) = &opts.pid_file {
        write_pid_file(p, st.pid)?;
    }
    cleanup.armed = false;
    Ok(st)
}

/// Where the container's processes go.
struct Placement<'a> {
    cgroup: &'a Cgroup,
    born_in_cgroup: bool,
}

/// Whether the runtime runs without host root (unprivileged, or root of a
/// user namespace such as rootless podman's).
pub fn is_rootless() -> bool {
    !nix::unistd::geteuid().is_root() || state::in_user_namespace()
}

/// Resolves the container's cgroup. Rootless without a writable cgroup the
/// container runs without one (said once per state root), unless the spec
/// asks for limits, which then cannot be honoured: that is an error.
fn container_cgroup(id: &str, b: &Bundle, root: &StateRoot) -> Result<Cgroup> {
    let linux = b.spec.linux().as_ref();
    let path = linux.and_then(|l| l.cgroups_path().as_deref());
    let rootless = is_rootless();
    let cg = crate::cgroup::resolve_path(id, path, rootless)?;
    if rootless && cg.is_empty() {
        if let Some(limit) = linux
            .and_then(|l| l.resources().as_ref())
            .and_then(requested_limit)
        {
            return Err(RuntimeError::Spec(format!(
                "the spec sets {limit}, but running rootless there is no writable (delegated) cgroup to enforce it; \
                 remove the limit or run where a cgroup is delegated to this user"
            )));
        }
        let marker = root.path().join(".no-cgroup-warned");
        if !marker.exists() {
            eprintln!(
                "husk-runtime: warning: no writable cgroup for this user; containers run without a cgroup (no limits, no pause)"
            );
            let _ = std::fs::write(&marker, b"");
        }
    }
    Ok(cg)
}

/// The first resource limit the spec sets, named as in the spec.
fn requested_limit(r: &oci_spec::runtime::LinuxResources) -> Option<&'static str> {
    if r.memory()
        .as_ref()
        .is_some_and(|m| m.limit().is_some() || m.swap().is_some() || m.reservation().is_some())
    {
        return Some("linux.resources.memory");
    }
    if r.cpu().as_ref().is_some_and(|c| {
        c.quota().is_some() || c.shares().is_some() || c.cpus().is_some() || c.mems().is_some()
    }) {
        return Some("linux.resources.cpu");
    }
    if r.pids().as_ref().is_some_and(|p| p.limit() > 0) {
        return Some("linux.resources.pids");
    }
    if r.block_io().is_some() {
        return Some("linux.resources.blockIO");
    }
    if r.hugepage_limits().as_ref().is_some_and(|h| !h.is_empty()) {
        return Some("linux.resources.hugepageLimits");
    }
    if r.unified().as_ref().is_some_and(|u| !u.is_empty()) {
        return Some("linux.resources.unified");
    }
    None
}

/// Creates the mount targets the rootfs lacks, owned by the container's
/// root, when the container's user namespace maps that root to an id other
/// than the runtime's own (see rootfs::mounts::precreate_targets).
fn precreate_targets(b: &Bundle, tree: &OwnedFd, bind_sources: &[Option<OwnedFd>]) {
    let Some(linux) = b.spec.linux().as_ref() else {
        return;
    };
    let uid = idmap::to_host(linux.uid_mappings().as_deref().unwrap_or(&[]), 0);
    let gid = idmap::to_host(linux.gid_mappings().as_deref().unwrap_or(&[]), 0);
    let (Some(uid), Some(gid)) = (uid, gid) else {
        return;
    };
    let Ok(root) = crate::rootfs::resolve::RootDir::from_fd(tree, &b.rootfs) else {
        return;
    };
    crate::rootfs::mounts::precreate_targets(
        &root,
        b.spec.mounts().as_deref().unwrap_or(&[]),
        &b.dir,
        bind_sources,
        (uid, gid),
    );
}

/// Whether init forks once more into its pid namespace (and so reports
/// the container's pid from an intermediate process): the same condition
/// init itself uses.
fn forks_twice(b: &Bundle) -> bool {
    b.needs_second_fork() && (b.plan.new_pid() || b.plan.joins_pid() || !b.time_offsets.is_empty())
}

/// Serves the child's requests until it reports Ready; returns the container
/// process's pid.
fn drive_child(
    b: &Bundle,
    sock: &SyncSocket,
    child: Pid,
    st: &mut ContainerState,
    place: &Placement<'_>,
) -> Result<Pid> {
    let mut pid = child;
    let mut ready = false;
    loop {
        match sock.recv()? {
            Some(Message::MapRequest) => {
                let _t = crate::trace::span("runtime.idmaps");
                if b.plan.new_user() {
                    let linux = b.spec.linux().as_ref().expect("user ns needs linux");
                    idmap::write_maps(
                        child,
                        linux.uid_mappings().as_deref().unwrap_or(&[]),
                        linux.gid_mappings().as_deref().unwrap_or(&[]),
                    )?;
                }
                place.cgroup.add(child.as_raw(), place.born_in_cgroup)?;
                sock.send(&Message::MapsDone)?;
            }
            Some(Message::Pid(p)) => {
                pid = Pid::from_raw(p);
                // Reap the intermediate process right away.
                let _ = waitpid(child, None);
                if ready {
                    return Ok(pid);
                }
            }
            // With a second fork the intermediate's Pid and init's Ready
            // come from two processes, in either order: wait for both.
            Some(Message::Ready) if pid != child || !forks_twice(b) => return Ok(pid),
            Some(Message::Ready) => ready = true,
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
    let _trace = crate::trace::span("runtime.start");
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
    // init is blocked opening the fifo for writing; our open releases it and
    // it writes one byte. Wait for that with poll (no busy sleeping), and
    // notice an init that died instead.
    let mut byte = [0u8; 1];
    let mut released = false;
    loop {
        match nix::unistd::read(fifo.as_raw_fd(), &mut byte) {
            Ok(1) => released = true,
            // End of file after the byte: init's execve closed the fifo.
            Ok(0) if released => break,
            Ok(_) | Err(nix::errno::Errno::EAGAIN) => {
                if !state::process_alive(st.pid, st.pid_start) {
                    if released {
                        break;
                    }
                    return Err(RuntimeError::BadState {
                        id: id.to_string(),
                        status: "stopped".into(),
                        op: "start it (init exited before start)",
                    });
                }
                let mut fds = [nix::poll::PollFd::new(
                    fifo.as_fd(),
                    nix::poll::PollFlags::POLLIN,
                )];
                let _ = nix::poll::poll(&mut fds, nix::poll::PollTimeout::from(50u8));
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
    if !st.cgroup.is_empty() {
        let pids = st.cgroup.pids();
        if !pids.is_empty() || !state::process_alive(st.pid, st.pid_start) {
            return pids;
        }
    }
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
        // Processes that outlived init (no pid namespace) still hold the
        // cgroup: they go with the container.
        Status::Stopped if !st.cgroup.pids().is_empty() => kill_and_wait(&st)?,
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
    st.cgroup.remove()?;
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
    st.cgroup.kill_all()?;
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

/// Freezes every process of a running container (`pause`).
pub fn pause(root: &StateRoot, id: &str) -> Result<()> {
    let (st, status) = load(root, id)?;
    if status != Status::Running {
        return Err(RuntimeError::BadState {
            id: id.to_string(),
            status: status.to_string(),
            op: "pause it (only running containers can be paused)",
        });
    }
    st.cgroup.set_frozen(true)
}

/// Thaws a paused container (`resume`).
pub fn resume(root: &StateRoot, id: &str) -> Result<()> {
    let (st, status) = load(root, id)?;
    if status != Status::Paused {
        return Err(RuntimeError::BadState {
            id: id.to_string(),
            status: status.to_string(),
            op: "resume it (it is not paused)",
        });
    }
    st.cgroup.set_frozen(false)
}
