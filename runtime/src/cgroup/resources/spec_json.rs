//! A fix-up of config.json before oci-spec parses it: oci-spec 0.7 expects
//! "throttleReadIopsDevice"/"throttleWriteIopsDevice", while the runtime
//! spec (and runc, podman, docker) write "throttleReadIOPSDevice" and
//! "throttleWriteIOPSDevice"; unfixed, those limits would vanish silently.

use serde_json::Value;

/// The runtime spec's names and the ones oci-spec 0.7 deserializes.
const RENAMES: [(&str, &str); 2] = [
    ("throttleReadIOPSDevice", "throttleReadIopsDevice"),
    ("throttleWriteIOPSDevice", "throttleWriteIopsDevice"),
];

/// Renames the spec's blockIO IOPS keys in a parsed config.json so that
/// oci-spec reads them. A config giving both spellings keeps the spec's.
pub fn normalize_config(config: &mut Value) {
    let Some(bio) = config
        .pointer_mut("/linux/resources/blockIO")
        .and_then(Value::as_object_mut)
    else {
        return;
    };
    for (spec, crate_name) in RENAMES {
        if let Some(v) = bio.remove(spec) {
            bio.insert(crate_name.to_string(), v);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_iops_keys_reach_oci_spec() {
        let mut v = serde_json::json!({"linux": {"resources": {"blockIO": {
            "throttleWriteIOPSDevice": [{"major": 8, "minor": 0, "rate": 100}]
        }}}});
        normalize_config(&mut v);
        let r: oci_spec::runtime::LinuxResources =
            serde_json::from_value(v["linux"]["resources"].clone()).unwrap();
        let b = r.block_io().as_ref().unwrap();
        assert_eq!(
            b.throttle_write_iops_device().as_ref().unwrap()[0].rate(),
            100
        );
    }
}
