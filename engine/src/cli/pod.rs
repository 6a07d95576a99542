//! Pods on the command line. Only what `husk inspect` needs exists yet:
//! pods are not implemented, so no name ever names a pod.

use serde_json::Value;

use crate::cli::ctx::Ctx;

/// The inspect document of the pod `name` names. Always None: husk has no
/// pods yet (this placeholder keeps `husk inspect` whole until they land).
pub fn inspect_doc(_ctx: &mut Ctx, _name: &str) -> anyhow::Result<Option<Value>> {
    Ok(None)
}
