//! linux.timeOffsets: the clocks of a new time namespace.
//!
//! oci-spec 0.7 types `timeOffsets` as a map of strings, while the runtime
//! spec gives each clock an object (`{"secs": 10, "nanosecs": 0}`), so the
//! field is taken out of the JSON and parsed here before oci-spec sees it.

use crate::error::{Result, RuntimeError, SysContext};

/// One clock's offset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimeOffset {
    /// `monotonic` or `boottime`.
    pub clock: String,
    /// Whole seconds.
    pub secs: i64,
    /// Nanoseconds, below one second.
    pub nanosecs: u32,
}

/// Removes `linux.timeOffsets` from `spec` and parses it.
pub fn take_offsets(spec: &mut serde_json::Value) -> Result<Vec<TimeOffset>, String> {
    let Some(raw) = spec
        .get_mut("linux")
        .and_then(|l| l.as_object_mut())
        .and_then(|l| l.remove("timeOffsets"))
    else {
        return Ok(Vec::new());
    };
    let map = raw
        .as_object()
        .ok_or("linux.timeOffsets must be an object of clocks")?;
    let mut out = Vec::new();
    for (clock, v) in map {
        if clock != "monotonic" && clock != "boottime" {
            return Err(format!(
                "linux.timeOffsets: unknown clock {clock:?} (monotonic or boottime)"
            ));
        }
        let secs = v.get("secs").map_or(Some(0), |s| s.as_i64());
        let nanosecs = v.get("nanosecs").map_or(Some(0), |n| n.as_u64());
        match (secs, nanosecs) {
            (Some(secs), Some(n)) if n < 1_000_000_000 => out.push(TimeOffset {
                clock: clock.clone(),
                secs,
                nanosecs: n as u32,
            }),
            _ => {
                return Err(format!(
                    "linux.timeOffsets.{clock}: secs must be an integer and nanosecs below 1e9"
                ))
            }
        }
    }
    out.sort_by(|a, b| a.clock.cmp(&b.clock));
    Ok(out)
}

/// Writes the offsets for the time namespace this process has unshared (it
/// applies to the children created next).
pub fn write_offsets(offsets: &[TimeOffset]) -> Result<()> {
    let text: String = offsets
        .iter()
        .map(|o| format!("{} {} {}\n", o.clock, o.secs, o.nanosecs))
        .collect();
    std::fs::write("/proc/self/timens_offsets", &text)
        .ctx(|| format!("writing time namespace offsets {:?}", text.trim()))
}

impl From<String> for RuntimeError {
    fn from(s: String) -> Self {
        RuntimeError::Spec(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_removes_offsets() {
        let mut v = serde_json::json!({"linux": {"timeOffsets": {
            "monotonic": {"secs": 86400, "nanosecs": 5},
            "boottime": {"secs": -10}
        }}});
        let o = take_offsets(&mut v).unwrap();
        assert_eq!(o.len(), 2);
        assert_eq!(o[0].clock, "boottime");
        assert_eq!(o[0].secs, -10);
        assert_eq!(o[1].nanosecs, 5);
        assert!(v["linux"].get("timeOffsets").is_none());
    }

    #[test]
    fn refuses_unknown_clocks_and_bad_values() {
        for bad in [
            serde_json::json!({"realtime": {"secs": 1}}),
            serde_json::json!({"monotonic": {"secs": "x"}}),
            serde_json::json!({"monotonic": {"nanosecs": 2_000_000_000u64}}),
        ] {
            let mut v = serde_json::json!({"linux": {"timeOffsets": bad}});
            assert!(take_offsets(&mut v).is_err());
        }
    }
}
