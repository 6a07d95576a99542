//! process.rlimits applied with setrlimit.

use oci_spec::runtime::PosixRlimit;

use crate::error::{Result, RuntimeError};

fn resource_number(r: &PosixRlimit) -> Result<libc::c_int> {
    // The spec names them RLIMIT_*; oci-spec serialises the type that way.
    let name = serde_json::to_value(r.typ())
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default();
    let n = match name.as_str() {
        "RLIMIT_CPU" => libc::RLIMIT_CPU,
        "RLIMIT_FSIZE" => libc::RLIMIT_FSIZE,
        "RLIMIT_DATA" => libc::RLIMIT_DATA,
        "RLIMIT_STACK" => libc::RLIMIT_STACK,
        "RLIMIT_CORE" => libc::RLIMIT_CORE,
        "RLIMIT_RSS" => libc::RLIMIT_RSS,
        "RLIMIT_NPROC" => libc::RLIMIT_NPROC,
        "RLIMIT_NOFILE" => libc::RLIMIT_NOFILE,
        "RLIMIT_MEMLOCK" => libc::RLIMIT_MEMLOCK,
        "RLIMIT_AS" => libc::RLIMIT_AS,
        "RLIMIT_LOCKS" => libc::RLIMIT_LOCKS,
        "RLIMIT_SIGPENDING" => libc::RLIMIT_SIGPENDING,
        "RLIMIT_MSGQUEUE" => libc::RLIMIT_MSGQUEUE,
        "RLIMIT_NICE" => libc::RLIMIT_NICE,
        "RLIMIT_RTPRIO" => libc::RLIMIT_RTPRIO,
        "RLIMIT_RTTIME" => libc::RLIMIT_RTTIME,
        _ => return Err(RuntimeError::Spec(format!("unknown rlimit {name:?}"))),
    } as libc::c_int;
    Ok(n)
}

/// Applies every rlimit; a limit above what the process may raise to names
/// the limit in the error.
pub fn apply(limits: &[PosixRlimit]) -> Result<()> {
    for r in limits {
        let res = resource_number(r)?;
        let lim = libc::rlimit {
            rlim_cur: r.soft(),
            rlim_max: r.hard(),
        };
        // SAFETY: `lim` is a valid rlimit for the duration of the call.
        #[allow(clippy::useless_conversion)]
        let rc = unsafe { libc::setrlimit(res as _, &lim) };
        if rc != 0 {
            return Err(RuntimeError::sys(
                format!(
                    "setting rlimit {:?} to soft {} hard {}",
                    r.typ(),
                    r.soft(),
                    r.hard()
                ),
                std::io::Error::last_os_error(),
            ));
        }
    }
    Ok(())
}
