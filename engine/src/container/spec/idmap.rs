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
    /// One past the last id.
    pub fn end(self) -> u64 {
        self.start as u64 + self.count as u64
    }

    /// Whether the two ranges share an id.
    pub fn overlaps(self, o: IdRange) -> bool {
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
        return super::uidmap::maps_from_flags(i).map(plain);
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
            format!("unrecognized namespace mode {} passed: expected host, keep-id[:uid=U,gid=G,size=N], auto[:size=N], nomap, private, ns:PATH or container:ID", i.mode),
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
        // podman 5 refuses it (4.x mapped the identity).
        return Err(SpecError::invalid(
            "--userns",
            i.mode,
            "keep-id is only supported in rootless mode",
        ));
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

#[cfg(test)]
#[path = "idmap_tests.rs"]
mod tests;
