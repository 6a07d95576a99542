//! Freezing and thawing: v1's freezer.state, v2's cgroup.freeze.

use std::path::Path;
use std::time::{Duration, Instant};

use crate::error::{Result, RuntimeError, SysContext};

const TIMEOUT: Duration = Duration::from_secs(10);

fn wait_until(dir: &Path, what: &str, done: impl Fn() -> bool) -> Result<()> {
    let deadline = Instant::now() + TIMEOUT;
    while !done() {
        if Instant::now() > deadline {
            return Err(RuntimeError::Init(format!(
                "cgroup {} did not become {what} within {}s",
                dir.display(),
                TIMEOUT.as_secs()
            )));
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    Ok(())
}

/// cgroup v1: writes FROZEN or THAWED and waits for the state to settle.
pub fn v1(dir: &Path, frozen: bool) -> Result<()> {
    let want = if frozen { "FROZEN" } else { "THAWED" };
    let file = dir.join("freezer.state");
    std::fs::write(&file, want).ctx(|| format!("writing {want} to {}", file.display()))?;
    wait_until(dir, want, || {
        std::fs::read_to_string(&file).is_ok_and(|s| s.trim() == want)
    })
}

/// cgroup v2: writes cgroup.freeze and waits for cgroup.events to agree.
pub fn v2(dir: &Path, frozen: bool) -> Result<()> {
    let file = dir.join("cgroup.freeze");
    let v = if frozen { "1" } else { "0" };
    std::fs::write(&file, v).ctx(|| format!("writing {v} to {}", file.display()))?;
    let events = dir.join("cgroup.events");
    let want = format!("frozen {v}");
    wait_until(dir, if frozen { "frozen" } else { "thawed" }, || {
        std::fs::read_to_string(&events).is_ok_and(|s| s.lines().any(|l| l.trim() == want))
    })
}
