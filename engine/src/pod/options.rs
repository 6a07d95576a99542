//! What a user asked for when creating a pod: the typed form of `husk pod
//! create` flags, stored in the pod's catalog row (`options`), and the
//! namespaces a pod can share.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use super::error::{PodError, Result};

/// A namespace the members of a pod can share with its infra container.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Namespace {
    /// The cgroup namespace.
    Cgroup,
    /// IPC (System V IPC and POSIX message queues; /dev/shm goes with it).
    Ipc,
    /// The network namespace.
    Net,
    /// The pid namespace (the infra's pause is pid 1 of the pod).
    Pid,
    /// Hostname and domain name.
    Uts,
}

impl Namespace {
    /// Every kind, in the order husk lists them.
    pub const ALL: [Namespace; 5] = [
        Namespace::Cgroup,
        Namespace::Ipc,
        Namespace::Net,
        Namespace::Pid,
        Namespace::Uts,
    ];

    /// podman's name (`--share`, inspect's `SharedNamespaces`).
    pub fn as_str(self) -> &'static str {
        match self {
            Namespace::Cgroup => "cgroup",
            Namespace::Ipc => "ipc",
            Namespace::Net => "net",
            Namespace::Pid => "pid",
            Namespace::Uts => "uts",
        }
    }

    /// The file under /proc/PID/ns/.
    pub fn proc_name(self) -> &'static str {
        self.as_str()
    }
}

impl fmt::Display for Namespace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// podman's default `--share`.
pub const DEFAULT_SHARE: [Namespace; 3] = [Namespace::Ipc, Namespace::Net, Namespace::Uts];

/// Parses `--share`: a comma-separated list of namespaces; `none` or an
/// empty value shares nothing; a leading `+` adds to the default list.
/// The result is sorted and without repeats.
pub fn parse_share(value: &str) -> Result<Vec<Namespace>> {
    let (mut out, list) = match value.strip_prefix('+') {
        Some(rest) => (DEFAULT_SHARE.to_vec(), rest),
        None => (Vec::new(), value),
    };
    for item in list.split(',').map(str::trim) {
        let ns = match item {
            "" | "none" => continue,
            "cgroup" => Namespace::Cgroup,
            "ipc" => Namespace::Ipc,
            "net" => Namespace::Net,
            "pid" => Namespace::Pid,
            "uts" => Namespace::Uts,
            other => return Err(PodError::InvalidShare(other.to_owned())),
        };
        out.push(ns);
    }
    out.sort();
    out.dedup();
    Ok(out)
}

/// Every option of a pod, as given on the command line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct PodOptions {
    /// `--infra` (default true): whether the pod has an infra container.
    pub infra: bool,
    /// `--infra-command`: the infra's argv instead of husk's pause.
    pub infra_command: Option<Vec<String>>,
    /// `--infra-name` (default: the pod id's first 12 digits + `-infra`).
    pub infra_name: Option<String>,
    /// `--share`: the namespaces members join (sorted).
    pub share: Vec<Namespace>,
    /// `--hostname`: the infra's, so every member sharing uts has it
    /// (default: the pod's name).
    pub hostname: Option<String>,
    /// `-l/--label`.
    pub labels: BTreeMap<String, String>,
    /// `--userns`: the infra's user namespace, which members join.
    pub userns: Option<String>,
    /// `--cgroup-parent`: where the pod's own cgroup is made (rootful).
    pub cgroup_parent: Option<String>,
    /// `--network` of the infra (`private`, `none`, `host`, `ns:PATH`).
    pub network: Option<String>,
}

impl Default for PodOptions {
    fn default() -> Self {
        PodOptions {
            infra: true,
            infra_command: None,
            infra_name: None,
            share: DEFAULT_SHARE.to_vec(),
            hostname: None,
            labels: BTreeMap::new(),
            userns: None,
            cgroup_parent: None,
            network: None,
        }
    }
}

impl PodOptions {
    /// Whether members join the infra's `ns`.
    pub fn shares(&self, ns: Namespace) -> bool {
        self.infra && self.share.contains(&ns)
    }

    /// Checks what needs nothing but the options (before anything is made).
    pub fn check(&self, share_given: bool) -> Result<()> {
        if !self.infra {
            if share_given && !self.share.is_empty() {
                return Err(PodError::Invalid(
                    "you cannot share kernel namespaces on the pod level without an infra container"
                        .into(),
                ));
            }
            for (flag, given) in [
                ("--infra-command", self.infra_command.is_some()),
                ("--infra-name", self.infra_name.is_some()),
                ("--userns", self.userns.is_some()),
                ("--network", self.network.is_some()),
                ("--hostname", self.hostname.is_some()),
            ] {
                if given {
                    return Err(PodError::Invalid(format!(
                        "{flag} needs an infra container: it cannot be used with --infra=false"
                    )));
                }
            }
        }
        if let Some(cmd) = &self.infra_command {
            if cmd.is_empty() || cmd[0].is_empty() {
                return Err(PodError::Invalid(
                    "--infra-command: the command is empty".into(),
                ));
            }
        }
        if let Some(n) = &self.infra_name {
            crate::container::id::validate_name(n)
                .map_err(|e| PodError::Invalid(format!("--infra-name: {e}")))?;
        }
        if let Some(h) = &self.hostname {
            crate::container::spec::files::check_hostname(h)
                .map_err(|e| PodError::Invalid(e.to_string()))?;
        }
        if let Some(p) = &self.cgroup_parent {
            if p.is_empty() || p.split('/').any(|c| c == "..") || p.contains(':') {
                return Err(PodError::Invalid(format!(
                    "--cgroup-parent {p:?}: expected a cgroupfs path such as /husk"
                )));
            }
        }
        Ok(())
    }

    /// The infra container's argv.
    pub fn infra_argv(&self) -> Vec<String> {
        self.infra_command
            .clone()
            .unwrap_or_else(|| vec![super::pause::PAUSE_PATH.to_owned()])
    }
}

/// Splits an `--infra-command` value: a JSON array is the argv, anything
/// else is split on white space.
pub fn parse_command(s: &str) -> Vec<String> {
    if s.trim_start().starts_with('[') {
        if let Ok(v) = serde_json::from_str::<Vec<String>>(s) {
            return v;
        }
    }
    s.split_whitespace().map(str::to_owned).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn share_lists() {
        assert_eq!(parse_share("ipc,net,uts").unwrap(), DEFAULT_SHARE);
        assert_eq!(
            parse_share("uts,net,net").unwrap(),
            [Namespace::Net, Namespace::Uts]
        );
        assert_eq!(
            parse_share("+pid").unwrap(),
            [
                Namespace::Ipc,
                Namespace::Net,
                Namespace::Pid,
                Namespace::Uts
            ]
        );
        assert!(parse_share("none").unwrap().is_empty());
        assert!(parse_share("").unwrap().is_empty());
        assert_eq!(parse_share("cgroup").unwrap(), [Namespace::Cgroup]);
        let e = parse_share("net,foo").unwrap_err().to_string();
        assert_eq!(
            e,
            "invalid kernel namespace to share: foo. Options are: cgroup, ipc, net, pid, uts or none"
        );
        assert!(parse_share("user").is_err());
    }

    #[test]
    fn checks() {
        let o = PodOptions::default();
        o.check(false).unwrap();
        assert!(o.shares(Namespace::Net) && !o.shares(Namespace::Pid));
        let no_infra = PodOptions {
            infra: false,
            ..Default::default()
        };
        assert!(!no_infra.shares(Namespace::Net));
        // The default list does not count as asked for.
        no_infra.check(false).unwrap();
        let e = no_infra.check(true).unwrap_err().to_string();
        assert!(e.contains("without an infra container"), "{e}");
        assert!(PodOptions {
            hostname: Some("bad name!".into()),
            ..Default::default()
        }
        .check(true)
        .is_err());
        assert!(PodOptions {
            infra_command: Some(vec![]),
            ..Default::default()
        }
        .check(false)
        .is_err());
        assert!(PodOptions {
            cgroup_parent: Some("../x".into()),
            ..Default::default()
        }
        .check(false)
        .is_err());
    }

    #[test]
    fn stored_form_round_trips_and_defaults() {
        let o = PodOptions {
            share: vec![Namespace::Ipc],
            ..Default::default()
        };
        let v = serde_json::to_value(&o).unwrap();
        assert_eq!(v["share"], serde_json::json!(["ipc"]));
        assert_eq!(serde_json::from_value::<PodOptions>(v).unwrap(), o);
        let d: PodOptions = serde_json::from_str("{}").unwrap();
        assert!(d.infra && d.share == DEFAULT_SHARE);
    }

    #[test]
    fn infra_commands() {
        assert_eq!(parse_command("/bin/sleep  1d"), ["/bin/sleep", "1d"]);
        assert_eq!(parse_command(r#"["/a b","c"]"#), ["/a b", "c"]);
        assert_eq!(
            PodOptions::default().infra_argv(),
            [super::super::pause::PAUSE_PATH]
        );
    }
}
