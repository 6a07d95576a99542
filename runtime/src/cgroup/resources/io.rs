//! linux.resources.blockIO: v1 blkio.* files, v2 io.weight and io.max.

use std::collections::BTreeMap;
use std::path::Path;

use oci_spec::runtime::{LinuxBlockIo, LinuxThrottleDevice};

use super::target::{write_in, Target};
use crate::error::{Result, RuntimeError};

const FIELD: &str = "linux.resources.blockIO";

/// A blkio weight (10..=1000) on v2's io.weight scale (1..=10000), linearly.
pub fn blkio_to_io_weight(w: u16) -> u64 {
    1 + (u64::from(w).saturating_sub(10) * 9999) / 990
}

fn wants(b: &LinuxBlockIo) -> bool {
    let nonempty = |l: &Option<Vec<LinuxThrottleDevice>>| l.as_ref().is_some_and(|l| !l.is_empty());
    b.weight().is_some()
        || b.leaf_weight().is_some()
        || b.weight_device().as_ref().is_some_and(|l| !l.is_empty())
        || nonempty(b.throttle_read_bps_device())
        || nonempty(b.throttle_write_bps_device())
        || nonempty(b.throttle_read_iops_device())
        || nonempty(b.throttle_write_iops_device())
}

/// One throttle list: spec name, v1 file suffix, v2 io.max key, entries.
type Throttle<'a> = (
    &'static str,
    &'static str,
    &'static str,
    &'a [LinuxThrottleDevice],
);

/// The four throttle lists.
fn throttles(b: &LinuxBlockIo) -> [Throttle<'_>; 4] {
    fn l(v: &Option<Vec<LinuxThrottleDevice>>) -> &[LinuxThrottleDevice] {
        v.as_deref().unwrap_or(&[])
    }
    [
        (
            "throttleReadBpsDevice",
            "read_bps_device",
            "rbps",
            l(b.throttle_read_bps_device()),
        ),
        (
            "throttleWriteBpsDevice",
            "write_bps_device",
            "wbps",
            l(b.throttle_write_bps_device()),
        ),
        (
            "throttleReadIOPSDevice",
            "read_iops_device",
            "riops",
            l(b.throttle_read_iops_device()),
        ),
        (
            "throttleWriteIOPSDevice",
            "write_iops_device",
            "wiops",
            l(b.throttle_write_iops_device()),
        ),
    ]
}

/// Applies the blockIO section.
pub(super) fn apply(t: &Target<'_>, b: &LinuxBlockIo) -> Result<()> {
    if !wants(b) {
        return Ok(());
    }
    let dir = t.dir("blkio", "io", FIELD)?;
    if t.v2() {
        v2(&dir, b)
    } else {
        v1(&dir, b)
    }
}

/// The first of `names` that exists in `dir`.
fn first_existing<'n>(dir: &Path, names: &[&'n str], field: &str) -> Result<&'n str> {
    names
        .iter()
        .find(|n| dir.join(n).exists())
        .copied()
        .ok_or_else(|| {
            RuntimeError::Spec(format!(
                "{field}: this kernel has no {} in {} (no proportional-weight I/O scheduler)",
                names.join(" or "),
                dir.display()
            ))
        })
}

fn v1(dir: &Path, b: &LinuxBlockIo) -> Result<()> {
    if let Some(w) = b.weight() {
        let field = format!("{FIELD}.weight");
        let file = first_existing(dir, &["blkio.weight", "blkio.bfq.weight"], &field)?;
        write_in(dir, file, &w.to_string(), &field)?;
    }
    if let Some(w) = b.leaf_weight() {
        write_in(
            dir,
            "blkio.leaf_weight",
            &w.to_string(),
            &format!("{FIELD}.leafWeight"),
        )?;
    }
    for (i, d) in b.weight_device().iter().flatten().enumerate() {
        let field = format!("{FIELD}.weightDevice[{i}]");
        if let Some(w) = d.weight() {
            let names = ["blkio.weight_device", "blkio.bfq.weight_device"];
            let file = first_existing(dir, &names, &field)?;
            write_in(
                dir,
                file,
                &format!("{}:{} {w}", d.major(), d.minor()),
                &field,
            )?;
        }
        if let Some(w) = d.leaf_weight() {
            let line = format!("{}:{} {w}", d.major(), d.minor());
            write_in(dir, "blkio.leaf_weight_device", &line, &field)?;
        }
    }
    for (name, suffix, _, list) in throttles(b) {
        for (i, d) in list.iter().enumerate() {
            let field = format!("{FIELD}.{name}[{i}]");
            let line = format!("{}:{} {}", d.major(), d.minor(), d.rate());
            write_in(dir, &format!("blkio.throttle.{suffix}"), &line, &field)?;
        }
    }
    Ok(())
}

fn v2(dir: &Path, b: &LinuxBlockIo) -> Result<()> {
    if b.leaf_weight().is_some()
        || b.weight_device()
            .iter()
            .flatten()
            .any(|d| d.leaf_weight().is_some())
    {
        return Err(RuntimeError::Spec(format!(
            "{FIELD}.leafWeight: cgroup v2 has no leaf weights"
        )));
    }
    // io.weight is the v2 scale; io.bfq.weight (BFQ) keeps the v1 scale.
    let weight_file = |field: &str| first_existing(dir, &["io.weight", "io.bfq.weight"], field);
    let scaled = |file: &str, w: u16| {
        if file == "io.weight" {
            blkio_to_io_weight(w)
        } else {
            u64::from(w)
        }
    };
    if let Some(w) = b.weight() {
        let field = format!("{FIELD}.weight");
        let file = weight_file(&field)?;
        write_in(dir, file, &format!("default {}", scaled(file, w)), &field)?;
    }
    for (i, d) in b.weight_device().iter().flatten().enumerate() {
        let field = format!("{FIELD}.weightDevice[{i}]");
        if let Some(w) = d.weight() {
            let file = weight_file(&field)?;
            let line = format!("{}:{} {}", d.major(), d.minor(), scaled(file, w));
            write_in(dir, file, &line, &field)?;
        }
    }
    // One io.max line per device with every key the spec sets for it.
    let mut lines: BTreeMap<(i64, i64), Vec<String>> = BTreeMap::new();
    for (_, _, key, list) in throttles(b) {
        for d in list {
            let v = if d.rate() == 0 {
                "max".to_string()
            } else {
                d.rate().to_string()
            };
            lines
                .entry((d.major(), d.minor()))
                .or_default()
                .push(format!("{key}={v}"));
        }
    }
    for ((major, minor), keys) in lines {
        let line = format!("{major}:{minor} {}", keys.join(" "));
        write_in(
            dir,
            "io.max",
            &line,
            &format!("{FIELD}.throttle* for {major}:{minor}"),
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weights_scale() {
        assert_eq!(blkio_to_io_weight(10), 1);
        assert_eq!(blkio_to_io_weight(1000), 10_000);
        assert_eq!(blkio_to_io_weight(500), 4950);
    }
}
