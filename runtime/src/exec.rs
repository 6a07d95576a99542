//! Running an extra process in a live container (`exec`): join its
//! namespaces (user first), fork into its pid namespace, then the same final
//! steps as init.

use std::fs::File;
use std::os::fd::AsRawFd;
use std::os::unix::fs::MetadataExt;
use std::os::unix::net::UnixStream;
use std::path::PathBuf;

use nix::sched::CloneFlags;
use nix::sys::signal::{kill, Signal};
use nix::sys::wait::waitpid;
use nix::unistd::Pid;
use oci_spec::runtime::{LinuxNamespaceType, Process};

use crate::bundle;
use crate::clone::{clone_process, Forked};
use crate::container;
use crate::error::{Result, RuntimeError, SysContext};
use crate::namespaces::{join_all, proc_name};
use crate::process::{exec as pexec, init, terminal, trampoline};
use crate::state::{StateRoot, Status};
use crate::sync::{Message, SyncSocket};

/// Options of `exec`.
#[derive(Debug, Clone)]
pub struct ExecOptions {
    /// The container id.
    pub id: String,
    /// The process to run.
    pub process: Process,
    /// Unix socket that receives the pty master (process.terminal).
    pub console_socket: Option<PathBuf>,
    /// Where to write the new process's pid.
    pub pid_file: Option<PathBuf>,
    /// Extra fds passed after stdio.
    pub preserve_fds: i32,
}

const ORDER: [LinuxNamespaceType; 8] = [
    LinuxNamespaceType::User,
    LinuxNamespaceType::Cgroup,
    LinuxNamespaceType::Ipc,
    LinuxNamespaceType::Uts,
    LinuxNamespaceType::Network,
    LinuxNamespaceType::Pid,
    LinuxNamespaceType::Time,
    LinuxNamespaceType::Mount,
];

/// Opens the namespaces of `pid` that differ from ours, user first.
fn container_namespaces(pid: i32) -> Result<Vec<(LinuxNamespaceType, File)>> {
    let mut out = Vec::new();
    for kind in ORDER {
        let name = proc_name(kind);
        let theirs = format!("/proc/{pid}/ns/{name}");
        let Ok(their_meta) = std::fs::metadata(&theirs) else {
            continue; // namespace type unknown to this kernel
        };
        let ours = std::fs::metadata(format!("/proc/self/ns/{name}")).ok();
        if ours.is_some_and(|m| m.ino() == their_meta.ino() && m.dev() == their_meta.dev()) {
            continue;
        }
        let f = File::open(&theirs).ctx(|| format!("opening {theirs}"))?;
        out.push((kind, f));
    }
    Ok(out)
}

/// Starts `opts.process` in the container; returns its pid once it is about
/// to exec.
pub fn exec(root: &StateRoot, opts: &ExecOptions) -> Result<Pid> {
    let (st, status) = container::load(root, &opts.id)?;
    if !matches!(status, Status::Running | Status::Created) {
        return Err(RuntimeError::BadState {
            id: opts.id.clone(),
            status: status.to_string(),
            op: "exec in it (it is not running)",
        });
    }
    if opts.process.args().as_ref().is_none_or(|a| a.is_empty()) {
        return Err(RuntimeError::Spec("exec: no command given".into()));
    }
    crate::process::lsm::check(
        opts.process.apparmor_profile().as_deref(),
        opts.process.selinux_label().as_deref(),
    )?;
    let joins = container_namespaces(st.pid)?;
    let joins_user = joins.iter().any(|(k, _)| *k == LinuxNamespaceType::User);
    let console = crate::process::terminal::connect_console(
        opts.console_socket.as_deref(),
        opts.process.terminal() == Some(true),
    )?;
    // exec'd processes get the container's seccomp filter.
    let seccomp = bundle::load(&st.bundle)?.seccomp;
    let (parent_sock, child_sock) = SyncSocket::pair()?;
    let child = match clone_process(CloneFlags::empty(), None).ctx(|| "forking for exec".into())? {
        Forked::Child => {
            drop(parent_sock);
            let err = match exec_child(
                opts,
                &joins,
                joins_user,
                &child_sock,
                console.as_ref(),
                seccomp.as_ref(),
            ) {
                Ok(never) => match never {},
                Err(e) => e,
            };
            let _ = child_sock.send(&Message::Error(err.to_string()));
            // SAFETY: _exit is always safe.
            unsafe { libc::_exit(127) }
        }
        Forked::Parent(pid) => pid,
    };
    drop(child_sock);
    drop(console);
    // Into the container's cgroup before the child forks into its pid
    // namespace, so every exec'd process is accounted and frozen with it.
    let placed = st
        .cgroup
        .add(child.as_raw(), false)
        .and_then(|()| parent_sock.send(&Message::MapsDone));
    if let Err(e) = placed {
        let _ = kill(child, Signal::SIGKILL);
        let _ = waitpid(child, None);
        return Err(e);
    }
    // The intermediate (which forks into the pid namespace) sends the pid,
    // the process itself sends Ready; from two processes, the two may
    // arrive in either order. The exec is reported once both are in; the
    // socket's end of file (it is close-on-exec) then means the execve
    // worked, an error packet says why not.
    let mut pid = None;
    let mut ready = false;
    let result = loop {
        match parent_sock.recv() {
            Ok(Some(Message::Pid(p))) => {
                pid = Some(Pid::from_raw(p));
                let _ = waitpid(child, None);
            }
            Ok(Some(Message::Ready)) => ready = true,
            Ok(Some(Message::Error(e))) => break Err(RuntimeError::Init(e)),
            Ok(Some(other)) => {
                break Err(RuntimeError::Init(format!(
                    "unexpected {other:?} from exec"
                )))
            }
            Ok(None) if ready => match pid {
                Some(p) => break Ok(p),
                None => {
                    break Err(RuntimeError::Init(
                        "exec's intermediate process never reported the pid".into(),
                    ))
                }
            },
            Ok(None) => {
                break Err(RuntimeError::Init(
                    "exec process exited before reporting ready".into(),
                ))
            }
            Err(e) => break Err(e),
        }
    };
    match result {
        Ok(p) => {
            if let Some(f) = &opts.pid_file {
                container::write_pid_file(f, p.as_raw())?;
            }
            Ok(p)
        }
        Err(e) => {
            for p in pid.into_iter().chain([child]) {
                let _ = kill(p, Signal::SIGKILL);
                let _ = waitpid(p, None);
            }
            Err(e)
        }
    }
}

fn exec_child(
    opts: &ExecOptions,
    joins: &[(LinuxNamespaceType, File)],
    joins_user: bool,
    sync: &SyncSocket,
    console: Option<&UnixStream>,
    seccomp: Option<&crate::seccomp::Filter>,
) -> Result<std::convert::Infallible> {
    trampoline::make_undumpable()?;
    sync.expect(Message::MapsDone)?;
    join_all(joins)?;
    if joins_user {
        init::become_root_in_userns()?;
    }
    // The pid namespace only applies to children: fork once more.
    match clone_process(CloneFlags::empty(), None)
        .ctx(|| "forking into the pid namespace".into())?
    {
        Forked::Parent(p) => {
            let _ = sync.send(&Message::Pid(p.as_raw()));
            // SAFETY: _exit is always safe.
            unsafe { libc::_exit(0) }
        }
        Forked::Child => {}
    }
    let process = &opts.process;
    if process.terminal() == Some(true) {
        nix::unistd::setsid().ctx(|| "setsid".into())?;
        let console = console.expect("checked by exec");
        let size = process.console_size().as_ref().map(|b| terminal::Size {
            rows: b.height() as u16,
            cols: b.width() as u16,
        });
        terminal::setup(console.as_raw_fd(), size)?;
    }
    let env = process.env().clone().unwrap_or_default();
    let args = process.args().clone().unwrap_or_default();
    let prog = pexec::resolve(&args, &env)?;
    init::apply_privileged(process)?;
    let tramp = trampoline::Trampoline::new()?;
    init::finish_with_seccomp(process, seccomp, opts.preserve_fds)?;
    sync.send(&Message::Ready)?;
    Err(tramp.exec(&prog, &args, &env))
}
