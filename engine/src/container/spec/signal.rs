//! Signal names for `--stop-signal` and the image's `StopSignal`: numbers,
//! names with or without `SIG` in any case, `RTMIN+n` and `RTMAX-n`, as
//! podman's `ParseSignalNameOrNumber` takes them.

use super::error::{Result, SpecError};

const NAMES: [(&str, i32); 31] = [
    ("HUP", libc::SIGHUP),
    ("INT", libc::SIGINT),
    ("QUIT", libc::SIGQUIT),
    ("ILL", libc::SIGILL),
    ("TRAP", libc::SIGTRAP),
    ("ABRT", libc::SIGABRT),
    ("IOT", libc::SIGIOT),
    ("BUS", libc::SIGBUS),
    ("FPE", libc::SIGFPE),
    ("KILL", libc::SIGKILL),
    ("USR1", libc::SIGUSR1),
    ("SEGV", libc::SIGSEGV),
    ("USR2", libc::SIGUSR2),
    ("PIPE", libc::SIGPIPE),
    ("ALRM", libc::SIGALRM),
    ("TERM", libc::SIGTERM),
    ("STKFLT", libc::SIGSTKFLT),
    ("CHLD", libc::SIGCHLD),
    ("CONT", libc::SIGCONT),
    ("STOP", libc::SIGSTOP),
    ("TSTP", libc::SIGTSTP),
    ("TTIN", libc::SIGTTIN),
    ("TTOU", libc::SIGTTOU),
    ("URG", libc::SIGURG),
    ("XCPU", libc::SIGXCPU),
    ("XFSZ", libc::SIGXFSZ),
    ("VTALRM", libc::SIGVTALRM),
    ("PROF", libc::SIGPROF),
    ("WINCH", libc::SIGWINCH),
    ("IO", libc::SIGIO),
    ("PWR", libc::SIGPWR),
];

/// The signal number of `v`; `flag` names the source in errors.
pub fn parse(flag: &'static str, v: &str) -> Result<i32> {
    // podman 5's `invalid signal: NAME`, after the flag.
    let bad = || SpecError::invalid(flag, v, format!("invalid signal: {v}"));
    let (min, max) = (libc::SIGRTMIN(), libc::SIGRTMAX());
    if let Ok(n) = v.parse::<i32>() {
        return if (1..=max).contains(&n) {
            Ok(n)
        } else {
            Err(bad())
        };
    }
    let up = v.trim().to_ascii_uppercase();
    let name = up.strip_prefix("SIG").unwrap_or(&up);
    if let Some((_, n)) = NAMES.iter().find(|(s, _)| *s == name) {
        return Ok(*n);
    }
    let rt = |base: i32, rest: &str, sign: i32| -> Result<i32> {
        let off: i32 = if rest.is_empty() {
            0
        } else {
            rest.parse().map_err(|_| bad())?
        };
        let n = base + sign * off;
        if (min..=max).contains(&n) {
            Ok(n)
        } else {
            Err(bad())
        }
    };
    if let Some(rest) = name.strip_prefix("RTMIN") {
        return rt(min, rest.strip_prefix('+').unwrap_or(rest), 1);
    }
    if let Some(rest) = name.strip_prefix("RTMAX") {
        return rt(max, rest.strip_prefix('-').unwrap_or(rest), -1);
    }
    Err(bad())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_numbers_and_realtime() {
        assert_eq!(parse("--stop-signal", "SIGTERM").unwrap(), 15);
        assert_eq!(parse("--stop-signal", "term").unwrap(), 15);
        assert_eq!(parse("--stop-signal", "9").unwrap(), 9);
        assert_eq!(
            parse("--stop-signal", "SIGRTMIN+2").unwrap(),
            libc::SIGRTMIN() + 2
        );
        assert_eq!(
            parse("--stop-signal", "RTMAX-1").unwrap(),
            libc::SIGRTMAX() - 1
        );
        assert_eq!(parse("--stop-signal", "RTMIN").unwrap(), libc::SIGRTMIN());
        for bad in ["0", "99", "SIGFOO", "RTMIN+99", ""] {
            let e = parse("--stop-signal", bad).unwrap_err().to_string();
            assert!(e.starts_with("invalid --stop-signal"), "{bad}: {e}");
        }
    }
}
