//! husk's own pause, the process of a pod's infra container: it holds the
//! pod's namespaces open and does nothing else (podman uses catatonit -P;
//! husk needs no extra binary and no image).
//!
//! The infra's spec bind-mounts the husk binary read-only at
//! [`PAUSE_PATH`] and runs it; `main` sees argv[0] end in [`PAUSE_ARGV0`]
//! and calls [`pause_main`] before anything else, so little memory is
//! touched.
//!
//! What it does: blocks every signal and waits in sigwaitinfo(2). SIGTERM
//! and SIGINT end it (status 0, as Kubernetes' pause exits); SIGCHLD makes
//! it reap every exited child (with a shared pid namespace it is pid 1 of
//! the pod, and members' orphans are re-parented to it); everything else
//! is consumed and ignored. A namespace's pid 1 gets blocked signals queued
//! whether or not it has handlers, so no handler is installed.

use std::process::ExitCode;

/// Where the infra's spec mounts the husk binary.
pub const PAUSE_PATH: &str = "/run/husk-pause";

/// The argv[0] file name that selects pause mode in `main`.
pub const PAUSE_ARGV0: &str = "husk-pause";

/// Whether argv[0] asks for the pause (its file name is [`PAUSE_ARGV0`]).
pub fn is_pause_argv0(argv0: &std::ffi::OsStr) -> bool {
    std::path::Path::new(argv0)
        .file_name()
        .is_some_and(|n| n == PAUSE_ARGV0)
}

/// What a signal makes the pause do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    /// End with status 0.
    Exit,
    /// Reap exited children.
    Reap,
    /// Nothing.
    Ignore,
}

fn action(sig: i32) -> Action {
    match sig {
        libc::SIGTERM | libc::SIGINT => Action::Exit,
        libc::SIGCHLD => Action::Reap,
        _ => Action::Ignore,
    }
}

/// Reaps every child that has exited, without blocking.
fn reap() {
    loop {
        let mut status = 0;
        // SAFETY: waitpid writes only the status int we pass.
        if unsafe { libc::waitpid(-1, &mut status, libc::WNOHANG) } <= 0 {
            return;
        }
    }
}

/// Runs the pause until SIGTERM or SIGINT; arguments are ignored.
pub fn pause_main() -> ExitCode {
    // SAFETY: sigset_t is plain data; sigfillset initialises it fully.
    let all = unsafe {
        let mut s: libc::sigset_t = std::mem::zeroed();
        libc::sigfillset(&mut s);
        s
    };
    // SAFETY: a valid set; blocking signals has no memory effects.
    unsafe { libc::sigprocmask(libc::SIG_SETMASK, &all, std::ptr::null_mut()) };
    loop {
        // SAFETY: siginfo_t is plain data; sigwaitinfo fills it in.
        let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
        // SAFETY: `all` and `info` are valid for the call.
        let sig = unsafe { libc::sigwaitinfo(&all, &mut info) };
        match action(sig) {
            Action::Exit => {
                reap();
                return ExitCode::SUCCESS;
            }
            Action::Reap => reap(),
            // Also EINTR (-1).
            Action::Ignore => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_its_argv0() {
        assert!(is_pause_argv0(PAUSE_PATH.as_ref()));
        assert!(is_pause_argv0("husk-pause".as_ref()));
        assert!(!is_pause_argv0("/usr/bin/husk".as_ref()));
        assert!(!is_pause_argv0("/run/husk-init".as_ref()));
    }

    #[test]
    fn only_term_and_int_end_it() {
        assert_eq!(action(libc::SIGTERM), Action::Exit);
        assert_eq!(action(libc::SIGINT), Action::Exit);
        assert_eq!(action(libc::SIGCHLD), Action::Reap);
        for s in [
            libc::SIGHUP,
            libc::SIGUSR1,
            libc::SIGQUIT,
            libc::SIGWINCH,
            -1,
        ] {
            assert_eq!(action(s), Action::Ignore, "{s}");
        }
    }
}
