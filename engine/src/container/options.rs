//! What a user asked for when creating a container: the typed form of
//! `husk run`/`husk create` flags. The CLI fills it in (sizes already in
//! bytes, durations in seconds); the spec generator turns it, with the
//! image's config, into an OCI runtime spec; the catalog stores it so that
//! `inspect`, `restart` and `container cleanup` see the same options.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// Every option of a container, as given on the command line.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ContainerOptions {
    /// `--name`.
    pub name: Option<String>,
    /// The image as the user typed it (or the `--rootfs` directory).
    pub image: String,
    /// Arguments after the image: the command, replacing the image's Cmd.
    pub command: Vec<String>,
    /// `--entrypoint`: `Some(vec![])` resets the image's entrypoint; a JSON
    /// array string was already split by the CLI.
    pub entrypoint: Option<Vec<String>>,
    /// `-e/--env` in order (`NAME=value`, or `NAME` to take the host's value,
    /// or `NAME*` prefix globs from the host, as podman allows).
    pub env: Vec<String>,
    /// `--env-file` files, in order (read when the spec is generated).
    pub env_files: Vec<PathBuf>,
    /// `--env-host`: start from the host's environment.
    pub env_host: bool,
    /// `--unsetenv`: default or image variables to remove (podman 5).
    pub unsetenv: Vec<String>,
    /// `--unsetenv-all`: remove every default and image variable.
    pub unsetenv_all: bool,
    /// `--http-proxy` (podman's default, `None`, is true: the host's
    /// http_proxy, https_proxy, ftp_proxy and no_proxy pass through).
    pub http_proxy: Option<bool>,
    /// `--umask` (octal, podman's default 0022).
    pub umask: Option<String>,
    /// `-w/--workdir`.
    pub workdir: Option<String>,
    /// `-u/--user`: `user`, `uid`, `user:group`, `uid:gid`.
    pub user: Option<String>,
    /// `--group-add` (names or gids; `keep-groups` as podman spells it).
    pub group_add: Vec<String>,
    /// `-h/--hostname`.
    pub hostname: Option<String>,
    /// `-i/--interactive`: keep stdin open.
    pub interactive: bool,
    /// `-t/--tty`.
    pub tty: bool,
    /// `-d/--detach`.
    pub detach: bool,
    /// `--rm`.
    pub rm: bool,
    /// `--replace`.
    pub replace: bool,
    /// `-v/--volume` specs as given (`SRC:DST[:OPTS]`).
    pub volumes: Vec<String>,
    /// `--mount` specs as given (`type=bind,src=...,dst=...`).
    pub mounts: Vec<String>,
    /// `--tmpfs` specs as given (`DST[:OPTS]`).
    pub tmpfs: Vec<String>,
    /// `--read-only`.
    pub read_only: bool,
    /// `--read-only-tmpfs` (podman's default true: tmpfs on /tmp, /var/tmp,
    /// /run with `--read-only`).
    pub read_only_tmpfs: bool,
    /// `--cap-add`.
    pub cap_add: Vec<String>,
    /// `--cap-drop`.
    pub cap_drop: Vec<String>,
    /// `--privileged`.
    pub privileged: bool,
    /// `--security-opt` values as given (`seccomp=PATH|unconfined`,
    /// `no-new-privileges[=true|false]`, `label=disable`, `mask=P1:P2`,
    /// `unmask=ALL|P1:P2`, `apparmor=...`).
    pub security_opt: Vec<String>,
    /// `-m/--memory` in bytes.
    pub memory: Option<i64>,
    /// `--memory-swap` in bytes (-1: unlimited).
    pub memory_swap: Option<i64>,
    /// `--memory-reservation` in bytes.
    pub memory_reservation: Option<i64>,
    /// `--pids-limit` (-1 or 0: unlimited).
    pub pids_limit: Option<i64>,
    /// `--cpus`.
    pub cpus: Option<f64>,
    /// `--cpu-period` (microseconds).
    pub cpu_period: Option<u64>,
    /// `--cpu-quota` (microseconds per period, -1 unlimited).
    pub cpu_quota: Option<i64>,
    /// `--cpu-shares`.
    pub cpu_shares: Option<u64>,
    /// `--cpuset-cpus`.
    pub cpuset_cpus: Option<String>,
    /// `--ulimit` specs as given (`nofile=1024:2048`, `host`).
    pub ulimits: Vec<String>,
    /// `--sysctl` (`name=value`).
    pub sysctls: Vec<String>,
    /// `--device` specs as given (`/dev/fuse[:/dev/fuse[:rwm]]`).
    pub devices: Vec<String>,
    /// `--shm-size` in bytes.
    pub shm_size: Option<i64>,
    /// `--init`: run husk's own init as pid 1.
    pub init: bool,
    /// `--network` (`none`, `host`, `private`; `container:ID`, `ns:PATH`).
    pub network: Option<String>,
    /// `--ipc`, `--uts`, `--pid`, `--cgroupns` modes as given (`host`,
    /// `private`, `container:ID`, `ns:PATH`).
    pub ipc: Option<String>,
    /// `--uts`.
    pub uts: Option<String>,
    /// `--pid`.
    pub pid: Option<String>,
    /// `--cgroupns`.
    pub cgroupns: Option<String>,
    /// `--userns` (`host`, `keep-id[:uid=U,gid=G]`, `auto[:size=N]`, `nomap`,
    /// `ns:PATH`, `private`).
    pub userns: Option<String>,
    /// `--uidmap` specs (`CONTAINER:HOST:COUNT`).
    pub uidmap: Vec<String>,
    /// `--gidmap` specs.
    pub gidmap: Vec<String>,
    /// `-l/--label`.
    pub labels: BTreeMap<String, String>,
    /// `--annotation`.
    pub annotations: BTreeMap<String, String>,
    /// `--stop-signal` as given.
    pub stop_signal: Option<String>,
    /// `--stop-timeout` in seconds.
    pub stop_timeout: Option<u64>,
    /// `--log-driver` (`k8s-file`, `json-file`, `none`, `passthrough`).
    pub log_driver: Option<String>,
    /// `--log-opt` (`path=`, `max-size=`, `max-file=`, `tag=`).
    pub log_opts: BTreeMap<String, String>,
    /// `--rootfs`: `image` is a directory used as the rootfs.
    pub rootfs: bool,
    /// `--pull` (`always`, `missing`, `never`, `newer`).
    pub pull: Option<String>,
    /// `--sig-proxy` (default true for foreground runs).
    pub sig_proxy: Option<bool>,
    /// `--detach-keys`.
    pub detach_keys: Option<String>,
    /// `--pod`: the pod to join (name or id; `new:NAME` is resolved by the
    /// CLI before the options are stored).
    pub pod: Option<String>,
    /// `--add-host` (`name:ip`).
    pub add_hosts: Vec<String>,
    /// `--no-hosts`: leave the image's /etc/hosts alone.
    pub no_hosts: bool,
    /// `--dns` servers.
    pub dns: Vec<String>,
    /// `--dns-search` domains.
    pub dns_search: Vec<String>,
    /// `--dns-option` options.
    pub dns_options: Vec<String>,
    /// `--oom-score-adj`.
    pub oom_score_adj: Option<i32>,
    /// `--restart` policy as given (`no`, `on-failure[:N]`, `always`,
    /// `unless-stopped`).
    pub restart: Option<String>,
    /// `--workdir` given, `--systemd`, and other podman flags husk accepts
    /// but does not act on are recorded here by name for inspect.
    pub accepted: BTreeMap<String, String>,
}
