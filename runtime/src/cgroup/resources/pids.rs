//! linux.resources.pids: pids.max on v1 and v2 alike.

use oci_spec::runtime::LinuxPids;

use super::target::{write_in, Target};
use crate::error::Result;

const FIELD: &str = "linux.resources.pids.limit";

/// Applies the pids limit: a positive number caps the tasks, 0 and -1 mean
/// unlimited ("max"), which needs no controller.
pub(super) fn apply(t: &Target<'_>, p: &LinuxPids) -> Result<()> {
    let limit = p.limit();
    if limit > 0 {
        let dir = t.dir("pids", "pids", FIELD)?;
        return write_in(&dir, "pids.max", &limit.to_string(), FIELD);
    }
    match t.dir_if_present("pids", "pids", FIELD) {
        Some(dir) => write_in(&dir, "pids.max", "max", FIELD),
        None => Ok(()),
    }
}
