//! `--security-opt`, masked and read-only paths, and seccomp.

use std::path::Path;

use oci_spec::runtime::LinuxSeccomp;

use super::caps::CapSet;
use super::error::{Result, SpecError};

/// podman 5's masked paths (containers-common `DefaultMaskedPaths`; podman
/// 4.3 lacked `/sys/devices/virtual/powercap`).
pub const MASKED_PATHS: [&str; 12] = [
    "/proc/acpi",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/sys/dev/block",
    "/sys/devices/virtual/powercap",
    "/sys/firmware",
    "/sys/fs/selinux",
];

/// podman's read-only paths.
pub const READONLY_PATHS: [&str; 6] = [
    "/proc/asound",
    "/proc/bus",
    "/proc/fs",
    "/proc/irq",
    "/proc/sys",
    "/proc/sysrq-trigger",
];

/// Where seccomp comes from.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Seccomp {
    /// husk's default profile.
    #[default]
    Default,
    /// `seccomp=unconfined`.
    Unconfined,
    /// `seccomp=PATH`: a containers-common profile.
    Profile(std::path::PathBuf),
}

/// `--security-opt` values, parsed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SecurityOpts {
    /// seccomp.
    pub seccomp: Seccomp,
    /// `no-new-privileges`.
    pub no_new_privileges: bool,
    /// `mask=` paths.
    pub mask: Vec<String>,
    /// `unmask=` paths or globs (`ALL`).
    pub unmask: Vec<String>,
    /// `label=` options other than disable (ignored without SELinux).
    pub label: Vec<String>,
}

/// Parses `--security-opt` values: `seccomp=unconfined|PATH`,
/// `no-new-privileges[=true|false]` (also docker's `:` form),
/// `label=disable|nested|...`, `apparmor=unconfined|PROFILE`,
/// `mask=P1:P2`, `unmask=ALL|P1:P2`, `systempaths=unconfined`.
pub fn parse(values: &[String], warnings: &mut Vec<String>) -> Result<SecurityOpts> {
    const F: &str = "--security-opt";
    let mut s = SecurityOpts::default();
    for v in values {
        let (k, val) = match v.split_once(['=', ':']) {
            Some((k, val)) => (k, Some(val)),
            None => (v.as_str(), None),
        };
        match (k, val) {
            ("no-new-privileges", None) => s.no_new_privileges = true,
            ("no-new-privileges", Some("true")) => s.no_new_privileges = true,
            ("no-new-privileges", Some("false")) => s.no_new_privileges = false,
            ("seccomp", Some("unconfined")) => s.seccomp = Seccomp::Unconfined,
            ("seccomp", Some(p)) if !p.is_empty() => s.seccomp = Seccomp::Profile(p.into()),
            ("label", Some("disable" | "nested")) => {}
            ("label", Some(l))
                if l.starts_with("user:")
                    || l.starts_with("role:")
                    || l.starts_with("type:")
                    || l.starts_with("level:")
                    || l.starts_with("filetype:") =>
            {
                if crate::container::spec::mounts::selinux_enabled() {
                    return Err(SpecError::unsupported(
                        format!("{F} {v}"),
                        "husk cannot set SELinux labels yet",
                    ));
                }
                // podman ignores label options where SELinux is off.
                warnings.push(format!(
                    "{F} {v} ignored: SELinux is not enabled on this host"
                ));
                s.label.push(l.to_owned());
            }
            ("apparmor", Some("unconfined")) => {}
            ("apparmor", Some(p)) => {
                if apparmor_enabled() {
                    return Err(SpecError::unsupported(
                        format!("{F} {v}"),
                        "husk does not load AppArmor profiles yet",
                    ));
                }
                return Err(SpecError::invalid(
                    F,
                    v,
                    format!("apparmor profile {p:?} specified, but AppArmor is not enabled on this system"),
                ));
            }
            ("mask", Some(p)) => {
                for m in p.split(':').filter(|m| !m.is_empty()) {
                    if !m.starts_with('/') {
                        return Err(SpecError::invalid(
                            F,
                            v,
                            format!("{m:?} is not an absolute path"),
                        ));
                    }
                    s.mask.push(m.to_owned());
                }
            }
            ("unmask", Some(p)) => s
                .unmask
                .extend(p.split(':').filter(|m| !m.is_empty()).map(str::to_owned)),
            ("systempaths", Some("unconfined")) => s.unmask.push("ALL".into()),
            ("proc-opts", _) => {
                return Err(SpecError::unsupported(
                    format!("{F} {v}"),
                    "proc mount options are not implemented",
                ))
            }
            _ => {
                return Err(SpecError::invalid(
                    F,
                    v,
                    "expected seccomp=, no-new-privileges, label=, apparmor=, mask= or unmask=",
                ))
            }
        }
    }
    Ok(s)
}

fn apparmor_enabled() -> bool {
    std::fs::read_to_string("/sys/module/apparmor/parameters/enabled")
        .is_ok_and(|s| s.starts_with('Y'))
}

/// Shell-style match of `pattern` (`*`, `?`, `[...]`-free) against `path`,
/// as Go's filepath.Match does for podman's unmask globs (`*` never
/// crosses `/`).
pub fn glob_match(pattern: &str, path: &str) -> bool {
    let (p, s) = (pattern.as_bytes(), path.as_bytes());
    let (mut pi, mut si) = (0, 0);
    let (mut star, mut mark) = (None, 0);
    while si < s.len() {
        if pi < p.len() && (p[pi] == b'?' && s[si] != b'/' || p[pi] == s[si]) {
            pi += 1;
            si += 1;
        } else if pi < p.len() && p[pi] == b'*' {
            star = Some(pi);
            mark = si;
            pi += 1;
        } else if let Some(st) = star {
            if s[mark] == b'/' {
                return false;
            }
            pi = st + 1;
            mark += 1;
            si = mark;
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == b'*' {
        pi += 1;
    }
    pi == p.len()
}

fn unmasked(path: &str, unmask: &[String]) -> bool {
    unmask
        .iter()
        .any(|u| u.eq_ignore_ascii_case("all") || glob_match(u, path))
}

/// `(maskedPaths, readonlyPaths)`: podman's lists minus `unmask=`, none
/// with `--privileged`; `/sys/kernel` masked too when a rootless container
/// gets the host's /sys by bind (podman); then `mask=` paths.
pub fn paths(
    privileged: bool,
    s: &SecurityOpts,
    mask_sys_kernel: bool,
) -> (Vec<String>, Vec<String>) {
    let mut masked = Vec::new();
    let mut ro = Vec::new();
    if !privileged {
        masked.extend(
            MASKED_PATHS
                .iter()
                .filter(|p| !unmasked(p, &s.unmask))
                .map(|p| p.to_string()),
        );
        ro.extend(
            READONLY_PATHS
                .iter()
                .filter(|p| !unmasked(p, &s.unmask))
                .map(|p| p.to_string()),
        );
        if mask_sys_kernel && !unmasked("/sys/kernel", &s.unmask) {
            masked.push("/sys/kernel".into());
        }
    }
    for m in &s.mask {
        if !masked.contains(m) {
            masked.push(m.clone());
        }
    }
    (masked, ro)
}

/// Whether `unmask=` opens /sys/fs/cgroup (podman then mounts it rw on
/// cgroup v2).
pub fn unmasks_cgroup(s: &SecurityOpts) -> bool {
    s.unmask.iter().any(|u| {
        u.eq_ignore_ascii_case("all") || super::process::clean(u) == Path::new("/sys/fs/cgroup")
    })
}

/// `linux.seccomp`: the default profile resolved for `bounding` (none with
/// `--privileged`, as in podman), a given profile, or none for
/// `seccomp=unconfined`. A profile that cannot be read or parsed is an
/// error naming it.
pub fn seccomp(
    s: &SecurityOpts,
    privileged: bool,
    bounding: CapSet,
) -> Result<Option<LinuxSeccomp>> {
    use husk_runtime::seccomp::profile;
    let (text, name) = match &s.seccomp {
        Seccomp::Unconfined => return Ok(None),
        Seccomp::Default if privileged => return Ok(None),
        Seccomp::Default => (std::borrow::Cow::Borrowed(profile::default_profile()), None),
        Seccomp::Profile(p) => {
            let text = std::fs::read_to_string(p).map_err(|e| {
                SpecError::invalid(
                    "--security-opt",
                    &format!("seccomp={}", p.display()),
                    format!("opening seccomp profile failed: open {}: {e}", p.display()),
                )
            })?;
            (std::borrow::Cow::Owned(text), Some(p))
        }
    };
    let kernel = profile::kernel_version()
        .map_err(|e| SpecError::Internal(format!("reading the kernel version: {e}")))?;
    profile::to_oci(&text, &bounding.names(), std::env::consts::ARCH, kernel)
        .map(Some)
        .map_err(|e| match name {
            Some(p) => SpecError::invalid(
                "--security-opt",
                &format!("seccomp={}", p.display()),
                format!("not a usable seccomp profile: {e}"),
            ),
            None => SpecError::Internal(format!("the default seccomp profile: {e}")),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(v: &[&str]) -> Result<SecurityOpts> {
        parse(
            &v.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
            &mut Vec::new(),
        )
    }

    #[test]
    fn parses_options() {
        let s = p(&[
            "no-new-privileges",
            "seccomp=unconfined",
            "label=disable",
            "apparmor=unconfined",
        ])
        .unwrap();
        assert!(s.no_new_privileges);
        assert_eq!(s.seccomp, Seccomp::Unconfined);
        assert!(p(&["no-new-privileges:true"]).unwrap().no_new_privileges);
        assert!(!p(&["no-new-privileges=false"]).unwrap().no_new_privileges);
        let s = p(&["seccomp=/x.json", "mask=/a:/b", "unmask=/proc/*"]).unwrap();
        assert_eq!(s.seccomp, Seccomp::Profile("/x.json".into()));
        assert_eq!(s.mask, ["/a", "/b"]);
        assert_eq!(s.unmask, ["/proc/*"]);
        assert!(p(&["bogus=1"])
            .unwrap_err()
            .to_string()
            .starts_with("invalid --security-opt"));
        assert!(p(&["mask=rel"]).is_err());
        let e = p(&["apparmor=myprofile"]).unwrap_err().to_string();
        assert!(e.contains("AppArmor") || e.contains("not supported"), "{e}");
        let mut w = Vec::new();
        parse(&["label=type:foo_t".to_string()], &mut w).unwrap();
        assert_eq!(w.len(), 1);
    }

    #[test]
    fn masks_and_unmasks() {
        let s = SecurityOpts::default();
        let (m, r) = paths(false, &s, false);
        assert_eq!(m.len(), MASKED_PATHS.len());
        assert_eq!(r.len(), READONLY_PATHS.len());
        assert!(m.contains(&"/sys/devices/virtual/powercap".to_string()));
        let (m, r) = paths(true, &s, true);
        assert!(m.is_empty() && r.is_empty());
        let s = p(&["unmask=/proc/*", "mask=/srv/secret"]).unwrap();
        let (m, r) = paths(false, &s, true);
        assert!(!m.iter().any(|x| x.starts_with("/proc/")), "{m:?}");
        assert!(m.contains(&"/sys/firmware".to_string()));
        assert!(m.contains(&"/sys/kernel".to_string()));
        assert!(m.contains(&"/srv/secret".to_string()));
        assert!(r.is_empty());
        let s = p(&["unmask=ALL"]).unwrap();
        let (m, r) = paths(false, &s, true);
        assert!(m.is_empty() && r.is_empty());
        assert!(unmasks_cgroup(&s));
        assert!(unmasks_cgroup(&p(&["unmask=/sys/fs/cgroup/"]).unwrap()));
    }

    #[test]
    fn globs() {
        assert!(glob_match("/proc/*", "/proc/kcore"));
        assert!(!glob_match("/proc/*", "/proc/a/b"));
        assert!(glob_match("/proc/sched_*", "/proc/sched_debug"));
        assert!(glob_match("/sys/fi?mware", "/sys/firmware"));
        assert!(!glob_match("/sys", "/sys/firmware"));
    }

    #[test]
    fn seccomp_profiles() {
        let bnd = super::super::caps::DEFAULT;
        let f = seccomp(&SecurityOpts::default(), false, bnd)
            .unwrap()
            .unwrap();
        assert!(!f.syscalls().as_ref().unwrap().is_empty());
        assert!(seccomp(&SecurityOpts::default(), true, bnd)
            .unwrap()
            .is_none());
        let d = tempfile::tempdir().unwrap();
        let bad = d.path().join("bad.json");
        std::fs::write(&bad, "{not json").unwrap();
        let s = SecurityOpts {
            seccomp: Seccomp::Profile(bad.clone()),
            ..Default::default()
        };
        let e = seccomp(&s, false, bnd).unwrap_err().to_string();
        assert!(
            e.starts_with("invalid --security-opt \"seccomp=")
                && e.contains("not a usable seccomp profile"),
            "{e}"
        );
        let s = SecurityOpts {
            seccomp: Seccomp::Profile(d.path().join("missing.json")),
            ..Default::default()
        };
        let e = seccomp(&s, true, bnd).unwrap_err().to_string();
        assert!(e.contains("No such file"), "{e}");
        let ok = d.path().join("ok.json");
        std::fs::write(&ok, r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mkdir"],"action":"SCMP_ACT_ERRNO"}]}"#).unwrap();
        let s = SecurityOpts {
            seccomp: Seccomp::Profile(ok),
            ..Default::default()
        };
        // A given profile applies even when privileged.
        assert!(seccomp(&s, true, bnd).unwrap().is_some());
    }
}
