//! `husk pod inspect`: podman 5's document for a pod.

use serde_json::{json, Value};

use super::error::Result;
use super::lookup;
use super::options::Namespace;
use super::status::{members, state_of};
use crate::catalog::pods::PodRecord;
use crate::catalog::Catalog;
use crate::format::times::Timestamp;
use crate::paths::Paths;

fn go_time(rfc3339: &str) -> String {
    Timestamp::parse_rfc3339(rfc3339)
        .map(|t| t.to_local().format_rfc3339_nano())
        .unwrap_or_else(|_| rfc3339.to_owned())
}

/// The inspect document of `pod`.
pub fn inspect(paths: &Paths, cat: &Catalog, pod: &PodRecord) -> Result<Value> {
    let opts = lookup::options(pod);
    let all = members(paths, cat, pod)?;
    let cgroup_path = lookup::cgroup_parent(pod);
    let cgroup_parent = cgroup_path
        .as_deref()
        .and_then(|p| p.rsplit_once('/'))
        .map(|(parent, _)| if parent.is_empty() { "/" } else { parent })
        .unwrap_or_default();
    let shared: Vec<&str> = Namespace::ALL
        .iter()
        .filter(|n| opts.shares(**n))
        .map(|n| n.as_str())
        .collect();
    let containers: Vec<Value> = all
        .iter()
        .map(|m| {
            json!({
                "Id": m.rec.id,
                "Name": m.rec.name,
                "State": m.live.state.as_str(),
            })
        })
        .collect();
    let infra_config = opts.infra.then(|| {
        json!({
            "PortBindings": {},
            "HostNetwork": opts.network.as_deref() == Some("host"),
            "StaticIP": "",
            "StaticMAC": "",
            "NoManageResolvConf": false,
            "DNSServer": null,
            "DNSSearch": null,
            "DNSOption": null,
            "NoManageHosts": false,
            "HostAdd": null,
            "Networks": [],
            "NetworkOptions": null,
            "pid_ns": "private",
            "userns": opts.userns.clone().unwrap_or_else(|| "host".into()),
            "uts_ns": "private",
            "InfraCommand": opts.infra_argv(),
        })
    });
    let mut doc = json!({
        "Id": pod.id,
        "Name": pod.name,
        "Created": go_time(&pod.created),
        "ExitPolicy": "continue",
        "State": state_of(&all).as_str(),
        "Hostname": if opts.shares(Namespace::Uts) { lookup::hostname(pod) } else { String::new() },
        "Labels": opts.labels,
        "CreateCgroup": cgroup_path.is_some(),
        "CgroupParent": cgroup_parent,
        "CgroupPath": cgroup_path.clone().unwrap_or_default(),
        "CreateInfra": opts.infra,
        "InfraContainerID": pod.infra_id.clone().unwrap_or_default(),
        "SharedNamespaces": shared,
        "NumContainers": all.len(),
        "Containers": containers,
        "LockNumber": 0,
    });
    if let Some(c) = infra_config {
        doc["InfraConfig"] = c;
    }
    Ok(doc)
}
