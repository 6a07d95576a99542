//! `events`: runc's JSON lines of container statistics and OOM kills.

use std::time::Duration;

use anyhow::{bail, Context, Result};
use husk_runtime::cgroup::resources;
use husk_runtime::container;
use husk_runtime::state::{StateRoot, Status};

use super::commands::EventsArgs;

fn parse_interval(s: &str) -> Result<Duration> {
    let n = s.strip_suffix('s').unwrap_or(s);
    let secs: f64 = n
        .parse()
        .with_context(|| format!("--interval {s:?}: expected seconds, like 5 or 5s"))?;
    if !(secs > 0.0 && secs.is_finite()) {
        bail!("--interval {s:?} must be positive");
    }
    Ok(Duration::from_secs_f64(secs))
}

/// Runs `events`; returns the exit status.
pub fn run(root: &StateRoot, a: &EventsArgs) -> Result<i32> {
    let interval = parse_interval(&a.interval)?;
    let (st, status) = container::load(root, &a.id)?;
    if status == Status::Stopped {
        bail!("container {:?} is stopped: no events", a.id);
    }
    if st.cgroup.is_empty() {
        bail!(
            "container {:?} has no cgroup (rootless without a delegated cgroup): no statistics",
            a.id
        );
    }
    let line = |kind: &str, data: serde_json::Value| {
        serde_json::json!({"type": kind, "id": a.id, "data": data}).to_string()
    };
    if a.stats {
        println!("{}", line("stats", resources::stats(&st.cgroup)));
        return Ok(0);
    }
    let mut ooms = resources::memory_events(&st.cgroup).unwrap_or(0);
    loop {
        let (_, status) = container::load(root, &a.id)?;
        if status == Status::Stopped {
            return Ok(0);
        }
        let now = resources::memory_events(&st.cgroup).unwrap_or(ooms);
        if now > ooms {
            println!("{}", line("oom", serde_json::Value::Null));
            ooms = now;
        }
        println!("{}", line("stats", resources::stats(&st.cgroup)));
        std::thread::sleep(interval);
    }
}
