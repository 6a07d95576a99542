//! Checks of `linux.resources` before anything is written: negative or absurd
//! values, malformed cpusets, page sizes and device rules are refused with a
//! message naming the spec field.

use oci_spec::runtime::{LinuxDeviceType, LinuxResources, LinuxThrottleDevice};

use crate::error::{Result, RuntimeError};

/// The smallest memory limit accepted: below this nothing can even start.
pub const MIN_MEMORY_LIMIT: i64 = 256 * 1024;
/// cgroup v1 cpu.shares bounds (the kernel clamps outside them).
pub const SHARES_RANGE: std::ops::RangeInclusive<u64> = 2..=262_144;
/// CFS period bounds in microseconds (1 ms .. 1 s).
pub const PERIOD_RANGE: std::ops::RangeInclusive<u64> = 1_000..=1_000_000;
/// The smallest CFS quota in microseconds.
pub const MIN_QUOTA: i64 = 1_000;
/// blkio weight bounds, as the runtime spec defines them (cgroup v1 scale).
pub const BLKIO_WEIGHT_RANGE: std::ops::RangeInclusive<u16> = 10..=1000;

fn bad(field: &str, why: impl std::fmt::Display) -> RuntimeError {
    RuntimeError::Spec(format!("{field}: {why}"))
}

/// Validates every value of `res`.
pub fn validate(res: &LinuxResources) -> Result<()> {
    memory(res)?;
    cpu(res)?;
    if let Some(p) = res.pids() {
        if p.limit() < -1 {
            return Err(bad(
                "linux.resources.pids.limit",
                format!("{} is negative (use -1 or 0 for unlimited)", p.limit()),
            ));
        }
    }
    block_io(res)?;
    for (i, h) in res.hugepage_limits().iter().flatten().enumerate() {
        let field = format!("linux.resources.hugepageLimits[{i}]");
        page_size(h.page_size()).map_err(|why| bad(&format!("{field}.pageSize"), why))?;
        if h.limit() < -1 {
            return Err(bad(&format!("{field}.limit"), "negative limit"));
        }
    }
    devices(res)?;
    for (i, p) in res
        .network()
        .iter()
        .flat_map(|n| n.priorities().iter().flatten())
        .enumerate()
    {
        if p.name().is_empty() || p.name().contains(char::is_whitespace) {
            return Err(bad(
                &format!("linux.resources.network.priorities[{i}].name"),
                format!("invalid interface name {:?}", p.name()),
            ));
        }
    }
    for key in res.unified().iter().flat_map(|u| u.keys()) {
        super::unified::check_key(key)?;
    }
    Ok(())
}

fn memory(res: &LinuxResources) -> Result<()> {
    let Some(m) = res.memory() else {
        return Ok(());
    };
    if let Some(l) = m.limit() {
        if l < -1 {
            return Err(bad(
                "linux.resources.memory.limit",
                format!("{l} is negative (use -1 for unlimited)"),
            ));
        }
        if l != -1 && l < MIN_MEMORY_LIMIT {
            return Err(bad(
                "linux.resources.memory.limit",
                format!("{l} bytes is too small (minimum {MIN_MEMORY_LIMIT}, 256 KiB)"),
            ));
        }
    }
    if let Some(r) = m.reservation() {
        if r < -1 {
            return Err(bad("linux.resources.memory.reservation", "negative value"));
        }
    }
    if let Some(s) = m.swap() {
        match m.limit() {
            _ if s == -1 => {}
            _ if s < -1 => {
                return Err(bad(
                    "linux.resources.memory.swap",
                    format!("{s} is negative (use -1 for unlimited)"),
                ))
            }
            Some(l) if l > 0 && s >= l => {}
            Some(l) if l > 0 => {
                return Err(bad(
                    "linux.resources.memory.swap",
                    format!("{s} is below memory.limit {l} (swap is the memory+swap total)"),
                ))
            }
            _ => {
                return Err(bad(
                    "linux.resources.memory.swap",
                    "a memory+swap limit needs memory.limit to be set too",
                ))
            }
        }
    }
    if let Some(s) = m.swappiness() {
        if s > 100 {
            return Err(bad(
                "linux.resources.memory.swappiness",
                format!("{s} is above 100"),
            ));
        }
    }
    Ok(())
}

fn cpu(res: &LinuxResources) -> Result<()> {
    let Some(c) = res.cpu() else {
        return Ok(());
    };
    if let Some(s) = c.shares() {
        if !SHARES_RANGE.contains(&s) {
            return Err(bad(
                "linux.resources.cpu.shares",
                format!(
                    "{s} is outside {}..={}",
                    SHARES_RANGE.start(),
                    SHARES_RANGE.end()
                ),
            ));
        }
    }
    if let Some(q) = c.quota() {
        if q < -1 || (q != -1 && q < MIN_QUOTA) {
            return Err(bad(
                "linux.resources.cpu.quota",
                format!("{q} µs: use -1 for unlimited or at least {MIN_QUOTA} µs"),
            ));
        }
    }
    if let Some(p) = c.period() {
        if !PERIOD_RANGE.contains(&p) {
            return Err(bad(
                "linux.resources.cpu.period",
                format!("{p} µs is outside 1000..=1000000 (1 ms to 1 s)"),
            ));
        }
    }
    if let (Some(b), Some(q)) = (c.burst(), c.quota()) {
        if q > 0 && b > q as u64 {
            return Err(bad(
                "linux.resources.cpu.burst",
                format!("{b} µs exceeds the quota {q} µs"),
            ));
        }
    }
    if let Some(i) = c.idle() {
        if i != 0 && i != 1 {
            return Err(bad(
                "linux.resources.cpu.idle",
                format!("{i} is not 0 or 1"),
            ));
        }
    }
    if let Some(r) = c.realtime_runtime() {
        if r < -1 {
            return Err(bad("linux.resources.cpu.realtimeRuntime", "negative value"));
        }
        if let Some(p) = c.realtime_period() {
            if r > 0 && r as u64 > p {
                return Err(bad(
                    "linux.resources.cpu.realtimeRuntime",
                    format!("{r} µs exceeds realtimePeriod {p} µs"),
                ));
            }
        }
    }
    if c.realtime_period() == Some(0) {
        return Err(bad(
            "linux.resources.cpu.realtimePeriod",
            "0 is not a period",
        ));
    }
    for (name, v) in [("cpus", c.cpus()), ("mems", c.mems())] {
        if let Some(v) = v {
            if !valid_cpuset(v) {
                return Err(bad(
                    &format!("linux.resources.cpu.{name}"),
                    format!("{v:?} is not a list like \"0-3,5\""),
                ));
            }
        }
    }
    Ok(())
}

/// Whether `s` is a cpuset list ("0-3,5,7-8"); the empty string (unset) too.
pub fn valid_cpuset(s: &str) -> bool {
    let s = s.trim();
    let num = |n: &str| -> Option<u32> {
        if n.is_empty() || !n.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        n.parse().ok()
    };
    s.is_empty()
        || s.split(',').all(|part| match part.split_once('-') {
            Some((a, b)) => matches!((num(a), num(b)), (Some(a), Some(b)) if a <= b),
            None => num(part).is_some(),
        })
}

/// Parses a hugepage size ("2MB", "1GB", "64KB") into bytes.
pub fn page_size(s: &str) -> std::result::Result<u64, String> {
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (n, unit) = s.split_at(split);
    let mult = match unit {
        "KB" => 1u64 << 10,
        "MB" => 1 << 20,
        "GB" => 1 << 30,
        _ => return Err(format!("{s:?} is not a size like 2MB or 1GB")),
    };
    match n.parse::<u64>() {
        Ok(v) if v > 0 && v.is_power_of_two() => Ok(v * mult),
        _ => Err(format!("{s:?} is not a power-of-two size like 2MB or 1GB")),
    }
}

fn block_io(res: &LinuxResources) -> Result<()> {
    let Some(b) = res.block_io() else {
        return Ok(());
    };
    let weight = |field: &str, w: Option<u16>| -> Result<()> {
        match w {
            Some(w) if !BLKIO_WEIGHT_RANGE.contains(&w) => {
                Err(bad(field, format!("{w} is outside 10..=1000")))
            }
            _ => Ok(()),
        }
    };
    weight("linux.resources.blockIO.weight", b.weight())?;
    weight("linux.resources.blockIO.leafWeight", b.leaf_weight())?;
    for (i, d) in b.weight_device().iter().flatten().enumerate() {
        let field = format!("linux.resources.blockIO.weightDevice[{i}]");
        dev_numbers(&field, d.major(), d.minor())?;
        weight(&format!("{field}.weight"), d.weight())?;
        weight(&format!("{field}.leafWeight"), d.leaf_weight())?;
    }
    let lists: [(&str, &Option<Vec<LinuxThrottleDevice>>); 4] = [
        ("throttleReadBpsDevice", b.throttle_read_bps_device()),
        ("throttleWriteBpsDevice", b.throttle_write_bps_device()),
        ("throttleReadIOPSDevice", b.throttle_read_iops_device()),
        ("throttleWriteIOPSDevice", b.throttle_write_iops_device()),
    ];
    for (name, list) in lists {
        for (i, d) in list.iter().flatten().enumerate() {
            let field = format!("linux.resources.blockIO.{name}[{i}]");
            dev_numbers(&field, d.major(), d.minor())?;
        }
    }
    Ok(())
}

fn dev_numbers(field: &str, major: i64, minor: i64) -> Result<()> {
    if !(0..=u32::MAX as i64).contains(&major) || !(0..=u32::MAX as i64).contains(&minor) {
        return Err(bad(field, format!("invalid device number {major}:{minor}")));
    }
    Ok(())
}

fn devices(res: &LinuxResources) -> Result<()> {
    for (i, d) in res.devices().iter().flatten().enumerate() {
        let field = format!("linux.resources.devices[{i}]");
        if matches!(d.typ(), Some(LinuxDeviceType::U | LinuxDeviceType::P)) {
            return Err(bad(
                &format!("{field}.type"),
                "device rules take a (all), b (block) or c (char)",
            ));
        }
        for (name, n) in [("major", d.major()), ("minor", d.minor())] {
            if n.is_some_and(|n| !(-1..=u32::MAX as i64).contains(&n)) {
                return Err(bad(
                    &format!("{field}.{name}"),
                    format!(
                        "{} is not a device number (-1 or absent = any)",
                        n.unwrap_or(0)
                    ),
                ));
            }
        }
        if let Some(a) = d.access() {
            if !a.chars().all(|c| matches!(c, 'r' | 'w' | 'm')) {
                return Err(bad(
                    &format!("{field}.access"),
                    format!("{a:?} may only hold r, w and m"),
                ));
            }
        }
    }
    Ok(())
}
