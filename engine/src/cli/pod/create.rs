//! `husk pod create`: podman's flags; prints the new pod's id.

use std::collections::BTreeMap;
use std::path::PathBuf;

use clap::Args;

use crate::cli::ctx::Ctx;
use crate::pod::create::{self, PodRequest};
use crate::pod::options::{parse_command, parse_share, PodOptions};
use crate::pod::{lookup, PodError};

/// `husk pod create` flags.
#[derive(Debug, Args)]
pub struct CreateArgs {
    /// Pod name.
    #[arg(short = 'n', long, value_name = "NAME")]
    pub name: Option<String>,
    /// Create an infra container (holds the shared namespaces).
    #[arg(long, value_name = "BOOL", num_args = 0..=1, default_missing_value = "true")]
    pub infra: Option<bool>,
    /// The infra's command instead of husk's pause (a string or a JSON array).
    #[arg(long = "infra-command", value_name = "COMMAND")]
    pub infra_command: Option<String>,
    /// The infra container's name.
    #[arg(long = "infra-name", value_name = "NAME")]
    pub infra_name: Option<String>,
    /// Refused: husk's infra needs no image.
    #[arg(long = "infra-image", value_name = "IMAGE")]
    pub infra_image: Option<String>,
    /// Namespaces members share: cgroup, ipc, net, pid, uts, none; +NS adds to the default.
    #[arg(long, value_name = "NAMESPACES")]
    pub share: Option<String>,
    /// The pod's hostname (default: its name).
    #[arg(long, value_name = "NAME")]
    pub hostname: Option<String>,
    /// Set metadata labels (key=value).
    #[arg(short = 'l', long, value_name = "KEY=VALUE")]
    pub label: Vec<String>,
    /// The infra's user namespace, which members join.
    #[arg(long, value_name = "MODE")]
    pub userns: Option<String>,
    /// Where the pod's cgroup is made (rootful; default /husk).
    #[arg(long = "cgroup-parent", value_name = "PATH")]
    pub cgroup_parent: Option<String>,
    /// The pod's network: private (loopback only, the default), none, host, ns:PATH.
    #[arg(long, visible_alias = "net", value_name = "MODE")]
    pub network: Option<String>,
    /// Publish a port (needs networking, a later release).
    #[arg(short = 'p', long, value_name = "PORTS")]
    pub publish: Vec<String>,
    /// Write the pod id to this file.
    #[arg(long = "pod-id-file", value_name = "FILE")]
    pub pod_id_file: Option<PathBuf>,
    /// Replace a pod of the same name.
    #[arg(long)]
    pub replace: bool,
    /// The pod name (instead of --name).
    #[arg(value_name = "NAME")]
    pub pod: Option<String>,
}

fn labels(items: &[String]) -> anyhow::Result<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    for it in items {
        let (k, v) = it.split_once('=').unwrap_or((it.as_str(), ""));
        if k.is_empty() {
            anyhow::bail!("invalid --label {it:?}: the key is empty");
        }
        out.insert(k.to_owned(), v.to_owned());
    }
    Ok(out)
}

impl CreateArgs {
    /// The request these flags make (checked as far as text allows).
    pub fn request(&self) -> anyhow::Result<PodRequest> {
        if self.infra_image.is_some() {
            anyhow::bail!("--infra-image: husk's infra needs no image (it runs husk's own pause); use --infra-command to change what it runs");
        }
        if let Some(p) = self.publish.first() {
            anyhow::bail!("--publish {p:?}: port publishing needs container networking, which husk does not have yet");
        }
        let name = match (&self.name, &self.pod) {
            (Some(a), Some(b)) if a != b => {
                anyhow::bail!("cannot specify both a pod name ({b:?}) and --name {a:?}")
            }
            (a, b) => a.clone().or_else(|| b.clone()),
        };
        if let Some(n) = self.network.as_deref() {
            let kind = n.split_once(':').map_or(n, |(k, _)| k);
            if !matches!(kind, "private" | "none" | "host" | "ns" | "path") {
                anyhow::bail!("--network {n}: husk pods support private (loopback only), none, host and ns:PATH until networking comes");
            }
        }
        let infra = self.infra.unwrap_or(true);
        let mut opts = PodOptions {
            infra,
            infra_command: self.infra_command.as_deref().map(parse_command),
            infra_name: self.infra_name.clone(),
            hostname: self.hostname.clone(),
            labels: labels(&self.label)?,
            userns: self.userns.clone(),
            cgroup_parent: self.cgroup_parent.clone(),
            network: self.network.clone(),
            ..Default::default()
        };
        if let Some(s) = &self.share {
            opts.share = parse_share(s)?;
        } else if !infra {
            opts.share = Vec::new();
        }
        Ok(PodRequest {
            name,
            opts,
            share_given: self.share.is_some(),
        })
    }
}

/// `husk pod create`.
pub fn create_cmd(ctx: &mut Ctx, a: CreateArgs) -> anyhow::Result<i32> {
    let req = a.request()?;
    // Checked before any namespace or file is made.
    req.opts.check(req.share_given)?;
    let eng = ctx.engine(true)?;
    if a.replace {
        if let Some(n) = &req.name {
            match lookup::find(&eng.catalog, n) {
                Ok(old) if old.name == *n => crate::pod::remove::remove(eng, &old, true, None)?,
                Ok(_) | Err(PodError::NotFound(_)) => {}
                Err(e) => return Err(e.into()),
            }
        }
    }
    let pod = create::create(eng, &req)?;
    if let Some(f) = &a.pod_id_file {
        if let Err(e) = std::fs::write(f, format!("{}\n", pod.id)) {
            let _ = crate::pod::remove::remove(eng, &pod, true, Some(0));
            anyhow::bail!("writing the pod id to {}: {e}", f.display());
        }
    }
    println!("{}", pod.id);
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct T {
        #[command(flatten)]
        a: CreateArgs,
    }

    fn req(args: &[&str]) -> anyhow::Result<PodRequest> {
        let mut argv = vec!["t"];
        argv.extend(args);
        T::try_parse_from(argv).unwrap().a.request()
    }

    #[test]
    fn flags_become_options() {
        let r = req(&["--name", "web", "--share", "+pid", "-l", "a=b"]).unwrap();
        assert_eq!(r.name.as_deref(), Some("web"));
        assert!(r.share_given && r.opts.share.len() == 4);
        assert_eq!(r.opts.labels["a"], "b");
        let r = req(&["--infra=false", "db"]).unwrap();
        assert!(!r.opts.infra && r.opts.share.is_empty() && !r.share_given);
        assert_eq!(r.name.as_deref(), Some("db"));
        let r = req(&["--infra-command", "/run/husk-pause x"]).unwrap();
        assert_eq!(r.opts.infra_command.unwrap(), ["/run/husk-pause", "x"]);
        let e = req(&["--share", "foo"]).unwrap_err().to_string();
        assert!(
            e.starts_with("invalid kernel namespace to share: foo"),
            "{e}"
        );
        assert!(req(&["--infra-image", "k8s.gcr.io/pause"]).is_err());
        assert!(req(&["-p", "8080:80"]).is_err());
        assert!(req(&["--network", "bridge"]).is_err());
        assert!(req(&["-n", "a", "b"]).is_err());
    }
}
