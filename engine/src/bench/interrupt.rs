//! Ctrl-C and SIGTERM stop the benchmark between commands instead of
//! killing it outright, so it still deletes the containers, cgroups and
//! private stores it made.

use std::sync::atomic::{AtomicBool, Ordering};

use super::BenchError;

static STOP: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_: libc::c_int) {
    STOP.store(true, Ordering::Relaxed);
}

/// Installs the handler for SIGINT and SIGTERM (without SA_RESTART: a
/// blocked wait returns EINTR and the benchmark looks at the flag soon).
pub fn install() -> Result<(), BenchError> {
    for sig in [libc::SIGINT, libc::SIGTERM] {
        // SAFETY: sigaction is plain data; zero is a valid start (empty
        // mask, no flags).
        let mut sa: libc::sigaction = unsafe { std::mem::zeroed() };
        sa.sa_sigaction = on_signal as *const () as libc::sighandler_t;
        // SAFETY: the handler only stores to an atomic, which is
        // async-signal-safe; sa is a valid sigaction.
        if unsafe { libc::sigaction(sig, &sa, std::ptr::null_mut()) } != 0 {
            return Err(BenchError::Sys {
                what: "installing the interrupt handler",
                source: std::io::Error::last_os_error(),
            });
        }
    }
    Ok(())
}

/// Whether the user asked the benchmark to stop.
pub fn requested() -> bool {
    STOP.load(Ordering::Relaxed)
}
