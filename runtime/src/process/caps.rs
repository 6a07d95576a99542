//! process.capabilities applied with the `caps` crate: the bounding set is
//! trimmed while still privileged, the other sets after the uid switch.

use std::str::FromStr;

use caps::{CapSet, Capability, CapsHashSet};
use oci_spec::runtime::{Capabilities, LinuxCapabilities};

use crate::error::{Result, RuntimeError};

/// Converts the spec's set to the `caps` crate's, skipping capabilities this
/// kernel does not know (as runc does), so newer specs run on older kernels.
pub fn to_caps(set: &Option<Capabilities>) -> Result<CapsHashSet> {
    let known = caps::runtime::thread_all_supported();
    let mut out = CapsHashSet::new();
    for c in set.iter().flatten() {
        let name = serde_json::to_value(c)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default();
        let cap = Capability::from_str(&name)
            .map_err(|_| RuntimeError::Spec(format!("unknown capability {name:?}")))?;
        if known.contains(&cap) {
            out.insert(cap);
        }
    }
    Ok(out)
}

/// Drops every capability not in the spec's bounding set.
pub fn apply_bounding(spec: &LinuxCapabilities) -> Result<()> {
    let keep = to_caps(spec.bounding())?;
    for cap in caps::runtime::thread_all_supported() {
        if !keep.contains(&cap) {
            caps::drop(None, CapSet::Bounding, cap).map_err(|e| {
                RuntimeError::Init(format!("dropping {cap} from the bounding set: {e}"))
            })?;
        }
    }
    Ok(())
}

/// Sets the permitted, effective, inheritable and ambient sets.
pub fn apply_sets(spec: &LinuxCapabilities) -> Result<()> {
    let set = |which: CapSet, caps_: &CapsHashSet| {
        caps::set(None, which, caps_)
            .map_err(|e| RuntimeError::Init(format!("setting {which:?} capabilities: {e}")))
    };
    let permitted = to_caps(spec.permitted())?;
    let effective = to_caps(spec.effective())?;
    let inheritable = to_caps(spec.inheritable())?;
    // Order matters: effective must stay a subset of permitted at each step.
    set(
        CapSet::Effective,
        &effective.intersection(&permitted).copied().collect(),
    )?;
    set(CapSet::Permitted, &permitted)?;
    set(CapSet::Inheritable, &inheritable)?;
    set(CapSet::Effective, &effective)?;
    let ambient = to_caps(spec.ambient())?;
    if !ambient.is_empty() {
        caps::clear(None, CapSet::Ambient)
            .map_err(|e| RuntimeError::Init(format!("clearing ambient capabilities: {e}")))?;
        for cap in ambient {
            // The kernel refuses ambient caps not in permitted and inheritable;
            // runc ignores those, and so do we.
            let _ = caps::raise(None, CapSet::Ambient, cap);
        }
    }
    Ok(())
}
