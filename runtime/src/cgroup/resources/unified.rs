//! linux.resources.unified: raw cgroup v2 files ("memory.high" -> "1G"),
//! written last so they override the mapped values.

use std::collections::HashMap;

use super::target::{read, write_in, Target};
use crate::error::{Result, RuntimeError};

/// Core files a container's settings must not touch: membership, freezing,
/// killing and the controller switches belong to the runtime.
const ALLOWED_CORE: [&str; 2] = ["cgroup.max.depth", "cgroup.max.descendants"];

fn field(key: &str) -> String {
    format!("linux.resources.unified[{key:?}]")
}

/// Refuses keys that are not a plain "<controller>.<file>" name in the
/// container's own directory.
pub(super) fn check_key(key: &str) -> Result<()> {
    let plain = !key.is_empty()
        && !key.contains('/')
        && key != "."
        && key != ".."
        && key
            .split_once('.')
            .is_some_and(|(c, f)| !c.is_empty() && !f.is_empty());
    if !plain {
        return Err(RuntimeError::Spec(format!(
            "{}: not a cgroup v2 file name like \"memory.high\"",
            field(key)
        )));
    }
    if key.starts_with("cgroup.") && !ALLOWED_CORE.contains(&key) {
        return Err(RuntimeError::Spec(format!(
            "{}: the runtime manages cgroup core files itself",
            field(key)
        )));
    }
    Ok(())
}

/// Writes every entry, in key order.
pub(super) fn apply(t: &Target<'_>, map: &HashMap<String, String>) -> Result<()> {
    let mut entries: Vec<_> = map.iter().collect();
    entries.sort();
    for (key, value) in entries {
        let f = field(key);
        let ctrl = key.split('.').next().unwrap_or_default();
        let Some(dir) = t.unified_dir() else {
            return Err(RuntimeError::Spec(format!(
                "{f}: unified resources need cgroup v2, and this host has no cgroup2 mount"
            )));
        };
        if t.v2() {
            if ctrl != "cgroup" {
                t.enable(dir, ctrl, &f)?;
            }
        } else if ctrl != "cgroup"
            && !read(&dir.join("cgroup.controllers"))
                .unwrap_or_default()
                .split_whitespace()
                .any(|c| c == ctrl)
        {
            return Err(RuntimeError::Spec(format!(
                "{f}: unified resources need cgroup v2, and the {ctrl} controller is on a \
                 cgroup v1 hierarchy on this host (use the mapped linux.resources fields)"
            )));
        }
        if !dir.join(key.as_str()).exists() {
            return Err(RuntimeError::Spec(format!(
                "{f}: {} does not exist (controller not enabled or file unknown to this kernel)",
                dir.join(key.as_str()).display()
            )));
        }
        write_in(dir, key, value, &f)?;
    }
    Ok(())
}
