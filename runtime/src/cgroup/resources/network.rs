//! linux.resources.network (v1 net_cls / net_prio only) and
//! linux.resources.rdma (the rdma controller).

use std::collections::HashMap;

use oci_spec::runtime::{LinuxNetwork, LinuxRdma};

use super::target::{write_in, Target};
use crate::error::{Result, RuntimeError};

/// Applies the class id and interface priorities. cgroup v2 has neither
/// controller (use eBPF or tc there), and husk does not place containers in
/// v1 net_cls/net_prio hierarchies, so a set value is an error unless the
/// container's cgroup has that controller.
pub(super) fn apply(t: &Target<'_>, n: &LinuxNetwork) -> Result<()> {
    if let Some(id) = n.class_id() {
        let field = "linux.resources.network.classID";
        let dir = net_dir(t, "net_cls", field)?;
        write_in(&dir, "net_cls.classid", &id.to_string(), field)?;
    }
    let prios = n.priorities().as_deref().unwrap_or(&[]);
    for (i, p) in prios.iter().enumerate() {
        let field = format!("linux.resources.network.priorities[{i}]");
        let dir = net_dir(t, "net_prio", &field)?;
        let line = format!("{} {}", p.name(), p.priority());
        write_in(&dir, "net_prio.ifpriomap", &line, &field)?;
    }
    Ok(())
}

fn net_dir(t: &Target<'_>, ctrl: &str, field: &str) -> Result<std::path::PathBuf> {
    if t.v2() {
        return Err(RuntimeError::Spec(format!(
            "{field}: cgroup v2 has no {ctrl} controller"
        )));
    }
    t.dir(ctrl, ctrl, field)
}

/// Applies rdma.max lines ("DEVICE hca_handle=N hca_object=M").
pub(super) fn rdma(t: &Target<'_>, rdma: &HashMap<String, LinuxRdma>) -> Result<()> {
    let mut devs: Vec<_> = rdma.iter().collect();
    devs.sort_by(|a, b| a.0.cmp(b.0));
    for (dev, r) in devs {
        let field = format!("linux.resources.rdma[{dev:?}]");
        if dev.is_empty() || dev.contains(char::is_whitespace) {
            return Err(RuntimeError::Spec(format!("{field}: invalid device name")));
        }
        let mut line = dev.clone();
        if let Some(h) = r.hca_handles() {
            line.push_str(&format!(" hca_handle={h}"));
        }
        if let Some(o) = r.hca_objects() {
            line.push_str(&format!(" hca_object={o}"));
        }
        if line == *dev {
            continue;
        }
        let dir = t.dir("rdma", "rdma", &field)?;
        write_in(&dir, "rdma.max", &line, &field)?;
    }
    Ok(())
}
