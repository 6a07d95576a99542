//! What the host mounts under /sys/fs/cgroup.

use std::path::{Path, PathBuf};

/// Where cgroup hierarchies are mounted.
pub const CGROUP_ROOT: &str = "/sys/fs/cgroup";

/// The host's cgroup layout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Layout {
    /// /sys/fs/cgroup is cgroup2 with the controllers.
    Unified,
    /// v1 controllers, plus a cgroup2 mount (usually /sys/fs/cgroup/unified)
    /// with few or no controllers.
    Hybrid(PathBuf),
    /// v1 controllers only.
    Legacy,
}

fn is_cgroup2(p: &Path) -> bool {
    nix::sys::statfs::statfs(p)
        .map(|s| s.filesystem_type() == nix::sys::statfs::CGROUP2_SUPER_MAGIC)
        .unwrap_or(false)
}

impl Layout {
    /// Detects the layout of this host.
    pub fn detect() -> Layout {
        let root = Path::new(CGROUP_ROOT);
        if is_cgroup2(root) {
            return Layout::Unified;
        }
        let unified = root.join("unified");
        if is_cgroup2(&unified) {
            return Layout::Hybrid(unified);
        }
        Layout::Legacy
    }

    /// The cgroup2 mount point, if any.
    pub fn unified_root(&self) -> Option<PathBuf> {
        match self {
            Layout::Unified => Some(PathBuf::from(CGROUP_ROOT)),
            Layout::Hybrid(p) => Some(p.clone()),
            Layout::Legacy => None,
        }
    }
}
