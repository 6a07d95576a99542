//! Running commands as the unprivileged test user that
//! `scripts/setup-host.sh` creates (`$HUSK_TEST_USER`, default `husktest`)
//! with its `/etc/subuid` and `/etc/subgid` ranges. The user database is
//! parsed directly (no NSS), as husk itself must do.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Test user name when `$HUSK_TEST_USER` is unset.
pub const DEFAULT_TEST_USER: &str = "husktest";

/// `PATH` given to commands run as the test user.
pub const USER_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Why the test user cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum RootlessError {
    /// Reading a user database file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// The user is not in `/etc/passwd`.
    #[error("test user `{name}` not found in {path}; run scripts/setup-host.sh as root (or set HUSK_TEST_USER)")]
    NoUser {
        /// The user name.
        name: String,
        /// The passwd file.
        path: PathBuf,
    },
    /// The user has no subordinate id range.
    #[error("test user `{name}` has no range in {path}; run scripts/setup-host.sh as root")]
    NoSubIds {
        /// The user name.
        name: String,
        /// The subuid or subgid file.
        path: PathBuf,
    },
    /// Switching to the user needs root.
    #[error(
        "running commands as the test user needs root (euid is {euid}); run the tests as root"
    )]
    NotRoot {
        /// The effective uid of this process.
        euid: u32,
    },
}

/// One subordinate id range: `start .. start + count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SubIdRange {
    /// First id of the range.
    pub start: u32,
    /// Number of ids.
    pub count: u32,
}

/// The unprivileged test user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestUser {
    /// Login name.
    pub name: String,
    /// Numeric uid.
    pub uid: u32,
    /// Primary gid.
    pub gid: u32,
    /// Home directory.
    pub home: PathBuf,
    /// Ranges from `/etc/subuid`.
    pub subuids: Vec<SubIdRange>,
    /// Ranges from `/etc/subgid`.
    pub subgids: Vec<SubIdRange>,
    /// Primary and supplementary gids, as `initgroups` would set them.
    pub groups: Vec<u32>,
}

/// `$HUSK_TEST_USER`, or [`DEFAULT_TEST_USER`].
pub fn test_user_name() -> String {
    std::env::var("HUSK_TEST_USER").unwrap_or_else(|_| DEFAULT_TEST_USER.to_owned())
}

/// Finds `name` in passwd-format text: `(uid, gid, home)`.
pub fn parse_passwd(text: &str, name: &str) -> Option<(u32, u32, PathBuf)> {
    text.lines().find_map(|line| {
        let f: Vec<&str> = line.split(':').collect();
        if f.len() < 7 || f[0] != name {
            return None;
        }
        Some((f[2].parse().ok()?, f[3].parse().ok()?, PathBuf::from(f[5])))
    })
}

/// The ranges of a user in subuid/subgid-format text (`name:start:count`;
/// entries may name the user or its numeric uid).
pub fn parse_subids(text: &str, name: &str, uid: u32) -> Vec<SubIdRange> {
    let uid = uid.to_string();
    text.lines()
        .filter_map(|line| {
            let f: Vec<&str> = line.trim().split(':').collect();
            if f.len() != 3 || (f[0] != name && f[0] != uid) {
                return None;
            }
            Some(SubIdRange {
                start: f[1].parse().ok()?,
                count: f[2].parse().ok()?,
            })
        })
        .filter(|r| r.count > 0)
        .collect()
}

fn read(path: &Path) -> Result<String, RootlessError> {
    fs::read_to_string(path).map_err(|source| RootlessError::Io {
        path: path.to_owned(),
        source,
    })
}

/// The gids in group-format text that list `name` as a member, with
/// `primary` first (what `initgroups` gives a login).
pub fn member_of(text: &str, name: &str, primary: u32) -> Vec<u32> {
    let mut gids = vec![primary];
    for line in text.lines() {
        let f: Vec<&str> = line.split(':').collect();
        if f.len() < 4 || !f[3].split(',').any(|m| m == name) {
            continue;
        }
        if let Ok(g) = f[2].parse() {
            if !gids.contains(&g) {
                gids.push(g);
            }
        }
    }
    gids
}

/// Looks a user up in `/etc/passwd`, `/etc/subuid` and `/etc/subgid`; fails
/// if it is missing or has no subordinate ranges.
pub fn lookup_user(name: &str) -> Result<TestUser, RootlessError> {
    let passwd = Path::new("/etc/passwd");
    let (uid, gid, home) =
        parse_passwd(&read(passwd)?, name).ok_or_else(|| RootlessError::NoUser {
            name: name.to_owned(),
            path: passwd.to_owned(),
        })?;
    let mut ranges = Vec::new();
    for file in ["/etc/subuid", "/etc/subgid"] {
        let path = Path::new(file);
        let r = parse_subids(&read(path)?, name, uid);
        if r.is_empty() {
            return Err(RootlessError::NoSubIds {
                name: name.to_owned(),
                path: path.to_owned(),
            });
        }
        ranges.push(r);
    }
    let subgids = ranges.pop().unwrap_or_default();
    let subuids = ranges.pop().unwrap_or_default();
    Ok(TestUser {
        name: name.to_owned(),
        uid,
        gid,
        home,
        subuids,
        subgids,
        groups: member_of(&read(Path::new("/etc/group"))?, name, gid),
    })
}

/// The test user ([`test_user_name`]), checked usable: it exists, has
/// subordinate ranges, and this process is root so it can switch to it.
pub fn test_user() -> Result<TestUser, RootlessError> {
    // SAFETY: geteuid has no preconditions and cannot fail.
    let euid = unsafe { libc::geteuid() };
    if euid != 0 {
        return Err(RootlessError::NotRoot { euid });
    }
    lookup_user(&test_user_name())
}

/// Marks the calling test as rootless: returns the test user or panics with
/// what is missing (never skips), and logs which user the test runs as.
pub fn rootless_test(test: &str) -> TestUser {
    match test_user() {
        Ok(u) => {
            eprintln!("[rootless] {test}: running as {} (uid {})", u.name, u.uid);
            u
        }
        Err(e) => panic!("[rootless] {test} cannot run: {e}"),
    }
}

impl TestUser {
    /// `/run/user/<uid>`.
    pub fn runtime_dir(&self) -> PathBuf {
        PathBuf::from(format!("/run/user/{}", self.uid))
    }

    /// A command that runs `program` as this user (groups, gid and uid are
    /// set between fork and exec, as `setpriv --reuid --regid
    /// --init-groups` would, without the 2-3 ms of running setpriv first;
    /// the pid is the program's own) with a clean environment: HOME, USER,
    /// LOGNAME, XDG_RUNTIME_DIR, PATH, LANG, and cwd `/`. Add arguments
    /// with `.arg()` as usual.
    pub fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        self.command_with(program, || Ok(()))
    }

    /// Like [`TestUser::command`], with `as_root` run in the child (still
    /// root) just before it switches to the user: a move into a cgroup
    /// only root may make, say.
    pub fn command_with(
        &self,
        program: impl AsRef<std::ffi::OsStr>,
        mut as_root: impl FnMut() -> std::io::Result<()> + Send + Sync + 'static,
    ) -> Command {
        use std::os::unix::process::CommandExt;
        let mut cmd = Command::new(program);
        cmd.env_clear()
            .env("HOME", &self.home)
            .env("USER", &self.name)
            .env("LOGNAME", &self.name)
            .env("XDG_RUNTIME_DIR", self.runtime_dir())
            .env("PATH", USER_PATH)
            .env("LANG", "C.UTF-8")
            .current_dir("/");
        let (uid, gid, groups) = (self.uid, self.gid, self.groups.clone());
        // SAFETY: the closure runs in the forked child before exec and
        // only makes the three system calls, which allocate nothing.
        unsafe {
            cmd.pre_exec(move || {
                as_root()?;
                let ok = libc::setgroups(groups.len(), groups.as_ptr()) == 0
                    && libc::setresgid(gid, gid, gid) == 0
                    && libc::setresuid(uid, uid, uid) == 0;
                if ok {
                    Ok(())
                } else {
                    Err(std::io::Error::last_os_error())
                }
            })
        };
        cmd
    }

    /// The id map a rootless container of this user gets: container 0 is the
    /// user itself, container 1.. is the first subordinate range. Lines are
    /// `(container start, host start, length)` as in `/proc/PID/uid_map`.
    pub fn uid_map(&self) -> Vec<(u32, u32, u32)> {
        map_for(self.uid, &self.subuids)
    }

    /// Like [`TestUser::uid_map`] for groups.
    pub fn gid_map(&self) -> Vec<(u32, u32, u32)> {
        map_for(self.gid, &self.subgids)
    }
}

/// A process's `uid_map` or `gid_map` (`file`) as
/// `(inside, outside, count)` lines; panics when it cannot be read.
pub fn proc_id_map(pid: u32, file: &str) -> Vec<(u32, u32, u32)> {
    let text = fs::read_to_string(format!("/proc/{pid}/{file}"))
        .unwrap_or_else(|e| panic!("/proc/{pid}/{file}: {e}"));
    text.lines()
        .map(|l| {
            let v: Vec<u32> = l.split_whitespace().map(|x| x.parse().unwrap()).collect();
            (v[0], v[1], v[2])
        })
        .collect()
}

fn map_for(id: u32, ranges: &[SubIdRange]) -> Vec<(u32, u32, u32)> {
    let mut map = vec![(0, id, 1)];
    if let Some(r) = ranges.first() {
        map.push((1, r.start, r.count));
    }
    map
}

/// Makes a tree readable by every user, so the test user can use it:
/// directories get `o+rx`, files `o+r` (and `o+x` where the owner may
/// execute), and every ancestor directory lacking `o+x` gets it. Symlinks are
/// left alone.
pub fn make_accessible(path: &Path) -> Result<(), RootlessError> {
    let io = |p: &Path| {
        let p = p.to_owned();
        move |source| RootlessError::Io { path: p, source }
    };
    let meta = fs::symlink_metadata(path).map_err(io(path))?;
    let mode = meta.permissions().mode();
    if meta.is_dir() {
        fs::set_permissions(path, fs::Permissions::from_mode(mode | 0o005)).map_err(io(path))?;
        for entry in fs::read_dir(path).map_err(io(path))? {
            make_accessible(&entry.map_err(io(path))?.path())?;
        }
    } else if meta.is_file() {
        let x = if mode & 0o100 != 0 { 0o001 } else { 0 };
        fs::set_permissions(path, fs::Permissions::from_mode(mode | 0o004 | x))
            .map_err(io(path))?;
    }
    let mut anc = path.parent();
    while let Some(dir) = anc {
        let m = fs::metadata(dir).map_err(io(dir))?.permissions().mode();
        if m & 0o001 == 0 {
            fs::set_permissions(dir, fs::Permissions::from_mode(m | 0o001)).map_err(io(dir))?;
        }
        anc = dir.parent();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_are_the_primary_then_memberships() {
        let group = "root:x:0:\nhusktest:x:1001:\nkvm:x:104:alice,husktest\ndisk:x:6:husktester\nusers:x:100:husktest\nbad\n";
        assert_eq!(member_of(group, "husktest", 1001), vec![1001, 104, 100]);
        assert_eq!(member_of(group, "bob", 7), vec![7]);
    }

    #[test]
    fn parses_passwd_and_subids() {
        let passwd =
            "root:x:0:0:root:/root:/bin/bash\nhusktest:x:1001:1002::/home/husktest:/bin/bash\n";
        assert_eq!(
            parse_passwd(passwd, "husktest"),
            Some((1001, 1002, PathBuf::from("/home/husktest")))
        );
        assert_eq!(parse_passwd(passwd, "husk"), None);
        let sub = "other:1:2\nhusktest:100000:65536\n1001:300000:10\nbad line\n";
        assert_eq!(
            parse_subids(sub, "husktest", 1001),
            vec![
                SubIdRange {
                    start: 100000,
                    count: 65536
                },
                SubIdRange {
                    start: 300000,
                    count: 10
                }
            ]
        );
        assert!(parse_subids(sub, "nobody", 5).is_empty());
        assert_eq!(
            map_for(
                1001,
                &[SubIdRange {
                    start: 100000,
                    count: 65536
                }]
            ),
            vec![(0, 1001, 1), (1, 100000, 65536)]
        );
    }
}
