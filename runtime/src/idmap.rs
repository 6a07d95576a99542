//! Writing a child's uid and gid maps from the parent: directly where the
//! kernel allows it, through newuidmap/newgidmap for rootless multi-range maps.

use std::fs;
use std::process::{Command, Stdio};

use nix::unistd::{getegid, geteuid, Pid};
use oci_spec::runtime::LinuxIdMapping;

use crate::error::{Result, RuntimeError, SysContext};

/// Which map to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MapKind {
    /// /proc/PID/uid_map.
    Uid,
    /// /proc/PID/gid_map.
    Gid,
}

impl MapKind {
    fn file(self) -> &'static str {
        match self {
            MapKind::Uid => "uid_map",
            MapKind::Gid => "gid_map",
        }
    }
    fn helper(self) -> &'static str {
        match self {
            MapKind::Uid => "newuidmap",
            MapKind::Gid => "newgidmap",
        }
    }
}

/// The text of a map file for `maps`.
pub fn format_map(maps: &[LinuxIdMapping]) -> String {
    maps.iter()
        .map(|m| format!("{} {} {}\n", m.container_id(), m.host_id(), m.size()))
        .collect()
}

/// Whether an unprivileged process may write `maps` itself: one range of size
/// one mapping its own id.
fn writable_directly(kind: MapKind, maps: &[LinuxIdMapping]) -> bool {
    if geteuid().is_root() {
        return true;
    }
    let own = match kind {
        MapKind::Uid => geteuid().as_raw(),
        MapKind::Gid => getegid().as_raw(),
    };
    maps.len() == 1 && maps[0].size() == 1 && maps[0].host_id() == own
}

/// Writes the uid and gid maps of `pid`.
pub fn write_maps(pid: Pid, uids: &[LinuxIdMapping], gids: &[LinuxIdMapping]) -> Result<()> {
    let gid_direct = writable_directly(MapKind::Gid, gids);
    // An unprivileged writer of gid_map must first deny setgroups (the kernel
    // requires it so dropping supplementary groups can't be undone). Root and
    // newgidmap are trusted with it.
    if !gids.is_empty() && gid_direct && !geteuid().is_root() {
        let path = format!("/proc/{pid}/setgroups");
        fs::write(&path, "deny").ctx(|| format!("writing {path}"))?;
    }
    // Both maps at once: each helper is a setuid exec of a few ms, and the
    // kernel does not care which map is written first.
    let uid = start_one(pid, MapKind::Uid, uids)?;
    let gid = start_one(pid, MapKind::Gid, gids);
    let uid = uid.finish();
    let gid = gid?.finish();
    uid.and(gid)
}

/// A map being written: already done, or a helper still running.
enum Pending<'a> {
    Done,
    Helper {
        kind: MapKind,
        maps: &'a [LinuxIdMapping],
        child: std::process::Child,
    },
}

impl Pending<'_> {
    /// Waits for the helper, if any, and reports how it went.
    fn finish(self) -> Result<()> {
        let Pending::Helper { kind, maps, child } = self else {
            return Ok(());
        };
        let out = child
            .wait_with_output()
            .map_err(|e| RuntimeError::sys(format!("waiting for {}", kind.helper()), e))?;
        if !out.status.success() {
            return Err(RuntimeError::Spec(format!(
                "{} {} failed: {} (check /etc/sub{}id ranges for this user)",
                kind.helper(),
                format_map(maps).trim().replace('\n', ", "),
                String::from_utf8_lossy(&out.stderr).trim(),
                if kind == MapKind::Uid { "u" } else { "g" }
            )));
        }
        Ok(())
    }
}

/// Writes one map directly, or starts its helper.
fn start_one(pid: Pid, kind: MapKind, maps: &[LinuxIdMapping]) -> Result<Pending<'_>> {
    if maps.is_empty() {
        return Ok(Pending::Done);
    }
    if writable_directly(kind, maps) {
        let path = format!("/proc/{pid}/{}", kind.file());
        fs::write(&path, format_map(maps)).ctx(|| format!("writing {path}"))?;
        return Ok(Pending::Done);
    }
    let mut cmd = Command::new(kind.helper());
    cmd.arg(pid.to_string());
    for m in maps {
        cmd.arg(m.container_id().to_string())
            .arg(m.host_id().to_string())
            .arg(m.size().to_string());
    }
    cmd.stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let child = cmd.spawn().map_err(|e| {
        RuntimeError::sys(
            format!(
                "running {} (install the uidmap package for multi-range rootless maps)",
                kind.helper()
            ),
            e,
        )
    })?;
    Ok(Pending::Helper { kind, maps, child })
}

/// Maps container id `id` to its host id through `maps`, if mapped.
pub fn to_host(maps: &[LinuxIdMapping], id: u32) -> Option<u32> {
    maps.iter().find_map(|m| {
        let off = id.checked_sub(m.container_id())?;
        (off < m.size()).then(|| m.host_id() + off)
    })
}

/// A user namespace with `uids` and `gids` as its maps, held by the
/// returned fd (`/proc/PID/ns/user` of a child that exits once it is
/// open): what `mount_setattr(MOUNT_ATTR_IDMAP)` takes. The child only
/// blocks in read(2) and exits, so calling this from a process with other
/// threads is safe.
pub fn userns_fd(uids: &[LinuxIdMapping], gids: &[LinuxIdMapping]) -> Result<std::os::fd::OwnedFd> {
    use std::os::fd::AsRawFd;
    let (rx, tx) = nix::unistd::pipe().ctx(|| "creating a pipe".into())?;
    let forked = crate::clone::clone_process(nix::sched::CloneFlags::CLONE_NEWUSER, None)
        .ctx(|| "creating a user namespace for an idmapped mount".into())?;
    let pid = match forked {
        crate::clone::Forked::Child => {
            drop(tx);
            let mut b = [0u8; 1];
            // SAFETY: read into a valid one-byte buffer, then _exit: both
            // async-signal-safe, so fine after a fork of a threaded process.
            unsafe {
                libc::read(rx.as_raw_fd(), b.as_mut_ptr().cast(), 1);
                libc::_exit(0)
            }
        }
        crate::clone::Forked::Parent(pid) => pid,
    };
    drop(rx);
    let res = write_maps(pid, uids, gids).and_then(|()| {
        fs::File::open(format!("/proc/{pid}/ns/user"))
            .map(std::os::fd::OwnedFd::from)
            .ctx(|| format!("opening /proc/{pid}/ns/user"))
    });
    drop(tx);
    let _ = nix::sys::wait::waitpid(pid, None);
    res
}
