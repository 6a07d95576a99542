//! OCI runtime spec generation: an image's config plus the user's
//! `husk run`/`husk create` options become the `config.json` husk-runtime
//! runs, with podman 5's defaults, plus the per-container files the spec
//! bind-mounts (hosts, hostname, resolv.conf, .containerenv).
//!
//! [`generate`] validates everything first and writes only then (host
//! directories for `-v`, the working directory, the userdata files), and
//! removes what it wrote if a later step fails, so bad input leaves nothing
//! behind. See docs/spec.md for every default and where husk differs from
//! podman.

pub mod annotations;
pub mod anonymous;
pub mod caps;
pub mod devices;
pub mod env;
pub mod error;
pub mod files;
pub mod idmap;
pub mod init_mount;
pub mod mounts;
pub mod namespaces;
pub mod process;
pub mod resources;
pub mod rlimits;
pub mod security;
pub mod signal;
pub mod uidmap;
pub mod user;
pub mod volumes;

mod generate;

use std::path::Path;

use oci_spec::runtime::Spec;

use crate::container::options::ContainerOptions;
use crate::image::config::ImageConfig;

pub use error::{Result, SpecError};
pub use generate::generate;
pub use idmap::{IdContext, IdRange};
pub use namespaces::NamespaceJoins;
pub use user::ResolvedUser;

/// Everything [`generate`] needs from the engine.
#[derive(Debug, Clone, Copy)]
pub struct SpecInput<'a> {
    /// The container id (64 hex digits).
    pub id: &'a str,
    /// The container name (for /etc/hosts and .containerenv).
    pub name: &'a str,
    /// The user's options.
    pub opts: &'a ContainerOptions,
    /// The image's config; `None` with `--rootfs`.
    pub image: Option<&'a ImageConfig>,
    /// The mounted rootfs (overlay merged dir, or the `--rootfs` dir).
    pub rootfs: &'a Path,
    /// The container's own directory for the files bind-mounted into it
    /// (created by the engine; generate writes `hosts`, `hostname`,
    /// `resolv.conf`, `.containerenv`, and `passwd`/`group`/`volumes/` when
    /// needed).
    pub userdata: &'a Path,
    /// husk runs rootless: it is root of its own user namespace (the user's
    /// uid is 0, its subordinate ids 1..N) and the container shares it
    /// unless `--userns` asks otherwise.
    pub rootless: bool,
    /// The user's ids and subordinate ranges.
    pub ids: &'a IdContext,
    /// Namespace paths the engine resolved (`container:ID`, pods).
    pub namespaces: &'a NamespaceJoins,
    /// The husk binary, bind-mounted as the `--init`.
    pub husk_exe: &'a Path,
    /// The cgroup to create the container's under (a pod's), if any.
    pub cgroup_parent: Option<&'a str>,
    /// The image as named (for .containerenv).
    pub image_name: &'a str,
    /// The image id (for .containerenv).
    pub image_id: &'a str,
    /// husk's storage root, for .containerenv's `graphRootMounted` (podman
    /// sets it when a bind mount exposes the store).
    pub graph_root: Option<&'a Path>,
}

/// What [`generate`] made.
#[derive(Debug, Clone)]
pub struct Generated {
    /// The OCI spec (the engine writes it as the bundle's config.json).
    pub spec: Spec,
    /// The signal that stops the container (`--stop-signal`, the image's
    /// `StopSignal`, else SIGTERM).
    pub stop_signal: i32,
    /// Seconds between the stop signal and SIGKILL (`--stop-timeout`, else
    /// podman's 10).
    pub stop_timeout: u64,
    /// The user the container runs as (for `exec` defaults and inspect).
    pub user: ResolvedUser,
    /// `--userns auto`: the (uid, gid) ranges picked, for the catalog to
    /// record so the next container picks others.
    pub auto_userns: Option<(IdRange, IdRange)>,
    /// Things podman would warn about (the CLI prints them as `WARN[0000]`).
    pub warnings: Vec<String>,
}

/// podman's default stop timeout, seconds.
pub const DEFAULT_STOP_TIMEOUT: u64 = 10;
