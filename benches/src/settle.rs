//! Waiting out an engine's leftover work between timed runs.
//!
//! A `run --rm` can return while processes it started still run: podman's
//! conmon runs `podman container cleanup`, husk's shim ends. On a 2-core
//! machine that work competes with the next engine's timed run, so in an
//! interleaved benchmark one engine's tail would be billed to another.
//! After each run the benchmark waits until every process started since
//! the run began is gone (kernel threads and the engines' long-lived
//! namespace holders aside), and reports that wait as the engine's tail.

use std::fs;
use std::time::{Duration, Instant};

/// Long-lived helpers an engine starts once and keeps: husk's user
/// namespace holder and rootless podman's pause process.
const KEPT: &[&str] = &["husk-userns", "catatonit"];

/// `PF_KTHREAD` in /proc/PID/stat's flags.
const PF_KTHREAD: u64 = 0x0020_0000;

/// The longest wait for leftovers; whatever outlives it is not waited for.
const CAP: Duration = Duration::from_secs(3);

/// Time since boot in clock ticks (the unit of /proc/PID/stat starttime).
pub fn now_ticks() -> u64 {
    let text = fs::read_to_string("/proc/uptime").unwrap_or_default();
    let secs: f64 = text
        .split_whitespace()
        .next()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0.0);
    // SAFETY: sysconf has no memory effects.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
    (secs * hz) as u64
}

/// A process's (comm, state, flags, starttime) from its stat line.
fn parse_stat(text: &str) -> Option<(&str, &str, u64, u64)> {
    let open = text.find('(')?;
    let close = text.rfind(')')?;
    let comm = &text[open + 1..close];
    let rest: Vec<&str> = text[close + 2..].split(' ').collect();
    // After comm: state is field 3, flags 9, starttime 22.
    let flags = rest.get(9 - 3)?.parse().ok()?;
    let start = rest.get(22 - 3)?.parse().ok()?;
    Some((comm, rest.first()?, flags, start))
}

/// Pids of live user processes started at or after `since` (ticks), other
/// than this one and the [`KEPT`] helpers.
fn started_since(since: u64) -> Vec<u32> {
    let me = std::process::id();
    let Ok(dir) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|&pid| pid != me)
        .filter(|pid| {
            let Ok(text) = fs::read_to_string(format!("/proc/{pid}/stat")) else {
                return false;
            };
            parse_stat(&text).is_some_and(|(comm, state, flags, start)| {
                start >= since && state != "Z" && flags & PF_KTHREAD == 0 && !KEPT.contains(&comm)
            })
        })
        .collect()
}

/// Waits until the processes started since `since` (ticks) are gone, at
/// most [`CAP`]; returns how long that took in ms.
pub fn settle(since: u64) -> f64 {
    let t = Instant::now();
    while !started_since(since).is_empty() && t.elapsed() < CAP {
        std::thread::sleep(Duration::from_micros(500));
    }
    t.elapsed().as_secs_f64() * 1e3
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_comm_flags_and_start_time() {
        let line =
            "4242 (a (b) c) S 1 4242 4242 0 -1 4194560 99 0 0 0 0 0 0 0 20 0 1 0 777 1000 10";
        assert_eq!(parse_stat(line), Some(("a (b) c", "S", 4194560, 777)));
        assert_eq!(parse_stat("garbage"), None);
    }

    #[test]
    fn waits_for_a_child_started_since() {
        let since = now_ticks();
        let (tx, rx) = std::sync::mpsc::channel();
        let waiter = std::thread::spawn(move || {
            let mut child = std::process::Command::new("sleep")
                .arg("0.3")
                .spawn()
                .unwrap();
            tx.send(()).unwrap();
            child.wait().unwrap()
        });
        rx.recv().unwrap();
        let waited = settle(since);
        assert!(waiter.join().unwrap().success());
        assert!(
            waited >= 250.0,
            "settled after {waited} ms with a sleep 0.3 running"
        );
        // It returns once the sleep is gone, unless some other process of
        // the machine, started meanwhile, still runs.
        assert!(
            waited < 2900.0 || !started_since(since).is_empty(),
            "waited {waited} ms with nothing left running"
        );
    }
}
