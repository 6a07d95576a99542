//! Waiting for a container process as its parent (or subreaper), forwarding
//! the signals the runtime receives, as `runc run` does.

use nix::sys::signal::{kill, SigSet, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;

use crate::error::{Result, SysContext};

/// Signals `run` forwards to the container instead of acting on them.
const FORWARDED: [Signal; 7] = [
    Signal::SIGINT,
    Signal::SIGTERM,
    Signal::SIGHUP,
    Signal::SIGQUIT,
    Signal::SIGUSR1,
    Signal::SIGUSR2,
    Signal::SIGWINCH,
];

/// Makes this process the subreaper of its descendants, so a container that
/// was forked by an intermediate process still reports its exit here.
pub fn become_subreaper() -> Result<()> {
    // SAFETY: prctl with integer arguments only.
    if unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) } != 0 {
        return Err(crate::RuntimeError::sys(
            "becoming child subreaper",
            std::io::Error::last_os_error(),
        ));
    }
    Ok(())
}

/// Blocks the forwarded signals and SIGCHLD so `wait_forwarding` can take them
/// synchronously. Call before the container can exit.
pub fn block_signals() -> Result<SigSet> {
    let mut set = SigSet::empty();
    for s in FORWARDED {
        set.add(s);
    }
    set.add(Signal::SIGCHLD);
    set.thread_block().ctx(|| "blocking signals".into())?;
    Ok(set)
}

/// The exit code of a wait status: the code, or 128 + signal.
pub fn exit_code(st: WaitStatus) -> Option<i32> {
    match st {
        WaitStatus::Exited(_, c) => Some(c),
        WaitStatus::Signaled(_, s, _) => Some(128 + s as i32),
        _ => None,
    }
}

/// Waits for `pid` to exit, forwarding signals in `set` to it and reaping
/// any other children on the way. Returns its exit code.
pub fn wait_forwarding(pid: Pid, set: &SigSet) -> Result<i32> {
    loop {
        loop {
            match waitpid(None, Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::StillAlive) => break,
                Ok(st) => {
                    if st.pid() == Some(pid) {
                        if let Some(c) = exit_code(st) {
                            return Ok(c);
                        }
                    }
                }
                Err(nix::errno::Errno::ECHILD) => {
                    return Err(crate::RuntimeError::Init(format!(
                        "lost track of container process {pid}"
                    )))
                }
                Err(nix::errno::Errno::EINTR) => {}
                Err(e) => return Err(crate::RuntimeError::sys("waiting for the container", e)),
            }
        }
        let sig = set.wait().ctx(|| "waiting for signals".into())?;
        if sig != Signal::SIGCHLD {
            let _ = kill(pid, sig);
        }
    }
}
