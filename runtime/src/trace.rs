//! Per-phase tracing of the container start path, across processes.
//!
//! Always compiled in; off unless `$HUSK_TRACE_FILE` names a file, and then
//! every process on the start path (the engine, the shim, the runtime, the
//! container's init until its execve) appends one line per phase to it:
//! `pid<TAB>phase<TAB>start_ns<TAB>end_ns`, times on CLOCK_MONOTONIC, which
//! all processes share. Each line is one `write(2)` to an `O_APPEND` file, so
//! lines from concurrent processes never interleave. When tracing is off a
//! phase costs one relaxed atomic load.
//!
//! Phase names are dotted by layer (`engine.catalog`, `runtime.clone`,
//! `init.mounts`); the engine nests them by time when it prints the trace.

use std::os::fd::RawFd;
use std::sync::atomic::{AtomicI32, Ordering};

/// Names the file trace lines are appended to.
pub const TRACE_FILE_ENV: &str = "HUSK_TRACE_FILE";

const UNKNOWN: i32 = -2;
const OFF: i32 = -1;

static FD: AtomicI32 = AtomicI32::new(UNKNOWN);

fn fd() -> RawFd {
    match FD.load(Ordering::Relaxed) {
        UNKNOWN => open_trace_file(),
        fd => fd,
    }
}

fn open_trace_file() -> RawFd {
    let fd = match std::env::var_os(TRACE_FILE_ENV).filter(|p| !p.is_empty()) {
        None => OFF,
        Some(path) => nix::fcntl::open(
            path.as_os_str(),
            nix::fcntl::OFlag::O_WRONLY
                | nix::fcntl::OFlag::O_APPEND
                | nix::fcntl::OFlag::O_CREAT
                | nix::fcntl::OFlag::O_CLOEXEC,
            nix::sys::stat::Mode::from_bits_truncate(0o600),
        )
        .unwrap_or(OFF),
    };
    FD.store(fd, Ordering::Relaxed);
    fd
}

/// Whether tracing is on. Call it once before forking so that children
/// inherit the open trace file.
pub fn enabled() -> bool {
    fd() >= 0
}

/// CLOCK_MONOTONIC in nanoseconds.
pub fn now_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes the timespec we own; CLOCK_MONOTONIC
    // always exists.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// Records a phase that ran from `start_ns` to `end_ns`.
pub fn record(phase: &str, start_ns: u64, end_ns: u64) {
    let fd = fd();
    if fd < 0 {
        return;
    }
    let line = format!("{}\t{phase}\t{start_ns}\t{end_ns}\n", std::process::id());
    // SAFETY: writes our own buffer to our own fd; a short or failed write
    // only loses a trace line.
    let _ = unsafe { libc::write(fd, line.as_ptr().cast(), line.len()) };
}

/// A phase that ends when dropped (or at [`Span::end`]).
#[derive(Debug)]
#[must_use = "a span measures until it is dropped"]
pub struct Span {
    phase: &'static str,
    start: u64,
}

/// Starts a phase (a no-op when tracing is off).
pub fn span(phase: &'static str) -> Span {
    let start = if enabled() { now_ns() } else { 0 };
    Span { phase, start }
}

impl Span {
    /// Ends the phase now.
    pub fn end(self) {}
}

impl Drop for Span {
    fn drop(&mut self) {
        if self.start != 0 {
            record(self.phase, self.start, now_ns());
        }
    }
}

/// Records a point in time (a phase of zero length), such as the moment
/// before execve.
pub fn mark(phase: &'static str) {
    if enabled() {
        let t = now_ns();
        record(phase, t, t);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn off_records_nothing_and_clock_moves() {
        // Tests run without HUSK_TRACE_FILE, so this is the "off" path.
        if std::env::var_os(TRACE_FILE_ENV).is_none() {
            assert!(!enabled());
            let s = span("x");
            assert_eq!(s.start, 0);
        }
        let a = now_ns();
        let b = now_ns();
        assert!(b >= a && a > 0);
    }
}
