//! The container's init: everything that happens in the new process between
//! clone and execve. Errors go back to `create` over the sync socket.

use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};

use nix::mount::{mount, MsFlags};
use nix::sched::{unshare, CloneFlags};
use nix::sys::signal::SigSet;
use nix::unistd::{sethostname, setresgid, setresuid, Gid, Uid};
use oci_spec::runtime::{LinuxNamespaceType, Process, Spec};

use super::trampoline::{self, Trampoline};
use super::{exec, lsm, rlimits, sched, terminal, user};
use crate::error::{Result, RuntimeError, SysContext};
use crate::hooks;
use crate::namespaces::{join_all, NamespacePlan};
use crate::rootfs::{detached, devices, mounts, options, paths, pivot, resolve::RootDir};
use crate::state::Status;
use crate::sync::{Message, SyncSocket};

/// Everything init needs, prepared by the parent before clone.
#[derive(Debug)]
pub struct InitArgs<'a> {
    /// The spec.
    pub spec: &'a Spec,
    /// The bundle directory.
    pub bundle: &'a Path,
    /// Absolute rootfs path.
    pub rootfs: &'a Path,
    /// The rootfs cloned by the parent (`open_tree`), attached by init
    /// without looking up `rootfs` (None: no new mount namespace).
    pub rootfs_tree: Option<&'a OwnedFd>,
    /// The bind mount sources cloned by the parent, by mount index.
    pub bind_sources: &'a [Option<OwnedFd>],
    /// The namespace plan.
    pub plan: &'a NamespacePlan,
    /// Namespaces to join, already opened.
    pub joins: &'a [(LinuxNamespaceType, std::fs::File)],
    /// Offsets for a new time namespace (then init forks once more).
    pub time_offsets: &'a [crate::timens::TimeOffset],
    /// The seccomp filter to load last (compiled by the parent).
    pub seccomp: Option<&'a crate::seccomp::Filter>,
    /// The child's end of the sync socket.
    pub sync: &'a SyncSocket,
    /// O_PATH fd of the exec fifo (None for `run` without a create/start split).
    pub fifo: Option<&'a OwnedFd>,
    /// Connected console socket, when process.terminal is set.
    pub console: Option<RawFd>,
    /// Extra fds to pass after stdio (LISTEN_FDS style).
    pub preserve_fds: i32,
    /// Use MS_MOVE + chroot instead of pivot_root.
    pub no_pivot: bool,
    /// Join a new session keyring named after the container, so containers
    /// do not share the caller's keys.
    pub new_keyring: bool,
    /// Set once Ready was sent (errors after it also go to stderr).
    pub ready: std::cell::Cell<bool>,
    /// This process's pid as the runtime sees it, for the state hooks get.
    pub host_pid: std::cell::Cell<i32>,
    /// The container's state, for hooks run by init.
    pub state: &'a crate::state::ContainerState,
    /// Create the cgroup namespace after placement (it is left out of the
    /// clone flags for that reason).
    pub new_cgroupns: bool,
}

impl InitArgs<'_> {
    fn state_json(&self, status: Status) -> String {
        let mut st = self.state.clone();
        st.pid = self.host_pid.get();
        serde_json::to_string(&st.to_oci(status)).expect("state serialises")
    }
}

/// Runs init; never returns. On failure the reason goes to the parent.
pub fn run(args: InitArgs<'_>) -> ! {
    let err = match setup(&args) {
        Ok((prog, tramp)) => {
            let process = args.spec.process().as_ref().expect("validated");
            let env = process.env().clone().unwrap_or_default();
            crate::trace::mark("init.execve");
            tramp.exec(&prog, process.args().as_deref().unwrap_or(&[]), &env)
        }
        Err(e) => e,
    };
    if args.ready.get() {
        // Nobody reads the sync socket once `create` has returned: tell the
        // container's own stderr, where its engine's log collects it.
        eprintln!("husk-runtime: {err}");
    }
    let _ = args.sync.send(&Message::Error(err.to_string()));
    // SAFETY: _exit is always safe; it skips atexit handlers that belong to
    // the parent's copy of the runtime.
    unsafe { libc::_exit(1) }
}

/// Takes uid and gid 0 of the user namespace just entered.
pub fn become_root_in_userns() -> Result<()> {
    let zero_u = Uid::from_raw(0);
    let zero_g = Gid::from_raw(0);
    setresgid(zero_g, zero_g, zero_g).ctx(|| "becoming gid 0 in the user namespace".into())?;
    setresuid(zero_u, zero_u, zero_u).ctx(|| "becoming uid 0 in the user namespace".into())
}

/// Enters namespaces, asking the parent for id maps when a user namespace is
/// new. Returns whether a second fork is needed for the pid namespace.
fn enter_namespaces(a: &InitArgs<'_>) -> Result<bool> {
    let plan = a.plan;
    let strategy_join = !a.joins.is_empty() || !a.time_offsets.is_empty();
    if strategy_join {
        // Joins come first so new namespaces are owned by a joined user
        // namespace; the pid namespace only applies to children, hence a fork.
        join_all(a.joins)?;
        let flags = plan.new - CloneFlags::CLONE_NEWCGROUP;
        if !flags.is_empty() {
            unshare(flags).ctx(|| format!("unshare({flags:?})"))?;
        }
    }
    // The parent writes our id maps (when the user namespace is new) and
    // puts us in the container's cgroup before we go on.
    a.sync.send(&Message::MapRequest)?;
    a.sync.expect(Message::MapsDone)?;
    if plan.new_user() || plan.joins_user() {
        become_root_in_userns()?;
    }
    // The cgroup namespace is made only now, after the cgroup placement, so
    // that its root is the container's own cgroup on every hierarchy.
    if a.new_cgroupns {
        unshare(CloneFlags::CLONE_NEWCGROUP).ctx(|| "unshare(CLONE_NEWCGROUP)".into())?;
    }
    if !a.time_offsets.is_empty() {
        crate::timens::write_offsets(a.time_offsets)?;
    }
    let new_time = !a.time_offsets.is_empty();
    Ok(strategy_join && (plan.new_pid() || plan.joins_pid() || new_time))
}

/// Forks once more so the container process lands in the pid namespace; the
/// intermediate reports the pid and exits.
fn fork_into_pidns(a: &InitArgs<'_>) -> Result<()> {
    match crate::clone::clone_process(CloneFlags::empty(), None)
        .ctx(|| "forking into the pid namespace".into())?
    {
        crate::clone::Forked::Parent(pid) => {
            let _ = a.sync.send(&Message::Pid(pid.as_raw()));
            // SAFETY: _exit is always safe.
            unsafe { libc::_exit(0) }
        }
        crate::clone::Forked::Child => Ok(()),
    }
}

fn prepare_rootfs(a: &InitArgs<'_>, in_userns: bool) -> Result<()> {
    let linux = a.spec.linux().as_ref();
    let t = crate::trace::span("init.mounts");
    // Nothing we mount may propagate back to the host.
    mount(
        None::<&str>,
        "/",
        None::<&str>,
        MsFlags::MS_SLAVE | MsFlags::MS_REC,
        None::<&str>,
    )
    .ctx(|| "making / a recursive slave".into())?;
    // The rootfs comes as a tree the parent cloned: no path above it is
    // looked up with the container's credentials (its root may be a host
    // id that cannot search the store's directories).
    let root = match a.rootfs_tree {
        Some(tree) => {
            detached::enter_rootfs(tree, a.rootfs)?;
            RootDir::open_cwd(a.rootfs)?
        }
        None => {
            mount(
                Some(a.rootfs),
                a.rootfs,
                None::<&str>,
                MsFlags::MS_BIND | MsFlags::MS_REC,
                None::<&str>,
            )
            .ctx(|| format!("bind-mounting rootfs {}", a.rootfs.display()))?;
            RootDir::open(a.rootfs)?
        }
    };
    let ctx = mounts::MountCtx {
        root: &root,
        bundle: a.bundle,
        in_userns,
        bind_sources: a.bind_sources,
    };
    for (i, m) in a.spec.mounts().iter().flatten().enumerate() {
        mounts::mount_one(&ctx, i, m)?;
    }
    let mut devs = devices::default_devices();
    for d in linux
        .and_then(|l| l.devices().as_ref())
        .into_iter()
        .flatten()
    {
        let node = devices::from_spec(d)?;
        devs.retain(|x| x.path != node.path);
        devs.push(node);
    }
    for d in &devs {
        devices::create(&root, d, in_userns)?;
    }
    drop(root);
    t.end();
    run_create_hooks(a)?;
    let _t = crate::trace::span("init.pivot_root");
    match (a.rootfs_tree.is_some(), a.no_pivot) {
        (true, true) => pivot::chroot_cwd()?,
        (true, false) => pivot::pivot_cwd(a.rootfs)?,
        (false, true) => pivot::move_root(a.rootfs)?,
        (false, false) => pivot::pivot(a.rootfs)?,
    }
    devices::create_symlinks()
}

/// The hooks the spec places between mounts and pivot_root: prestart and
/// createRuntime run by the runtime (in its namespaces), then createContainer
/// here, in the container's namespaces.
fn run_create_hooks(a: &InitArgs<'_>) -> Result<()> {
    let Some(h) = a.spec.hooks().as_ref() else {
        return Ok(());
    };
    #[allow(deprecated)]
    let runtime_side = h.prestart().as_ref().is_some_and(|v| !v.is_empty())
        || h.create_runtime().as_ref().is_some_and(|v| !v.is_empty());
    if runtime_side {
        a.sync.send(&Message::HooksRequest)?;
        a.sync.expect(Message::HooksDone)?;
    }
    hooks::run_all(
        h.create_container().as_ref(),
        &a.state_json(Status::Created),
    )
}

/// The rootfs steps that come after sysctls and hostname (which need a
/// writable /proc/sys): masked and read-only paths, propagation, read-only /.
fn finalize_rootfs(a: &InitArgs<'_>) -> Result<()> {
    let linux = a.spec.linux().as_ref();
    if let Some(l) = linux {
        paths::mask(l.masked_paths().as_deref().unwrap_or(&[]))?;
        paths::make_readonly(l.readonly_paths().as_deref().unwrap_or(&[]))?;
        if let Some(p) = l.rootfs_propagation() {
            let flags = options::parse_propagation(p)
                .ok_or_else(|| RuntimeError::Spec(format!("unknown rootfsPropagation {p:?}")))?;
            mount(None::<&str>, "/", None::<&str>, flags, None::<&str>)
                .ctx(|| format!("setting rootfs propagation {p}"))?;
        }
    }
    if a.spec
        .root()
        .as_ref()
        .is_some_and(|r| r.readonly() == Some(true))
    {
        mounts::remount_bind(Path::new("/"), MsFlags::MS_RDONLY)
            .ctx(|| "remounting the rootfs read-only".into())?;
    }
    Ok(())
}

fn set_sysctls(a: &InitArgs<'_>) -> Result<()> {
    let Some(map) = a.spec.linux().as_ref().and_then(|l| l.sysctl().as_ref()) else {
        return Ok(());
    };
    let mut keys: Vec<_> = map.keys().collect();
    keys.sort();
    for k in keys {
        if k.contains("..") || k.contains('\0') {
            return Err(RuntimeError::Spec(format!("invalid sysctl name {k:?}")));
        }
        let path = PathBuf::from("/proc/sys").join(k.replace('.', "/"));
        std::fs::write(&path, &map[k]).ctx(|| format!("setting sysctl {k}={}", map[k]))?;
    }
    Ok(())
}

fn wait_for_start(fifo: &OwnedFd) -> Result<()> {
    let path = format!("/proc/self/fd/{}", fifo.as_raw_fd());
    let fd = nix::fcntl::open(
        path.as_str(),
        nix::fcntl::OFlag::O_WRONLY | nix::fcntl::OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )
    .ctx(|| "opening the exec fifo (is /proc mounted in the container?)".into())?;
    // SAFETY: open returned this fd; OwnedFd closes it.
    let fd = unsafe { <OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fd) };
    nix::unistd::write(&fd, b"0").ctx(|| "writing the exec fifo".into())?;
    // Held open (close-on-exec) until the execve: `start` reads end of file
    // only then, so it returns, and runs poststart, once the program runs.
    std::mem::forget(fd);
    Ok(())
}

/// Marks every fd above stdio and the preserved ones close-on-exec, so no
/// runtime fd (state dirs, the host root) leaks into the container.
pub fn close_extra_fds(preserve: i32) -> Result<()> {
    let first = 3 + preserve.max(0) as u32;
    // SAFETY: close_range takes integer arguments only.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_close_range,
            first,
            u32::MAX,
            libc::CLOSE_RANGE_CLOEXEC,
        )
    };
    if rc != 0 {
        return Err(RuntimeError::sys(
            "marking inherited fds close-on-exec",
            std::io::Error::last_os_error(),
        ));
    }
    Ok(())
}

/// Enters process.cwd and refuses one that resolves outside the root (a
/// leaked directory fd named as /proc/self/fd/N would).
pub fn enter_cwd(cwd: &Path) -> Result<()> {
    nix::unistd::chdir(cwd).ctx(|| format!("entering cwd {}", cwd.display()))?;
    match nix::unistd::getcwd() {
        Ok(p) if p.is_absolute() => Ok(()),
        _ => Err(RuntimeError::Spec(format!(
            "cwd {} is outside the container's root",
            cwd.display()
        ))),
    }
}

/// Steps that need the runtime's privileges: oom_score_adj, rlimits, I/O
/// priority, scheduler, and the LSM labels for the coming execve.
pub fn apply_privileged(process: &Process) -> Result<()> {
    if let Some(adj) = process.oom_score_adj() {
        std::fs::write("/proc/self/oom_score_adj", adj.to_string())
            .ctx(|| format!("setting oom_score_adj {adj}"))?;
    }
    rlimits::apply(process.rlimits().as_deref().unwrap_or(&[]))?;
    if let Some(p) = process.io_priority() {
        sched::apply_io_priority(p)?;
    }
    if let Some(s) = process.scheduler() {
        sched::apply_scheduler(s)?;
    }
    lsm::apply_on_exec(
        process.apparmor_profile().as_deref(),
        process.selinux_label().as_deref(),
    )
}

/// The last steps shared by init and exec: credentials, no_new_privs, cwd,
/// fds and signal mask. Must run after everything that needs privileges.
pub fn drop_privileges(
    process: &Process,
    preserve_fds: i32,
    setgroups_allowed: bool,
) -> Result<()> {
    user::switch(
        process.user(),
        process.capabilities().as_ref(),
        setgroups_allowed,
    )?;
    if process.no_new_privileges() == Some(true) {
        // SAFETY: prctl with integer arguments only.
        if unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) } != 0 {
            return Err(RuntimeError::sys(
                "setting no_new_privs",
                std::io::Error::last_os_error(),
            ));
        }
    }
    enter_cwd(process.cwd())?;
    close_extra_fds(preserve_fds)?;
    SigSet::empty()
        .thread_set_mask()
        .ctx(|| "clearing the signal mask".into())?;
    Ok(())
}

fn setup(a: &InitArgs<'_>) -> Result<(PathBuf, Trampoline)> {
    let plan = a.plan;
    let t = crate::trace::span("init.namespaces");
    let extra_fork = enter_namespaces(a)?;
    t.end();
    // Only now: the parent has written our id maps, which it could not do
    // for a non-dumpable process when rootless.
    trampoline::make_undumpable()?;
    if extra_fork {
        fork_into_pidns(a)?;
    }
    // /proc is still the runtime's procfs here, so /proc/self names our pid
    // in the runtime's pid namespace (getpid would say 1).
    let host_pid = std::fs::read_link("/proc/self")
        .ok()
        .and_then(|l| l.to_str().and_then(|s| s.parse().ok()))
        .unwrap_or_else(|| nix::unistd::getpid().as_raw());
    a.host_pid.set(host_pid);
    nix::unistd::setsid().ctx(|| "setsid".into())?;
    if a.new_keyring {
        join_session_keyring(&a.state.id)?;
    }
    // Also true when the runtime itself runs in a user namespace (rootless
    // podman runs it as root of its own): mknod and fresh sysfs are refused.
    let in_userns = plan.new_user() || plan.joins_user() || crate::state::in_user_namespace();
    if plan.new.contains(CloneFlags::CLONE_NEWNS) {
        prepare_rootfs(a, in_userns)?;
    }
    if plan.new.contains(CloneFlags::CLONE_NEWNET) {
        let _t = crate::trace::span("init.loopback");
        crate::loopback::up()?;
    }
    let t = crate::trace::span("init.hostname-sysctl");
    if plan.new.contains(CloneFlags::CLONE_NEWUTS) {
        if let Some(h) = a.spec.hostname() {
            sethostname(h).ctx(|| format!("setting hostname {h}"))?;
        }
        if let Some(d) = a.spec.domainname() {
            set_domainname(d)?;
        }
    }
    set_sysctls(a)?;
    if let Some(p) = a
        .spec
        .linux()
        .as_ref()
        .and_then(|l| l.personality().as_ref())
    {
        sched::apply_personality(p)?;
    }
    t.end();
    if plan.new.contains(CloneFlags::CLONE_NEWNS) {
        let _t = crate::trace::span("init.masked-paths");
        finalize_rootfs(a)?;
    }
    let t = crate::trace::span("init.process");
    let process = a.spec.process().as_ref().expect("validated");
    if process.terminal() == Some(true) {
        let console = a.console.ok_or_else(|| {
            RuntimeError::Spec("process.terminal is set but no --console-socket was given".into())
        })?;
        let size = process.console_size().as_ref().map(|b| terminal::Size {
            rows: b.height() as u16,
            cols: b.width() as u16,
        });
        terminal::setup(console, size)?;
        let _ = nix::unistd::close(console);
    }
    let env = process.env().clone().unwrap_or_default();
    let prog = exec::resolve(process.args().as_deref().unwrap_or(&[]), &env)?;
    apply_privileged(process)?;
    // Checked here too, so `create` fails with the reason (a cwd that is a
    // leaked fd of the host, say) instead of the container dying after start.
    enter_cwd(process.cwd())?;
    t.end();
    a.sync.send(&Message::Ready)?;
    a.ready.set(true);
    // The fifo is opened through /proc/self/fd while still privileged: after
    // the uid switch the process is not dumpable and could not open it.
    if let Some(fifo) = a.fifo {
        wait_for_start(fifo)?;
    }
    if let Some(h) = a.spec.hooks().as_ref() {
        hooks::run_all(h.start_container().as_ref(), &a.state_json(Status::Running))?;
    }
    let t = crate::trace::span("init.trampoline");
    let tramp = Trampoline::new()?;
    t.end();
    finish_with_seccomp(process, a.seccomp, a.preserve_fds)?;
    Ok((prog, tramp))
}

/// Drops privileges and loads the seccomp filter as late as the kernel
/// allows: last of all under no_new_privs; otherwise (loading then needs
/// CAP_SYS_ADMIN) just before the uid switch and capability drop.
pub fn finish_with_seccomp(
    process: &Process,
    seccomp: Option<&crate::seccomp::Filter>,
    preserve_fds: i32,
) -> Result<()> {
    let nnp = process.no_new_privileges() == Some(true);
    if let (Some(f), false) = (seccomp, nnp) {
        let _t = crate::trace::span("init.seccomp");
        crate::seccomp::load(f)?;
    }
    let t = crate::trace::span("init.credentials");
    drop_privileges(process, preserve_fds, setgroups_allowed())?;
    t.end();
    if let (Some(f), true) = (seccomp, nnp) {
        let _t = crate::trace::span("init.seccomp");
        crate::seccomp::load(f)?;
    }
    Ok(())
}

/// Whether setgroups(2) is allowed here (not denied in our user namespace).
pub fn setgroups_allowed() -> bool {
    std::fs::read_to_string("/proc/self/setgroups")
        .map(|s| s.trim() != "deny")
        .unwrap_or(true)
}

fn set_domainname(name: &str) -> Result<()> {
    let c = std::ffi::CString::new(name)
        .map_err(|_| RuntimeError::Spec("domainname holds a NUL byte".into()))?;
    // SAFETY: the pointer and length describe the valid CString buffer.
    if unsafe { libc::setdomainname(c.as_ptr(), name.len()) } != 0 {
        return Err(RuntimeError::sys(
            format!("setting domainname {name}"),
            std::io::Error::last_os_error(),
        ));
    }
    Ok(())
}

/// keyctl(KEYCTL_JOIN_SESSION_KEYRING, "_ses.<id>"). Kernels or seccomp
/// profiles without keyrings (ENOSYS) are not an error, as with runc.
fn join_session_keyring(id: &str) -> Result<()> {
    const KEYCTL_JOIN_SESSION_KEYRING: libc::c_ulong = 1;
    let name = std::ffi::CString::new(format!("_ses.{id}"))
        .map_err(|_| RuntimeError::Spec("container id holds a NUL byte".into()))?;
    // SAFETY: keyctl reads the NUL-terminated name, valid for the call.
    let rc = unsafe { libc::syscall(libc::SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, name.as_ptr()) };
    if rc < 0 {
        let err = std::io::Error::last_os_error();
        if err.raw_os_error() != Some(libc::ENOSYS) {
            return Err(RuntimeError::sys("joining a new session keyring", err));
        }
    }
    Ok(())
}
