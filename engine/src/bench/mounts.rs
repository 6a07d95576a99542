//! Mount-table chores: hiding a hybrid host's cgroup2 mount for the whole
//! benchmark, and unmounting what an engine left under its private store.

use std::path::{Path, PathBuf};

use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::sched::{unshare, CloneFlags};

use super::BenchError;

/// The hybrid layout's controller-less cgroup2 mount, which crun 1.8
/// refuses to run next to.
pub const HYBRID_CGROUP2: &str = "/sys/fs/cgroup/unified";

/// Decodes mountinfo's octal escapes (`\040` for a space).
fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let octal = b
            .get(i + 1..i + 4)
            .filter(|d| d.iter().all(|c| (b'0'..=b'7').contains(c)));
        if let (b'\\', Some(d)) = (b[i], octal) {
            out.push(
                d.iter()
                    .fold(0u8, |v, c| v.wrapping_mul(8).wrapping_add(c - b'0')),
            );
            i += 4;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// (mount point, filesystem type) of every mount of this process.
fn mounts() -> Vec<(PathBuf, String)> {
    let text = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    text.lines()
        .filter_map(|l| {
            let point = l.split(' ').nth(4)?;
            let (_, after) = l.split_once(" - ")?;
            let fstype = after.split(' ').next()?;
            Some((PathBuf::from(unescape(point)), fstype.to_owned()))
        })
        .collect()
}

/// Whether this host has the hybrid cgroup2 mount.
pub fn has_hybrid_cgroup2() -> bool {
    mounts()
        .iter()
        .any(|(p, t)| p == Path::new(HYBRID_CGROUP2) && t == "cgroup2")
}

/// Moves this process into a private mount namespace without the hybrid
/// cgroup2 mount, so that every tool sees the same (cgroup v1) host and
/// crun runs at all. Needs root and a single-threaded process; the host's
/// mounts are untouched.
pub fn hide_cgroup2() -> Result<(), BenchError> {
    let sys = |what: &'static str| {
        move |e: nix::Error| BenchError::Sys {
            what,
            source: std::io::Error::from(e),
        }
    };
    unshare(CloneFlags::CLONE_NEWNS).map_err(sys("entering a private mount namespace"))?;
    mount(
        None::<&str>,
        "/",
        None::<&str>,
        MsFlags::MS_REC | MsFlags::MS_PRIVATE,
        None::<&str>,
    )
    .map_err(sys("making mounts private"))?;
    umount2(HYBRID_CGROUP2, MntFlags::MNT_DETACH).map_err(sys("unmounting the cgroup2 mount"))?;
    Ok(())
}

/// Detaches every mount at or under `dir`, deepest first (an engine's
/// overlay mounts in its private store). Errors are ignored: the caller
/// removes the directory next and reports nothing about it.
pub fn unmount_under(dir: &Path) {
    let mut points: Vec<PathBuf> = mounts()
        .into_iter()
        .map(|(p, _)| p)
        .filter(|p| p.starts_with(dir))
        .collect();
    points.sort_by_key(|p| std::cmp::Reverse(p.as_os_str().len()));
    for p in points {
        let _ = umount2(&p, MntFlags::MNT_DETACH);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unescapes_mountinfo() {
        assert_eq!(unescape("/a\\040b"), "/a b");
        assert_eq!(unescape("/plain"), "/plain");
        assert_eq!(unescape("/end\\"), "/end\\");
        assert_eq!(unescape("/bad\\9x"), "/bad\\9x");
    }
}
