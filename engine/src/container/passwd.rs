//! The container's user database, parsed by husk itself: `/etc/passwd` and
//! `/etc/group` read from inside the container's rootfs (never through NSS,
//! which would consult the host and cannot be linked statically).
//!
//! The files are opened with openat2(RESOLVE_IN_ROOT) relative to the
//! rootfs, so an image whose `/etc/passwd` is a symlink to `/etc/passwd`
//! (or `../../../etc/passwd`) reads its own file or nothing, never the
//! host's.

use std::io::Read;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::path::Path;

/// A user database file larger than this is refused: a hostile image could
/// otherwise make `husk run` read gigabytes.
pub const MAX_DB_SIZE: u64 = 8 << 20;

/// One line of `/etc/passwd`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasswdEntry {
    /// Login name.
    pub name: String,
    /// Numeric user id.
    pub uid: u32,
    /// Primary group id.
    pub gid: u32,
    /// The GECOS field.
    pub gecos: String,
    /// Home directory.
    pub home: String,
    /// Login shell.
    pub shell: String,
}

/// One line of `/etc/group`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupEntry {
    /// Group name.
    pub name: String,
    /// Numeric group id.
    pub gid: u32,
    /// Member user names.
    pub members: Vec<String>,
}

/// The passwd entries of `text`, in file order. Lines that are empty,
/// comments, NIS `+`/`-` entries or malformed (too few fields, a non-numeric
/// id) are skipped, as the C library does.
pub fn parse_passwd(text: &str) -> impl Iterator<Item = PasswdEntry> + '_ {
    text.lines().filter_map(|line| {
        let line = line.trim_end_matches('\r');
        if line.is_empty() || line.starts_with('#') || line.starts_with(['+', '-']) {
            return None;
        }
        let mut f = line.splitn(7, ':');
        let name = f.next()?;
        let _password = f.next()?;
        let uid = f.next()?.trim().parse().ok()?;
        let gid = f.next()?.trim().parse().ok()?;
        let gecos = f.next().unwrap_or("");
        let home = f.next().unwrap_or("");
        let shell = f.next().unwrap_or("");
        if name.is_empty() {
            return None;
        }
        Some(PasswdEntry {
            name: name.to_owned(),
            uid,
            gid,
            gecos: gecos.to_owned(),
            home: home.to_owned(),
            shell: shell.to_owned(),
        })
    })
}

/// The group entries of `text`, in file order (malformed lines skipped).
pub fn parse_group(text: &str) -> impl Iterator<Item = GroupEntry> + '_ {
    text.lines().filter_map(|line| {
        let line = line.trim_end_matches('\r');
        if line.is_empty() || line.starts_with('#') || line.starts_with(['+', '-']) {
            return None;
        }
        let mut f = line.splitn(4, ':');
        let name = f.next()?;
        let _password = f.next()?;
        let gid = f.next()?.trim().parse().ok()?;
        let members = f
            .next()
            .unwrap_or("")
            .split(',')
            .map(str::trim)
            .filter(|m| !m.is_empty())
            .map(str::to_owned)
            .collect();
        if name.is_empty() {
            return None;
        }
        Some(GroupEntry {
            name: name.to_owned(),
            gid,
            members,
        })
    })
}

/// The first passwd entry named `name`.
pub fn user_by_name(text: &str, name: &str) -> Option<PasswdEntry> {
    parse_passwd(text).find(|e| e.name == name)
}

/// The first passwd entry with user id `uid`.
pub fn user_by_uid(text: &str, uid: u32) -> Option<PasswdEntry> {
    parse_passwd(text).find(|e| e.uid == uid)
}

/// The first group entry named `name`.
pub fn group_by_name(text: &str, name: &str) -> Option<GroupEntry> {
    parse_group(text).find(|e| e.name == name)
}

/// The gids of every group that lists `user` as a member, in file order,
/// without duplicates.
pub fn supplementary_gids(text: &str, user: &str) -> Vec<u32> {
    let mut out: Vec<u32> = Vec::new();
    for g in parse_group(text) {
        if g.members.iter().any(|m| m == user) && !out.contains(&g.gid) {
            out.push(g.gid);
        }
    }
    out
}

/// The highest uid of `passwd` and gid of `group` text (0 when empty), to
/// size an automatic user namespace.
pub fn max_ids(passwd: &str, group: &str) -> (u32, u32) {
    let uid = parse_passwd(passwd).map(|e| e.uid).max().unwrap_or(0);
    let gid = parse_passwd(passwd)
        .map(|e| e.gid)
        .chain(parse_group(group).map(|g| g.gid))
        .max()
        .unwrap_or(0);
    (uid, gid)
}

/// Opens the rootfs directory for [`read_in_root`] (O_PATH, close-on-exec).
pub fn open_root(rootfs: &Path) -> std::io::Result<OwnedFd> {
    let fd = nix::fcntl::open(
        rootfs,
        nix::fcntl::OFlag::O_PATH | nix::fcntl::OFlag::O_DIRECTORY | nix::fcntl::OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )?;
    // SAFETY: open just returned this fd and nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Reads the file at container path `path` (e.g. `/etc/passwd`) with every
/// symlink and `..` resolved inside the root held by `root`. `Ok(None)` when
/// it does not exist; an error when it is not a regular file or is larger
/// than [`MAX_DB_SIZE`]. Invalid UTF-8 is replaced, not refused.
pub fn read_in_root(root: BorrowedFd<'_>, path: &str) -> std::io::Result<Option<String>> {
    let rel = Path::new(path.trim_start_matches('/'));
    let fd = match husk_runtime::rootfs::resolve::openat_in_root(
        root.as_raw_fd(),
        rel,
        libc::O_RDONLY | libc::O_NOCTTY | libc::O_NONBLOCK,
        0,
    ) {
        Ok(fd) => fd,
        Err(nix::errno::Errno::ENOENT) | Err(nix::errno::Errno::ENOTDIR) => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    read_limited(std::fs::File::from(fd), path).map(Some)
}

/// Reads a host file (a bind-mount source over /etc/passwd, say) with the
/// same size and type checks as [`read_in_root`].
pub fn read_host(path: &Path) -> std::io::Result<Option<String>> {
    match std::fs::File::open(path) {
        Ok(f) => read_limited(f, &path.to_string_lossy()).map(Some),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

fn read_limited(f: std::fs::File, what: &str) -> std::io::Result<String> {
    let meta = f.metadata()?;
    if !meta.is_file() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("{what} is not a regular file"),
        ));
    }
    if meta.len() > MAX_DB_SIZE {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("{what} is larger than {MAX_DB_SIZE} bytes"),
        ));
    }
    let mut buf = Vec::with_capacity(meta.len() as usize);
    f.take(MAX_DB_SIZE).read_to_end(&mut buf)?;
    Ok(match String::from_utf8(buf) {
        Ok(s) => s,
        Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsFd;

    const PASSWD: &str = "root:x:0:0:root:/root:/bin/sh\n\
        # comment\n\
        \n\
        +nis\n\
        daemon:x:1:1::/usr/sbin:/usr/sbin/nologin\n\
        bad:x:notanumber:1::/:/bin/sh\n\
        short:x:5\n\
        user:x:1000:1000:A User,,,:/home/user:/bin/sh\r\n\
        dup:x:1000:7::/dup:/bin/sh\n";
    const GROUP: &str =
        "root:x:0:\nwheel:x:10:user,root\naudio:x:29: user \nusers:x:100:\nwheel2:x:10:user\n";

    #[test]
    fn parses_passwd_skipping_bad_lines() {
        let all: Vec<_> = parse_passwd(PASSWD).collect();
        assert_eq!(
            all.iter().map(|e| e.name.as_str()).collect::<Vec<_>>(),
            ["root", "daemon", "user", "dup"]
        );
        let u = user_by_name(PASSWD, "user").unwrap();
        assert_eq!((u.uid, u.gid), (1000, 1000));
        assert_eq!(u.home, "/home/user");
        assert_eq!(u.shell, "/bin/sh");
        assert_eq!(u.gecos, "A User,,,");
        // The first entry wins for a uid listed twice.
        assert_eq!(user_by_uid(PASSWD, 1000).unwrap().name, "user");
        assert!(user_by_name(PASSWD, "nobody").is_none());
        assert!(user_by_name(PASSWD, "+nis").is_none());
    }

    #[test]
    fn parses_groups_and_memberships() {
        assert_eq!(group_by_name(GROUP, "wheel").unwrap().gid, 10);
        assert_eq!(supplementary_gids(GROUP, "user"), vec![10, 29]);
        assert_eq!(supplementary_gids(GROUP, "root"), vec![10]);
        assert!(supplementary_gids(GROUP, "nobody").is_empty());
        assert_eq!(max_ids(PASSWD, GROUP), (1000, 1000));
        assert_eq!(max_ids("", ""), (0, 0));
    }

    fn rootfs_with(files: &[(&str, &str)]) -> tempfile::TempDir {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(d.path().join("etc")).unwrap();
        for (p, c) in files {
            std::fs::write(d.path().join(p), c).unwrap();
        }
        d
    }

    #[test]
    fn reads_inside_the_root() {
        let d = rootfs_with(&[("etc/passwd", "me:x:5:6::/:/bin/sh\n")]);
        let root = open_root(d.path()).unwrap();
        let text = read_in_root(root.as_fd(), "/etc/passwd").unwrap().unwrap();
        assert_eq!(user_by_name(&text, "me").unwrap().uid, 5);
        assert_eq!(read_in_root(root.as_fd(), "/etc/group").unwrap(), None);
        assert_eq!(read_in_root(root.as_fd(), "/nodir/x").unwrap(), None);
    }

    #[test]
    fn symlinked_passwd_never_reads_the_hosts() {
        // Links to paths that exist on the host (absolute, and climbing out
        // with ..) resolve inside the root, where they do not exist.
        let host = std::fs::read_to_string("/etc/os-release").unwrap();
        assert!(!host.is_empty());
        for target in [
            "/etc/os-release",
            "../../../../../../etc/os-release",
            "real",
        ] {
            let d = rootfs_with(&[("etc/real", "inner:x:7:7::/:/bin/sh\n")]);
            std::os::unix::fs::symlink(target, d.path().join("etc/passwd")).unwrap();
            let root = open_root(d.path()).unwrap();
            let got = read_in_root(root.as_fd(), "/etc/passwd").unwrap();
            if target == "real" {
                assert!(got.unwrap().contains("inner"));
            } else {
                assert_eq!(got, None, "read the host's file through {target}");
            }
        }
    }

    #[test]
    fn symlink_loop_and_directory_are_errors_not_host_reads() {
        let d = rootfs_with(&[]);
        std::os::unix::fs::symlink("/etc/passwd", d.path().join("etc/passwd")).unwrap();
        let root = open_root(d.path()).unwrap();
        // A self-loop is ELOOP: an error, which the caller reports.
        assert!(read_in_root(root.as_fd(), "/etc/passwd").is_err());
        std::fs::create_dir(d.path().join("etc/group")).unwrap();
        let e = read_in_root(root.as_fd(), "/etc/group").unwrap_err();
        assert!(e.to_string().contains("not a regular file"), "{e}");
    }
}
