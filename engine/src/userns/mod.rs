//! husk's rootless user namespace: the same mapping every time (the user's
//! own uid to 0, then its /etc/subuid range from 1), entered by every
//! command that touches storage or starts a container. One namespace per
//! user is kept between commands by a small holder process ([`holder`]);
//! each command joins it and makes a private mount namespace of its own,
//! which the shims of the containers it starts keep alive (so the overlay
//! rootfs mounted there never shows in the host's mount table).

pub mod holder;

use nix::sched::CloneFlags;
use oci_spec::runtime::{LinuxIdMapping, LinuxIdMappingBuilder};

pub use crate::container::spec::idmap::{IdContext, IdRange};

/// Why the rootless namespace could not be made.
#[derive(Debug, thiserror::Error)]
pub enum UsernsError {
    /// A system call failed.
    #[error("{what}: {source}")]
    Sys {
        /// What husk was doing.
        what: &'static str,
        /// The error.
        #[source]
        source: nix::Error,
    },
    /// Writing the maps failed (newuidmap refused, for example).
    #[error("setting up the rootless user namespace: {0}")]
    Maps(#[from] husk_runtime::RuntimeError),
}

fn sys(what: &'static str) -> impl FnOnce(nix::Error) -> UsernsError {
    move |source| UsernsError::Sys { what, source }
}

/// Whose /etc/subuid and /etc/subgid ranges root's `--userns=auto` uses.
pub const ROOT_AUTO_USER: &str = "containers";

/// The user's name in /etc/passwd (parsed directly: no NSS).
fn user_name(uid: u32) -> Option<String> {
    let text = std::fs::read_to_string("/etc/passwd").ok()?;
    text.lines().find_map(|l| {
        let f: Vec<&str> = l.split(':').collect();
        (f.len() > 2 && f[2].parse() == Ok(uid)).then(|| f[0].to_owned())
    })
}

/// Parses the ranges of `name` or `uid` in a subuid/subgid file's text.
pub fn parse_subids(text: &str, name: Option<&str>, id: u32) -> Vec<IdRange> {
    let id = id.to_string();
    text.lines()
        .filter_map(|l| {
            let mut f = l.trim().split(':');
            let who = f.next()?;
            let start = f.next()?.trim().parse().ok()?;
            let count = f.next()?.trim().parse().ok()?;
            (Some(who) == name || who == id).then_some(IdRange { start, count })
        })
        .filter(|r| r.count > 0)
        .collect()
}

/// The ids of the host user `uid`/`gid`: its name and home from
/// /etc/passwd and its ranges from /etc/subuid and /etc/subgid (none when
/// the files are missing).
pub fn load_ids(uid: u32, gid: u32) -> IdContext {
    let name = user_name(uid);
    let read = |f| std::fs::read_to_string(f).unwrap_or_default();
    // Root's containers take their --userns=auto ranges from the user
    // "containers", as podman's do (its root-auto-userns-user default).
    let ranges_of = |text: &str| {
        if uid == 0 {
            parse_subids(text, Some(ROOT_AUTO_USER), u32::MAX)
        } else {
            parse_subids(text, name.as_deref(), uid)
        }
    };
    IdContext {
        uid,
        gid,
        user_name: name.clone().unwrap_or_default(),
        home: std::env::var("HOME").unwrap_or_default(),
        subuids: ranges_of(&read("/etc/subuid")),
        subgids: ranges_of(&read("/etc/subgid")),
        auto_uids_in_use: Vec::new(),
        auto_gids_in_use: Vec::new(),
    }
}

/// The uid map of husk's namespace: own uid to 0, then each range from 1.
pub fn uid_map(ids: &IdContext) -> Vec<LinuxIdMapping> {
    namespace_map(ids.uid, &ids.subuids)
}

/// The gid map of husk's namespace.
pub fn gid_map(ids: &IdContext) -> Vec<LinuxIdMapping> {
    namespace_map(ids.gid, &ids.subgids)
}

fn mapping(container: u32, host: u32, size: u32) -> LinuxIdMapping {
    LinuxIdMappingBuilder::default()
        .container_id(container)
        .host_id(host)
        .size(size)
        .build()
        .expect("all fields set")
}

/// Own id to 0, then each range in order from 1.
fn namespace_map(own: u32, ranges: &[IdRange]) -> Vec<LinuxIdMapping> {
    let mut out = vec![mapping(0, own, 1)];
    let mut next = 1u32;
    for r in ranges {
        out.push(mapping(next, r.start, r.count));
        next = next.saturating_add(r.count);
    }
    out
}

/// Whether this process already runs in a user namespace other than the
/// initial one (husk's own, entered by a parent husk process, or the shim's).
pub fn inside() -> bool {
    husk_runtime::state::in_user_namespace()
}

/// Enters husk's rootless user namespace (joining its holder's, or making
/// it and its holder: [`holder`]) and a private mount namespace of this
/// process, unless this process is already inside a user namespace. The
/// process carries on as root of the namespace. Call it before any thread
/// is started.
pub fn enter(ids: &IdContext) -> Result<(), UsernsError> {
    if inside() {
        return Ok(());
    }
    let dir = holder::runtime_dir(ids.uid);
    holder::join_or_make(ids, dir.as_deref())?;
    nix::sched::unshare(CloneFlags::CLONE_NEWNS)
        .map_err(sys("creating husk's private mount namespace"))
}

/// Joins the user namespace of process `pid` (a container's, which is the
/// one its shim keeps), becoming root in it. For commands that act inside a
/// running rootless container from outside (`exec`). The process must be
/// single-threaded.
pub fn join(pid: i32) -> Result<(), UsernsError> {
    let f = open_ns(pid, "opening the container's user namespace")?;
    nix::sched::setns(&f, CloneFlags::CLONE_NEWUSER)
        .map_err(sys("joining the container's user namespace"))?;
    become_root()
}

/// Opens `/proc/PID/ns/user`.
fn open_ns(pid: i32, what: &'static str) -> Result<std::fs::File, UsernsError> {
    std::fs::File::open(format!("/proc/{pid}/ns/user")).map_err(|e| UsernsError::Sys {
        what,
        source: nix::errno::Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO)),
    })
}

/// Takes uid and gid 0 of the user namespace just joined.
fn become_root() -> Result<(), UsernsError> {
    let zero_u = nix::unistd::Uid::from_raw(0);
    let zero_g = nix::unistd::Gid::from_raw(0);
    nix::unistd::setresgid(zero_g, zero_g, zero_g).map_err(sys("becoming gid 0"))?;
    nix::unistd::setresuid(zero_u, zero_u, zero_u).map_err(sys("becoming uid 0"))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_subids_by_name_or_uid() {
        let t = "alice:100000:65536\n1001:300000:10\nbob:1:2\nbad line\nalice:5:0\n";
        assert_eq!(
            parse_subids(t, Some("alice"), 1001),
            [
                IdRange {
                    start: 100000,
                    count: 65536
                },
                IdRange {
                    start: 300000,
                    count: 10
                }
            ]
        );
        assert!(parse_subids(t, Some("carol"), 7).is_empty());
    }

    #[test]
    fn maps_own_id_then_ranges() {
        let m = namespace_map(
            1001,
            &[
                IdRange {
                    start: 200000,
                    count: 65536,
                },
                IdRange { start: 5, count: 2 },
            ],
        );
        let got: Vec<(u32, u32, u32)> = m
            .iter()
            .map(|m| (m.container_id(), m.host_id(), m.size()))
            .collect();
        assert_eq!(got, [(0, 1001, 1), (1, 200000, 65536), (65537, 5, 2)]);
    }
}
