//! User namespaces: `--userns` modes and `--uidmap`/`--gidmap`, checked
//! against the ids this user may use.
//!
//! Ids on the "parent" side of a map are ids of the namespace husk runs in.
//! Rootful, that is the host. Rootless, husk runs inside its own user
//! namespace (the user's uid is 0 there, its /etc/subuid ranges follow from
//! 1), so a rootless `--uidmap 0:1:1000` maps container 0 to the first
//! subordinate id, as in podman.

use std::path::PathBuf;

use oci_spec::runtime::{LinuxIdMapping, LinuxIdMappingBuilder};

use super::error::{Result, SpecError};

/// A range of ids: `start .. start + count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct IdRange {
    /// First id.
    pub start: u32,
    /// Number of ids.
    pub count: u32,
}

impl IdRange {
    fn end(self) -> u64 {
        self.start as u64 + self.count as u64
    }

    fn overlaps(self, o: IdRange) -> bool {
        (self.start as u64) < o.end() && (o.start as u64) < self.end()
    }
}

/// Who runs husk and which ids it may hand out.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IdContext {
    /// The user's own uid on the host (0 rootful).
    pub uid: u32,
    /// The user's own gid on the host.
    pub gid: u32,
    /// The user's login name (for keep-id's passwd entry).
    pub user_name: String,
    /// The user's home directory on the host (for keep-id).
    pub home: String,
    /// Rootless: the user's /etc/subuid ranges. Rootful: the ranges
    /// `--userns auto` may use (podman takes the `containers` entry).
    pub subuids: Vec<IdRange>,
    /// Like `subuids`, from /etc/subgid.
    pub subgids: Vec<IdRange>,
    /// Uid ranges (parent side) other containers' `--userns auto` hold, so
    /// a new one picks a free range. The engine reads them from the catalog
    /// under its lock and records [`super::Generated::auto_userns`].
    pub auto_uids_in_use: Vec<IdRange>,
    /// Like `auto_uids_in_use` for gids.
    pub auto_gids_in_use: Vec<IdRange>,
}

impl IdContext {
    /// Rootless: the number of uids in husk's user namespace (the user's
    /// own plus every subordinate one).
    pub fn ns_uids(&self) -> u64 {
        1 + self.subuids.iter().map(|r| r.count as u64).sum::<u64>()
    }

    /// Like [`IdContext::ns_uids`] for gids.
    pub fn ns_gids(&self) -> u64 {
        1 + self.subgids.iter().map(|r| r.count as u64).sum::<u64>()
    }
}

/// One line of a uid or gid map: container ids `container..container+size`
/// are parent ids `host..host+size`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IdMap {
    /// First container id.
    pub container: u32,
    /// First parent id.
    pub host: u32,
    /// Number of ids.
    pub size: u32,
}

impl IdMap {
    fn to_oci(self) -> LinuxIdMapping {
        LinuxIdMappingBuilder::default()
            .container_id(self.container)
            .host_id(self.host)
            .size(self.size)
            .build()
            .expect("all fields set")
    }
}

/// Maps a container id to the parent side; `None` when unmapped.
pub fn to_parent(maps: &[IdMap], id: u32) -> Option<u32> {
    maps.iter()
        .find(|m| id >= m.container && ((id - m.container) as u64) < m.size as u64)
        .map(|m| m.host + (id - m.container))
}

/// The container's user namespace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UserNs {
    /// None of its own: rootful, the host's; rootless, husk's own.
    Shared,
    /// A new one with these maps.
    New {
        /// uid map.
        uids: Vec<IdMap>,
        /// gid map.
        gids: Vec<IdMap>,
    },
    /// The one at this path (another container's, `ns:PATH`).
    Join(PathBuf),
}

impl UserNs {
    /// The OCI `(uidMappings, gidMappings)` of a new namespace.
    pub fn oci_maps(&self) -> Option<(Vec<LinuxIdMapping>, Vec<LinuxIdMapping>)> {
        match self {
            UserNs::New { uids, gids } => Some((
                uids.iter().map(|m| m.to_oci()).collect(),
                gids.iter().map(|m| m.to_oci()).collect(),
            )),
            _ => None,
        }
    }

    /// A container uid on the parent side (for chowning host files the
    /// container will own). Shared and joined namespaces are the identity.
    pub fn parent_uid(&self, id: u32) -> Option<u32> {
        match self {
            UserNs::New { uids, .. } => to_parent(uids, id),
            _ => Some(id),
        }
    }

    /// Like [`UserNs::parent_uid`] for gids.
    pub fn parent_gid(&self, id: u32) -> Option<u32> {
        match self {
            UserNs::New { gids, .. } => to_parent(gids, id),
            _ => Some(id),
        }
    }
}

/// What `--userns` and the maps decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserNsPlan {
    /// The namespace.
    pub ns: UserNs,
    /// keep-id: the user the container runs as unless `-u` says otherwise,
    /// and for whom passwd/group entries are added when missing.
    pub keep_id: Option<(u32, u32)>,
    /// `--userns auto`: the parent ranges picked (uids, gids).
    pub auto: Option<(IdRange, IdRange)>,
}

/// The inputs of [`plan`].
#[derive(Debug, Clone, Copy)]
pub struct UserNsInput<'a> {
    /// `--userns` (empty for the default).
    pub mode: &'a str,
    /// `--uidmap` values.
    pub uidmap: &'a [String],
    /// `--gidmap` values.
    pub gidmap: &'a [String],
    /// Whether husk runs rootless.
    pub rootless: bool,
    /// The user's ids.
    pub ids: &'a IdContext,
    /// A user namespace path resolved by the engine (`container:ID`, pods).
    pub join: Option<&'a std::path::Path>,
    /// The highest uid and gid in the image's passwd/group, to size `auto`.
    pub image_max_ids: (u32, u32),
}

/// podman's minimum (and default floor) size of an automatic namespace.
pub const AUTO_MIN_SIZE: u32 = 1024;
/// The largest automatic namespace husk picks without `size=`.
pub const AUTO_MAX_SIZE: u32 = 65536;

/// Decides the user namespace (see the module doc and docs/spec.md).
pub fn plan(i: &UserNsInput<'_>) -> Result<UserNsPlan> {
    let (mode, opts) = i.mode.split_once(':').unwrap_or((i.mode, ""));
    let has_maps = !i.uidmap.is_empty() || !i.gidmap.is_empty();
    let plain = |ns| UserNsPlan {
        ns,
        keep_id: None,
        auto: None,
    };
    if let Some(p) = i.join {
        if has_maps {
            return Err(SpecError::Conflict(
                "--uidmap/--gidmap cannot be used when joining another user namespace".into(),
            ));
        }
        return Ok(plain(UserNs::Join(p.to_path_buf())));
    }
    if has_maps {
        if !matches!(mode, "" | "private") {
            return Err(SpecError::Conflict(format!(
                "--userns {} and --uidmap/--gidmap cannot be used together",
                i.mode
            )));
        }
        return maps_from_flags(i).map(plain);
    }
    match mode {
        "" | "host" => {
            if !opts.is_empty() {
                return Err(SpecError::invalid("--userns", i.mode, "host takes no options"));
            }
            Ok(plain(UserNs::Shared))
        }
        "ns" => {
            if !opts.starts_with('/') {
                return Err(SpecError::invalid(
                    "--userns",
                    i.mode,
                    "ns: needs an absolute path",
                ));
            }
            Ok(plain(UserNs::Join(PathBuf::from(opts))))
        }
        "container" => Err(SpecError::Internal(format!(
            "--userns {}: the engine must resolve the container to a namespace path",
            i.mode
        ))),
        "keep-id" => keep_id(i, opts),
        "nomap" => {
            if !i.rootless {
                return Err(SpecError::invalid(
                    "--userns",
                    i.mode,
                    "nomap is only supported in rootless mode",
                ));
            }
            let uids = vec![IdMap {
                container: 0,
                host: 1,
                size: (i.ids.ns_uids() - 1) as u32,
            }];
            let gids = vec![IdMap {
                container: 0,
                host: 1,
                size: (i.ids.ns_gids() - 1) as u32,
            }];
            if uids[0].size == 0 || gids[0].size == 0 {
                return Err(no_subids(i.mode));
            }
            Ok(plain(UserNs::New { uids, gids }))
        }
        "auto" | "private" => auto(i, opts),
        _ => Err(SpecError::invalid(
            "--userns",
            i.mode,
            "expected host, keep-id[:uid=U,gid=G,size=N], auto[:size=N], nomap, private, ns:PATH or container:ID",
        )),
    }
}

fn no_subids(mode: &str) -> SpecError {
    SpecError::invalid(
        "--userns",
        mode,
        "this user has no subordinate ids (add ranges to /etc/subuid and /etc/subgid)",
    )
}

fn opt_u32(mode: &str, key: &str, value: &str) -> Result<u32> {
    value
        .parse()
        .map_err(|_| SpecError::invalid("--userns", mode, format!("{key}= needs a number")))
}

fn keep_id(i: &UserNsInput<'_>, opts: &str) -> Result<UserNsPlan> {
    let mut uid = i.ids.uid;
    let mut gid = i.ids.gid;
    let mut size: Option<u32> = None;
    for o in opts.split(',').filter(|o| !o.is_empty()) {
        match o.split_once('=') {
            Some(("uid", v)) => uid = opt_u32(i.mode, "uid", v)?,
            Some(("gid", v)) => gid = opt_u32(i.mode, "gid", v)?,
            Some(("size", v)) => size = Some(opt_u32(i.mode, "size", v)?),
            _ => {
                return Err(SpecError::invalid(
                    "--userns",
                    i.mode,
                    format!("unknown keep-id option {o:?} (uid=, gid=, size=)"),
                ))
            }
        }
    }
    if !i.rootless {
        // podman: "for containers created by root, the current mapping is
        // created into a new user namespace" (the identity).
        let all = vec![IdMap {
            container: 0,
            host: 0,
            size: u32::MAX,
        }];
        return Ok(UserNsPlan {
            ns: UserNs::New {
                uids: all.clone(),
                gids: all,
            },
            keep_id: Some((uid, gid)),
            auto: None,
        });
    }
    let uids = keep_id_map(uid, i.ids.ns_uids(), size);
    let gids = keep_id_map(gid, i.ids.ns_gids(), size);
    Ok(UserNsPlan {
        ns: UserNs::New { uids, gids },
        keep_id: Some((uid, gid)),
        auto: None,
    })
}

/// Rootless keep-id: container `id` is the user (parent 0); the subordinate
/// ids (parent 1..) fill container ids 0..id and id+1.., up to `size` ids
/// in all.
fn keep_id_map(id: u32, ns_size: u64, size: Option<u32>) -> Vec<IdMap> {
    let total = size.map_or(ns_size, |s| (s as u64).min(ns_size)).max(1);
    let subs = total - 1;
    let mut maps = Vec::with_capacity(3);
    let below = subs.min(id as u64) as u32;
    if below > 0 {
        maps.push(IdMap {
            container: 0,
            host: 1,
            size: below,
        });
    }
    maps.push(IdMap {
        container: id,
        host: 0,
        size: 1,
    });
    let above = (subs - below as u64).min(u32::MAX as u64 - id as u64) as u32;
    if above > 0 {
        maps.push(IdMap {
            container: id + 1,
            host: 1 + below,
            size: above,
        });
    }
    maps
}

fn auto(i: &UserNsInput<'_>, opts: &str) -> Result<UserNsPlan> {
    let mut size: Option<u32> = None;
    for o in opts.split(',').filter(|o| !o.is_empty()) {
        match o.split_once('=') {
            Some(("size", v)) => size = Some(opt_u32(i.mode, "size", v)?),
            Some(("uidmapping", _)) | Some(("gidmapping", _)) => {
                return Err(SpecError::unsupported(
                    format!("--userns {}", i.mode),
                    "uidmapping=/gidmapping= inside auto are not implemented; use --uidmap/--gidmap",
                ))
            }
            _ => {
                return Err(SpecError::invalid(
                    "--userns",
                    i.mode,
                    format!("unknown auto option {o:?} (size=)"),
                ))
            }
        }
    }
    let size = match size {
        Some(0) => {
            return Err(SpecError::invalid(
                "--userns",
                i.mode,
                "size must be positive",
            ))
        }
        Some(s) => s,
        None => {
            let need = i.image_max_ids.0.max(i.image_max_ids.1).saturating_add(1);
            need.clamp(AUTO_MIN_SIZE, AUTO_MAX_SIZE)
        }
    };
    // Rootless, the ids to pick from are husk's namespace's subordinate ids
    // (1..); rootful, the configured ranges on the host.
    let (avail_u, avail_g) = if i.rootless {
        (
            vec![IdRange {
                start: 1,
                count: (i.ids.ns_uids() - 1).min(u32::MAX as u64) as u32,
            }],
            vec![IdRange {
                start: 1,
                count: (i.ids.ns_gids() - 1).min(u32::MAX as u64) as u32,
            }],
        )
    } else {
        (i.ids.subuids.clone(), i.ids.subgids.clone())
    };
    let pick = |avail: &[IdRange], used: &[IdRange], what: &str| {
        pick_free(avail, used, size).ok_or_else(|| {
            let free: u64 = avail.iter().map(|r| r.count as u64).sum();
            SpecError::invalid(
                "--userns",
                i.mode,
                format!(
                    "no free range of {size} {what} ({free} configured{}, {} ranges in use by other containers)",
                    if i.rootless { "" } else { " for containers in /etc/sub*id" },
                    used.len()
                ),
            )
        })
    };
    let u = pick(&avail_u, &i.ids.auto_uids_in_use, "uids")?;
    let g = pick(&avail_g, &i.ids.auto_gids_in_use, "gids")?;
    Ok(UserNsPlan {
        ns: UserNs::New {
            uids: vec![IdMap {
                container: 0,
                host: u,
                size,
            }],
            gids: vec![IdMap {
                container: 0,
                host: g,
                size,
            }],
        },
        keep_id: None,
        auto: Some((
            IdRange {
                start: u,
                count: size,
            },
            IdRange {
                start: g,
                count: size,
            },
        )),
    })
}

/// The lowest start of `size` ids inside one of `avail` that overlaps none
/// of `in_use` (first fit).
pub fn pick_free(avail: &[IdRange], in_use: &[IdRange], size: u32) -> Option<u32> {
    let mut used: Vec<IdRange> = in_use.to_vec();
    used.sort();
    for a in avail {
        let mut start = a.start as u64;
        loop {
            let want = IdRange {
                start: start.min(u32::MAX as u64) as u32,
                count: size,
            };
            if want.end() > a.end() || start > u32::MAX as u64 {
                break;
            }
            match used.iter().find(|u| u.overlaps(want)) {
                Some(u) => start = u.end(),
                None => return Some(want.start),
            }
        }
    }
    None
}

/// Parses one `--uidmap`/`--gidmap` value: `CONTAINER:HOST[:SIZE]`, SIZE
/// defaulting to 1. Rootless, `@HOST` names a host id, translated into
/// husk's namespace.
fn parse_map(
    flag: &'static str,
    v: &str,
    rootless: bool,
    own: u32,
    subs: &[IdRange],
) -> Result<IdMap> {
    let bad = |r: &str| SpecError::invalid(flag, v, r);
    let mut parts = v.split(':');
    let c = parts.next().unwrap_or("");
    let h = parts
        .next()
        .ok_or_else(|| bad("expected CONTAINER:HOST[:SIZE]"))?;
    let s = parts.next().unwrap_or("1");
    if parts.next().is_some() {
        return Err(bad("expected CONTAINER:HOST[:SIZE]"));
    }
    if c.starts_with('+') || h.starts_with('+') {
        return Err(SpecError::unsupported(
            format!("{flag} {v}"),
            "the + (extend the default mapping) form is not implemented",
        ));
    }
    let num = |x: &str| {
        x.parse::<u32>()
            .map_err(|_| bad("ids and sizes are numbers"))
    };
    let container = num(c)?;
    let size = num(s)?;
    let host = match h.strip_prefix('@') {
        Some(host_id) => {
            let host_id = num(host_id)?;
            if !rootless {
                host_id
            } else {
                host_to_ns(host_id, own, subs).ok_or_else(|| {
                    bad(&format!("host id {host_id} is not one of this user's ids"))
                })?
            }
        }
        None => num(h)?,
    };
    if size == 0 {
        return Err(bad("the size must be positive"));
    }
    if container as u64 + size as u64 > u32::MAX as u64
        || host as u64 + size as u64 > u32::MAX as u64
    {
        return Err(bad("the range goes past the largest id"));
    }
    Ok(IdMap {
        container,
        host,
        size,
    })
}

/// A host id as an id of husk's rootless namespace: the user's own is 0,
/// subordinate ids follow from 1 in /etc/subuid order.
fn host_to_ns(id: u32, own: u32, subs: &[IdRange]) -> Option<u32> {
    if id == own {
        return Some(0);
    }
    let mut base = 1u64;
    for r in subs {
        if id >= r.start && (id - r.start) < r.count {
            return u32::try_from(base + (id - r.start) as u64).ok();
        }
        base += r.count as u64;
    }
    None
}

fn check_maps(
    flag: &'static str,
    maps: &[IdMap],
    limit: Option<u64>,
    values: &[String],
) -> Result<()> {
    let v = values.join(" ");
    for (n, a) in maps.iter().enumerate() {
        for b in &maps[n + 1..] {
            let ca = IdRange {
                start: a.container,
                count: a.size,
            };
            let cb = IdRange {
                start: b.container,
                count: b.size,
            };
            if ca.overlaps(cb) {
                return Err(SpecError::invalid(flag, &v, "container id ranges overlap"));
            }
            let ha = IdRange {
                start: a.host,
                count: a.size,
            };
            let hb = IdRange {
                start: b.host,
                count: b.size,
            };
            if ha.overlaps(hb) {
                return Err(SpecError::invalid(flag, &v, "host id ranges overlap"));
            }
        }
        if let Some(limit) = limit {
            if a.host as u64 + a.size as u64 > limit {
                return Err(SpecError::invalid(
                    flag,
                    &v,
                    format!(
                        "host ids {}..{} are outside the {limit} ids this user has (0 is the user, 1.. its subordinate ids)",
                        a.host,
                        a.host as u64 + a.size as u64
                    ),
                ));
            }
        }
    }
    if maps.len() > 340 {
        return Err(SpecError::invalid(
            flag,
            &v,
            "the kernel takes at most 340 map lines",
        ));
    }
    Ok(())
}

fn maps_from_flags(i: &UserNsInput<'_>) -> Result<UserNs> {
    let parse = |flag, vals: &[String], own, subs: &[IdRange]| -> Result<Vec<IdMap>> {
        vals.iter()
            .map(|v| parse_map(flag, v, i.rootless, own, subs))
            .collect()
    };
    let mut uids = parse("--uidmap", i.uidmap, i.ids.uid, &i.ids.subuids)?;
    let mut gids = parse("--gidmap", i.gidmap, i.ids.gid, &i.ids.subgids)?;
    // podman: one of them alone applies to both.
    if gids.is_empty() {
        gids = parse("--uidmap", i.uidmap, i.ids.gid, &i.ids.subgids)?;
    }
    if uids.is_empty() {
        uids = parse("--gidmap", i.gidmap, i.ids.uid, &i.ids.subuids)?;
    }
    let (lu, lg) = if i.rootless {
        (Some(i.ids.ns_uids()), Some(i.ids.ns_gids()))
    } else {
        (None, None)
    };
    let uflag = if i.uidmap.is_empty() {
        "--gidmap"
    } else {
        "--uidmap"
    };
    let gflag = if i.gidmap.is_empty() {
        "--uidmap"
    } else {
        "--gidmap"
    };
    check_maps(
        uflag,
        &uids,
        lu,
        if i.uidmap.is_empty() {
            i.gidmap
        } else {
            i.uidmap
        },
    )?;
    check_maps(
        gflag,
        &gids,
        lg,
        if i.gidmap.is_empty() {
            i.uidmap
        } else {
            i.gidmap
        },
    )?;
    Ok(UserNs::New { uids, gids })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx() -> IdContext {
        IdContext {
            uid: 1001,
            gid: 1001,
            user_name: "husktest".into(),
            home: "/home/husktest".into(),
            subuids: vec![IdRange {
                start: 100000,
                count: 65536,
            }],
            subgids: vec![IdRange {
                start: 100000,
                count: 65536,
            }],
            ..Default::default()
        }
    }

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    fn run(
        mode: &str,
        uidmap: &[&str],
        gidmap: &[&str],
        rootless: bool,
        ids: &IdContext,
    ) -> Result<UserNsPlan> {
        let (u, g) = (s(uidmap), s(gidmap));
        plan(&UserNsInput {
            mode,
            uidmap: &u,
            gidmap: &g,
            rootless,
            ids,
            join: None,
            image_max_ids: (1000, 1000),
        })
    }

    fn m(container: u32, host: u32, size: u32) -> IdMap {
        IdMap {
            container,
            host,
            size,
        }
    }

    #[test]
    fn default_and_host_share() {
        let c = ctx();
        assert_eq!(run("", &[], &[], true, &c).unwrap().ns, UserNs::Shared);
        assert_eq!(run("host", &[], &[], false, &c).unwrap().ns, UserNs::Shared);
        assert_eq!(
            run("ns:/proc/1/ns/user", &[], &[], false, &c).unwrap().ns,
            UserNs::Join("/proc/1/ns/user".into())
        );
        assert!(run("ns:rel", &[], &[], false, &c).is_err());
        assert!(run("bogus", &[], &[], false, &c)
            .unwrap_err()
            .to_string()
            .contains("expected host"));
    }

    #[test]
    fn keep_id_rootless() {
        let c = ctx();
        let p = run("keep-id", &[], &[], true, &c).unwrap();
        assert_eq!(p.keep_id, Some((1001, 1001)));
        let UserNs::New { uids, gids } = p.ns else {
            panic!()
        };
        assert_eq!(
            uids,
            vec![m(0, 1, 1001), m(1001, 0, 1), m(1002, 1002, 64535)]
        );
        assert_eq!(uids, gids);
        // Every container id maps into husk's namespace (0..=65536), once.
        assert_eq!(to_parent(&uids, 1001), Some(0));
        assert_eq!(to_parent(&uids, 0), Some(1));
        assert_eq!(to_parent(&uids, 65536), Some(65536));
        assert_eq!(to_parent(&uids, 65537), None);
        let p = run("keep-id:uid=0,gid=0", &[], &[], true, &c).unwrap();
        let UserNs::New { uids, .. } = p.ns else {
            panic!()
        };
        assert_eq!(uids, vec![m(0, 0, 1), m(1, 1, 65536)]);
        let p = run("keep-id:uid=200,gid=200,size=1024", &[], &[], true, &c).unwrap();
        let UserNs::New { uids, .. } = p.ns else {
            panic!()
        };
        assert_eq!(uids, vec![m(0, 1, 200), m(200, 0, 1), m(201, 201, 823)]);
        assert!(run("keep-id:foo=1", &[], &[], true, &c).is_err());
        assert!(run("keep-id:uid=x", &[], &[], true, &c).is_err());
    }

    #[test]
    fn keep_id_rootful_is_the_identity() {
        let p = run("keep-id", &[], &[], false, &IdContext::default()).unwrap();
        assert_eq!(p.keep_id, Some((0, 0)));
        assert_eq!(
            p.ns,
            UserNs::New {
                uids: vec![m(0, 0, u32::MAX)],
                gids: vec![m(0, 0, u32::MAX)]
            }
        );
    }

    #[test]
    fn nomap_is_rootless_only() {
        let c = ctx();
        let p = run("nomap", &[], &[], true, &c).unwrap();
        assert_eq!(
            p.ns,
            UserNs::New {
                uids: vec![m(0, 1, 65536)],
                gids: vec![m(0, 1, 65536)]
            }
        );
        let e = run("nomap", &[], &[], false, &c).unwrap_err().to_string();
        assert!(e.contains("only supported in rootless mode"), "{e}");
        let none = IdContext {
            subuids: vec![],
            ..ctx()
        };
        assert!(run("nomap", &[], &[], true, &none).is_err());
    }

    #[test]
    fn auto_picks_free_ranges() {
        let mut c = IdContext {
            subuids: vec![IdRange {
                start: 200000,
                count: 10000,
            }],
            subgids: vec![IdRange {
                start: 300000,
                count: 10000,
            }],
            ..Default::default()
        };
        let p = run("auto", &[], &[], false, &c).unwrap();
        assert_eq!(
            p.auto,
            Some((
                IdRange {
                    start: 200000,
                    count: 1024
                },
                IdRange {
                    start: 300000,
                    count: 1024
                }
            ))
        );
        c.auto_uids_in_use = vec![IdRange {
            start: 200000,
            count: 1024,
        }];
        let p = run("auto:size=2000", &[], &[], false, &c).unwrap();
        assert_eq!(
            p.auto.unwrap().0,
            IdRange {
                start: 201024,
                count: 2000
            }
        );
        assert_eq!(
            p.auto.unwrap().1,
            IdRange {
                start: 300000,
                count: 2000
            }
        );
        let e = run("auto:size=20000", &[], &[], false, &c)
            .unwrap_err()
            .to_string();
        assert!(e.contains("no free range of 20000 uids"), "{e}");
        assert!(run("auto", &[], &[], false, &IdContext::default()).is_err());
        // Rootless: inside husk's namespace, never its id 0 (the user).
        let p = run("auto", &[], &[], true, &ctx()).unwrap();
        assert_eq!(
            p.auto.unwrap().0,
            IdRange {
                start: 1,
                count: 1024
            }
        );
        // Sized from the image's highest id.
        let (u, g) = (s(&[]), s(&[]));
        let p = plan(&UserNsInput {
            mode: "auto",
            uidmap: &u,
            gidmap: &g,
            rootless: true,
            ids: &ctx(),
            join: None,
            image_max_ids: (5000, 70000),
        })
        .unwrap();
        assert_eq!(p.auto.unwrap().0.count, AUTO_MAX_SIZE);
    }

    #[test]
    fn pick_free_first_fit() {
        let avail = [
            IdRange {
                start: 10,
                count: 100,
            },
            IdRange {
                start: 1000,
                count: 50,
            },
        ];
        assert_eq!(pick_free(&avail, &[], 10), Some(10));
        let used = [
            IdRange {
                start: 15,
                count: 10,
            },
            IdRange {
                start: 30,
                count: 80,
            },
        ];
        assert_eq!(pick_free(&avail, &used, 5), Some(10));
        let used2 = [
            IdRange {
                start: 10,
                count: 15,
            },
            used[1],
        ];
        assert_eq!(pick_free(&avail, &used2, 5), Some(25));
        assert_eq!(pick_free(&avail, &used, 6), Some(1000));
        assert_eq!(pick_free(&avail, &used, 51), None);
    }

    #[test]
    fn uidmap_parsing_and_validation() {
        let c = ctx();
        let p = run("", &["0:1:1000", "1000:0:1"], &[], true, &c).unwrap();
        let UserNs::New { uids, gids } = p.ns else {
            panic!()
        };
        assert_eq!(uids, vec![m(0, 1, 1000), m(1000, 0, 1)]);
        assert_eq!(gids, uids, "the uid map applies to gids too");
        let p = run("", &["0:100000:10"], &["0:200000:5"], false, &c).unwrap();
        let UserNs::New { uids, gids } = p.ns else {
            panic!()
        };
        assert_eq!((uids[0], gids[0]), (m(0, 100000, 10), m(0, 200000, 5)));
        // Size defaults to one.
        let p = run("", &["5:6"], &[], false, &c).unwrap();
        assert_eq!(
            p.ns,
            UserNs::New {
                uids: vec![m(5, 6, 1)],
                gids: vec![m(5, 6, 1)]
            }
        );
        // Rootless @host ids translate into husk's namespace.
        let p = run("", &["0:@1001:1", "1:@100000:10"], &[], true, &c).unwrap();
        let UserNs::New { uids, .. } = p.ns else {
            panic!()
        };
        assert_eq!(uids, vec![m(0, 0, 1), m(1, 1, 10)]);
        for (map, why) in [
            ("0:1:70000", "outside the 65537 ids"),
            ("0:1:0", "positive"),
            ("a:1:1", "numbers"),
            ("0", "CONTAINER:HOST"),
            ("0:1:1:1", "CONTAINER:HOST"),
            ("0:@5:1", "not one of this user's ids"),
        ] {
            let e = run("", &[map], &[], true, &c).unwrap_err().to_string();
            assert!(e.contains("--uidmap") && e.contains(why), "{map}: {e}");
        }
        let e = run("", &["0:1:10", "5:100:10"], &[], true, &c)
            .unwrap_err()
            .to_string();
        assert!(e.contains("container id ranges overlap"), "{e}");
        let e = run("", &["0:1:10", "20:5:10"], &[], true, &c)
            .unwrap_err()
            .to_string();
        assert!(e.contains("host id ranges overlap"), "{e}");
        // Rootful: any host id.
        run("", &["0:4000000000:1000"], &[], false, &c).unwrap();
    }

    #[test]
    fn conflicting_modes() {
        let c = ctx();
        let e = run("keep-id", &["0:1:1"], &[], true, &c)
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "--userns keep-id and --uidmap/--gidmap cannot be used together"
        );
        assert!(run("auto", &[], &["0:1:1"], true, &c).is_err());
        run("private", &["0:1:1"], &[], true, &c).unwrap();
        let (u, g) = (s(&["0:1:1"]), s(&[]));
        let e = plan(&UserNsInput {
            mode: "",
            uidmap: &u,
            gidmap: &g,
            rootless: true,
            ids: &c,
            join: Some(std::path::Path::new("/proc/9/ns/user")),
            image_max_ids: (0, 0),
        })
        .unwrap_err();
        assert!(e.to_string().contains("joining"), "{e}");
    }
}
