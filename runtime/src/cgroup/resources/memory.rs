//! linux.resources.memory: v1 memory.limit_in_bytes / memsw / soft limit /
//! swappiness / oom_control, v2 memory.max / memory.swap.max / memory.low.

use std::path::Path;

use oci_spec::runtime::LinuxMemory;

use super::target::{read, write_in, Target};
use crate::error::{Result, RuntimeError};

const FIELD: &str = "linux.resources.memory";

/// Applies the memory section.
pub(super) fn apply(t: &Target<'_>, m: &LinuxMemory) -> Result<()> {
    for (name, v) in [("kernel", m.kernel()), ("kernelTCP", m.kernel_tcp())] {
        if v.is_some() {
            eprintln!(
                "husk-runtime: warning: {FIELD}.{name} is deprecated by the runtime spec and ignored \
                 (recent kernels have no separate kernel-memory limit)"
            );
        }
    }
    let wants = m.limit().is_some()
        || m.swap().is_some()
        || m.reservation().is_some()
        || m.swappiness().is_some()
        || m.disable_oom_killer() == Some(true);
    if !wants {
        return Ok(());
    }
    if t.v2() {
        v2(t, m)
    } else {
        v1(t, m)
    }
}

/// A byte value for a v2 file: -1 is "max".
fn v2_bytes(v: i64) -> String {
    if v < 0 {
        "max".into()
    } else {
        v.to_string()
    }
}

fn v2(t: &Target<'_>, m: &LinuxMemory) -> Result<()> {
    let dir = t.dir("memory", "memory", FIELD)?;
    if let Some(s) = m.swappiness() {
        return Err(RuntimeError::Spec(format!(
            "{FIELD}.swappiness ({s}): cgroup v2 has no per-cgroup swappiness"
        )));
    }
    if m.disable_oom_killer() == Some(true) {
        return Err(RuntimeError::Spec(format!(
            "{FIELD}.disableOOMKiller: cgroup v2 cannot disable the OOM killer for a cgroup"
        )));
    }
    if let Some(l) = m.limit() {
        write_in(&dir, "memory.max", &v2_bytes(l), &format!("{FIELD}.limit"))?;
    }
    if let Some(s) = m.swap() {
        // The spec's swap is memory+swap; v2 limits swap alone.
        let value = match (s, m.limit()) {
            (-1, _) => "max".to_string(),
            (s, Some(l)) if l > 0 => (s - l).to_string(),
            _ => "max".to_string(),
        };
        let field = format!("{FIELD}.swap");
        if !dir.join("memory.swap.max").exists() {
            return Err(RuntimeError::Spec(format!(
                "{field}: this kernel does no swap accounting (no memory.swap.max)"
            )));
        }
        write_in(&dir, "memory.swap.max", &value, &field)?;
    }
    if let Some(r) = m.reservation() {
        // -1 (no soft limit) is v2's default: no protection.
        let value = if r < 0 {
            "0".to_string()
        } else {
            r.to_string()
        };
        write_in(&dir, "memory.low", &value, &format!("{FIELD}.reservation"))?;
    }
    Ok(())
}

/// Parses a v1 byte file; the "unlimited" page-rounded maximum stays large.
fn v1_current(dir: &Path, name: &str) -> Option<i64> {
    read(&dir.join(name)).and_then(|s| s.parse().ok())
}

fn v1(t: &Target<'_>, m: &LinuxMemory) -> Result<()> {
    let dir = t.dir("memory", "memory", FIELD)?;
    let memsw = dir.join("memory.memsw.limit_in_bytes");
    let mut swap = m.swap();
    // Unlimited memory with no swap given: lift memory+swap too, or the
    // kernel refuses a memory limit above the memory+swap one.
    if m.limit() == Some(-1) && swap.is_none() && memsw.exists() {
        swap = Some(-1);
    }
    if swap.is_some_and(|s| s != -1) && !memsw.exists() {
        return Err(RuntimeError::Spec(format!(
            "{FIELD}.swap: this kernel does no swap accounting (no memory.memsw.limit_in_bytes)"
        )));
    }
    let limit_field = format!("{FIELD}.limit");
    let swap_field = format!("{FIELD}.swap");
    let big = |v: i64| if v < 0 { i64::MAX } else { v };
    match (m.limit(), swap.filter(|_| memsw.exists())) {
        (Some(l), Some(s)) => {
            // memory <= memory+swap must hold after each write.
            let cur_sw = v1_current(&dir, "memory.memsw.limit_in_bytes").unwrap_or(i64::MAX);
            let limit = ("memory.limit_in_bytes", l, &limit_field);
            let memsw = ("memory.memsw.limit_in_bytes", s, &swap_field);
            // Raising past the current memory+swap: that one goes first.
            let order = if big(l) > cur_sw {
                [memsw, limit]
            } else {
                [limit, memsw]
            };
            for (file, value, field) in order {
                write_in(&dir, file, &value.to_string(), field)?;
            }
        }
        (Some(l), None) => {
            write_in(&dir, "memory.limit_in_bytes", &l.to_string(), &limit_field)?;
        }
        (None, Some(s)) => {
            write_in(
                &dir,
                "memory.memsw.limit_in_bytes",
                &s.to_string(),
                &swap_field,
            )?;
        }
        (None, None) => {}
    }
    if let Some(r) = m.reservation() {
        write_in(
            &dir,
            "memory.soft_limit_in_bytes",
            &r.to_string(),
            &format!("{FIELD}.reservation"),
        )?;
    }
    if let Some(s) = m.swappiness() {
        write_in(
            &dir,
            "memory.swappiness",
            &s.to_string(),
            &format!("{FIELD}.swappiness"),
        )?;
    }
    if let Some(d) = m.disable_oom_killer() {
        write_in(
            &dir,
            "memory.oom_control",
            if d { "1" } else { "0" },
            &format!("{FIELD}.disableOOMKiller"),
        )?;
    }
    Ok(())
}
