//! Where a resource's files live: the v1 controller's directory on v1 and
//! hybrid hosts, the unified directory on pure v2 (after enabling the
//! controller in every ancestor's cgroup.subtree_control), and the writes
//! themselves, with errors naming the spec field.

use std::cell::RefCell;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use crate::cgroup::{Cgroup, CGROUP_ROOT};
use crate::error::{Result, RuntimeError};

/// The container's cgroup as the resource writers see it.
#[derive(Debug)]
pub(super) struct Target<'a> {
    cg: &'a Cgroup,
    /// v2 controllers already enabled down to the container's parent.
    enabled: RefCell<BTreeSet<String>>,
}

impl<'a> Target<'a> {
    pub(super) fn new(cg: &'a Cgroup) -> Self {
        Target {
            cg,
            enabled: RefCell::new(BTreeSet::new()),
        }
    }

    /// Whether the controllers live on the unified hierarchy (pure v2).
    pub(super) fn v2(&self) -> bool {
        self.cg.unified_controllers
    }

    /// The cgroup2 directory, controllers or not (hybrid hosts have one too).
    pub(super) fn unified_dir(&self) -> Option<&'a Path> {
        self.cg.unified.as_deref()
    }

    /// The directory holding `v1` controller's files (v1/hybrid) or the
    /// unified directory with `v2` enabled (pure v2). `field` names what the
    /// spec asked for, for the error when the controller is missing.
    pub(super) fn dir(&self, v1: &str, v2: &str, field: &str) -> Result<PathBuf> {
        if self.v2() {
            let dir = self.unified_dir().ok_or_else(|| missing(field, v2))?;
            self.enable(dir, v2, field)?;
            return Ok(dir.to_path_buf());
        }
        self.cg
            .v1
            .get(v1)
            .cloned()
            .ok_or_else(|| missing(field, v1))
    }

    /// Like [`Target::dir`], but `None` instead of an error when the
    /// controller is missing: for values that ask for no limit at all.
    pub(super) fn dir_if_present(&self, v1: &str, v2: &str, field: &str) -> Option<PathBuf> {
        if self.v2() {
            let available = self
                .unified_dir()
                .is_some_and(|_| root_controllers().contains(v2));
            return if available {
                self.dir(v1, v2, field).ok()
            } else {
                None
            };
        }
        self.cg.v1.get(v1).cloned()
    }

    /// Enables controller `ctrl` in cgroup.subtree_control of every directory
    /// from the v2 root down to `dir`'s parent, skipping those where it is
    /// already on (a rootless user may not write the upper ones).
    pub(super) fn enable(&self, dir: &Path, ctrl: &str, field: &str) -> Result<()> {
        if self.enabled.borrow().contains(ctrl) {
            return Ok(());
        }
        if !root_controllers().contains(ctrl) {
            return Err(RuntimeError::Spec(format!(
                "{field}: the kernel offers no {ctrl} cgroup controller (not in {CGROUP_ROOT}/cgroup.controllers)"
            )));
        }
        let root = Path::new(CGROUP_ROOT);
        let rel = dir.strip_prefix(root).unwrap_or(dir);
        let mut cur = root.to_path_buf();
        let mut ancestors = vec![cur.clone()];
        for comp in rel.parent().into_iter().flat_map(Path::components) {
            cur.push(comp);
            ancestors.push(cur.clone());
        }
        for anc in ancestors {
            let file = anc.join("cgroup.subtree_control");
            let on = read(&file)
                .unwrap_or_default()
                .split_whitespace()
                .any(|c| c == ctrl);
            if !on {
                write(&file, &format!("+{ctrl}"), field)?;
            }
        }
        self.enabled.borrow_mut().insert(ctrl.to_string());
        Ok(())
    }
}

fn missing(field: &str, ctrl: &str) -> RuntimeError {
    RuntimeError::Spec(format!(
        "{field} needs the {ctrl} cgroup controller, which this container's cgroup lacks \
         (not mounted, or not delegated to this user)"
    ))
}

/// Controllers the v2 root offers.
pub(super) fn root_controllers() -> BTreeSet<String> {
    std::fs::read_to_string(Path::new(CGROUP_ROOT).join("cgroup.controllers"))
        .unwrap_or_default()
        .split_whitespace()
        .map(str::to_string)
        .collect()
}

/// Writes `value` to `file`; a missing file means the kernel (or the
/// controller) lacks the feature the spec field asks for.
pub(super) fn write(file: &Path, value: &str, field: &str) -> Result<()> {
    match std::fs::write(file, value) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(RuntimeError::Spec(format!(
            "{field}: {} does not exist (the kernel lacks this cgroup feature)",
            file.display()
        ))),
        Err(e) => Err(RuntimeError::sys(
            format!("{field}: writing {value:?} to {}", file.display()),
            e,
        )),
    }
}

/// Writes `value` to `dir/name`.
pub(super) fn write_in(dir: &Path, name: &str, value: &str, field: &str) -> Result<()> {
    write(&dir.join(name), value, field)
}

/// Reads a file's content, trimmed; `None` if it cannot be read.
pub(super) fn read(file: &Path) -> Option<String> {
    std::fs::read_to_string(file)
        .ok()
        .map(|s| s.trim().to_string())
}
