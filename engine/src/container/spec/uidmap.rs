//! `--uidmap`/`--gidmap`: `CONTAINER:HOST:SIZE` lines, checked for
//! overlaps and, rootless, against the ids of husk's user namespace.

use super::error::{Result, SpecError};
use super::idmap::{IdMap, IdRange, UserNs, UserNsInput};

/// Parses one `--uidmap`/`--gidmap` value: `CONTAINER:HOST:SIZE`, or
/// several such triples joined by `:` (podman 5 requires SIZE, and reads
/// every triple of a longer value). Rootless, `@HOST` names a host id,
/// translated into husk's namespace.
fn parse_maps(
    flag: &'static str,
    v: &str,
    rootless: bool,
    own: u32,
    subs: &[IdRange],
) -> Result<Vec<IdMap>> {
    let fields: Vec<&str> = v.split(':').collect();
    if fields.len() % 3 != 0 {
        return Err(SpecError::invalid(
            flag,
            v,
            "UID setting is malformed: expected CONTAINER:HOST:SIZE",
        ));
    }
    fields
        .chunks(3)
        .map(|t| parse_map(flag, v, t[0], t[1], t[2], rootless, own, subs))
        .collect()
}

/// One `CONTAINER:HOST:SIZE` triple of the value `v`.
#[allow(clippy::too_many_arguments)]
fn parse_map(
    flag: &'static str,
    v: &str,
    c: &str,
    h: &str,
    s: &str,
    rootless: bool,
    own: u32,
    subs: &[IdRange],
) -> Result<IdMap> {
    let bad = |r: &str| SpecError::invalid(flag, v, r);
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

pub(super) fn maps_from_flags(i: &UserNsInput<'_>) -> Result<UserNs> {
    let parse = |flag, vals: &[String], own, subs: &[IdRange]| -> Result<Vec<IdMap>> {
        let mut out = Vec::new();
        for v in vals {
            out.extend(parse_maps(flag, v, i.rootless, own, subs)?);
        }
        Ok(out)
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
