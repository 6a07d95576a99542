//! linux.resources.cpu: shares/weight, CFS quota and period, burst, idle,
//! realtime (v1 only), and the cpuset cpus/mems.

use oci_spec::runtime::LinuxCpu;

use super::target::{read, write_in, Target};
use crate::error::{Result, RuntimeError};

const FIELD: &str = "linux.resources.cpu";

/// cgroup v1 cpu.shares to cgroup v2 cpu.weight: maps 2..=262144 onto
/// 1..=10000 linearly (the conversion runc and crun use).
pub fn shares_to_weight(shares: u64) -> u64 {
    if shares == 0 {
        return 100;
    }
    1 + (shares.saturating_sub(2) * 9999) / 262_142
}

/// The cpu.max line for `quota`/`period` given the current line.
fn cpu_max(quota: Option<i64>, period: Option<u64>, current: Option<&str>) -> String {
    let q = match quota {
        Some(q) if q > 0 => q.to_string(),
        Some(_) => "max".to_string(),
        // Period only: keep the current quota.
        None => current
            .and_then(|c| c.split_whitespace().next())
            .unwrap_or("max")
            .to_string(),
    };
    match period {
        Some(p) => format!("{q} {p}"),
        None => q,
    }
}

/// Applies the cpu section.
pub(super) fn apply(t: &Target<'_>, c: &LinuxCpu) -> Result<()> {
    let cpu_wanted = c.shares().is_some()
        || c.quota().is_some()
        || c.period().is_some()
        || c.burst().is_some()
        || c.idle().is_some()
        || c.realtime_runtime().is_some()
        || c.realtime_period().is_some();
    if cpu_wanted {
        if t.v2() {
            v2(t, c)?;
        } else {
            v1(t, c)?;
        }
    }
    cpuset(t, c)
}

fn v1(t: &Target<'_>, c: &LinuxCpu) -> Result<()> {
    let dir = t.dir("cpu", "cpu", FIELD)?;
    if let Some(s) = c.shares() {
        write_in(
            &dir,
            "cpu.shares",
            &s.to_string(),
            &format!("{FIELD}.shares"),
        )?;
    }
    if let Some(p) = c.period() {
        write_in(
            &dir,
            "cpu.cfs_period_us",
            &p.to_string(),
            &format!("{FIELD}.period"),
        )?;
    }
    if let Some(q) = c.quota() {
        write_in(
            &dir,
            "cpu.cfs_quota_us",
            &q.to_string(),
            &format!("{FIELD}.quota"),
        )?;
    }
    if let Some(b) = c.burst() {
        write_in(
            &dir,
            "cpu.cfs_burst_us",
            &b.to_string(),
            &format!("{FIELD}.burst"),
        )?;
    }
    if let Some(i) = c.idle() {
        write_in(&dir, "cpu.idle", &i.to_string(), &format!("{FIELD}.idle"))?;
    }
    if let Some(p) = c.realtime_period() {
        let field = format!("{FIELD}.realtimePeriod");
        write_in(&dir, "cpu.rt_period_us", &p.to_string(), &field)?;
    }
    if let Some(r) = c.realtime_runtime() {
        let field = format!("{FIELD}.realtimeRuntime");
        write_in(&dir, "cpu.rt_runtime_us", &r.to_string(), &field)?;
    }
    Ok(())
}

fn v2(t: &Target<'_>, c: &LinuxCpu) -> Result<()> {
    if c.realtime_runtime().is_some_and(|r| r != 0) || c.realtime_period().is_some() {
        return Err(RuntimeError::Spec(format!(
            "{FIELD}.realtimeRuntime/realtimePeriod: cgroup v2 has no realtime bandwidth control"
        )));
    }
    let dir = t.dir("cpu", "cpu", FIELD)?;
    if let Some(s) = c.shares() {
        let w = shares_to_weight(s).to_string();
        write_in(&dir, "cpu.weight", &w, &format!("{FIELD}.shares"))?;
    }
    if c.quota().is_some() || c.period().is_some() {
        let current = read(&dir.join("cpu.max"));
        let line = cpu_max(c.quota(), c.period(), current.as_deref());
        write_in(&dir, "cpu.max", &line, &format!("{FIELD}.quota/period"))?;
    }
    if let Some(b) = c.burst() {
        write_in(
            &dir,
            "cpu.max.burst",
            &b.to_string(),
            &format!("{FIELD}.burst"),
        )?;
    }
    if let Some(i) = c.idle() {
        write_in(&dir, "cpu.idle", &i.to_string(), &format!("{FIELD}.idle"))?;
    }
    Ok(())
}

fn cpuset(t: &Target<'_>, c: &LinuxCpu) -> Result<()> {
    let cpus = c.cpus().as_deref().map(str::trim).filter(|s| !s.is_empty());
    let mems = c.mems().as_deref().map(str::trim).filter(|s| !s.is_empty());
    if cpus.is_none() && mems.is_none() {
        return Ok(());
    }
    let dir = t.dir("cpuset", "cpuset", &format!("{FIELD}.cpus/mems"))?;
    // Memory nodes first: a task's cpus may only shrink to where it can run.
    if let Some(m) = mems {
        write_in(&dir, "cpuset.mems", m, &format!("{FIELD}.mems"))?;
    }
    if let Some(c) = cpus {
        write_in(&dir, "cpuset.cpus", c, &format!("{FIELD}.cpus"))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_convert_to_weight() {
        assert_eq!(shares_to_weight(2), 1);
        assert_eq!(shares_to_weight(1024), 39);
        assert_eq!(shares_to_weight(262_144), 10_000);
        assert_eq!(shares_to_weight(512), 20);
    }

    #[test]
    fn cpu_max_lines() {
        assert_eq!(cpu_max(Some(50_000), Some(100_000), None), "50000 100000");
        assert_eq!(cpu_max(Some(-1), Some(100_000), None), "max 100000");
        assert_eq!(cpu_max(Some(20_000), None, None), "20000");
        assert_eq!(
            cpu_max(None, Some(50_000), Some("30000 100000")),
            "30000 50000"
        );
    }
}
