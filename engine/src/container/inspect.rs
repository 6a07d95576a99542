//! `husk inspect` of a container: podman's document (field names and
//! nesting as podman 5 prints them), built from the catalog row, the live
//! state and the container's OCI spec.

use oci_spec::runtime::Spec;
use serde_json::{json, Value};

use super::live::Live;
use crate::catalog::containers::{ContainerRecord, State};
use crate::paths::Paths;

/// Go's zero time, which podman prints for "never".
const ZERO_TIME: &str = "0001-01-01T00:00:00Z";

fn caps(list: Option<&oci_spec::runtime::Capabilities>) -> Value {
    let mut v: Vec<String> = list
        .map(|s| s.iter().map(|c| c.to_string()).collect())
        .unwrap_or_default();
    v.sort();
    json!(v)
}

/// `-v` binds as podman lists them: `SRC:DST:ro|rw,PROPAGATION,rbind`,
/// from the spec's mounts at the volumes' destinations.
fn binds(spec: Option<&Spec>, volumes: &[String]) -> Vec<String> {
    let mounts = spec.and_then(|s| s.mounts().clone()).unwrap_or_default();
    volumes
        .iter()
        .filter_map(|v| {
            let dest = v.split(':').nth(1)?;
            let m = mounts
                .iter()
                .find(|m| m.destination() == std::path::Path::new(dest))?;
            let opts = m.options().clone().unwrap_or_default();
            let mode = if opts.iter().any(|o| o == "ro") {
                "ro"
            } else {
                "rw"
            };
            let prop = opts
                .iter()
                .find(|o| o.ends_with("private") || o.ends_with("shared") || o.ends_with("slave"))
                .map(String::as_str)
                .unwrap_or("rprivate");
            let src = m.source().as_ref()?.display().to_string();
            Some(format!("{src}:{dest}:{mode},{prop},rbind"))
        })
        .collect()
}

/// Capability names as podman shows them: upper case, `CAP_` prefixed.
fn cap_names(caps: &[String]) -> Vec<String> {
    caps.iter()
        .map(|c| {
            let u = c.to_ascii_uppercase();
            if u.starts_with("CAP_") || u == "ALL" {
                u
            } else {
                format!("CAP_{u}")
            }
        })
        .collect()
}

fn mount_doc(m: &oci_spec::runtime::Mount) -> Option<Value> {
    let kind = m.typ().clone().unwrap_or_default();
    let dest = m.destination().display().to_string();
    let opts: Vec<String> = m.options().clone().unwrap_or_default();
    // The standard filesystems every container gets are not user mounts.
    let user = kind == "bind"
        || (kind == "tmpfs"
            && !matches!(dest.as_str(), "/dev" | "/dev/shm" | "/run/.containerenv"));
    if !user
        || matches!(
            dest.as_str(),
            "/etc/hosts"
                | "/etc/hostname"
                | "/etc/resolv.conf"
                | "/run/.containerenv"
                | "/run/husk-init"
        )
    {
        return None;
    }
    let rw = !opts.iter().any(|o| o == "ro");
    let propagation = opts
        .iter()
        .find(|o| {
            matches!(
                o.as_str(),
                "rprivate" | "private" | "rshared" | "shared" | "rslave" | "slave"
            )
        })
        .cloned()
        .unwrap_or_else(|| {
            if kind == "bind" {
                "rprivate".into()
            } else {
                String::new()
            }
        });
    Some(json!({
        "Type": kind,
        "Source": m.source().as_ref().map(|s| s.display().to_string()).unwrap_or_default(),
        "Destination": dest,
        "Driver": "",
        "Mode": "",
        "Options": opts.iter().filter(|o| !matches!(o.as_str(), "rbind" | "bind")).collect::<Vec<_>>(),
        "RW": rw,
        "Propagation": propagation,
    }))
}

fn load_spec(paths: &Paths, id: &str) -> Option<Spec> {
    let data = std::fs::read(paths.userdata(id).join("config.json")).ok()?;
    serde_json::from_slice(&data).ok()
}

/// The inspect document of `rec`.
pub fn inspect(paths: &Paths, rec: &ContainerRecord, live: &Live, pod_name: &str) -> Value {
    let spec = load_spec(paths, &rec.id);
    let process = spec.as_ref().and_then(|s| s.process().clone());
    let args = process
        .as_ref()
        .and_then(|p| p.args().clone())
        .unwrap_or_else(|| rec.command.clone());
    let env = process
        .as_ref()
        .and_then(|p| p.env().clone())
        .unwrap_or_default();
    let exit_code = live
        .exit
        .as_ref()
        .map(|e| e.exit_code)
        .or(rec.exit_code)
        .unwrap_or(0);
    let oom = live
        .exit
        .as_ref()
        .map(|e| e.oom_killed)
        .unwrap_or(rec.oom_killed);
    let finished = live
        .exit
        .as_ref()
        .map(|e| e.finished_at.clone())
        .or_else(|| rec.finished_at.clone())
        .unwrap_or_else(|| ZERO_TIME.into());
    let o = &rec.options;
    let userdata = paths.userdata(&rec.id);
    let storage = paths.storage().join("containers").join(&rec.id);
    let rootfs = rec
        .extra
        .get("rootfs")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .unwrap_or_default();
    let mounts: Vec<Value> = spec
        .as_ref()
        .and_then(|s| s.mounts().clone())
        .unwrap_or_default()
        .iter()
        .filter_map(mount_doc)
        .collect();
    let hostname = spec
        .as_ref()
        .and_then(|s| s.hostname().clone())
        .unwrap_or_default();
    let user = process
        .as_ref()
        .map(|p| {
            let u = p.user();
            o.user
                .clone()
                .unwrap_or_else(|| format!("{}:{}", u.uid(), u.gid()))
        })
        .unwrap_or_default();
    let capabilities = process.as_ref().and_then(|p| p.capabilities().clone());
    let resources = spec
        .as_ref()
        .and_then(|s| s.linux().clone())
        .and_then(|l| l.resources().clone());
    let memory = resources
        .as_ref()
        .and_then(|r| r.memory().as_ref())
        .and_then(|m| m.limit())
        .unwrap_or(0);
    let memory_swap = resources
        .as_ref()
        .and_then(|r| r.memory().as_ref())
        .and_then(|m| m.swap())
        .unwrap_or(0);
    let pids_limit = resources
        .as_ref()
        .and_then(|r| r.pids().as_ref())
        .map(|p| p.limit())
        .unwrap_or(0);
    let cpu = resources.as_ref().and_then(|r| r.cpu().clone());
    let log_path = rec
        .extra
        .get("log_path")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .unwrap_or_else(|| paths.log_file(&rec.id).display().to_string());
    let ulimits: Vec<Value> = process
        .as_ref()
        .and_then(|p| p.rlimits().clone())
        .unwrap_or_default()
        .iter()
        .map(|r| {
            json!({
                "Name": r.typ().to_string().to_uppercase(),
                "Soft": r.soft(),
                "Hard": r.hard(),
            })
        })
        .collect();
    let state = live.state;
    let state_doc = json!({
        "OciVersion": husk_runtime::state::OCI_VERSION,
        "Status": state.as_str(),
        "Running": state == State::Running,
        "Paused": state == State::Paused,
        "Restarting": false,
        "OOMKilled": oom,
        "Dead": false,
        "Pid": live.pid,
        "ConmonPid": if state.is_active() { rec.shim_pid } else { 0 },
        "ExitCode": exit_code,
        "Error": "",
        "StartedAt": rec.started_at.clone().unwrap_or_else(|| ZERO_TIME.into()),
        "FinishedAt": finished,
        "CheckpointedAt": ZERO_TIME,
        "RestoredAt": ZERO_TIME,
    });
    let network = json!({
        "EndpointID": "",
        "Gateway": "",
        "IPAddress": "",
        "IPPrefixLen": 0,
        "IPv6Gateway": "",
        "GlobalIPv6Address": "",
        "GlobalIPv6PrefixLen": 0,
        "MacAddress": "",
        "Bridge": "",
        "SandboxID": "",
        "HairpinMode": false,
        "LinkLocalIPv6Address": "",
        "LinkLocalIPv6PrefixLen": 0,
        "Ports": {},
        "SandboxKey": "",
    });
    let config_doc = json!({
        "Hostname": hostname,
        "Domainname": "",
        "User": user,
        "AttachStdin": o.interactive && !o.detach,
        "AttachStdout": !o.detach,
        "AttachStderr": !o.detach,
        "Tty": o.tty,
        "OpenStdin": o.interactive,
        "StdinOnce": false,
        "Env": env,
        "Cmd": if o.command.is_empty() { Value::Null } else { json!(o.command) },
        "Image": rec.image_name,
        "Volumes": Value::Null,
        "WorkingDir": process.as_ref().map(|p| p.cwd().display().to_string()).unwrap_or_default(),
        "Entrypoint": o
            .entrypoint
            .as_ref()
            .map(|e| json!(e))
            .or_else(|| rec.extra.get("image_entrypoint").cloned())
            .unwrap_or(Value::Null),
        "OnBuild": Value::Null,
        "Labels": o.labels,
        "Annotations": spec.as_ref().and_then(|s| s.annotations().clone()).unwrap_or_default(),
        "StopSignal": super::stop::stop_signal(rec) as i32,
        "StopTimeout": o.stop_timeout.unwrap_or(super::stop::DEFAULT_STOP_TIMEOUT),
        "CreateCommand": rec.extra.get("create_command").cloned().unwrap_or(json!([])),
        "Umask": "0022",
        "Timeout": 0,
    });
    let host_config = json!({
        "Binds": binds(spec.as_ref(), &o.volumes),
        "CgroupManager": "cgroupfs",
        "CgroupMode": o.cgroupns.clone().unwrap_or_else(|| "private".into()),
        "ContainerIDFile": "",
        "LogConfig": {
            "Type": o.log_driver.clone().unwrap_or_else(|| "k8s-file".into()),
            "Config": Value::Null,
            "Path": log_path,
            "Tag": o.log_opts.get("tag").cloned().unwrap_or_default(),
            "Size": o.log_opts.get("max-size").cloned().unwrap_or_else(|| "0B".into()),
        },
        "NetworkMode": o.network.clone().unwrap_or_else(|| "private".into()),
        "PortBindings": {},
        "RestartPolicy": {
            "Name": o.restart.clone().unwrap_or_default(),
            "MaximumRetryCount": 0,
        },
        "AutoRemove": o.rm,
        "VolumeDriver": "",
        "VolumesFrom": Value::Null,
        "CapAdd": cap_names(&o.cap_add),
        "CapDrop": cap_names(&o.cap_drop),
        "Dns": o.dns,
        "DnsOptions": o.dns_options,
        "DnsSearch": o.dns_search,
        "ExtraHosts": o.add_hosts,
        "GroupAdd": o.group_add,
        "IpcMode": o.ipc.clone().unwrap_or_else(|| "private".into()),
        "Cgroup": "",
        "Cgroups": "default",
        "Links": Value::Null,
        "OomScoreAdj": o.oom_score_adj.unwrap_or(0),
        "PidMode": o.pid.clone().unwrap_or_else(|| "private".into()),
        "Privileged": o.privileged,
        "PublishAllPorts": false,
        "ReadonlyRootfs": o.read_only,
        "SecurityOpt": o.security_opt,
        "Tmpfs": o.tmpfs.iter().map(|t| {
            let (d, opts) = t.split_once(':').unwrap_or((t.as_str(), ""));
            (d.to_owned(), json!(opts))
        }).collect::<serde_json::Map<_, _>>(),
        "UTSMode": o.uts.clone().unwrap_or_else(|| "private".into()),
        "UsernsMode": o.userns.clone().unwrap_or_default(),
        "ShmSize": o.shm_size.unwrap_or(64 * 1024 * 1024),
        "Runtime": "oci",
        "ConsoleSize": [0, 0],
        "Isolation": "",
    });
    let host_resources = json!({
        "CpuShares": cpu.as_ref().and_then(|c| c.shares()).unwrap_or(0),
        "Memory": memory,
        "NanoCpus": o.cpus.map(|c| (c * 1e9) as i64).unwrap_or(0),
        "CgroupParent": "",
        "CpuPeriod": cpu.as_ref().and_then(|c| c.period()).unwrap_or(0),
        "CpuQuota": cpu.as_ref().and_then(|c| c.quota()).unwrap_or(0),
        "CpusetCpus": o.cpuset_cpus.clone().unwrap_or_default(),
        "CpusetMems": "",
        "Devices": [],
        "MemoryReservation": o.memory_reservation.unwrap_or(0),
        "MemorySwap": memory_swap,
        "MemorySwappiness": 0,
        "OomKillDisable": false,
        "PidsLimit": pids_limit,
        "Ulimits": ulimits,
        "CpuCount": 0,
        "CpuPercent": 0,
    });
    let mut host_config = host_config;
    if let (Some(h), Value::Object(r)) = (host_config.as_object_mut(), host_resources) {
        h.extend(r);
    }
    json!({
        "Id": rec.id,
        "Created": rec.created,
        "Path": args.first().cloned().unwrap_or_default(),
        "Args": args.iter().skip(1).collect::<Vec<_>>(),
        "State": state_doc,
        "Image": rec.image_id,
        "ImageDigest": rec.extra.get("image_digest").cloned().unwrap_or(json!("")),
        "ImageName": rec.image_name,
        "Rootfs": if rec.options.rootfs { rec.image_name.clone() } else { String::new() },
        "Pod": rec.pod_id.clone().unwrap_or_default(),
        "PodName": pod_name,
        "ResolvConfPath": userdata.join("resolv.conf"),
        "HostnamePath": userdata.join("hostname"),
        "HostsPath": userdata.join("hosts"),
        "StaticDir": userdata,
        "OCIConfigPath": paths.userdata(&rec.id).join("config.json"),
        "OCIRuntime": "husk-runtime",
        "ConmonPidFile": paths.run_dir(&rec.id).join(super::live::files::SHIM_PID),
        "PidFile": "",
        "Name": rec.name,
        "RestartCount": rec.restart_count,
        "Driver": if rec.options.rootfs { "" } else { "overlay" },
        "MountLabel": "",
        "ProcessLabel": "",
        "AppArmorProfile": "",
        "EffectiveCaps": caps(capabilities.as_ref().and_then(|c| c.effective().as_ref())),
        "BoundingCaps": caps(capabilities.as_ref().and_then(|c| c.bounding().as_ref())),
        "ExecIDs": [],
        "GraphDriver": {
            "Name": if rec.options.rootfs { "" } else { "overlay" },
            "Data": {
                "MergedDir": rootfs,
                "UpperDir": storage.join("upper"),
                "WorkDir": storage.join("work"),
            },
        },
        "Mounts": mounts,
        "Dependencies": [],
        "NetworkSettings": network,
        "Namespace": "",
        "IsInfra": rec.extra.get("infra").and_then(Value::as_bool).unwrap_or(false),
        "IsService": false,
        "Config": config_doc,
        "HostConfig": host_config,
    })
}
