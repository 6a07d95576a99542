//! `-u/--user` (or the image's `User`) and `--group-add`, resolved against
//! the container's own /etc/passwd and /etc/group (see
//! [`crate::container::passwd`]), with podman's rules:
//!
//! - `NAME` or `UID`, optionally `:GROUP` or `:GID`; numeric ids need no
//!   entry (a uid without one gets gid 0 and HOME `/`); a name without an
//!   entry is an error (`unable to find user foo: no matching entries in
//!   passwd file`);
//! - the primary gid is also a supplementary group when a user is given;
//! - without an explicit group, the groups of /etc/group listing the user
//!   are added, skipping gids the user namespace does not map;
//! - `--group-add` names or gids follow.

use super::error::{Result, SpecError};
use crate::container::passwd;

/// The user the container runs as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedUser {
    /// User id.
    pub uid: u32,
    /// Primary group id.
    pub gid: u32,
    /// Supplementary groups, in order, no duplicates.
    pub additional_gids: Vec<u32>,
    /// HOME (from passwd, else `/`).
    pub home: String,
    /// The passwd name, when there is an entry.
    pub name: Option<String>,
}

/// The inputs of [`resolve`].
#[derive(Debug, Clone, Copy)]
pub struct UserInput<'a> {
    /// `-u`, else the image's `User`, else `None` (root).
    pub user: Option<&'a str>,
    /// Which flag `user` came from, for messages.
    pub flag: &'static str,
    /// `--group-add`.
    pub group_add: &'a [String],
    /// The container's /etc/passwd text (None: no file).
    pub passwd: Option<&'a str>,
    /// The container's /etc/group text.
    pub group: Option<&'a str>,
}

fn parse_id(s: &str) -> Option<u32> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

fn lookup_group(group: Option<&str>, g: &str) -> Result<u32> {
    if let Some(id) = parse_id(g) {
        return Ok(id);
    }
    passwd::group_by_name(group.unwrap_or(""), g)
        .map(|e| e.gid)
        .ok_or_else(|| SpecError::NoSuchGroup(g.to_owned()))
}

/// Resolves the user. `gid_mapped` says whether a gid exists in the
/// container's user namespace (unmapped supplementary groups are skipped
/// with a warning, as podman does).
pub fn resolve(
    i: &UserInput<'_>,
    gid_mapped: &dyn Fn(u32) -> bool,
    warnings: &mut Vec<String>,
) -> Result<ResolvedUser> {
    let spec = i.user.unwrap_or("");
    let (u, g) = match spec.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (spec, None),
    };
    if g.is_some_and(str::is_empty)
        || (u.is_empty() && g.is_some())
        || spec.contains(char::is_whitespace)
    {
        return Err(SpecError::invalid(
            i.flag,
            spec,
            "expected USER, UID, USER:GROUP or UID:GID",
        ));
    }
    let pw = i.passwd.unwrap_or("");
    let entry = match parse_id(u) {
        Some(uid) => passwd::user_by_uid(pw, uid),
        None if u.is_empty() => passwd::user_by_uid(pw, 0),
        None => {
            Some(passwd::user_by_name(pw, u).ok_or_else(|| SpecError::NoSuchUser(u.to_owned()))?)
        }
    };
    let uid = parse_id(u).or(entry.as_ref().map(|e| e.uid)).unwrap_or(0);
    let mut gid = entry.as_ref().map_or(0, |e| e.gid);
    if let Some(g) = g {
        gid = lookup_group(i.group, g)?;
    }
    let mut gids: Vec<u32> = Vec::new();
    let add = |x: u32, gids: &mut Vec<u32>| {
        if !gids.contains(&x) {
            gids.push(x);
        }
    };
    if !spec.is_empty() {
        add(gid, &mut gids);
    }
    for ga in i.group_add {
        if ga == "keep-groups" {
            return Err(SpecError::unsupported(
                "--group-add keep-groups",
                "husk-runtime always sets the container's groups; name the groups to add",
            ));
        }
        for g in ga.split(',').filter(|g| !g.is_empty()) {
            add(lookup_group(i.group, g)?, &mut gids);
        }
    }
    if g.is_none() {
        if let (Some(e), Some(group)) = (&entry, i.group) {
            for sg in passwd::supplementary_gids(group, &e.name) {
                if gid_mapped(sg) {
                    add(sg, &mut gids);
                } else {
                    warnings.push(format!(
                        "additional gid {sg} of user {} is not mapped in the user namespace; not set",
                        e.name
                    ));
                }
            }
        }
    }
    let home = entry
        .as_ref()
        .map(|e| e.home.as_str())
        .filter(|h| !h.is_empty())
        .unwrap_or("/")
        .to_owned();
    Ok(ResolvedUser {
        uid,
        gid,
        additional_gids: gids,
        home,
        name: entry.map(|e| e.name),
    })
}

/// keep-id: the passwd line podman adds for the host user when the image
/// has no entry for its uid (`name:*:uid:gid:name:home:/bin/sh`), and the
/// group line when the gid has none.
pub fn keep_id_entries(
    passwd_text: Option<&str>,
    group_text: Option<&str>,
    uid: u32,
    gid: u32,
    user_name: &str,
    home: &str,
) -> (Option<String>, Option<String>) {
    let name = if user_name.is_empty() {
        "user"
    } else {
        user_name
    };
    let pw = passwd::user_by_uid(passwd_text.unwrap_or(""), uid)
        .is_none()
        .then(|| format!("{name}:*:{uid}:{gid}:{name}:{home}:/bin/sh\n"));
    let gr = passwd::parse_group(group_text.unwrap_or(""))
        .all(|g| g.gid != gid)
        .then(|| format!("{name}:x:{gid}:{name}\n"));
    (pw, gr)
}

/// podman's `--passwd` (on by default): for a numeric user (`-u 2000`,
/// `-u 2000:3000`, or the image's User) that the container's /etc/passwd
/// lacks, the entry `UID:*:UID:GID:container user:HOME:/bin/sh` (HOME is
/// the working directory, GID the numeric group or 0); for a numeric group
/// /etc/group lacks, `GID:x:GID:USER`. Names are never invented.
pub fn numeric_entries(
    user_spec: Option<&str>,
    passwd_text: Option<&str>,
    group_text: Option<&str>,
    gid: u32,
    home: &str,
) -> (Option<String>, Option<String>) {
    let Some(spec) = user_spec else {
        return (None, None);
    };
    let (u, g) = spec.split_once(':').unwrap_or((spec, ""));
    let pw_text = passwd_text.unwrap_or("");
    let gr_text = group_text.unwrap_or("");
    let pw = u.parse::<u32>().ok().and_then(|uid| {
        let known = passwd::user_by_uid(pw_text, uid).is_some()
            || passwd::user_by_name(pw_text, u).is_some();
        (!known).then(|| format!("{uid}:*:{uid}:{gid}:container user:{home}:/bin/sh\n"))
    });
    let gr = g.parse::<u32>().ok().and_then(|g_num| {
        let known = passwd::parse_group(gr_text).any(|e| e.gid == g_num)
            || passwd::group_by_name(gr_text, g).is_some();
        (!known).then(|| format!("{g_num}:x:{g_num}:{u}\n"))
    });
    (pw, gr)
}

#[cfg(test)]
mod tests {
    use super::*;

    const PASSWD: &str = "root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000:user:/home/user:/bin/sh\nnohome:x:1001:1001::::\n";
    const GROUP: &str =
        "root:x:0:\nuser:x:1000:\nwheel:x:10:user\naudio:x:29:user,root\nbig:x:70000:user\n";

    #[test]
    fn numeric_users_without_entries_get_them() {
        let (pw, gr) = numeric_entries(Some("2000:3000"), Some(PASSWD), Some(GROUP), 3000, "/");
        assert_eq!(
            pw.as_deref(),
            Some("2000:*:2000:3000:container user:/:/bin/sh\n")
        );
        assert_eq!(gr.as_deref(), Some("3000:x:3000:2000\n"));
        let (pw, gr) = numeric_entries(Some("2000"), Some(PASSWD), Some(GROUP), 0, "/w");
        assert_eq!(
            pw.as_deref(),
            Some("2000:*:2000:0:container user:/w:/bin/sh\n")
        );
        assert_eq!(gr, None);
        // Known ids and names are left alone.
        assert_eq!(
            numeric_entries(Some("1000:1000"), Some(PASSWD), Some(GROUP), 1000, "/"),
            (None, None)
        );
        assert_eq!(
            numeric_entries(Some("user:3000"), Some(PASSWD), Some(GROUP), 3000, "/").0,
            None
        );
        assert_eq!(
            numeric_entries(None, Some(PASSWD), Some(GROUP), 0, "/"),
            (None, None)
        );
    }

    fn run(user: Option<&str>, add: &[&str]) -> Result<ResolvedUser> {
        let add: Vec<String> = add.iter().map(|s| s.to_string()).collect();
        resolve(
            &UserInput {
                user,
                flag: "--user",
                group_add: &add,
                passwd: Some(PASSWD),
                group: Some(GROUP),
            },
            &|g| g < 65536,
            &mut Vec::new(),
        )
    }

    #[test]
    fn default_is_root_with_its_groups() {
        let u = run(None, &[]).unwrap();
        assert_eq!((u.uid, u.gid, u.home.as_str()), (0, 0, "/root"));
        // No user given: podman does not add the primary gid, only root's
        // memberships.
        assert_eq!(u.additional_gids, vec![29]);
    }

    #[test]
    fn names_and_ids() {
        let u = run(Some("user"), &[]).unwrap();
        assert_eq!((u.uid, u.gid, u.home.as_str()), (1000, 1000, "/home/user"));
        assert_eq!(u.additional_gids, vec![1000, 10, 29], "70000 is not mapped");
        let u = run(Some("1000"), &[]).unwrap();
        assert_eq!(u.name.as_deref(), Some("user"));
        // An explicit group: no memberships from /etc/group.
        let u = run(Some("user:wheel"), &[]).unwrap();
        assert_eq!((u.gid, u.additional_gids.clone()), (10, vec![10]));
        let u = run(Some("1000:1000"), &["audio", "42"]).unwrap();
        assert_eq!(u.additional_gids, vec![1000, 29, 42]);
        // Numeric ids without entries are fine.
        let u = run(Some("4242"), &[]).unwrap();
        assert_eq!(
            (u.uid, u.gid, u.home.as_str(), u.name.clone()),
            (4242, 0, "/", None)
        );
        let u = run(Some("4242:4343"), &[]).unwrap();
        assert_eq!((u.gid, u.additional_gids.clone()), (4343, vec![4343]));
        let u = run(Some("nohome"), &[]).unwrap();
        assert_eq!(u.home, "/");
    }

    #[test]
    fn podman_errors() {
        assert_eq!(
            run(Some("foo"), &[]).unwrap_err().to_string(),
            "unable to find user foo: no matching entries in passwd file"
        );
        assert_eq!(
            run(Some("user:nogroup"), &[]).unwrap_err().to_string(),
            "unable to find group nogroup: no matching entries in group file"
        );
        assert_eq!(
            run(None, &["staff"]).unwrap_err().to_string(),
            "unable to find group staff: no matching entries in group file"
        );
        for bad in ["user:", ":0", "a b"] {
            let e = run(Some(bad), &[]).unwrap_err().to_string();
            assert!(e.starts_with("invalid --user"), "{bad}: {e}");
        }
        assert!(run(None, &["keep-groups"])
            .unwrap_err()
            .to_string()
            .contains("not supported yet"));
        // No passwd file at all: names fail, ids work.
        let e = resolve(
            &UserInput {
                user: Some("x"),
                flag: "--user",
                group_add: &[],
                passwd: None,
                group: None,
            },
            &|_| true,
            &mut Vec::new(),
        )
        .unwrap_err();
        assert!(matches!(e, SpecError::NoSuchUser(_)));
    }

    #[test]
    fn keep_id_entry_lines() {
        let (p, g) = keep_id_entries(
            Some(PASSWD),
            Some(GROUP),
            1001,
            1002,
            "husktest",
            "/home/husktest",
        );
        assert_eq!(p, None, "uid 1001 has an entry");
        assert_eq!(g.as_deref(), Some("husktest:x:1002:husktest\n"));
        let (p, _) = keep_id_entries(Some(PASSWD), Some(GROUP), 4000, 1000, "me", "/w");
        assert_eq!(p.as_deref(), Some("me:*:4000:1000:me:/w:/bin/sh\n"));
    }
}
