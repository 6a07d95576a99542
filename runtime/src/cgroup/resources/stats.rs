//! Reading back what the limits did: the OOM-kill count and usage figures
//! for `events --stats`.

use std::path::{Path, PathBuf};

use serde_json::{json, Map, Value};

use crate::cgroup::Cgroup;

/// The directory of `v1` controller (v1/hybrid) or the unified one (pure v2).
fn dir(cg: &Cgroup, v1: &str) -> Option<PathBuf> {
    if cg.unified_controllers {
        cg.unified.clone()
    } else {
        cg.v1.get(v1).cloned()
    }
}

fn text(p: &Path) -> Option<String> {
    std::fs::read_to_string(p).ok()
}

fn number(p: &Path) -> Option<u64> {
    text(p)?.trim().parse().ok()
}

/// The value of `key` in a flat-keyed file ("key value" lines).
fn keyed(p: &Path, key: &str) -> Option<u64> {
    text(p)?.lines().find_map(|l| {
        let (k, v) = l.split_once(' ')?;
        (k == key).then(|| v.trim().parse().ok()).flatten()
    })
}

/// How many times the OOM killer killed a process of the cgroup: v2
/// memory.events, v1 memory.oom_control ("oom_kill N", kernel 4.13+).
pub fn memory_events(cg: &Cgroup) -> Option<u64> {
    let d = dir(cg, "memory")?;
    if cg.unified_controllers {
        keyed(&d.join("memory.events"), "oom_kill")
    } else {
        keyed(&d.join("memory.oom_control"), "oom_kill")
    }
}

/// A limit file: "max" (v2) or the v1 near-`i64::MAX` unlimited value is 0.
fn limit(p: &Path) -> Option<u64> {
    let t = text(p)?;
    let t = t.trim();
    if t == "max" {
        return Some(0);
    }
    t.parse::<u64>().ok().map(|v| {
        if v >= (i64::MAX as u64) & !0xfff {
            0
        } else {
            v
        }
    })
}

fn insert(m: &mut Map<String, Value>, key: &str, v: Option<u64>) {
    if let Some(v) = v {
        m.insert(key.into(), json!(v));
    }
}

/// Usage figures shaped like runc's `events --stats` data: cpu usage in
/// nanoseconds, memory usage and limit in bytes (0 = unlimited), the OOM-kill
/// count and the pids count and limit. Fields the host lacks are left out.
pub fn stats(cg: &Cgroup) -> Value {
    let v2 = cg.unified_controllers;
    let mut cpu = Map::new();
    if let Some(d) = dir(cg, "cpuacct") {
        if v2 {
            let f = d.join("cpu.stat");
            let ns = |k| keyed(&f, k).map(|us| us * 1000);
            insert(&mut cpu, "total", ns("usage_usec"));
            insert(&mut cpu, "user", ns("user_usec"));
            insert(&mut cpu, "kernel", ns("system_usec"));
        } else {
            insert(&mut cpu, "total", number(&d.join("cpuacct.usage")));
            // cpuacct.stat counts USER_HZ (100 Hz) ticks.
            let f = d.join("cpuacct.stat");
            let ns = |k| keyed(&f, k).map(|t| t * 10_000_000);
            insert(&mut cpu, "user", ns("user"));
            insert(&mut cpu, "kernel", ns("system"));
        }
    }
    let mut mem = Map::new();
    if let Some(d) = dir(cg, "memory") {
        let (usage, lim, max) = if v2 {
            ("memory.current", "memory.max", "memory.peak")
        } else {
            (
                "memory.usage_in_bytes",
                "memory.limit_in_bytes",
                "memory.max_usage_in_bytes",
            )
        };
        insert(&mut mem, "usage", number(&d.join(usage)));
        insert(&mut mem, "limit", limit(&d.join(lim)));
        insert(&mut mem, "max", number(&d.join(max)));
    }
    let mut pids = Map::new();
    if let Some(d) = dir(cg, "pids") {
        insert(&mut pids, "current", number(&d.join("pids.current")));
        insert(&mut pids, "limit", limit(&d.join("pids.max")));
    }
    let mut out = json!({
        "cpu": {"usage": cpu},
        "memory": {"usage": mem},
        "pids": pids,
    });
    if let Some(n) = memory_events(cg) {
        out["memory"]["oom_kill"] = json!(n);
    }
    out
}
