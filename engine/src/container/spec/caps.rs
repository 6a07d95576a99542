//! Capabilities: podman's default set, `--cap-add`/`--cap-drop` arithmetic
//! (`ALL`, names with or without `CAP_`, any case), `--privileged`, and the
//! sets a non-root user gets. Sets are 64-bit masks indexed by capability
//! number, so the arithmetic allocates nothing.

use std::collections::HashSet;
use std::str::FromStr;

use oci_spec::runtime::{Capability, LinuxCapabilities, LinuxCapabilitiesBuilder};

use super::error::{Result, SpecError};

/// Capability names (without `CAP_`) by number, as in linux/capability.h.
pub const NAMES: [&str; 41] = [
    "CHOWN",
    "DAC_OVERRIDE",
    "DAC_READ_SEARCH",
    "FOWNER",
    "FSETID",
    "KILL",
    "SETGID",
    "SETUID",
    "SETPCAP",
    "LINUX_IMMUTABLE",
    "NET_BIND_SERVICE",
    "NET_BROADCAST",
    "NET_ADMIN",
    "NET_RAW",
    "IPC_LOCK",
    "IPC_OWNER",
    "SYS_MODULE",
    "SYS_RAWIO",
    "SYS_CHROOT",
    "SYS_PTRACE",
    "SYS_PACCT",
    "SYS_ADMIN",
    "SYS_BOOT",
    "SYS_NICE",
    "SYS_RESOURCE",
    "SYS_TIME",
    "SYS_TTY_CONFIG",
    "MKNOD",
    "LEASE",
    "AUDIT_WRITE",
    "AUDIT_CONTROL",
    "SETFCAP",
    "MAC_OVERRIDE",
    "MAC_ADMIN",
    "SYSLOG",
    "WAKE_ALARM",
    "BLOCK_SUSPEND",
    "AUDIT_READ",
    "PERFMON",
    "BPF",
    "CHECKPOINT_RESTORE",
];

/// podman's `default_capabilities` (containers.conf, podman 4 and 5):
/// CHOWN, DAC_OVERRIDE, FOWNER, FSETID, KILL, NET_BIND_SERVICE, SETFCAP,
/// SETGID, SETPCAP, SETUID, SYS_CHROOT.
pub const DEFAULT: CapSet = CapSet(
    1 << 0
        | 1 << 1
        | 1 << 3
        | 1 << 4
        | 1 << 5
        | 1 << 10
        | 1 << 31
        | 1 << 6
        | 1 << 8
        | 1 << 7
        | 1 << 18,
);

/// A set of capabilities.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CapSet(pub u64);

impl CapSet {
    /// Every capability husk knows.
    pub const ALL: CapSet = CapSet((1 << NAMES.len()) - 1);

    /// Whether capability number `n` is in the set.
    pub fn contains(self, n: usize) -> bool {
        n < 64 && self.0 & (1 << n) != 0
    }

    /// Names (`CAP_CHOWN`...) in number order.
    pub fn names(self) -> Vec<String> {
        (0..NAMES.len())
            .filter(|n| self.contains(*n))
            .map(|n| format!("CAP_{}", NAMES[n]))
            .collect()
    }

    /// The set as oci-spec capabilities.
    pub fn to_oci(self) -> HashSet<Capability> {
        (0..NAMES.len())
            .filter(|n| self.contains(*n))
            .filter_map(|n| Capability::from_str(NAMES[n]).ok())
            .collect()
    }
}

impl std::ops::BitAnd for CapSet {
    type Output = CapSet;
    fn bitand(self, o: CapSet) -> CapSet {
        CapSet(self.0 & o.0)
    }
}

/// A `--cap-add`/`--cap-drop` list, parsed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct CapList {
    set: CapSet,
    all: bool,
}

/// The number of a capability named `CAP_X`, `X`, in any case.
pub fn number(name: &str) -> Option<usize> {
    let upper = name.trim().to_ascii_uppercase();
    let bare = upper.strip_prefix("CAP_").unwrap_or(&upper);
    NAMES.iter().position(|n| *n == bare)
}

/// podman 5's `unknown capability "CAP_X"`, after the flag.
fn unknown_cap(flag: &'static str, name: &str) -> SpecError {
    let up = name.trim().to_ascii_uppercase();
    let full = if up.starts_with("CAP_") {
        up
    } else {
        format!("CAP_{up}")
    };
    SpecError::invalid(flag, name, format!("{full:?}: unknown capability"))
}

fn parse_list(flag: &'static str, values: &[String]) -> Result<CapList> {
    let mut out = CapList::default();
    for v in values {
        // Podman accepts comma-separated lists in one flag too.
        for name in v.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            if name.eq_ignore_ascii_case("all") {
                out.all = true;
                continue;
            }
            let n = number(name).ok_or_else(|| unknown_cap(flag, name))?;
            out.set.0 |= 1 << n;
        }
    }
    Ok(out)
}

/// The bounding set of this process, read with prctl(PR_CAPBSET_READ):
/// what husk itself may hand out. Capabilities the kernel does not know read
/// as absent.
pub fn bounding_set() -> CapSet {
    bounding_of(CapSet::ALL)
}

/// The capabilities of `wanted` that are in this process's bounding set,
/// asking only about those (one prctl each).
pub fn bounding_of(wanted: CapSet) -> CapSet {
    let mut set = 0u64;
    for n in (0..NAMES.len()).filter(|n| wanted.contains(*n)) {
        // SAFETY: prctl(PR_CAPBSET_READ) takes integer arguments only and
        // reads nothing from our memory.
        let r = unsafe { libc::prctl(libc::PR_CAPBSET_READ, n as libc::c_ulong, 0, 0, 0) };
        if r == 1 {
            set |= 1 << n;
        }
    }
    CapSet(set)
}

/// The capabilities of a container (see [`compute`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ContainerCaps {
    /// The bounding set, which seccomp is resolved against.
    pub bounding: CapSet,
    /// Effective and permitted.
    pub effective: CapSet,
    /// Inheritable and ambient (only non-root users get any).
    pub ambient: CapSet,
}

impl ContainerCaps {
    /// The OCI `process.capabilities`.
    pub fn to_oci(self) -> LinuxCapabilities {
        LinuxCapabilitiesBuilder::default()
            .bounding(self.bounding.to_oci())
            .effective(self.effective.to_oci())
            .permitted(self.effective.to_oci())
            .inheritable(self.ambient.to_oci())
            .ambient(self.ambient.to_oci())
            .build()
            .expect("all fields set")
    }
}

/// podman 5's rules:
///
/// - `--privileged`: everything in `bounding` (this process's bounding set);
/// - else the default set with `--cap-drop` removed and `--cap-add` added
///   (`ALL` on either side; `--cap-drop ALL` keeps only what is added, both
///   `ALL` is an error, as is one capability both added and dropped), then
///   limited to `bounding`;
/// - root (uid 0) gets that set as effective and permitted, no inheritable
///   or ambient; any other user only the bounding set, and as
///   effective/permitted/inheritable/ambient just the capabilities named
///   in `--cap-add`.
pub fn compute(
    cap_add: &[String],
    cap_drop: &[String],
    privileged: bool,
    root_user: bool,
    bounding: &dyn Fn(CapSet) -> CapSet,
) -> Result<ContainerCaps> {
    let add = parse_list("--cap-add", cap_add)?;
    let drop = parse_list("--cap-drop", cap_drop)?;
    let list = if privileged {
        bounding(CapSet::ALL)
    } else {
        bounding(merge(DEFAULT, add, drop)?)
    };
    if root_user {
        return Ok(ContainerCaps {
            bounding: list,
            effective: list,
            ambient: CapSet::default(),
        });
    }
    let user = if add.all { list } else { add.set & list };
    Ok(ContainerCaps {
        bounding: list,
        effective: user,
        ambient: user,
    })
}

fn merge(base: CapSet, add: CapList, drop: CapList) -> Result<CapSet> {
    if drop.all {
        if add.all {
            return Err(SpecError::Conflict(
                "--cap-add ALL and --cap-drop ALL cannot be used together".into(),
            ));
        }
        return Ok(add.set);
    }
    let both = add.set.0 & drop.set.0;
    if both != 0 {
        let n = both.trailing_zeros() as usize;
        return Err(SpecError::Conflict(format!(
            "capability CAP_{} cannot be both added (--cap-add) and dropped (--cap-drop)",
            NAMES[n]
        )));
    }
    let base = if add.all { CapSet::ALL } else { base };
    Ok(CapSet((base.0 & !drop.set.0) | add.set.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn names_match_oci_spec_and_numbers() {
        for (i, n) in NAMES.iter().enumerate() {
            let c = Capability::from_str(n).unwrap_or_else(|_| panic!("{n} unknown to oci-spec"));
            let json = serde_json::to_value(c).unwrap();
            assert_eq!(json, format!("CAP_{n}"));
            assert_eq!(number(n), Some(i));
            assert_eq!(number(&format!("cap_{}", n.to_lowercase())), Some(i));
        }
        assert_eq!(
            DEFAULT.names(),
            [
                "CAP_CHOWN",
                "CAP_DAC_OVERRIDE",
                "CAP_FOWNER",
                "CAP_FSETID",
                "CAP_KILL",
                "CAP_SETGID",
                "CAP_SETUID",
                "CAP_SETPCAP",
                "CAP_NET_BIND_SERVICE",
                "CAP_SYS_CHROOT",
                "CAP_SETFCAP"
            ]
        );
    }

    #[test]
    fn add_and_drop_arithmetic() {
        let all = CapSet::ALL;
        let c = compute(
            &s(&["net_raw", "CAP_SYS_ADMIN"]),
            &s(&["kill"]),
            false,
            true,
            &|s| s & all,
        )
        .unwrap();
        assert!(c.effective.contains(13) && c.effective.contains(21));
        assert!(!c.effective.contains(5));
        assert_eq!(c.bounding, c.effective);
        assert_eq!(c.ambient, CapSet::default());
        // Drop ALL keeps only what is added.
        let c = compute(&s(&["CHOWN"]), &s(&["ALL"]), false, true, &|s| s & all).unwrap();
        assert_eq!(c.effective.names(), ["CAP_CHOWN"]);
        let c = compute(&[], &s(&["all"]), false, true, &|s| s & all).unwrap();
        assert_eq!(c.effective, CapSet::default());
        // Add ALL is the bounding set minus drops.
        let c = compute(&s(&["ALL"]), &s(&["SYS_ADMIN"]), false, true, &|s| s & all).unwrap();
        assert_eq!(c.effective.0, all.0 & !(1 << 21));
        // Comma lists work.
        let c = compute(&s(&["NET_RAW,MKNOD"]), &[], false, true, &|s| s & all).unwrap();
        assert!(c.effective.contains(13) && c.effective.contains(27));
    }

    #[test]
    fn conflicts_and_unknown_names() {
        let all = CapSet::ALL;
        let e = compute(&s(&["ALL"]), &s(&["ALL"]), false, true, &|s| s & all).unwrap_err();
        assert!(e.to_string().contains("cannot be used together"), "{e}");
        let e = compute(&s(&["NET_RAW"]), &s(&["cap_net_raw"]), false, true, &|s| {
            s & all
        })
        .unwrap_err();
        assert!(e.to_string().contains("CAP_NET_RAW cannot be both"), "{e}");
        let e = compute(&s(&["CAP_FOO"]), &[], false, true, &|s| s & all).unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid --cap-add \"CAP_FOO\": \"CAP_FOO\": unknown capability"
        );
        let e = compute(&[], &s(&["bar"]), false, true, &|s| s & all).unwrap_err();
        assert!(
            e.to_string().starts_with("invalid --cap-drop \"bar\""),
            "{e}"
        );
    }

    #[test]
    fn bounding_limits_and_privileged() {
        // Without SYS_RESOURCE in husk's own bounding set, asking for it
        // gives nothing (podman filters the same way).
        let bnd = CapSet(CapSet::ALL.0 & !(1 << 24));
        let c = compute(&s(&["SYS_RESOURCE"]), &[], false, true, &|s| s & bnd).unwrap();
        assert!(!c.effective.contains(24));
        let c = compute(&[], &[], true, true, &|s| s & bnd).unwrap();
        assert_eq!(c.effective, bnd);
        assert_eq!(c.bounding, bnd);
    }

    #[test]
    fn non_root_users_get_only_added_caps() {
        let all = CapSet::ALL;
        let c = compute(&[], &[], false, false, &|s| s & all).unwrap();
        assert_eq!(c.bounding, DEFAULT);
        assert_eq!(c.effective, CapSet::default());
        assert_eq!(c.ambient, CapSet::default());
        let c = compute(&s(&["NET_RAW"]), &s(&["ALL"]), false, false, &|s| s & all).unwrap();
        assert_eq!(c.bounding.names(), ["CAP_NET_RAW"]);
        assert_eq!(c.effective.names(), ["CAP_NET_RAW"]);
        assert_eq!(c.ambient.names(), ["CAP_NET_RAW"]);
        let oci = c.to_oci();
        assert_eq!(oci.ambient().as_ref().unwrap().len(), 1);
    }

    #[test]
    fn reads_this_process_bounding_set() {
        let b = bounding_set();
        // Every test runner may hand out at least what it runs with.
        assert_ne!(b, CapSet::default());
    }
}
