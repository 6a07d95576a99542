//! The flags of `husk run` and `husk create`, with podman's names and short
//! forms, and their conversion into [`ContainerOptions`]. Values are checked
//! here where the check needs nothing but the text (sizes, numbers,
//! combinations); the spec generator checks the rest.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::{anyhow, bail, Result};
use clap::Args;

use crate::container::options::ContainerOptions;
use crate::format::units::ram_in_bytes;

/// Flags shared by `run` and `create`.
#[derive(Debug, Clone, Default, Args)]
#[command(disable_help_flag = true)]
pub struct CreateFlags {
    /// Print help.
    #[arg(long, action = clap::ArgAction::Help)]
    pub help: Option<bool>,
    /// Add a custom host-to-IP mapping (host:ip).
    #[arg(long = "add-host", value_name = "HOST:IP")]
    pub add_host: Vec<String>,
    /// Add an annotation (key=value).
    #[arg(long, value_name = "KEY=VALUE")]
    pub annotation: Vec<String>,
    /// Attach to STDIN, STDOUT or STDERR.
    #[arg(short = 'a', long, value_name = "STREAM")]
    pub attach: Vec<String>,
    /// Add capabilities.
    #[arg(long = "cap-add", value_name = "CAP")]
    pub cap_add: Vec<String>,
    /// Drop capabilities.
    #[arg(long = "cap-drop", value_name = "CAP")]
    pub cap_drop: Vec<String>,
    /// cgroup namespace: host or private.
    #[arg(long, value_name = "MODE")]
    pub cgroupns: Option<String>,
    /// Parent cgroup.
    #[arg(long = "cgroup-parent", value_name = "PATH")]
    pub cgroup_parent: Option<String>,
    /// CPU shares (relative weight).
    #[arg(short = 'c', long = "cpu-shares", value_name = "SHARES")]
    pub cpu_shares: Option<u64>,
    /// Number of CPUs.
    #[arg(long, value_name = "N")]
    pub cpus: Option<f64>,
    /// CPUs in which to allow execution (0-3, 0,1).
    #[arg(long = "cpuset-cpus", value_name = "CPUS")]
    pub cpuset_cpus: Option<String>,
    /// Run in the background and print the container id.
    #[arg(short = 'd', long)]
    pub detach: bool,
    /// Keys that detach from the container.
    #[arg(long = "detach-keys", value_name = "KEYS")]
    pub detach_keys: Option<String>,
    /// Add a host device.
    #[arg(long, value_name = "DEVICE")]
    pub device: Vec<String>,
    /// DNS servers.
    #[arg(long, value_name = "IP")]
    pub dns: Vec<String>,
    /// DNS options.
    #[arg(long = "dns-option", value_name = "OPT")]
    pub dns_option: Vec<String>,
    /// DNS search domains.
    #[arg(long = "dns-search", value_name = "DOMAIN")]
    pub dns_search: Vec<String>,
    /// Override the image's entrypoint (a string or a JSON array).
    #[arg(long, value_name = "CMD", allow_hyphen_values = true)]
    pub entrypoint: Option<String>,
    /// Set environment variables.
    #[arg(short = 'e', long, value_name = "NAME=VALUE")]
    pub env: Vec<String>,
    /// Read environment variables from a file.
    #[arg(long = "env-file", value_name = "FILE")]
    pub env_file: Vec<PathBuf>,
    /// Use the host's environment.
    #[arg(long = "env-host")]
    pub env_host: bool,
    /// Expose a port (recorded; networking is a later release).
    #[arg(long, value_name = "PORT")]
    pub expose: Vec<String>,
    /// Additional groups.
    #[arg(long = "group-add", value_name = "GROUP")]
    pub group_add: Vec<String>,
    /// Container hostname.
    #[arg(short = 'h', long, value_name = "NAME")]
    pub hostname: Option<String>,
    /// Run husk's init as pid 1 (forwards signals, reaps zombies).
    #[arg(long)]
    pub init: bool,
    /// Keep stdin open.
    #[arg(short = 'i', long)]
    pub interactive: bool,
    /// IPC namespace: host, private, container:ID, ns:PATH.
    #[arg(long, value_name = "MODE")]
    pub ipc: Option<String>,
    /// Set metadata labels (key=value).
    #[arg(short = 'l', long, value_name = "KEY=VALUE")]
    pub label: Vec<String>,
    /// Log driver: k8s-file, json-file, none, passthrough.
    #[arg(long = "log-driver", value_name = "DRIVER")]
    pub log_driver: Option<String>,
    /// Log driver options (path=, max-size=, max-file=, tag=).
    #[arg(long = "log-opt", value_name = "OPT")]
    pub log_opt: Vec<String>,
    /// Memory limit (e.g. 512m, 1g).
    #[arg(short = 'm', long, value_name = "SIZE")]
    pub memory: Option<String>,
    /// Memory soft limit.
    #[arg(long = "memory-reservation", value_name = "SIZE")]
    pub memory_reservation: Option<String>,
    /// Memory plus swap limit (-1: unlimited).
    #[arg(long = "memory-swap", value_name = "SIZE", allow_hyphen_values = true)]
    pub memory_swap: Option<String>,
    /// Attach a filesystem mount (type=bind|tmpfs,...).
    #[arg(long, value_name = "MOUNT")]
    pub mount: Vec<String>,
    /// Container name.
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
    /// Network mode: none, host, private (loopback only), container:ID, ns:PATH.
    #[arg(long, visible_alias = "net", value_name = "MODE")]
    pub network: Option<String>,
    /// OOM score adjustment (-1000..1000).
    #[arg(long = "oom-score-adj", value_name = "N", allow_hyphen_values = true)]
    pub oom_score_adj: Option<i32>,
    /// PID namespace: host, private, container:ID, ns:PATH.
    #[arg(long, value_name = "MODE")]
    pub pid: Option<String>,
    /// Process limit (-1: unlimited).
    #[arg(long = "pids-limit", value_name = "N", allow_hyphen_values = true)]
    pub pids_limit: Option<i64>,
    /// Platform of the image (os/arch[/variant]).
    #[arg(long, value_name = "PLATFORM")]
    pub platform: Option<String>,
    /// Run in a pod (name or id; new:NAME creates it).
    #[arg(long, value_name = "POD")]
    pub pod: Option<String>,
    /// Give the container extended privileges.
    #[arg(long)]
    pub privileged: bool,
    /// Publish a port (needs networking, a later release).
    #[arg(short = 'p', long, value_name = "PORTS")]
    pub publish: Vec<String>,
    /// Pull policy: always, missing, never, newer.
    #[arg(long, value_name = "POLICY", num_args = 0..=1, default_missing_value = "always")]
    pub pull: Option<String>,
    /// Suppress pull output.
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// Mount the root filesystem read-only.
    #[arg(long = "read-only")]
    pub read_only: bool,
    /// With --read-only, mount tmpfs on /run, /tmp and /var/tmp.
    #[arg(long = "read-only-tmpfs", value_name = "BOOL", num_args = 0..=1, default_missing_value = "true")]
    pub read_only_tmpfs: Option<bool>,
    /// Replace a container of the same name.
    #[arg(long)]
    pub replace: bool,
    /// Restart policy (recorded).
    #[arg(long, value_name = "POLICY")]
    pub restart: Option<String>,
    /// Remove the container when it exits.
    #[arg(long)]
    pub rm: bool,
    /// The first argument is a directory to use as the root filesystem.
    #[arg(long)]
    pub rootfs: bool,
    /// Security options (seccomp=, no-new-privileges, label=, mask=, unmask=).
    #[arg(long = "security-opt", value_name = "OPT")]
    pub security_opt: Vec<String>,
    /// Size of /dev/shm.
    #[arg(long = "shm-size", value_name = "SIZE")]
    pub shm_size: Option<String>,
    /// Forward signals to the container (foreground runs).
    #[arg(long = "sig-proxy", value_name = "BOOL", num_args = 0..=1, default_missing_value = "true")]
    pub sig_proxy: Option<bool>,
    /// Signal that stops the container.
    #[arg(long = "stop-signal", value_name = "SIGNAL")]
    pub stop_signal: Option<String>,
    /// Seconds to wait before killing the container on stop.
    #[arg(long = "stop-timeout", value_name = "SECONDS")]
    pub stop_timeout: Option<u64>,
    /// Namespaced kernel parameters (name=value).
    #[arg(long, value_name = "NAME=VALUE")]
    pub sysctl: Vec<String>,
    /// Run systemd in the container (accepted; husk does not special-case it).
    #[arg(long, value_name = "MODE")]
    pub systemd: Option<String>,
    /// Mount a tmpfs (DST[:OPTS]).
    #[arg(long, value_name = "DST[:OPTS]")]
    pub tmpfs: Vec<String>,
    /// Verify TLS when pulling.
    #[arg(long = "tls-verify", value_name = "BOOL", num_args = 0..=1, default_missing_value = "true")]
    pub tls_verify: Option<bool>,
    /// Credentials file for pulls.
    #[arg(long, value_name = "PATH")]
    pub authfile: Option<PathBuf>,
    /// Allocate a pseudo-terminal.
    #[arg(short = 't', long)]
    pub tty: bool,
    /// UID map (container:host:count).
    #[arg(long, value_name = "MAP")]
    pub uidmap: Vec<String>,
    /// GID map (container:host:count).
    #[arg(long, value_name = "MAP")]
    pub gidmap: Vec<String>,
    /// Resource limits (name=soft[:hard], host).
    #[arg(long, value_name = "LIMIT")]
    pub ulimit: Vec<String>,
    /// Run as this user (user[:group]).
    #[arg(short = 'u', long, value_name = "USER")]
    pub user: Option<String>,
    /// User namespace: host, keep-id, auto, nomap, ns:PATH, private.
    #[arg(long, value_name = "MODE")]
    pub userns: Option<String>,
    /// UTS namespace: host, private, container:ID, ns:PATH.
    #[arg(long, value_name = "MODE")]
    pub uts: Option<String>,
    /// Bind-mount a volume (SRC:DST[:OPTS]).
    #[arg(short = 'v', long, value_name = "SRC:DST[:OPTS]")]
    pub volume: Vec<String>,
    /// Working directory.
    #[arg(short = 'w', long, value_name = "DIR")]
    pub workdir: Option<String>,
    /// Remove a default or image environment variable.
    #[arg(long, value_name = "NAME")]
    pub unsetenv: Vec<String>,
    /// Remove every default and image environment variable.
    #[arg(long = "unsetenv-all")]
    pub unsetenv_all: bool,
    /// Pass the host's proxy variables into the container.
    #[arg(long = "http-proxy", value_name = "BOOL", num_args = 0..=1, default_missing_value = "true")]
    pub http_proxy: Option<bool>,
    /// The container's umask (octal).
    #[arg(long, value_name = "MASK")]
    pub umask: Option<String>,
    /// CPU CFS period (microseconds).
    #[arg(long = "cpu-period", value_name = "US")]
    pub cpu_period: Option<u64>,
    /// CPU CFS quota (microseconds per period).
    #[arg(long = "cpu-quota", value_name = "US", allow_hyphen_values = true)]
    pub cpu_quota: Option<i64>,
    /// Leave the image's /etc/hosts alone.
    #[arg(long = "no-hosts")]
    pub no_hosts: bool,
}

fn key_values(flag: &str, items: &[String]) -> Result<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    for it in items {
        let (k, v) = it.split_once('=').unwrap_or((it.as_str(), ""));
        if k.is_empty() {
            bail!("invalid {flag} {it:?}: the key is empty");
        }
        out.insert(k.to_owned(), v.to_owned());
    }
    Ok(out)
}

fn size(flag: &str, v: &Option<String>) -> Result<Option<i64>> {
    v.as_deref()
        .map(|s| {
            if s == "-1" && flag == "--memory-swap" {
                return Ok(-1);
            }
            ram_in_bytes(s)
                .map_err(|e| anyhow!("invalid value for {}: {e}", flag.trim_start_matches('-')))
        })
        .transpose()
}

/// Splits an `--entrypoint` value: a JSON array is taken as the argv, any
/// other string is one program name ("" resets the image's entrypoint).
pub fn parse_entrypoint(s: &str) -> Vec<String> {
    if s.trim_start().starts_with('[') {
        if let Ok(v) = serde_json::from_str::<Vec<String>>(s) {
            return v;
        }
    }
    if s.is_empty() {
        Vec::new()
    } else {
        vec![s.to_owned()]
    }
}

impl CreateFlags {
    /// The options, with `image` and the command after it.
    pub fn to_options(&self, image: &str, command: &[String]) -> Result<ContainerOptions> {
        if let Some(n) = &self.name {
            crate::container::id::validate_name(n).map_err(|e| anyhow!(e))?;
        }
        if !self.publish.is_empty() {
            bail!(
                "--publish {:?}: port publishing needs container networking, which husk does not have yet (containers get a private network namespace with loopback only; use --network host)",
                self.publish[0]
            );
        }
        if let Some(r) = self.restart.as_deref() {
            let (policy, count) = r.split_once(':').unwrap_or((r, ""));
            let ok = match policy {
                "" | "no" | "always" | "unless-stopped" => count.is_empty(),
                "on-failure" => count.is_empty() || count.parse::<u32>().is_ok(),
                _ => false,
            };
            if !ok {
                bail!("{r:?} is not a valid restart policy: invalid argument");
            }
        }
        if self.rm && self.restart.as_deref().is_some_and(|r| r != "no") {
            bail!("the --rm option conflicts with --restart, when the restartPolicy is not \"\" and \"no\"");
        }
        for a in &self.attach {
            if !matches!(
                a.to_ascii_lowercase().as_str(),
                "stdin" | "stdout" | "stderr"
            ) {
                bail!("invalid stream {a:?} for --attach - must be one of stdin, stdout, or stderr: invalid argument");
            }
        }
        if self.detach && !self.attach.is_empty() {
            bail!("--detach and --attach cannot be used together");
        }
        if let Some(p) = self.pull.as_deref() {
            if !matches!(p, "always" | "missing" | "never" | "newer") {
                bail!("unsupported pull policy {p:?}: must be always, missing, never or newer");
            }
        }
        if let Some(adj) = self.oom_score_adj {
            if !(-1000..=1000).contains(&adj) {
                bail!("invalid --oom-score-adj {adj}: must be between -1000 and 1000");
            }
        }
        if let Some(c) = self.cpus {
            if !(c >= 0.0 && c.is_finite()) {
                bail!("invalid --cpus {c}: must be a positive number");
            }
        }
        let mut accepted = BTreeMap::new();
        for (k, v) in [
            ("systemd", self.systemd.clone()),
            ("cgroup-parent", self.cgroup_parent.clone()),
            ("platform", self.platform.clone()),
        ] {
            if let Some(v) = v {
                accepted.insert(k.to_owned(), v);
            }
        }
        if !self.expose.is_empty() {
            accepted.insert("expose".into(), self.expose.join(","));
        }
        if !self.attach.is_empty() {
            accepted.insert("attach".into(), self.attach.join(",").to_lowercase());
        }
        if let Some(tv) = self.tls_verify {
            accepted.insert("tls-verify".into(), tv.to_string());
        }
        if let Some(a) = &self.authfile {
            accepted.insert("authfile".into(), a.display().to_string());
        }
        if self.quiet {
            accepted.insert("quiet".into(), "true".into());
        }
        Ok(ContainerOptions {
            name: self.name.clone(),
            image: image.to_owned(),
            command: command.to_vec(),
            entrypoint: self.entrypoint.as_deref().map(parse_entrypoint),
            env: self.env.clone(),
            env_files: self.env_file.clone(),
            env_host: self.env_host,
            workdir: self.workdir.clone(),
            user: self.user.clone(),
            group_add: self.group_add.clone(),
            hostname: self.hostname.clone(),
            interactive: self.interactive,
            tty: self.tty,
            detach: self.detach,
            rm: self.rm,
            replace: self.replace,
            volumes: self.volume.clone(),
            mounts: self.mount.clone(),
            tmpfs: self.tmpfs.clone(),
            read_only: self.read_only,
            read_only_tmpfs: self.read_only_tmpfs.unwrap_or(true),
            cap_add: self.cap_add.clone(),
            cap_drop: self.cap_drop.clone(),
            privileged: self.privileged,
            security_opt: self.security_opt.clone(),
            memory: size("--memory", &self.memory)?,
            memory_swap: size("--memory-swap", &self.memory_swap)?,
            memory_reservation: size("--memory-reservation", &self.memory_reservation)?,
            pids_limit: self.pids_limit,
            cpus: self.cpus,
            cpu_shares: self.cpu_shares,
            cpuset_cpus: self.cpuset_cpus.clone(),
            ulimits: self.ulimit.clone(),
            sysctls: self.sysctl.clone(),
            devices: self.device.clone(),
            shm_size: size("--shm-size", &self.shm_size)?,
            init: self.init,
            network: self.network.clone(),
            ipc: self.ipc.clone(),
            uts: self.uts.clone(),
            pid: self.pid.clone(),
            cgroupns: self.cgroupns.clone(),
            userns: self.userns.clone(),
            uidmap: self.uidmap.clone(),
            gidmap: self.gidmap.clone(),
            labels: key_values("--label", &self.label)?,
            annotations: key_values("--annotation", &self.annotation)?,
            stop_signal: self.stop_signal.clone(),
            stop_timeout: self.stop_timeout,
            log_driver: self.log_driver.clone(),
            log_opts: key_values("--log-opt", &self.log_opt)?,
            rootfs: self.rootfs,
            pull: self.pull.clone(),
            sig_proxy: self.sig_proxy,
            detach_keys: self.detach_keys.clone(),
            pod: self.pod.clone(),
            add_hosts: self.add_host.clone(),
            dns: self.dns.clone(),
            dns_search: self.dns_search.clone(),
            dns_options: self.dns_option.clone(),
            oom_score_adj: self.oom_score_adj,
            restart: self.restart.clone(),
            unsetenv: self.unsetenv.clone(),
            unsetenv_all: self.unsetenv_all,
            http_proxy: self.http_proxy,
            umask: self.umask.clone(),
            cpu_period: self.cpu_period,
            cpu_quota: self.cpu_quota,
            no_hosts: self.no_hosts,
            accepted,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entrypoint_forms() {
        assert_eq!(parse_entrypoint("/bin/sh"), ["/bin/sh"]);
        assert_eq!(parse_entrypoint(r#"["/bin/sh","-c"]"#), ["/bin/sh", "-c"]);
        assert!(parse_entrypoint("").is_empty());
    }

    #[test]
    fn refuses_bad_combinations() {
        let f = CreateFlags {
            rm: true,
            restart: Some("always".into()),
            ..Default::default()
        };
        assert!(f.to_options("busybox", &[]).is_err());
        let f = CreateFlags {
            memory: Some("lots".into()),
            ..Default::default()
        };
        let e = f.to_options("busybox", &[]).unwrap_err().to_string();
        assert!(e.contains("invalid value for memory"), "{e}");
        let f = CreateFlags {
            label: vec!["a=b".into(), "c".into()],
            memory: Some("512m".into()),
            ..Default::default()
        };
        let o = f.to_options("busybox", &["true".into()]).unwrap();
        assert_eq!(o.memory, Some(512 * 1024 * 1024));
        assert_eq!(o.labels["c"], "");
        assert!(o.read_only_tmpfs);
    }
}
