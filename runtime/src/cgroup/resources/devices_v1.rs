//! Device rules on cgroup v1: devices.deny / devices.allow, written in order.

use std::path::Path;

use super::device_rules::{field, Rule};
use super::target::write_in;
use crate::error::Result;

/// Writes every rule; the first is the leading deny-all ("a" to
/// devices.deny), which also clears what the cgroup inherited.
pub(super) fn apply(dir: &Path, rules: &[Rule], spec_len: usize) -> Result<()> {
    for (i, r) in rules.iter().enumerate() {
        let file = if r.allow {
            "devices.allow"
        } else {
            "devices.deny"
        };
        write_in(dir, file, &r.v1_line(), &field(i, spec_len))?;
    }
    Ok(())
}
