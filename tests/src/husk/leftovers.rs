//! What a husk command leaves behind: catalog rows, files under the storage
//! root and the run root, mounts under the test's directory, and cgroups.
//! A bad-input test takes a [`Leftovers`] snapshot before the command and
//! checks afterwards that nothing was added.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

use super::Husk;

/// The cgroup filesystem root.
pub const CGROUP_ROOT: &str = "/sys/fs/cgroup";

/// How deep [`husk_cgroups`] looks below each hierarchy.
const CGROUP_DEPTH: usize = 12;
/// How deep [`Leftovers`] walks the storage root and run root.
const STATE_DEPTH: usize = 6;
/// How long a suspect cgroup must stay empty to count as leaked.
const CGROUP_SETTLE: std::time::Duration = std::time::Duration::from_secs(1);

/// Whether a path component holds a run of 64 hex digits (a container id).
pub fn has_container_id(p: &Path) -> bool {
    p.components().any(|c| {
        let s = c.as_os_str().to_string_lossy();
        let b = s.as_bytes();
        let mut run = 0;
        for &ch in b {
            if ch.is_ascii_hexdigit() && !ch.is_ascii_uppercase() {
                run += 1;
                if run >= 64 {
                    return true;
                }
            } else {
                run = 0;
            }
        }
        false
    })
}

/// Every cgroup directory on the host with `husk` in its own name, in any
/// hierarchy (`/sys/fs/cgroup/<controller>/.../husk...` on v1 and hybrid
/// hosts, `/sys/fs/cgroup/.../husk...` on v2).
pub fn husk_cgroups() -> BTreeSet<PathBuf> {
    let mut out = BTreeSet::new();
    walk_cgroups(Path::new(CGROUP_ROOT), 0, &mut out);
    out
}

fn walk_cgroups(dir: &Path, depth: usize, out: &mut BTreeSet<PathBuf>) {
    if depth > CGROUP_DEPTH {
        return;
    }
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let Ok(ft) = e.file_type() else { continue };
        if !ft.is_dir() {
            continue;
        }
        let p = e.path();
        if e.file_name().to_string_lossy().contains("husk") {
            out.insert(p.clone());
        }
        walk_cgroups(&p, depth + 1, out);
    }
}

/// Whether a cgroup directory holds no process (`cgroup.procs` empty or
/// gone).
pub fn cgroup_is_empty(dir: &Path) -> bool {
    fs::read_to_string(dir.join("cgroup.procs"))
        .map(|s| s.trim().is_empty())
        .unwrap_or(true)
}

/// Every husk cgroup directory whose name contains `id` (a container id or
/// its 12-character prefix).
pub fn cgroups_of(id: &str) -> Vec<PathBuf> {
    husk_cgroups()
        .into_iter()
        .filter(|p| p.to_string_lossy().contains(id))
        .collect()
}

/// A snapshot of a [`Husk`]'s state and of the host's husk cgroups.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Leftovers {
    /// Container ids `ps -a -q --no-trunc` lists.
    pub ids: BTreeSet<String>,
    /// Paths under the storage root and the run root (see
    /// [`Leftovers::ignored`]).
    pub files: BTreeSet<PathBuf>,
    /// Mount points under the Husk's directory.
    pub mounts: BTreeSet<String>,
    /// Host cgroups with `husk` in their name.
    pub cgroups: BTreeSet<PathBuf>,
}

impl Leftovers {
    /// Takes a snapshot of `husk`.
    pub fn take(husk: &Husk) -> Leftovers {
        let out = husk.run(&["ps", "-a", "-q", "--no-trunc"]);
        assert!(
            out.status.success(),
            "[{}] `ps -a -q --no-trunc` failed while checking for leftovers: {out}",
            husk.flavour()
        );
        let ids = out
            .stdout
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(str::to_owned)
            .collect();
        let mut files = BTreeSet::new();
        for top in [husk.root(), husk.runroot()] {
            walk_state(&top, 0, &mut files);
        }
        Leftovers {
            ids,
            files,
            mounts: mounts_under(husk.dir()),
            cgroups: husk_cgroups(),
        }
    }

    /// Files that come and go with every command and say nothing about a
    /// container: SQLite's journal files next to the catalog and lock
    /// files.
    pub fn ignored(p: &Path) -> bool {
        let name = p
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        name.starts_with("catalog.db") || name.ends_with(".lock") || name == "lock"
    }

    /// What `now` has that `self` had not, as a report ("" if nothing).
    ///
    /// The cgroup check is host-wide, so it must not blame this test for
    /// other processes' cgroups: a new cgroup counts only when its name
    /// carries a container id (64 hex digits; husk names container cgroups
    /// after the id), holds no process, and still exists, empty, a moment
    /// later (a container being set up or torn down elsewhere has
    /// processes or goes away; a leaked cgroup stays, empty).
    pub fn added_in(&self, now: &Leftovers) -> String {
        self.added_in_except(now, |_| false)
    }

    /// [`Leftovers::added_in`], not counting files for which `ignore` is
    /// true (for another engine's harmless lazily made directories when the
    /// suite runs against podman).
    pub fn added_in_except(&self, now: &Leftovers, ignore: impl Fn(&Path) -> bool) -> String {
        let mut report = String::new();
        let ids: Vec<_> = now.ids.difference(&self.ids).collect();
        if !ids.is_empty() {
            let _ = writeln!(report, "new catalog rows (ps -a): {ids:?}");
        }
        let files: Vec<_> = now
            .files
            .difference(&self.files)
            .filter(|p| !ignore(p))
            .collect();
        if !files.is_empty() {
            let _ = writeln!(report, "new files under the root or run root: {files:#?}");
        }
        let mounts: Vec<_> = now.mounts.difference(&self.mounts).collect();
        if !mounts.is_empty() {
            let _ = writeln!(report, "new mounts: {mounts:#?}");
        }
        let candidates: Vec<&PathBuf> = now
            .cgroups
            .difference(&self.cgroups)
            .filter(|p| has_container_id(p) && p.exists() && cgroup_is_empty(p))
            .collect();
        if !candidates.is_empty() {
            std::thread::sleep(CGROUP_SETTLE);
        }
        let cgroups: Vec<_> = candidates
            .into_iter()
            .filter(|p| p.exists() && cgroup_is_empty(p))
            .collect();
        if !cgroups.is_empty() {
            let _ = writeln!(report, "new empty husk cgroups: {cgroups:#?}");
        }
        report
    }

    /// Panics unless `husk` (and the host's cgroups) hold nothing that was
    /// not there when `self` was taken; `what` names the command.
    #[track_caller]
    pub fn assert_nothing_new(&self, husk: &Husk, what: &str) {
        let now = Leftovers::take(husk);
        let report = self.added_in(&now);
        assert!(
            report.is_empty(),
            "[{}] {what} left things behind:\n{report}",
            husk.flavour()
        );
    }
}

fn walk_state(dir: &Path, depth: usize, out: &mut BTreeSet<PathBuf>) {
    if depth > STATE_DEPTH {
        return;
    }
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if Leftovers::ignored(&p) {
            continue;
        }
        let is_dir = e.file_type().map(|t| t.is_dir()).unwrap_or(false);
        out.insert(p.clone());
        if is_dir {
            walk_state(&p, depth + 1, out);
        }
    }
}

/// Mount points (field 5 of `/proc/self/mountinfo`) at or below `dir`.
pub fn mounts_under(dir: &Path) -> BTreeSet<String> {
    let root = dir.to_string_lossy().into_owned();
    fs::read_to_string("/proc/self/mountinfo")
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .filter(|p| p.starts_with(&root))
        .map(str::to_owned)
        .collect()
}

/// The value of a cgroup file for a process, read from the host side: the
/// process's cgroup in the hierarchy holding `controller` (v1), or its
/// unified cgroup (v2, `controller` ignored). `None` when the process or
/// the file is gone.
pub fn cgroup_value(pid: u32, controller: &str, file: &str) -> Option<String> {
    let text = fs::read_to_string(format!("/proc/{pid}/cgroup")).ok()?;
    let mut unified = None;
    for line in text.lines() {
        let mut f = line.splitn(3, ':');
        let (Some(_), Some(ctrls), Some(path)) = (f.next(), f.next(), f.next()) else {
            continue;
        };
        if ctrls.is_empty() {
            unified = Some(path.to_owned());
            continue;
        }
        if ctrls.split(',').any(|c| c == controller) {
            // A co-mounted hierarchy is a directory named after all its
            // controllers ("cpu,cpuacct"), often with per-controller links.
            for dir in [ctrls, controller] {
                let p = Path::new(CGROUP_ROOT)
                    .join(dir)
                    .join(path.trim_start_matches('/'))
                    .join(file);
                if let Ok(s) = fs::read_to_string(p) {
                    return Some(s.trim().to_owned());
                }
            }
            return None;
        }
    }
    let path = unified?;
    let base = if is_unified_host() {
        PathBuf::from(CGROUP_ROOT)
    } else {
        Path::new(CGROUP_ROOT).join("unified")
    };
    fs::read_to_string(base.join(path.trim_start_matches('/')).join(file))
        .ok()
        .map(|s| s.trim().to_owned())
}

/// Whether `/sys/fs/cgroup` itself is a cgroup2 mount (a pure v2 host).
pub fn is_unified_host() -> bool {
    Path::new(CGROUP_ROOT).join("cgroup.controllers").exists()
}
