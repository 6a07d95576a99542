//! `linux.resources` applied to a container's cgroup: v1 controller
//! directories on v1 and hybrid hosts, the unified directory (with the
//! controllers enabled in every ancestor) on pure cgroup v2. Every value
//! asked for is written or refused with an error naming its spec field;
//! nothing is dropped silently. docs/cgroups.md describes the mapping.

mod bpf;
mod cpu;
pub mod device_rules;
mod devices_v1;
pub mod devices_v2;
mod hugetlb;
mod io;
mod memory;
mod network;
mod pids;
mod spec_json;
pub mod stats;
mod target;
mod unified;
mod validate;

use oci_spec::runtime::LinuxResources;

use super::Cgroup;
use crate::error::{Result, RuntimeError};
use target::Target;

pub use cpu::shares_to_weight;
pub use io::blkio_to_io_weight;
pub use spec_json::normalize_config;
pub use stats::{memory_events, stats};
pub use validate::{page_size, valid_cpuset, validate};

/// Writes every value `res` asks for into `cg` (call [`validate`] first).
/// Meant for a cgroup that exists and has no process yet (create), and for
/// a running container (update).
pub fn apply(cg: &Cgroup, res: &LinuxResources) -> Result<()> {
    let t = Target::new(cg);
    if let Some(m) = res.memory() {
        memory::apply(&t, m)?;
    }
    if let Some(c) = res.cpu() {
        cpu::apply(&t, c)?;
    }
    if let Some(p) = res.pids() {
        pids::apply(&t, p)?;
    }
    if let Some(b) = res.block_io() {
        io::apply(&t, b)?;
    }
    if let Some(h) = res.hugepage_limits() {
        hugetlb::apply(&t, h)?;
    }
    if let Some(n) = res.network() {
        network::apply(&t, n)?;
    }
    if let Some(r) = res.rdma() {
        network::rdma(&t, r)?;
    }
    devices(&t, cg, res)?;
    if let Some(u) = res.unified() {
        unified::apply(&t, u)?;
    }
    Ok(())
}

/// Device rules: v1 devices.deny/allow, v2 an eBPF program. Rootless they
/// are skipped: the device controller cannot be delegated (v1) and loading
/// BPF programs needs privileges (v2), and in a user namespace the
/// container cannot mknod nor reach devices its user could not already.
fn devices(t: &Target<'_>, cg: &Cgroup, res: &LinuxResources) -> Result<()> {
    let spec = res.devices().as_deref();
    let Some(rules) = device_rules::rules(spec) else {
        return Ok(());
    };
    let spec_len = spec.map_or(0, <[_]>::len);
    let field = "linux.resources.devices";
    if crate::container::is_rootless() {
        return Ok(());
    }
    if t.v2() {
        let dir = cg
            .unified
            .as_deref()
            .ok_or_else(|| RuntimeError::Spec(format!("{field}: no cgroup v2 directory")))?;
        let prog = bpf::load(&devices_v2::program(&rules), field)?;
        return bpf::attach(dir, &prog, field);
    }
    let dir = t.dir("devices", "devices", field)?;
    devices_v1::apply(&dir, &rules, spec_len)
}
