//! Finding a container from what a user typed: its name, its full id, or a
//! unique id prefix, as podman resolves them.

use super::error::{ContainerError, Result};
use crate::catalog::containers::ContainerRecord;
use crate::catalog::Catalog;

/// The container `name_or_id` names.
pub fn find(cat: &Catalog, name_or_id: &str) -> Result<ContainerRecord> {
    let mut found = cat.find_containers(name_or_id)?;
    // A name wins over an id prefix that happens to match it.
    if let Some(i) = found.iter().position(|c| c.name == name_or_id) {
        return Ok(found.swap_remove(i));
    }
    match found.len() {
        0 => Err(ContainerError::NotFound(name_or_id.to_owned())),
        1 => Ok(found.pop().expect("one")),
        _ => Err(ContainerError::Ambiguous(name_or_id.to_owned())),
    }
}

/// The most recently created container (`--latest`).
pub fn latest(cat: &Catalog) -> Result<ContainerRecord> {
    cat.containers()?
        .into_iter()
        .next()
        .ok_or_else(|| ContainerError::Other("no containers to act on: no such container".into()))
}
