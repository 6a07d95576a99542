//! cgroup limits (`--memory`, `--memory-swap`, `--memory-reservation`,
//! `--pids-limit`, `--cpus`, `--cpu-shares`, `--cpuset-cpus`), the device
//! rules, `cgroupsPath`, and `--sysctl`.
//!
//! Rootful: podman's defaults (a pids limit of 2048 where the pids
//! controller exists; memory+swap twice the memory limit where swap is
//! accounted). Rootless: no defaults (podman sets none without its systemd
//! cgroup manager), and an explicit limit needs a cgroup v2 subtree
//! delegated to the user with that controller; otherwise it is an error
//! naming the flag. podman 5 only warns and drops limits on rootless cgroup
//! v1; husk refuses rather than silently ignore a limit.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use oci_spec::runtime::{
    LinuxCpuBuilder, LinuxDeviceCgroup, LinuxDeviceCgroupBuilder, LinuxDeviceType,
    LinuxMemoryBuilder, LinuxPidsBuilder, LinuxResources, LinuxResourcesBuilder,
};

use super::error::{Result, SpecError};
use super::namespaces::{Mode, Plan};

/// podman's default pids limit.
pub const DEFAULT_PIDS_LIMIT: i64 = 2048;
/// podman's smallest memory limit (6 MiB).
pub const MIN_MEMORY: i64 = 6 << 20;
/// The CFS period podman uses for `--cpus`.
pub const CPU_PERIOD: u64 = 100_000;

const CGROUP_ROOT: &str = "/sys/fs/cgroup";

/// What the host's cgroups offer, probed only as far as needed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CgroupHost {
    /// /sys/fs/cgroup is a cgroup2 mount (pure v2).
    pub v2: bool,
}

impl CgroupHost {
    /// One statfs(2) of /sys/fs/cgroup.
    pub fn probe() -> CgroupHost {
        let v2 = nix::sys::statfs::statfs(CGROUP_ROOT)
            .map(|s| s.filesystem_type() == nix::sys::statfs::CGROUP2_SUPER_MAGIC)
            .unwrap_or(false);
        CgroupHost { v2 }
    }

    /// Whether controller `c` is available to rootful containers.
    pub fn has_controller(&self, c: &str) -> bool {
        if self.v2 {
            std::fs::read_to_string(Path::new(CGROUP_ROOT).join("cgroup.controllers"))
                .is_ok_and(|s| s.split_whitespace().any(|x| x == c))
        } else {
            Path::new(CGROUP_ROOT).join(c).join("cgroup.procs").exists()
        }
    }

    /// Whether memory+swap can be limited (cgroup v1: memsw accounting on).
    pub fn has_swap_accounting(&self) -> bool {
        if self.v2 {
            return true;
        }
        Path::new(CGROUP_ROOT)
            .join("memory/memory.memsw.limit_in_bytes")
            .exists()
    }

    /// Rootless: `Ok` when this user's own cgroup (v2) is writable and offers
    /// controller `c`, else why not.
    pub fn rootless_delegated(&self, c: &str) -> std::result::Result<(), String> {
        if !self.v2 {
            return Err(
                "running rootless, limits need cgroup v2 with controllers delegated to the user, \
                 and this host mounts cgroup v1 controllers"
                    .into(),
            );
        }
        let own = std::fs::read_to_string("/proc/self/cgroup")
            .ok()
            .and_then(|s| {
                s.lines()
                    .find_map(|l| l.strip_prefix("0::").map(str::to_owned))
            })
            .unwrap_or_default();
        let dir = Path::new(CGROUP_ROOT).join(own.trim_start_matches('/'));
        let writable = nix::unistd::access(&dir, nix::unistd::AccessFlags::W_OK).is_ok();
        let offers = std::fs::read_to_string(dir.join("cgroup.controllers"))
            .is_ok_and(|s| s.split_whitespace().any(|x| x == c));
        if writable && offers {
            Ok(())
        } else {
            Err(format!(
                "running rootless, limits need the {c} controller delegated to this user's cgroup {} ({})",
                dir.display(),
                if writable { "it lacks the controller" } else { "it is not writable" }
            ))
        }
    }
}

/// The limit flags.
#[derive(Debug, Clone, Copy, Default)]
pub struct Limits<'a> {
    /// `--memory` bytes.
    pub memory: Option<i64>,
    /// `--memory-swap` bytes (-1 unlimited).
    pub memory_swap: Option<i64>,
    /// `--memory-reservation` bytes.
    pub memory_reservation: Option<i64>,
    /// `--pids-limit` (0 or -1 unlimited).
    pub pids_limit: Option<i64>,
    /// `--cpus`.
    pub cpus: Option<f64>,
    /// `--cpu-period`.
    pub cpu_period: Option<u64>,
    /// `--cpu-quota`.
    pub cpu_quota: Option<i64>,
    /// `--cpu-shares`.
    pub cpu_shares: Option<u64>,
    /// `--cpuset-cpus`.
    pub cpuset_cpus: Option<&'a str>,
}

impl Limits<'_> {
    /// Whether any limit is set.
    pub fn any(&self) -> bool {
        self.memory.is_some()
            || self.memory_swap.is_some()
            || self.memory_reservation.is_some()
            || self.pids_limit.is_some()
            || self.cpus.is_some()
            || self.cpu_period.is_some()
            || self.cpu_quota.is_some()
            || self.cpu_shares.is_some()
            || self.cpuset_cpus.is_some()
    }
}

fn check_cpuset(v: &str) -> Result<()> {
    let ok = !v.is_empty()
        && v.split(',').all(|part| {
            let (a, b) = part.split_once('-').unwrap_or((part, part));
            matches!((a.parse::<u32>(), b.parse::<u32>()), (Ok(a), Ok(b)) if a <= b)
        });
    if ok {
        Ok(())
    } else {
        Err(SpecError::invalid(
            "--cpuset-cpus",
            v,
            "expected a list of CPU numbers and ranges, such as 0-2,4",
        ))
    }
}

/// `linux.resources`: the limits and the device rules. `None` when there is
/// nothing to set.
pub fn build(
    l: &Limits<'_>,
    devices: Vec<LinuxDeviceCgroup>,
    rootless: bool,
    host: &CgroupHost,
) -> Result<Option<LinuxResources>> {
    let need = |flag: &'static str, ctrl: &str| -> Result<()> {
        if rootless {
            host.rootless_delegated(ctrl)
                .map_err(|reason| SpecError::Resource { flag, reason })
        } else if !host.has_controller(ctrl) {
            Err(SpecError::Resource {
                flag,
                reason: format!("this host has no {ctrl} cgroup controller"),
            })
        } else {
            Ok(())
        }
    };
    let mut r = LinuxResourcesBuilder::default();
    let mut any = false;

    // Memory.
    if let Some(m) = l.memory {
        if m < MIN_MEMORY {
            return Err(SpecError::invalid(
                "--memory",
                &m.to_string(),
                "the minimum memory limit allowed is 6MB",
            ));
        }
    }
    if let (Some(s), None) = (l.memory_swap, l.memory) {
        if s != -1 {
            return Err(SpecError::Conflict(
                "you should always set a memory limit when using a memoryswap limit".into(),
            ));
        }
    }
    if let (Some(s), Some(m)) = (l.memory_swap, l.memory) {
        if s != -1 && s < m {
            return Err(SpecError::invalid(
                "--memory-swap",
                &s.to_string(),
                "the memory+swap limit must be at least the memory limit (--memory)",
            ));
        }
    }
    if let (Some(res), Some(m)) = (l.memory_reservation, l.memory) {
        if res > m {
            return Err(SpecError::invalid(
                "--memory-reservation",
                &res.to_string(),
                "the reservation must not exceed the memory limit (--memory)",
            ));
        }
    }
    if l.memory.is_some()
        || l.memory_reservation.is_some()
        || l.memory_swap.is_some_and(|s| s != -1)
    {
        let flag = if l.memory.is_some() {
            "--memory"
        } else {
            "--memory-reservation"
        };
        need(flag, "memory")?;
        let mut mb = LinuxMemoryBuilder::default();
        if let Some(m) = l.memory {
            mb = mb.limit(m);
            match l.memory_swap {
                Some(s) => {
                    if s != -1 && !host.has_swap_accounting() {
                        return Err(SpecError::Resource {
                            flag: "--memory-swap",
                            reason: "this host does not account swap (memory.memsw.limit_in_bytes is missing)".into(),
                        });
                    }
                    mb = mb.swap(s);
                }
                // podman: memory+swap defaults to twice the memory limit.
                None if host.has_swap_accounting() => mb = mb.swap(m.saturating_mul(2)),
                None => {}
            }
        }
        if let Some(res) = l.memory_reservation {
            mb = mb.reservation(res);
        }
        r = r.memory(mb.build().expect("optional fields"));
        any = true;
    }

    // CPU.
    let mut cb = LinuxCpuBuilder::default();
    let mut cpu = false;
    if let Some(c) = l.cpus {
        let quota = (c * CPU_PERIOD as f64).round();
        if !c.is_finite() || c < 0.0 || (c > 0.0 && quota < 1000.0) {
            return Err(SpecError::invalid(
                "--cpus",
                &c.to_string(),
                "expected a positive number of CPUs, at least 0.01",
            ));
        }
        if c > 0.0 {
            need("--cpus", "cpu")?;
            cb = cb.quota(quota as i64).period(CPU_PERIOD);
            cpu = true;
        }
    }
    if l.cpus.is_some_and(|c| c > 0.0) && (l.cpu_period.is_some() || l.cpu_quota.is_some()) {
        return Err(SpecError::Conflict(
            "--cpus cannot be used with --cpu-period or --cpu-quota".into(),
        ));
    }
    if let Some(p) = l.cpu_period {
        if !(1000..=1_000_000).contains(&p) {
            return Err(SpecError::invalid(
                "--cpu-period",
                &p.to_string(),
                "the period ranges from 1000 (1ms) to 1000000 (1s) microseconds",
            ));
        }
        need("--cpu-period", "cpu")?;
        cb = cb.period(p);
        cpu = true;
    }
    if let Some(q) = l.cpu_quota.filter(|q| *q != 0) {
        if q != -1 && q < 1000 {
            return Err(SpecError::invalid(
                "--cpu-quota",
                &q.to_string(),
                "the quota is at least 1000 microseconds, or -1 for none",
            ));
        }
        need("--cpu-quota", "cpu")?;
        cb = cb.quota(q);
        cpu = true;
    }
    if let Some(s) = l.cpu_shares.filter(|s| *s != 0) {
        if !(2..=262_144).contains(&s) {
            return Err(SpecError::invalid(
                "--cpu-shares",
                &s.to_string(),
                "shares range from 2 to 262144",
            ));
        }
        need("--cpu-shares", "cpu")?;
        cb = cb.shares(s);
        cpu = true;
    }
    if let Some(set) = l.cpuset_cpus.filter(|s| !s.is_empty()) {
        check_cpuset(set)?;
        need("--cpuset-cpus", "cpuset")?;
        cb = cb.cpus(set.to_owned());
        cpu = true;
    }
    if cpu {
        r = r.cpu(cb.build().expect("optional fields"));
        any = true;
    }

    // Pids.
    match l.pids_limit {
        Some(p) if p > 0 => {
            need("--pids-limit", "pids")?;
            r = r.pids(
                LinuxPidsBuilder::default()
                    .limit(p)
                    .build()
                    .expect("limit set"),
            );
            any = true;
        }
        Some(p) if p < -1 => {
            return Err(SpecError::invalid(
                "--pids-limit",
                &p.to_string(),
                "use a positive limit, or -1 or 0 for none",
            ))
        }
        Some(_) => {
            if !rootless && host.has_controller("pids") {
                r = r.pids(
                    LinuxPidsBuilder::default()
                        .limit(-1)
                        .build()
                        .expect("limit set"),
                );
                any = true;
            }
        }
        None => {
            if !rootless && host.has_controller("pids") {
                r = r.pids(
                    LinuxPidsBuilder::default()
                        .limit(DEFAULT_PIDS_LIMIT)
                        .build()
                        .expect("limit set"),
                );
                any = true;
            }
        }
    }
    if !devices.is_empty() {
        r = r.devices(devices);
        any = true;
    }
    Ok(any.then(|| r.build().expect("optional fields")))
}

/// A device cgroup rule.
pub fn device_rule(
    allow: bool,
    typ: Option<LinuxDeviceType>,
    major: Option<i64>,
    minor: Option<i64>,
    access: &str,
) -> LinuxDeviceCgroup {
    let mut b = LinuxDeviceCgroupBuilder::default()
        .allow(allow)
        .access(access.to_owned());
    if let Some(t) = typ {
        b = b.typ(t);
    }
    if let Some(m) = major {
        b = b.major(m);
    }
    if let Some(m) = minor {
        b = b.minor(m);
    }
    b.build().expect("optional fields")
}

/// `linux.cgroupsPath`: rootful `/husk/<id>`, or `<parent>/<id>` under a
/// given parent (a pod's cgroup); rootless only under a given parent
/// (relative to the user's own cgroup), else none and the runtime decides
/// (a delegated subtree when there is one, else no cgroup).
pub fn cgroups_path(id: &str, parent: Option<&str>, rootless: bool) -> Result<Option<PathBuf>> {
    if let Some(p) = parent {
        if p.split('/').any(|c| c == "..") || p.contains('\0') || p.contains(':') {
            return Err(SpecError::Internal(format!(
                "cgroup parent {p:?} must be a plain cgroup path"
            )));
        }
    }
    Ok(match (parent, rootless) {
        (Some(p), true) => Some(PathBuf::from(p).join(id)),
        (Some(p), false) => Some(PathBuf::from("/").join(p.trim_start_matches('/')).join(id)),
        (None, true) => None,
        (None, false) => Some(PathBuf::from("/husk").join(id)),
    })
}

const NAMESPACED_SYSCTLS: [&str; 8] = [
    "kernel.msgmax",
    "kernel.msgmnb",
    "kernel.msgmni",
    "kernel.sem",
    "kernel.shmall",
    "kernel.shmmax",
    "kernel.shmmni",
    "kernel.shm_rmid_forced",
];

/// `linux.sysctl`: podman's default `net.ipv4.ping_group_range=0 0` when the
/// container has a network namespace of its own, then `--sysctl` values,
/// which must be namespaced (IPC: the kernel.msg*/sem/shm* set and
/// `fs.mqueue.*`; network: `net.*`) and not name a namespace shared with
/// the host.
pub fn sysctls(values: &[String], ns: &Plan) -> Result<HashMap<String, String>> {
    let mut out = HashMap::new();
    if ns.network.is_private() {
        out.insert("net.ipv4.ping_group_range".into(), "0 0".into());
    }
    for v in values {
        let (k, val) = v
            .split_once('=')
            .ok_or_else(|| SpecError::invalid("--sysctl", v, "expected NAME=VALUE"))?;
        if k.trim() != k || k.is_empty() || k.contains('/') || k.contains("..") {
            return Err(SpecError::invalid("--sysctl", v, "a bad sysctl name"));
        }
        let ipc = NAMESPACED_SYSCTLS.contains(&k) || k.starts_with("fs.mqueue.");
        let net = k.starts_with("net.");
        if !ipc && !net {
            return Err(SpecError::invalid(
                "--sysctl",
                v,
                format!("sysctl {k:?} is not allowed: only namespaced sysctls (net.*, fs.mqueue.*, kernel.msg*/sem/shm*) can be set"),
            ));
        }
        if net && ns.network == Mode::Host {
            return Err(SpecError::Conflict(format!(
                "--sysctl {v}: cannot set a net.* sysctl with --network host"
            )));
        }
        if ipc && ns.ipc == Mode::Host {
            return Err(SpecError::Conflict(format!(
                "--sysctl {v}: cannot set an IPC sysctl with --ipc host"
            )));
        }
        out.insert(k.to_owned(), val.to_owned());
    }
    Ok(out)
}

#[cfg(test)]
#[path = "resources_tests.rs"]
mod tests;
