//! husk's own pid 1 for `--init` (podman uses catatonit): a few syscalls
//! in a loop, reached from the `husk` binary itself.
//!
//! The spec bind-mounts the husk binary read-only at [`INIT_PATH`] and
//! runs `/run/husk-init -- CMD...`; `main` sees argv[0] end in
//! [`INIT_ARGV0`] and calls [`init_main`] before anything else, so the
//! image needs nothing and little memory is touched.
//!
//! What it does:
//! - blocks every signal, forks the command and waits in sigwaitinfo(2)
//!   (blocked signals reach a namespace's pid 1 whether or not it has
//!   handlers);
//! - forwards every catchable signal it receives to the command (SIGCHLD,
//!   the synchronous fault signals and SIGTTIN/SIGTTOU excepted);
//! - reaps every child, its own and the orphans re-parented to it;
//! - exits when the command exits, with its status, or 128+n when it was
//!   killed by signal n.
//!
//! The command runs in a process group of its own which, when stdin is a
//! terminal, becomes the terminal's foreground group: a Ctrl-C on the tty
//! then reaches the command once, from the kernel, not twice.

use std::ffi::{CString, OsString};
use std::os::unix::ffi::OsStringExt;
use std::process::ExitCode;

/// Where the spec mounts the husk binary for `--init`.
pub const INIT_PATH: &str = "/run/husk-init";

/// The argv[0] file name that selects init mode in `main`.
pub const INIT_ARGV0: &str = "husk-init";

/// Whether argv[0] asks for the init (its file name is [`INIT_ARGV0`]).
pub fn is_init_argv0(argv0: &std::ffi::OsStr) -> bool {
    std::path::Path::new(argv0)
        .file_name()
        .is_some_and(|n| n == INIT_ARGV0)
}

/// Exit status when the command could not be started (not found): 127.
pub const EXIT_NOT_FOUND: u8 = 127;
/// Exit status when the command could not be executed otherwise: 126.
pub const EXIT_CANNOT_EXEC: u8 = 126;
/// Exit status for a usage error (no command after `--`).
pub const EXIT_USAGE: u8 = 125;

fn write_err(msg: &[u8]) {
    // SAFETY: write(2) on fd 2 with a valid buffer and its length.
    unsafe { libc::write(2, msg.as_ptr().cast(), msg.len()) };
}

/// Runs the init: `args` is the whole argv (`/run/husk-init -- CMD ARGS`).
pub fn init_main(args: impl IntoIterator<Item = OsString>) -> ExitCode {
    let mut args = args.into_iter().skip(1).peekable();
    if args.peek().is_some_and(|a| a == "--") {
        args.next();
    }
    let argv: Vec<CString> = match args.map(|a| CString::new(a.into_vec())).collect() {
        Ok(v) => v,
        Err(_) => {
            write_err(b"husk-init: an argument holds a NUL byte\n");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    if argv.is_empty() {
        write_err(b"husk-init: usage: husk-init -- COMMAND [ARG...]\n");
        return ExitCode::from(EXIT_USAGE);
    }
    let mut ptrs: Vec<*const libc::c_char> = argv.iter().map(|a| a.as_ptr()).collect();
    ptrs.push(std::ptr::null());
    ExitCode::from(run(&ptrs))
}

fn full_set() -> libc::sigset_t {
    // SAFETY: sigset_t is plain data; sigfillset initialises it fully.
    unsafe {
        let mut s: libc::sigset_t = std::mem::zeroed();
        libc::sigfillset(&mut s);
        s
    }
}

/// Forks the command (`argv` NULL-terminated) and supervises it; returns
/// the exit status.
fn run(argv: &[*const libc::c_char]) -> u8 {
    let all = full_set();
    // SAFETY: sigset_t is plain data, filled in by sigprocmask.
    let mut old: libc::sigset_t = unsafe { std::mem::zeroed() };
    // SAFETY: both sets are valid; blocking signals has no memory effects.
    unsafe { libc::sigprocmask(libc::SIG_SETMASK, &all, &mut old) };
    // SAFETY: fork in a single-threaded process (init runs before main
    // starts any thread); the child only makes async-signal-safe calls.
    let child = unsafe { libc::fork() };
    if child < 0 {
        write_err(b"husk-init: fork failed\n");
        return EXIT_CANNOT_EXEC;
    }
    if child == 0 {
        exec_child(argv);
    }
    supervise(child, &all)
}

/// In the child: own process group (the terminal's foreground one when
/// stdin is a tty), default signal dispositions (Rust's runtime ignores
/// SIGPIPE, and ignored signals survive execve), empty mask, execvp.
fn exec_child(argv: &[*const libc::c_char]) -> ! {
    // SAFETY: every call here is async-signal-safe and takes plain values
    // or the NULL-terminated argv the parent built before fork.
    unsafe {
        libc::setpgid(0, 0);
        if libc::isatty(0) == 1 {
            // Signals are still blocked, so SIGTTOU cannot stop us here.
            libc::tcsetpgrp(0, libc::getpid());
        }
        for sig in 1..libc::SIGRTMAX() {
            if sig != libc::SIGKILL && sig != libc::SIGSTOP {
                libc::signal(sig, libc::SIG_DFL);
            }
        }
        let mut empty: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut empty);
        libc::sigprocmask(libc::SIG_SETMASK, &empty, std::ptr::null_mut());
        libc::execvp(argv[0], argv.as_ptr());
        let err = *libc::__errno_location();
        write_err(b"husk-init: cannot execute the command: ");
        let msg = libc::strerror(err);
        write_err(std::ffi::CStr::from_ptr(msg).to_bytes());
        write_err(b"\n");
        libc::_exit(if err == libc::ENOENT {
            EXIT_NOT_FOUND as i32
        } else {
            EXIT_CANNOT_EXEC as i32
        });
    }
}

/// Signals pid 1 does not pass on: its own child notifications, the
/// synchronous faults (meaningful only to the thread that caused them), and
/// the terminal job-control stops meant for background readers.
fn forwarded(sig: i32) -> bool {
    !matches!(
        sig,
        libc::SIGCHLD
            | libc::SIGSEGV
            | libc::SIGBUS
            | libc::SIGILL
            | libc::SIGFPE
            | libc::SIGTRAP
            | libc::SIGABRT
            | libc::SIGSYS
            | libc::SIGTTIN
            | libc::SIGTTOU
    )
}

fn status_code(status: i32) -> u8 {
    if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status) as u8
    } else if libc::WIFSIGNALED(status) {
        128u8.wrapping_add(libc::WTERMSIG(status) as u8)
    } else {
        EXIT_CANNOT_EXEC
    }
}

/// Reaps every exited child; returns the command's status once it exited.
fn reap(child: libc::pid_t) -> Option<u8> {
    let mut out = None;
    loop {
        let mut status = 0;
        // SAFETY: waitpid writes the status int we pass.
        let pid = unsafe { libc::waitpid(-1, &mut status, libc::WNOHANG) };
        if pid <= 0 {
            return out;
        }
        if pid == child {
            out = Some(status_code(status));
        }
    }
}

fn supervise(child: libc::pid_t, set: &libc::sigset_t) -> u8 {
    loop {
        // SAFETY: siginfo_t is plain data; sigwaitinfo fills it in.
        let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
        // SAFETY: `set` and `info` are valid for the call.
        let sig = unsafe { libc::sigwaitinfo(set, &mut info) };
        if sig < 0 {
            continue; // EINTR
        }
        if sig != libc::SIGCHLD && forwarded(sig) {
            // SAFETY: kill with plain integers. ESRCH (already gone) is
            // fine: its exit is collected below.
            unsafe { libc::kill(child, sig) };
        }
        // A SIGCHLD may have been merged with others: reap on every wakeup.
        if let Some(code) = reap(child) {
            // Collect any zombies left right now; the rest die with the
            // namespace when pid 1 exits.
            let _ = reap(child);
            return code;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_its_argv0() {
        assert!(is_init_argv0("/run/husk-init".as_ref()));
        assert!(is_init_argv0("husk-init".as_ref()));
        assert!(!is_init_argv0("/usr/bin/husk".as_ref()));
        assert!(!is_init_argv0("husk-init-x".as_ref()));
    }

    #[test]
    fn statuses() {
        assert_eq!(status_code(7 << 8), 7);
        assert_eq!(status_code(libc::SIGKILL), 137);
        assert!(
            forwarded(libc::SIGTERM) && forwarded(libc::SIGWINCH) && forwarded(libc::SIGRTMIN())
        );
        assert!(!forwarded(libc::SIGCHLD) && !forwarded(libc::SIGSEGV));
    }

    #[test]
    fn usage_errors() {
        assert_eq!(
            init_main([OsString::from("husk-init")]),
            ExitCode::from(EXIT_USAGE)
        );
        assert_eq!(
            init_main(["husk-init", "--"].map(OsString::from)),
            ExitCode::from(EXIT_USAGE)
        );
    }
}
