//! Which owner ids a store can hold, and how an image's ids become the ids
//! files are stored with.
//!
//! Rootless husk runs every storage operation inside a user namespace where
//! the user is 0 and the subordinate range is 1..=N, so files are stored with
//! the image's own ids (the kernel maps them to the subuid range on disk);
//! the map only says which ids exist there (0..=N). Rootful stores keep the
//! image's ids as they are; a shifted map stores container id `c` as host id
//! `host + c - container` (a userns without idmapped mounts).

use std::fmt;
use std::path::Path;

/// One range: container ids `container .. container + len` are stored as
/// `stored .. stored + len`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IdRange {
    /// First id as the image (and the container) sees it.
    pub container: u32,
    /// First id as it is stored.
    pub stored: u32,
    /// Number of ids.
    pub len: u32,
}

/// The uid and gid ranges a store holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdMap {
    /// uid ranges.
    pub uids: Vec<IdRange>,
    /// gid ranges.
    pub gids: Vec<IdRange>,
}

impl IdMap {
    /// Every id stored as itself (rootful).
    pub fn identity() -> IdMap {
        let all = vec![IdRange {
            container: 0,
            stored: 0,
            len: u32::MAX,
        }];
        IdMap {
            uids: all.clone(),
            gids: all,
        }
    }

    /// Ids `0..count` stored as themselves: what a rootless user namespace
    /// with the user's own id plus `count - 1` subordinate ids holds.
    pub fn first(uid_count: u32, gid_count: u32) -> IdMap {
        let r = |len| {
            vec![IdRange {
                container: 0,
                stored: 0,
                len,
            }]
        };
        IdMap {
            uids: r(uid_count),
            gids: r(gid_count),
        }
    }

    /// The ids mapped in the current user namespace, from
    /// `/proc/self/uid_map` and `gid_map` (inside ids, stored as
    /// themselves). The engine calls this after entering its namespace.
    pub fn current_namespace() -> std::io::Result<IdMap> {
        let read = |p: &str| -> std::io::Result<Vec<IdRange>> {
            let text = std::fs::read_to_string(Path::new(p))?;
            Ok(parse_proc_map(&text)
                .into_iter()
                .map(|r| IdRange {
                    container: r.container,
                    stored: r.container,
                    len: r.len,
                })
                .collect())
        };
        Ok(IdMap {
            uids: read("/proc/self/uid_map")?,
            gids: read("/proc/self/gid_map")?,
        })
    }

    /// The stored uid of a container uid, or None when it is not mapped.
    pub fn uid(&self, id: u64) -> Option<u32> {
        map(&self.uids, id)
    }

    /// The stored gid of a container gid, or None when it is not mapped.
    pub fn gid(&self, id: u64) -> Option<u32> {
        map(&self.gids, id)
    }

    /// The container uid of a stored uid (for exports and diffs).
    pub fn uid_back(&self, stored: u32) -> Option<u32> {
        back(&self.uids, stored)
    }

    /// The container gid of a stored gid.
    pub fn gid_back(&self, stored: u32) -> Option<u32> {
        back(&self.gids, stored)
    }

    /// The stored owner of the image's root (container 0:0) when ids are
    /// shifted; None when they are stored unchanged (or 0 is not mapped),
    /// so directories the store makes itself need no chown.
    pub fn shifted_root(&self) -> Option<(u32, u32)> {
        if self.is_identity() {
            return None;
        }
        Some((self.uid(0)?, self.gid(0)?))
    }

    /// Whether container ids are stored unchanged.
    pub fn is_identity(&self) -> bool {
        self.uids
            .iter()
            .chain(&self.gids)
            .all(|r| r.container == r.stored)
    }
}

fn map(ranges: &[IdRange], id: u64) -> Option<u32> {
    ranges.iter().find_map(|r| {
        let off = id.checked_sub(u64::from(r.container))?;
        (off < u64::from(r.len)).then(|| r.stored + off as u32)
    })
}

fn back(ranges: &[IdRange], stored: u32) -> Option<u32> {
    ranges.iter().find_map(|r| {
        let off = stored.checked_sub(r.stored)?;
        (off < r.len).then(|| r.container + off)
    })
}

/// Parses `/proc/PID/uid_map` text: `inside outside count` per line. The
/// result's `container` is the inside id and `stored` the outside one.
pub fn parse_proc_map(text: &str) -> Vec<IdRange> {
    text.lines()
        .filter_map(|l| {
            let mut f = l.split_whitespace().map(|x| x.parse::<u32>());
            match (f.next(), f.next(), f.next()) {
                (Some(Ok(container)), Some(Ok(stored)), Some(Ok(len))) => Some(IdRange {
                    container,
                    stored,
                    len,
                }),
                _ => None,
            }
        })
        .collect()
}

/// Describes ranges for error messages: `0-65536`, `0-0, 1000-1999`.
pub(crate) struct Ranges<'a>(pub &'a [IdRange]);

impl fmt::Display for Ranges<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return f.write_str("none");
        }
        for (i, r) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            let last = u64::from(r.container) + u64::from(r.len).saturating_sub(1);
            write!(f, "{}-{last}", r.container)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_and_refuses() {
        let m = IdMap::first(65537, 65537);
        assert_eq!(m.uid(0), Some(0));
        assert_eq!(m.uid(65536), Some(65536));
        assert_eq!(m.uid(65537), None);
        assert_eq!(m.gid(u64::from(u32::MAX) + 5), None);
        assert!(m.is_identity());
        assert_eq!(Ranges(&m.uids).to_string(), "0-65536");

        let shifted = IdMap {
            uids: vec![IdRange {
                container: 0,
                stored: 100_000,
                len: 65536,
            }],
            gids: vec![IdRange {
                container: 0,
                stored: 100_000,
                len: 65536,
            }],
        };
        assert_eq!(shifted.uid(1000), Some(101_000));
        assert_eq!(shifted.uid_back(101_000), Some(1000));
        assert_eq!(shifted.uid_back(5), None);
        assert!(!shifted.is_identity());
        assert_eq!(shifted.shifted_root(), Some((100_000, 100_000)));
        assert_eq!(m.shifted_root(), None);
        assert_eq!(IdMap::identity().uid(4_000_000_000), Some(4_000_000_000));
    }

    #[test]
    fn parses_proc_maps() {
        let r =
            parse_proc_map("         0       1001          1\n         1     200000      65536\n");
        assert_eq!(
            r,
            vec![
                IdRange {
                    container: 0,
                    stored: 1001,
                    len: 1
                },
                IdRange {
                    container: 1,
                    stored: 200000,
                    len: 65536
                }
            ]
        );
    }
}
