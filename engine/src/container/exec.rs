//! `husk exec`: a process in a running container, through the runtime's
//! exec (which joins the container's namespaces, the user namespace first,
//! so it also works rootless from outside husk's namespace). Without a
//! terminal the process inherits husk's own stdio, so nothing is copied;
//! with one, husk receives the pty master on a console socket and relays.

use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};

use oci_spec::runtime::{Process, Spec};

use super::error::{ContainerError, Result};
use super::spec::user::{self, UserInput};
use crate::catalog::containers::ContainerRecord;
use crate::container::passwd;
use crate::engine::Engine;

/// What to run.
#[derive(Debug, Clone, Default)]
pub struct ExecRequest {
    /// The command and its arguments.
    pub command: Vec<String>,
    /// `NAME=value` additions.
    pub env: Vec<String>,
    /// `-u`.
    pub user: Option<String>,
    /// `-w`.
    pub workdir: Option<String>,
    /// `-t`.
    pub tty: bool,
    /// `--privileged`: every capability.
    pub privileged: bool,
}

fn load_spec(eng: &Engine, id: &str) -> Result<Spec> {
    let path = eng.paths.userdata(id).join("config.json");
    let data = std::fs::read(&path).map_err(|e| ContainerError::io("reading", &path, e))?;
    serde_json::from_slice(&data)
        .map_err(|e| ContainerError::Other(format!("{}: {e}", path.display())))
}

fn resolve_user(rootfs: &Path, u: &str) -> Result<(u32, u32, Vec<u32>, String)> {
    let root = passwd::open_root(rootfs).map_err(|e| ContainerError::io("opening", rootfs, e))?;
    let pw = passwd::read_in_root(root.as_fd(), "etc/passwd")
        .ok()
        .flatten();
    let gr = passwd::read_in_root(root.as_fd(), "etc/group")
        .ok()
        .flatten();
    let input = UserInput {
        user: Some(u),
        flag: "--user",
        group_add: &[],
        passwd: pw.as_deref(),
        group: gr.as_deref(),
    };
    let mut warnings = Vec::new();
    let r = user::resolve(&input, &|_| true, &mut warnings)
        .map_err(|e| ContainerError::Other(e.to_string()))?;
    Ok((r.uid, r.gid, r.additional_gids, r.home))
}

/// The exec'd process: the container's own process with the request's
/// changes.
pub fn process(
    eng: &Engine,
    rec: &ContainerRecord,
    pid: i32,
    req: &ExecRequest,
) -> Result<Process> {
    let spec = load_spec(eng, &rec.id)?;
    let mut p = spec.process().clone().unwrap_or_default();
    p.set_args(Some(req.command.clone()));
    p.set_terminal(Some(req.tty));
    p.set_console_size(None);
    let mut env = p.env().clone().unwrap_or_default();
    for kv in &req.env {
        let key = kv.split('=').next().unwrap_or_default();
        env.retain(|e| e.split('=').next() != Some(key));
        env.push(kv.clone());
    }
    if req.tty && !env.iter().any(|e| e.starts_with("TERM=")) {
        env.push("TERM=xterm".into());
    }
    if let Some(u) = &req.user {
        // The container's root as its init sees it: works rootless too,
        // where the rootfs is mounted only in the shim's mount namespace.
        let rootfs = PathBuf::from(format!("/proc/{pid}/root"));
        let (uid, gid, mut groups, home) = resolve_user(&rootfs, u)?;
        // exec -u sets only the groups the user is a member of, not its
        // primary group again (podman's `id` shows no groups= then).
        groups.retain(|g| *g != gid);
        let mut user = p.user().clone();
        user.set_uid(uid);
        user.set_gid(gid);
        user.set_additional_gids(Some(groups));
        p.set_user(user);
        env.retain(|e| !e.starts_with("HOME="));
        env.push(format!("HOME={home}"));
    }
    p.set_env(Some(env));
    if let Some(w) = &req.workdir {
        p.set_cwd(PathBuf::from(w));
    }
    if req.privileged {
        let all = super::spec::caps::bounding_set().to_oci();
        let mut caps = p.capabilities().clone().unwrap_or_default();
        caps.set_bounding(Some(all.clone()));
        caps.set_effective(Some(all.clone()));
        caps.set_permitted(Some(all.clone()));
        caps.set_inheritable(Some(all));
        p.set_capabilities(Some(caps));
    }
    Ok(p)
}

/// Receives the pty master the runtime sends on a console socket.
pub fn recv_master(listener: &std::os::unix::net::UnixListener) -> Result<OwnedFd> {
    let (conn, _) = listener
        .accept()
        .map_err(|e| ContainerError::io("accepting the console socket", "", e))?;
    let mut buf = [0u8; 64];
    let mut cmsg = nix::cmsg_space!(std::os::fd::RawFd);
    let mut iov = [std::io::IoSliceMut::new(&mut buf)];
    let msg = nix::sys::socket::recvmsg::<()>(
        conn.as_raw_fd(),
        &mut iov,
        Some(&mut cmsg),
        nix::sys::socket::MsgFlags::MSG_CMSG_CLOEXEC,
    )
    .map_err(|e| ContainerError::io("receiving the pty master", "", e.into()))?;
    for c in msg
        .cmsgs()
        .map_err(|e| ContainerError::io("reading the console message", "", e.into()))?
    {
        if let nix::sys::socket::ControlMessageOwned::ScmRights(fds) = c {
            if let Some(&fd) = fds.first() {
                // SAFETY: the kernel just installed this fd for us.
                return Ok(unsafe { <OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fd) });
            }
        }
    }
    Err(ContainerError::Other(
        "the runtime sent no pty master".into(),
    ))
}
