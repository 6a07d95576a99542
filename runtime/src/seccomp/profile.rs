//! Seccomp profiles in the containers-common format (the one podman and
//! docker read): a profile names the syscalls of every architecture and
//! says which entries apply under which capabilities, architectures and
//! kernels. [`to_oci`] picks the entries that apply and returns the OCI
//! `linux.seccomp` section.
//!
//! An entry applies when the container has every capability of
//! `includes.caps`, the native architecture is in `includes.arches`, the
//! kernel is at least `includes.minKernel` (each when given), and none of
//! `excludes` holds: a capability of `excludes.caps`, the architecture in
//! `excludes.arches`, a kernel at least `excludes.minKernel`.

use std::str::FromStr;

use oci_spec::runtime::{
    Arch, LinuxSeccomp, LinuxSeccompAction, LinuxSeccompArgBuilder, LinuxSeccompBuilder,
    LinuxSeccompOperator, LinuxSyscall, LinuxSyscallBuilder,
};
use serde::Deserialize;

use super::arch::parse_arch;
use super::{flags, SeccompError};

/// husk's default profile (`seccomp-profiles/default.json`).
pub fn default_profile() -> &'static str {
    include_str!("../../../seccomp-profiles/default.json")
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Profile {
    default_action: String,
    default_errno_ret: Option<u32>,
    arch_map: Option<Vec<ArchMap>>,
    syscalls: Option<Vec<Entry>>,
    flags: Option<Vec<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ArchMap {
    architecture: String,
    sub_architectures: Option<Vec<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Entry {
    names: Option<Vec<String>>,
    /// The single-name form of older profiles.
    name: Option<String>,
    action: String,
    errno_ret: Option<u32>,
    args: Option<Vec<Arg>>,
    includes: Option<Filter>,
    excludes: Option<Filter>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Arg {
    index: usize,
    value: u64,
    value_two: Option<u64>,
    op: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Filter {
    caps: Option<Vec<String>>,
    arches: Option<Vec<String>>,
    min_kernel: Option<String>,
}

/// What an entry is matched against.
struct Target {
    caps: Vec<String>,
    arch: Arch,
    kernel: (u32, u32),
}

/// Turns a containers-common profile into `linux.seccomp` for a container
/// with capabilities `caps` (`CAP_SYS_ADMIN` or `SYS_ADMIN`; the bounding
/// set is what podman uses), on architecture `arch` (`amd64`, `x86_64` or
/// `SCMP_ARCH_X86_64`...) and kernel `(major, minor)`.
///
/// Every name in the profile is checked, also in entries that do not
/// apply: an unknown action, operator, architecture or flag, or a bad
/// `minKernel`, is an error.
pub fn to_oci(
    profile_json: &str,
    caps: &[String],
    arch: &str,
    kernel: (u32, u32),
) -> Result<LinuxSeccomp, SeccompError> {
    let profile: Profile = serde_json::from_str(profile_json).map_err(SeccompError::Profile)?;
    let target = Target {
        caps: caps.iter().map(|c| normalize_cap(c)).collect(),
        arch: parse_arch(arch)?,
        kernel,
    };
    let mut architectures = vec![target.arch];
    for map in profile.arch_map.iter().flatten() {
        let main = parse_arch(&map.architecture)?;
        let subs = map
            .sub_architectures
            .iter()
            .flatten()
            .map(|s| parse_arch(s))
            .collect::<Result<Vec<_>, _>>()?;
        if main == target.arch {
            architectures.extend(subs.into_iter().filter(|a| *a != main));
        }
    }
    let mut syscalls = Vec::new();
    for entry in profile.syscalls.iter().flatten() {
        if let Some(sc) = convert(entry, &target)? {
            syscalls.push(sc);
        }
    }
    let flags = profile
        .flags
        .iter()
        .flatten()
        .map(|f| flags::parse(f))
        .collect::<Result<Vec<_>, _>>()?;
    let mut b = LinuxSeccompBuilder::default()
        .default_action(parse_action(&profile.default_action)?)
        .architectures(architectures)
        .syscalls(syscalls);
    if let Some(errno) = profile.default_errno_ret {
        b = b.default_errno_ret(errno);
    }
    if !flags.is_empty() {
        b = b.flags(flags);
    }
    b.build().map_err(|e| SeccompError::Spec(e.to_string()))
}

/// The OCI rule of `entry`, `None` when it does not apply to `target`.
fn convert(entry: &Entry, target: &Target) -> Result<Option<LinuxSyscall>, SeccompError> {
    let mut names: Vec<String> = entry.names.clone().unwrap_or_default();
    names.extend(entry.name.clone());
    let action = parse_action(&entry.action)?;
    let mut args = Vec::new();
    for a in entry.args.iter().flatten() {
        let op = parse_operator(&a.op, &names)?;
        let mut b = LinuxSeccompArgBuilder::default()
            .index(a.index)
            .value(a.value)
            .op(op);
        if let Some(v2) = a.value_two {
            b = b.value_two(v2);
        }
        args.push(b.build().map_err(|e| SeccompError::Spec(e.to_string()))?);
    }
    let includes = entry.includes.as_ref();
    let excludes = entry.excludes.as_ref();
    let applies = matches(includes, target, true)? && !matches(excludes, target, false)?;
    if !applies || names.is_empty() {
        return Ok(None);
    }
    let mut b = LinuxSyscallBuilder::default().names(names).action(action);
    if let Some(errno) = entry.errno_ret {
        b = b.errno_ret(errno);
    }
    if !args.is_empty() {
        b = b.args(args);
    }
    b.build()
        .map(Some)
        .map_err(|e| SeccompError::Spec(e.to_string()))
}

/// For `includes` (`all` true): every given condition holds (an absent
/// filter holds). For `excludes`: any given condition holds (an absent
/// filter does not).
fn matches(filter: Option<&Filter>, t: &Target, all: bool) -> Result<bool, SeccompError> {
    let Some(f) = filter else { return Ok(all) };
    let mut results = Vec::new();
    if let Some(caps) = f.caps.as_ref().filter(|c| !c.is_empty()) {
        let has = |c: &String| t.caps.contains(&normalize_cap(c));
        results.push(if all {
            caps.iter().all(has)
        } else {
            caps.iter().any(has)
        });
    }
    if let Some(arches) = f.arches.as_ref().filter(|a| !a.is_empty()) {
        let mut hit = false;
        for a in arches {
            hit |= parse_arch(a)? == t.arch;
        }
        results.push(hit);
    }
    if let Some(min) = f.min_kernel.as_deref().filter(|m| !m.is_empty()) {
        results.push(t.kernel >= parse_kernel(min)?);
    }
    Ok(if all {
        results.iter().all(|r| *r)
    } else {
        results.iter().any(|r| *r)
    })
}

/// `SCMP_ACT_*` by name.
pub fn parse_action(name: &str) -> Result<LinuxSeccompAction, SeccompError> {
    LinuxSeccompAction::from_str(name).map_err(|_| SeccompError::UnknownAction(name.to_owned()))
}

fn parse_operator(op: &str, names: &[String]) -> Result<LinuxSeccompOperator, SeccompError> {
    LinuxSeccompOperator::from_str(op).map_err(|_| SeccompError::UnknownOperator {
        op: op.to_owned(),
        syscall: names.join(","),
    })
}

/// `CAP_SYS_ADMIN` for `sys_admin`, `SYS_ADMIN` or `CAP_SYS_ADMIN`.
fn normalize_cap(cap: &str) -> String {
    let upper = cap.trim().to_ascii_uppercase();
    if upper.starts_with("CAP_") {
        upper
    } else {
        format!("CAP_{upper}")
    }
}

/// `MAJOR.MINOR` (anything after the minor number is ignored).
pub fn parse_kernel(text: &str) -> Result<(u32, u32), SeccompError> {
    let bad = || SeccompError::KernelVersion(text.to_owned());
    let mut parts = text.split('.');
    let major = parts.next().and_then(|p| p.parse().ok()).ok_or_else(bad)?;
    let minor: String = parts
        .next()
        .unwrap_or("")
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    Ok((major, minor.parse().map_err(|_| bad())?))
}

/// The running kernel's `(major, minor)`, from uname(2).
pub fn kernel_version() -> Result<(u32, u32), SeccompError> {
    let uts = nix::sys::utsname::uname().map_err(|e| SeccompError::Load {
        reason: "uname failed",
        source: e.into(),
    })?;
    parse_kernel(&uts.release().to_string_lossy())
}

#[cfg(test)]
#[path = "profile_tests.rs"]
mod tests;
