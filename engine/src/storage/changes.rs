//! What a container changed relative to its image (`husk diff`).
//!
//! Overlay: the upper directory *is* the change set. A whiteout is `D`; an
//! entry whose path the image has is `C` (directories copied up because
//! something inside changed included), otherwise `A`; an opaque directory
//! also deletes every name the image had in it. vfs: the rootfs is compared
//! with an index of the image (layers applied base first): type, mode,
//! owner, size, mtime and link target.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::fmt;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use super::sys::{self, cstr, Kind};
use super::unpack::WhiteoutFormat;
use super::vfs::{dir_is_opaque, role, Role};

/// The kind of one change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum ChangeKind {
    /// Added (`A`).
    Added,
    /// Changed (`C`).
    Changed,
    /// Deleted (`D`).
    Deleted,
}

impl fmt::Display for ChangeKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ChangeKind::Added => "A",
            ChangeKind::Changed => "C",
            ChangeKind::Deleted => "D",
        })
    }
}

/// One changed path, absolute inside the container (`/etc/hosts`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Change {
    /// The path.
    pub path: PathBuf,
    /// What happened to it.
    pub kind: ChangeKind,
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.kind, self.path.display())
    }
}

fn change(comps: &[Vec<u8>], kind: ChangeKind) -> Change {
    let mut p = Vec::new();
    for c in comps {
        p.push(b'/');
        p.extend_from_slice(c);
    }
    Change {
        path: PathBuf::from(std::ffi::OsStr::from_bytes(&p)),
        kind,
    }
}

/// A lower layer, opened.
struct Lower {
    root: OwnedFd,
    format: WhiteoutFormat,
}

enum Lookup {
    /// Present in this layer: the directory holding it and its stat.
    Found(OwnedFd, libc::stat),
    /// Hidden from this layer down (a whiteout, a non-directory on the
    /// way, an opaque directory without it).
    Hidden,
    /// Not in this layer; look further down.
    Missing,
}

fn is_oci_whited(dir: BorrowedFd, name: &[u8], format: WhiteoutFormat) -> io::Result<bool> {
    if format != WhiteoutFormat::Oci {
        return Ok(false);
    }
    let wh = cstr(&super::unpack::name::whiteout_name(name))?;
    match sys::lstatat(dir, &wh) {
        Ok(_) => Ok(true),
        Err(e) if e.raw_os_error() == Some(libc::ENOENT) => Ok(false),
        Err(e) => Err(e),
    }
}

fn lookup(l: &Lower, comps: &[Vec<u8>]) -> io::Result<Lookup> {
    let mut cur = sys::openat(l.root.as_fd(), c".", libc::O_RDONLY | libc::O_DIRECTORY, 0)?;
    let mut opaque = false;
    for (i, c) in comps.iter().enumerate() {
        if is_oci_whited(cur.as_fd(), c, l.format)? {
            return Ok(Lookup::Hidden);
        }
        let name = cstr(c)?;
        let st = match sys::lstatat(cur.as_fd(), &name) {
            Ok(st) => st,
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {
                return Ok(if opaque {
                    Lookup::Hidden
                } else {
                    Lookup::Missing
                })
            }
            Err(e) => return Err(e),
        };
        if !matches!(role(&name, &st, l.format), Role::Entry) {
            return Ok(Lookup::Hidden);
        }
        if i + 1 == comps.len() {
            return Ok(Lookup::Found(cur, st));
        }
        if Kind::of(st.st_mode) != Kind::Dir {
            return Ok(Lookup::Hidden);
        }
        let next = sys::open_dir_at(cur.as_fd(), &name)?;
        opaque = dir_is_opaque(next.as_fd(), l.format)?;
        cur = next;
    }
    // The root itself.
    Ok(Lookup::Found(cur, sys::fstat(l.root.as_fd())?))
}

fn image_has(lowers: &[Lower], comps: &[Vec<u8>]) -> io::Result<bool> {
    for l in lowers {
        match lookup(l, comps)? {
            Lookup::Found(..) => return Ok(true),
            Lookup::Hidden => return Ok(false),
            Lookup::Missing => {}
        }
    }
    Ok(false)
}

/// The names the image shows in directory `comps`.
fn image_children(lowers: &[Lower], comps: &[Vec<u8>]) -> io::Result<BTreeSet<Vec<u8>>> {
    let (mut seen, mut hidden) = (BTreeSet::new(), HashSet::new());
    for l in lowers {
        let dir = if comps.is_empty() {
            sys::openat(l.root.as_fd(), c".", libc::O_RDONLY | libc::O_DIRECTORY, 0)?
        } else {
            match lookup(l, comps)? {
                Lookup::Found(parent, st) if Kind::of(st.st_mode) == Kind::Dir => {
                    sys::open_dir_at(parent.as_fd(), &cstr(&comps[comps.len() - 1])?)?
                }
                Lookup::Found(..) | Lookup::Hidden => break,
                Lookup::Missing => continue,
            }
        };
        for name in sys::list_dir(dir.as_fd())? {
            let st = sys::lstatat(dir.as_fd(), &name)?;
            match role(&name, &st, l.format) {
                Role::WhiteoutSelf => {
                    hidden.insert(name.to_bytes().to_vec());
                }
                Role::WhiteoutOther(t) => {
                    hidden.insert(t.to_vec());
                }
                Role::Marker => {}
                Role::Entry => {
                    let n = name.to_bytes().to_vec();
                    if !hidden.contains(&n) {
                        seen.insert(n);
                    }
                }
            }
        }
        if dir_is_opaque(dir.as_fd(), l.format)? {
            break;
        }
    }
    Ok(seen)
}

fn open_lowers(lowers: &[(PathBuf, WhiteoutFormat)]) -> io::Result<Vec<Lower>> {
    lowers
        .iter()
        .map(|(p, f)| {
            Ok(Lower {
                root: sys::open_dir(p)?,
                format: *f,
            })
        })
        .collect()
}

/// Changes of an overlay upper directory over `lowers` (top first).
pub(crate) fn overlay_changes(
    upper: &Path,
    lowers: &[(PathBuf, WhiteoutFormat)],
) -> io::Result<Vec<Change>> {
    let lowers = open_lowers(lowers)?;
    let root = sys::open_dir(upper)?;
    let mut out = Vec::new();
    let mut comps = Vec::new();
    if sys::is_whiteout(&sys::fstat(root.as_fd())?) {
        return Ok(out);
    }
    walk_upper(&lowers, root.as_fd(), &mut comps, &mut out)?;
    out.sort();
    Ok(out)
}

fn walk_upper(
    lowers: &[Lower],
    dir: BorrowedFd,
    comps: &mut Vec<Vec<u8>>,
    out: &mut Vec<Change>,
) -> io::Result<()> {
    let names = sys::list_dir(dir)?;
    if super::xattr::is_opaque(dir)? {
        let mine: HashSet<&[u8]> = names.iter().map(|n| n.to_bytes()).collect();
        for gone in image_children(lowers, comps)? {
            if !mine.contains(gone.as_slice()) {
                comps.push(gone);
                out.push(change(comps, ChangeKind::Deleted));
                comps.pop();
            }
        }
    }
    for name in names {
        let st = sys::lstatat(dir, &name)?;
        comps.push(name.to_bytes().to_vec());
        if sys::is_whiteout(&st) {
            out.push(change(comps, ChangeKind::Deleted));
        } else {
            let kind = if image_has(lowers, comps)? {
                ChangeKind::Changed
            } else {
                ChangeKind::Added
            };
            out.push(change(comps, kind));
            if Kind::of(st.st_mode) == Kind::Dir {
                let sub = sys::open_dir_at(dir, &name)?;
                walk_upper(lowers, sub.as_fd(), comps, out)?;
            }
        }
        comps.pop();
    }
    Ok(())
}

/// What is compared per path in the vfs diff.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Summary {
    mode: u32,
    uid: u32,
    gid: u32,
    size: i64,
    mtime: (i64, i64),
    rdev: u64,
    target: Option<Vec<u8>>,
}

fn summary(dir: BorrowedFd, name: &std::ffi::CStr, st: &libc::stat) -> io::Result<Summary> {
    let kind = Kind::of(st.st_mode);
    Ok(Summary {
        mode: st.st_mode,
        uid: st.st_uid,
        gid: st.st_gid,
        // A directory's size is the filesystem's business.
        size: if kind == Kind::Dir { 0 } else { st.st_size },
        mtime: (st.st_mtime, st.st_mtime_nsec),
        rdev: st.st_rdev,
        target: if kind == Kind::Symlink {
            Some(sys::readlinkat(dir, name)?)
        } else {
            None
        },
    })
}

type Index = BTreeMap<Vec<u8>, Summary>;

fn join(rel: &[u8], name: &[u8]) -> Vec<u8> {
    let mut v = rel.to_vec();
    if !v.is_empty() {
        v.push(b'/');
    }
    v.extend_from_slice(name);
    v
}

fn remove_below(index: &mut Index, key: &[u8], include_self: bool) {
    if include_self {
        index.remove(key);
    }
    let prefix = join(key, b"");
    let doomed: Vec<Vec<u8>> = index
        .range(prefix.clone()..)
        .take_while(|(k, _)| k.starts_with(&prefix))
        .map(|(k, _)| k.clone())
        .collect();
    for k in doomed {
        index.remove(&k);
    }
}

fn index_dir(
    dir: BorrowedFd,
    rel: &[u8],
    format: WhiteoutFormat,
    index: &mut Index,
) -> io::Result<()> {
    if dir_is_opaque(dir, format)? {
        if rel.is_empty() {
            index.clear();
        } else {
            remove_below(index, rel, false);
        }
    }
    for name in sys::list_dir(dir)? {
        let st = sys::lstatat(dir, &name)?;
        match role(&name, &st, format) {
            Role::WhiteoutSelf => remove_below(index, &join(rel, name.to_bytes()), true),
            Role::WhiteoutOther(t) => remove_below(index, &join(rel, t), true),
            Role::Marker => {}
            Role::Entry => {
                let key = join(rel, name.to_bytes());
                if Kind::of(st.st_mode) == Kind::Dir {
                    if index
                        .get(&key)
                        .is_some_and(|s| Kind::of(s.mode) != Kind::Dir)
                    {
                        index.remove(&key);
                    }
                    index.insert(key.clone(), summary(dir, &name, &st)?);
                    let sub = sys::open_dir_at(dir, &name)?;
                    index_dir(sub.as_fd(), &key, format, index)?;
                } else {
                    remove_below(index, &key, true);
                    index.insert(key, summary(dir, &name, &st)?);
                }
            }
        }
    }
    Ok(())
}

/// Changes of a full tree (vfs rootfs) against `lowers` (top first).
pub(crate) fn tree_changes(
    tree: &Path,
    lowers: &[(PathBuf, WhiteoutFormat)],
) -> io::Result<Vec<Change>> {
    let mut index = Index::new();
    for (p, format) in lowers.iter().rev() {
        let d = sys::open_dir(p)?;
        index_dir(d.as_fd(), b"", *format, &mut index)?;
    }
    let root = sys::open_dir(tree)?;
    let mut out = Vec::new();
    let mut seen = HashSet::new();
    walk_tree(root.as_fd(), b"", &index, &mut seen, &mut out)?;
    for key in index.keys() {
        if seen.contains(key) {
            continue;
        }
        let parent = super::unpack::name::split(key).0;
        if !parent.is_empty() && !seen.contains(parent) {
            continue;
        }
        out.push(Change {
            path: PathBuf::from(std::ffi::OsStr::from_bytes(
                &[b"/", key.as_slice()].concat(),
            )),
            kind: ChangeKind::Deleted,
        });
    }
    out.sort();
    Ok(out)
}

fn walk_tree(
    dir: BorrowedFd,
    rel: &[u8],
    index: &Index,
    seen: &mut HashSet<Vec<u8>>,
    out: &mut Vec<Change>,
) -> io::Result<()> {
    for name in sys::list_dir(dir)? {
        let st = sys::lstatat(dir, &name)?;
        let key = join(rel, name.to_bytes());
        let path = PathBuf::from(std::ffi::OsStr::from_bytes(
            &[b"/", key.as_slice()].concat(),
        ));
        match index.get(&key) {
            None => out.push(Change {
                path,
                kind: ChangeKind::Added,
            }),
            Some(s) => {
                seen.insert(key.clone());
                if *s != summary(dir, &name, &st)? {
                    out.push(Change {
                        path,
                        kind: ChangeKind::Changed,
                    });
                }
            }
        }
        if Kind::of(st.st_mode) == Kind::Dir {
            let sub = sys::open_dir_at(dir, &name)?;
            walk_tree(sub.as_fd(), &key, index, seen, out)?;
        }
    }
    Ok(())
}
