//! `--pid`, `--ipc`, `--uts`, `--network` and `--cgroupns`: which
//! namespaces the container gets new, shares with the host, or joins.
//!
//! `container:ID` (and pod membership) needs the other container's pid, so
//! the engine resolves it to `/proc/PID/ns/TYPE` and passes the path in
//! [`NamespaceJoins`]; `ns:PATH` is used as given.

use std::path::{Path, PathBuf};

use oci_spec::runtime::{LinuxNamespace, LinuxNamespaceBuilder, LinuxNamespaceType};

use super::error::{Result, SpecError};

/// Namespace paths the engine resolved (another container's, a pod infra
/// container's). A path given here is joined, whatever the option says.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NamespaceJoins {
    /// User namespace.
    pub user: Option<PathBuf>,
    /// Pid namespace.
    pub pid: Option<PathBuf>,
    /// IPC namespace.
    pub ipc: Option<PathBuf>,
    /// UTS namespace.
    pub uts: Option<PathBuf>,
    /// Network namespace.
    pub network: Option<PathBuf>,
    /// Cgroup namespace.
    pub cgroup: Option<PathBuf>,
    /// The `/dev/shm` of the container whose IPC namespace is joined
    /// (`/proc/PID/root/dev/shm`), bind-mounted so both share POSIX shared
    /// memory; without it the joiner gets a `/dev/shm` of its own.
    pub shm: Option<PathBuf>,
}

/// How one namespace is set up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    /// A new namespace.
    Private,
    /// The host's (no namespace in the spec).
    Host,
    /// `--ipc none` / `--network none`: new, with nothing set up in it.
    None,
    /// Join the namespace at this path.
    Join(PathBuf),
}

impl Mode {
    /// Whether the container has a namespace of its own.
    pub fn is_private(&self) -> bool {
        matches!(self, Mode::Private | Mode::None)
    }
}

/// Every namespace but the user and mount ones.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// pid.
    pub pid: Mode,
    /// ipc.
    pub ipc: Mode,
    /// uts.
    pub uts: Mode,
    /// network.
    pub network: Mode,
    /// cgroup.
    pub cgroup: Mode,
    /// `--uts` was left to its default (so `--network host` may take the
    /// host's hostname, as podman does).
    pub uts_defaulted: bool,
}

fn parse(
    flag: &'static str,
    value: Option<&str>,
    join: Option<&Path>,
    default: Mode,
    extra: &[(&str, Mode)],
) -> Result<Mode> {
    if let Some(p) = join {
        return Ok(Mode::Join(p.to_path_buf()));
    }
    let Some(v) = value.filter(|v| !v.is_empty()) else {
        return Ok(default);
    };
    if let Some((_, m)) = extra.iter().find(|(name, _)| *name == v) {
        return Ok(m.clone());
    }
    match v.split_once(':') {
        None if v == "host" => Ok(Mode::Host),
        None if v == "private" => Ok(Mode::Private),
        Some(("ns", p)) | Some(("path", p)) => {
            if !p.starts_with('/') {
                return Err(SpecError::invalid(flag, v, "ns: needs an absolute path"));
            }
            Ok(Mode::Join(PathBuf::from(p)))
        }
        Some(("container", _)) => Err(SpecError::Internal(format!(
            "{flag} {v}: the engine must resolve the container to a namespace path"
        ))),
        _ => Err(SpecError::invalid(
            flag,
            v,
            "expected host, private, container:ID or ns:PATH",
        )),
    }
}

/// The namespace plan of `--pid/--ipc/--uts/--network/--cgroupns`, with
/// podman's defaults: all private, the cgroup namespace private only on a
/// cgroup v2 host.
pub fn plan(
    opts: &crate::container::options::ContainerOptions,
    joins: &NamespaceJoins,
    cgroup_v2: bool,
) -> Result<Plan> {
    let pid = parse(
        "--pid",
        opts.pid.as_deref(),
        joins.pid.as_deref(),
        Mode::Private,
        &[],
    )?;
    let ipc = parse(
        "--ipc",
        opts.ipc.as_deref(),
        joins.ipc.as_deref(),
        Mode::Private,
        &[("shareable", Mode::Private), ("none", Mode::None)],
    )?;
    let uts = parse(
        "--uts",
        opts.uts.as_deref(),
        joins.uts.as_deref(),
        Mode::Private,
        &[],
    )?;
    let network = network(opts.network.as_deref(), joins.network.as_deref())?;
    let cg_default = if cgroup_v2 { Mode::Private } else { Mode::Host };
    let cgroup = parse(
        "--cgroupns",
        opts.cgroupns.as_deref(),
        joins.cgroup.as_deref(),
        cg_default,
        &[],
    )?;
    let uts_defaulted = joins.uts.is_none() && opts.uts.as_deref().is_none_or(str::is_empty);
    Ok(Plan {
        pid,
        ipc,
        uts,
        network,
        cgroup,
        uts_defaulted,
    })
}

fn network(value: Option<&str>, join: Option<&Path>) -> Result<Mode> {
    if let Some(v) = value {
        let kind = v.split_once(':').map_or(v, |(k, _)| k);
        if matches!(kind, "bridge" | "slirp4netns" | "pasta")
            || !matches!(
                kind,
                "" | "host" | "private" | "none" | "ns" | "path" | "container"
            )
        {
            return Err(SpecError::unsupported(
                format!("--network {v}"),
                "networks come with a later issue; use none, host, private (loopback only), container:ID or ns:PATH",
            ));
        }
    }
    // Until networking exists, the default (podman's bridge or pasta) is a
    // private namespace with only the loopback interface.
    parse(
        "--network",
        value,
        join,
        Mode::Private,
        &[("none", Mode::None)],
    )
}

fn ns(kind: LinuxNamespaceType, mode: &Mode) -> Option<LinuxNamespace> {
    let b = LinuxNamespaceBuilder::default().typ(kind);
    match mode {
        Mode::Host => None,
        Mode::Private | Mode::None => Some(b.build().expect("type set")),
        Mode::Join(p) => Some(b.path(p.clone()).build().expect("type set")),
    }
}

/// A `user` namespace entry: new, or joined at `path`.
pub fn user_namespace(path: Option<&Path>) -> LinuxNamespace {
    let b = LinuxNamespaceBuilder::default().typ(LinuxNamespaceType::User);
    match path {
        Some(p) => b.path(p.to_path_buf()).build().expect("type set"),
        None => b.build().expect("type set"),
    }
}

impl Plan {
    /// `linux.namespaces`: these, a new mount namespace, and the user
    /// namespace given.
    pub fn to_oci(&self, user: Option<LinuxNamespace>) -> Vec<LinuxNamespace> {
        let mut out: Vec<LinuxNamespace> = Vec::with_capacity(7);
        out.extend(user);
        out.extend(ns(LinuxNamespaceType::Pid, &self.pid));
        out.extend(ns(LinuxNamespaceType::Network, &self.network));
        out.extend(ns(LinuxNamespaceType::Ipc, &self.ipc));
        out.extend(ns(LinuxNamespaceType::Uts, &self.uts));
        out.extend(ns(LinuxNamespaceType::Mount, &Mode::Private));
        out.extend(ns(LinuxNamespaceType::Cgroup, &self.cgroup));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::container::options::ContainerOptions;

    #[test]
    fn defaults_follow_podman() {
        let o = ContainerOptions::default();
        let p = plan(&o, &NamespaceJoins::default(), false).unwrap();
        assert_eq!(
            (
                p.pid.clone(),
                p.ipc.clone(),
                p.uts.clone(),
                p.network.clone(),
                p.cgroup.clone()
            ),
            (
                Mode::Private,
                Mode::Private,
                Mode::Private,
                Mode::Private,
                Mode::Host
            )
        );
        assert!(p.uts_defaulted);
        let p = plan(&o, &NamespaceJoins::default(), true).unwrap();
        assert_eq!(p.cgroup, Mode::Private);
        let kinds: Vec<_> = p.to_oci(None).iter().map(|n| n.typ()).collect();
        assert_eq!(
            kinds,
            [
                LinuxNamespaceType::Pid,
                LinuxNamespaceType::Network,
                LinuxNamespaceType::Ipc,
                LinuxNamespaceType::Uts,
                LinuxNamespaceType::Mount,
                LinuxNamespaceType::Cgroup
            ]
        );
    }

    #[test]
    fn modes_and_joins() {
        let o = ContainerOptions {
            pid: Some("host".into()),
            ipc: Some("none".into()),
            uts: Some("ns:/proc/9/ns/uts".into()),
            network: Some("none".into()),
            cgroupns: Some("private".into()),
            ..Default::default()
        };
        let j = NamespaceJoins {
            network: Some("/run/netns/x".into()),
            ..Default::default()
        };
        let p = plan(&o, &j, false).unwrap();
        assert_eq!(p.pid, Mode::Host);
        assert_eq!(p.ipc, Mode::None);
        assert_eq!(p.uts, Mode::Join("/proc/9/ns/uts".into()));
        assert_eq!(p.network, Mode::Join("/run/netns/x".into()));
        assert_eq!(p.cgroup, Mode::Private);
        assert!(!p.uts_defaulted);
        let oci = p.to_oci(None);
        assert!(!oci.iter().any(|n| n.typ() == LinuxNamespaceType::Pid));
        let net = oci
            .iter()
            .find(|n| n.typ() == LinuxNamespaceType::Network)
            .unwrap();
        assert_eq!(net.path().as_deref(), Some(Path::new("/run/netns/x")));
    }

    #[test]
    fn unknown_and_unsupported_modes() {
        for (flag, o) in [
            (
                "--pid",
                ContainerOptions {
                    pid: Some("bogus".into()),
                    ..Default::default()
                },
            ),
            (
                "--ipc",
                ContainerOptions {
                    ipc: Some("ns:relative".into()),
                    ..Default::default()
                },
            ),
        ] {
            let e = plan(&o, &NamespaceJoins::default(), false)
                .unwrap_err()
                .to_string();
            assert!(e.starts_with(&format!("invalid {flag}")), "{e}");
        }
        for net in ["bridge", "pasta:-T,80", "mynet", "slirp4netns"] {
            let o = ContainerOptions {
                network: Some(net.into()),
                ..Default::default()
            };
            let e = plan(&o, &NamespaceJoins::default(), false)
                .unwrap_err()
                .to_string();
            assert!(e.contains("not supported yet"), "{e}");
        }
        let o = ContainerOptions {
            pid: Some("container:abc".into()),
            ..Default::default()
        };
        assert!(matches!(
            plan(&o, &NamespaceJoins::default(), false),
            Err(SpecError::Internal(_))
        ));
        let j = NamespaceJoins {
            pid: Some("/proc/5/ns/pid".into()),
            ..Default::default()
        };
        assert_eq!(
            plan(&o, &j, false).unwrap().pid,
            Mode::Join("/proc/5/ns/pid".into())
        );
    }
}
