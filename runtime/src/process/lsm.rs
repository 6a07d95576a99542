//! AppArmor profiles and SELinux labels for the container process: applied
//! on exec when the LSM is enabled, a clear error when one is asked for on a
//! host that does not have it (never ignored silently).

use std::path::Path;

use crate::error::{Result, RuntimeError, SysContext};

/// Whether AppArmor is enabled on this host.
pub fn apparmor_enabled() -> bool {
    std::fs::read_to_string("/sys/module/apparmor/parameters/enabled")
        .is_ok_and(|s| s.trim() == "Y")
}

/// Whether SELinux is enabled on this host.
pub fn selinux_enabled() -> bool {
    Path::new("/sys/fs/selinux/enforce").exists()
}

/// Checks, before anything is created, that the requested labels can be
/// applied here.
pub fn check(apparmor: Option<&str>, selinux: Option<&str>) -> Result<()> {
    if let Some(p) = apparmor.filter(|p| !p.is_empty()) {
        if !apparmor_enabled() {
            return Err(RuntimeError::Spec(format!(
                "process.apparmorProfile {p:?} is set, but AppArmor is not enabled on this host"
            )));
        }
    }
    if let Some(l) = selinux.filter(|l| !l.is_empty()) {
        if !selinux_enabled() {
            return Err(RuntimeError::Spec(format!(
                "process.selinuxLabel {l:?} is set, but SELinux is not enabled on this host"
            )));
        }
    }
    Ok(())
}

/// Arranges for the labels to take effect at the next execve.
pub fn apply_on_exec(apparmor: Option<&str>, selinux: Option<&str>) -> Result<()> {
    if let Some(p) = apparmor.filter(|p| !p.is_empty()) {
        let path = if Path::new("/proc/self/attr/apparmor/exec").exists() {
            "/proc/self/attr/apparmor/exec"
        } else {
            "/proc/self/attr/exec"
        };
        std::fs::write(path, format!("exec {p}"))
            .ctx(|| format!("setting AppArmor profile {p:?} for exec"))?;
    }
    if let Some(l) = selinux.filter(|l| !l.is_empty()) {
        std::fs::write("/proc/self/attr/exec", l)
            .ctx(|| format!("setting SELinux label {l:?} for exec"))?;
    }
    Ok(())
}
