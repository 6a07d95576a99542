//! `process.rlimits`: `--ulimit` values and podman 5's defaults.
//!
//! podman asks for `nofile` 1048576 and `nproc` `pid_max` (from
//! containers.conf's default ulimits, else 1048576) and, since podman 5,
//! clamps those defaults to its own current limits when it runs in a user
//! namespace or lacks CAP_SYS_RESOURCE. husk also clamps when the
//! container has a user namespace of its own: the runtime sets the limits
//! inside it, where CAP_SYS_RESOURCE does not count. podman 4.3 did not clamp, which is
//! why it fails on hosts like the test host (nofile hard limit 20000, no
//! CAP_SYS_RESOURCE for root). husk applies podman 5's clamping to the
//! defaults and checks the user's own values against what can be set,
//! so a limit that cannot be honoured is an error naming `--ulimit` instead
//! of a failure inside the runtime.

use oci_spec::runtime::{PosixRlimit, PosixRlimitBuilder, PosixRlimitType};

use super::error::{Result, SpecError};

/// podman's default for `nofile` (and `nproc` when pid_max is unknown).
pub const DEFAULT_LIMIT: u64 = 1_048_576;

/// Every ulimit name `--ulimit` takes, with its resource.
const TYPES: [(&str, PosixRlimitType, libc::__rlimit_resource_t); 16] = [
    ("as", PosixRlimitType::RlimitAs, libc::RLIMIT_AS),
    ("core", PosixRlimitType::RlimitCore, libc::RLIMIT_CORE),
    ("cpu", PosixRlimitType::RlimitCpu, libc::RLIMIT_CPU),
    ("data", PosixRlimitType::RlimitData, libc::RLIMIT_DATA),
    ("fsize", PosixRlimitType::RlimitFsize, libc::RLIMIT_FSIZE),
    ("locks", PosixRlimitType::RlimitLocks, libc::RLIMIT_LOCKS),
    (
        "memlock",
        PosixRlimitType::RlimitMemlock,
        libc::RLIMIT_MEMLOCK,
    ),
    (
        "msgqueue",
        PosixRlimitType::RlimitMsgqueue,
        libc::RLIMIT_MSGQUEUE,
    ),
    ("nice", PosixRlimitType::RlimitNice, libc::RLIMIT_NICE),
    ("nofile", PosixRlimitType::RlimitNofile, libc::RLIMIT_NOFILE),
    ("nproc", PosixRlimitType::RlimitNproc, libc::RLIMIT_NPROC),
    ("rss", PosixRlimitType::RlimitRss, libc::RLIMIT_RSS),
    ("rtprio", PosixRlimitType::RlimitRtprio, libc::RLIMIT_RTPRIO),
    ("rttime", PosixRlimitType::RlimitRttime, libc::RLIMIT_RTTIME),
    (
        "sigpending",
        PosixRlimitType::RlimitSigpending,
        libc::RLIMIT_SIGPENDING,
    ),
    ("stack", PosixRlimitType::RlimitStack, libc::RLIMIT_STACK),
];

const NOFILE: usize = 9;
const NPROC: usize = 10;

/// One limit: index into the type table, soft, hard.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    kind: usize,
    /// Soft limit.
    pub soft: u64,
    /// Hard limit.
    pub hard: u64,
}

impl Limit {
    /// The ulimit name (`nofile`).
    pub fn name(&self) -> &'static str {
        TYPES[self.kind].0
    }

    fn to_oci(self) -> PosixRlimit {
        PosixRlimitBuilder::default()
            .typ(TYPES[self.kind].1)
            .soft(self.soft)
            .hard(self.hard)
            .build()
            .expect("all fields set")
    }
}

/// What the process generating the spec may set: its own limits, and
/// whether it may raise them (CAP_SYS_RESOURCE in the initial user
/// namespace).
pub trait Host {
    /// (soft, hard) of resource `r`.
    fn current(&self, r: libc::__rlimit_resource_t) -> (u64, u64);
    /// Whether limits above the current hard limit can be set.
    fn can_raise(&self) -> bool;
    /// /proc/sys/kernel/pid_max.
    fn pid_max(&self) -> Option<u64>;
}

/// The real host: getrlimit(2), capget(2) and procfs.
#[derive(Debug, Clone, Copy)]
pub struct RealHost {
    /// The limits are set inside a user namespace (husk runs rootless, or
    /// the container has one of its own): raising is never possible,
    /// whatever the capabilities say (rlimits are checked against the
    /// initial user namespace).
    pub in_userns: bool,
}

impl Host for RealHost {
    fn current(&self, r: libc::__rlimit_resource_t) -> (u64, u64) {
        let mut lim = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: `lim` is a valid rlimit for getrlimit to fill in.
        if unsafe { libc::getrlimit(r, &mut lim) } != 0 {
            return (u64::MAX, u64::MAX);
        }
        (lim.rlim_cur, lim.rlim_max)
    }

    fn can_raise(&self) -> bool {
        !self.in_userns && has_cap_sys_resource()
    }

    fn pid_max(&self) -> Option<u64> {
        std::fs::read_to_string("/proc/sys/kernel/pid_max")
            .ok()?
            .trim()
            .parse()
            .ok()
    }
}

/// Whether CAP_SYS_RESOURCE is in this process's effective set (capget).
pub fn has_cap_sys_resource() -> bool {
    #[repr(C)]
    struct Header {
        version: u32,
        pid: i32,
    }
    #[repr(C)]
    #[derive(Clone, Copy)]
    struct Data {
        effective: u32,
        permitted: u32,
        inheritable: u32,
    }
    let mut hdr = Header {
        version: 0x2008_0522, // _LINUX_CAPABILITY_VERSION_3
        pid: 0,
    };
    let mut data = [Data {
        effective: 0,
        permitted: 0,
        inheritable: 0,
    }; 2];
    // SAFETY: capget writes two Data structs for version 3, which `data`
    // holds; both pointers are valid for the call.
    let rc = unsafe { libc::syscall(libc::SYS_capget, &mut hdr, data.as_mut_ptr()) };
    rc == 0 && data[0].effective & (1 << 24) != 0
}

fn parse_value(v: &str, current_hard: u64) -> Option<u64> {
    match v {
        // podman: -1 is the maximum this process may set.
        "-1" => Some(current_hard),
        "unlimited" => Some(u64::MAX),
        _ => v.parse::<u64>().ok(),
    }
}

/// Replaces the limit of the same kind, or adds it.
fn put(l: Limit, limits: &mut Vec<Limit>) {
    match limits.iter_mut().find(|x| x.kind == l.kind) {
        Some(x) => *x = l,
        None => limits.push(l),
    }
}

/// Parses `--ulimit` values (`name=soft[:hard]`, `host`) and adds podman's
/// defaults for `nofile` and `nproc` where the user set none.
pub fn build(ulimits: &[String], host: &dyn Host) -> Result<Vec<PosixRlimit>> {
    let mut limits: Vec<Limit> = Vec::new();
    let can_raise = host.can_raise();
    for u in ulimits {
        if u == "host" {
            for (kind, t) in TYPES.iter().enumerate() {
                let (soft, hard) = host.current(t.2);
                put(Limit { kind, soft, hard }, &mut limits);
            }
            continue;
        }
        let bad = |reason: &str| SpecError::invalid("--ulimit", u, reason);
        let (name, value) = u
            .split_once('=')
            .ok_or_else(|| bad("expected name=soft[:hard] or host"))?;
        let kind = TYPES
            .iter()
            .position(|t| t.0 == name.trim())
            .ok_or_else(|| bad(&format!("invalid ulimit type: {}", name.trim())))?;
        let (_, cur_hard) = host.current(TYPES[kind].2);
        let (s, h) = value.split_once(':').unwrap_or((value, value));
        let not_number = |v: &str| {
            bad(&format!(
                "ulimit option {u:?} requires name=SOFT:HARD, failed to be parsed: invalid value {v:?} (limits are numbers, -1 or unlimited)"
            ))
        };
        let soft = parse_value(s.trim(), cur_hard).ok_or_else(|| not_number(s.trim()))?;
        let hard = parse_value(h.trim(), cur_hard).ok_or_else(|| not_number(h.trim()))?;
        if soft > hard {
            return Err(bad(&format!(
                "ulimit soft limit must be less than or equal to hard limit: {soft} > {hard}"
            )));
        }
        if hard > cur_hard && !can_raise {
            return Err(bad(&format!(
                "the hard limit {hard} is above this process's hard limit {cur_hard}, which it cannot raise (no CAP_SYS_RESOURCE)"
            )));
        }
        put(Limit { kind, soft, hard }, &mut limits);
    }
    for (kind, wanted) in [
        (NOFILE, DEFAULT_LIMIT),
        (NPROC, host.pid_max().unwrap_or(DEFAULT_LIMIT)),
    ] {
        if limits.iter().any(|l| l.kind == kind) {
            continue;
        }
        let (cur_soft, cur_hard) = host.current(TYPES[kind].2);
        let l = if can_raise || wanted <= cur_hard {
            // Settable as asked (pid_max is usually below the hard limit).
            Limit {
                kind,
                soft: wanted,
                hard: wanted,
            }
        } else {
            // podman 5: clamp to what this process has.
            Limit {
                kind,
                soft: wanted.min(cur_soft),
                hard: wanted.min(cur_hard),
            }
        };
        limits.push(l);
    }
    Ok(limits.into_iter().map(Limit::to_oci).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Fake {
        nofile: (u64, u64),
        nproc: (u64, u64),
        raise: bool,
        pid_max: Option<u64>,
    }

    impl Host for Fake {
        fn current(&self, r: libc::__rlimit_resource_t) -> (u64, u64) {
            match r {
                libc::RLIMIT_NOFILE => self.nofile,
                libc::RLIMIT_NPROC => self.nproc,
                _ => (8192, u64::MAX),
            }
        }
        fn can_raise(&self) -> bool {
            self.raise
        }
        fn pid_max(&self) -> Option<u64> {
            self.pid_max
        }
    }

    /// This host: nofile 20000:20000, nproc 96363, pid_max 32768, no
    /// CAP_SYS_RESOURCE.
    const HERE: Fake = Fake {
        nofile: (20000, 20000),
        nproc: (96363, 96363),
        raise: false,
        pid_max: Some(32768),
    };

    fn get(l: &[PosixRlimit], t: PosixRlimitType) -> Option<(u64, u64)> {
        l.iter()
            .find(|r| r.typ() == t)
            .map(|r| (r.soft(), r.hard()))
    }

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn defaults_clamped_where_they_cannot_be_raised() {
        let l = build(&[], &HERE).unwrap();
        assert_eq!(get(&l, PosixRlimitType::RlimitNofile), Some((20000, 20000)));
        assert_eq!(get(&l, PosixRlimitType::RlimitNproc), Some((32768, 32768)));
        // With CAP_SYS_RESOURCE: podman's values as they are.
        let l = build(
            &[],
            &Fake {
                raise: true,
                ..HERE
            },
        )
        .unwrap();
        assert_eq!(
            get(&l, PosixRlimitType::RlimitNofile),
            Some((DEFAULT_LIMIT, DEFAULT_LIMIT))
        );
        // Soft limits are clamped to the current soft limit, as podman does.
        let l = build(
            &[],
            &Fake {
                nofile: (1024, 524288),
                pid_max: None,
                ..HERE
            },
        )
        .unwrap();
        assert_eq!(get(&l, PosixRlimitType::RlimitNofile), Some((1024, 524288)));
        assert_eq!(get(&l, PosixRlimitType::RlimitNproc), Some((96363, 96363)));
    }

    #[test]
    fn user_limits_replace_defaults() {
        let l = build(&s(&["nofile=100:200", "core=0", "nproc=-1"]), &HERE).unwrap();
        assert_eq!(get(&l, PosixRlimitType::RlimitNofile), Some((100, 200)));
        assert_eq!(get(&l, PosixRlimitType::RlimitCore), Some((0, 0)));
        assert_eq!(get(&l, PosixRlimitType::RlimitNproc), Some((96363, 96363)));
        assert_eq!(l.len(), 3);
        let l = build(&s(&["stack=unlimited"]), &HERE).unwrap();
        assert_eq!(
            get(&l, PosixRlimitType::RlimitStack),
            Some((u64::MAX, u64::MAX))
        );
    }

    #[test]
    fn host_copies_every_limit() {
        let l = build(&s(&["host"]), &HERE).unwrap();
        assert_eq!(l.len(), TYPES.len());
        assert_eq!(get(&l, PosixRlimitType::RlimitNofile), Some((20000, 20000)));
        let l = build(&s(&["host", "nofile=10:10"]), &HERE).unwrap();
        assert_eq!(get(&l, PosixRlimitType::RlimitNofile), Some((10, 10)));
    }

    #[test]
    fn bad_values_name_the_flag() {
        for (v, why) in [
            ("nofile=a", "numbers"),
            ("nofile", "name=soft"),
            ("bogus=1", "invalid ulimit type: bogus"),
            (
                "nofile=200:100",
                "must be less than or equal to hard limit: 200 > 100",
            ),
            ("nofile=30000:30000", "cannot raise"),
        ] {
            let e = build(&s(&[v]), &HERE).unwrap_err().to_string();
            assert!(e.starts_with(&format!("invalid --ulimit {v:?}: ")), "{e}");
            assert!(e.contains(why), "{e}");
        }
        // Raising is fine where it is allowed.
        build(
            &s(&["nofile=30000:30000"]),
            &Fake {
                raise: true,
                ..HERE
            },
        )
        .unwrap();
    }

    #[test]
    fn real_host_reads_limits() {
        let h = RealHost { in_userns: false };
        let (s, hard) = h.current(libc::RLIMIT_NOFILE);
        assert!(s <= hard && hard > 0);
        assert!(h.pid_max().is_some());
        assert!(!RealHost { in_userns: true }.can_raise());
    }
}
