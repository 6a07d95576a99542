//! The state one husk command works with: the global flags, where things
//! live, and the catalog, opened on first use.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::Args;

use crate::catalog::Catalog;
use crate::engine::Engine;
use crate::paths::Paths;
use crate::userns::IdContext;

/// Flags every command accepts (podman's global flags).
#[derive(Debug, Clone, Default, Args)]
pub struct GlobalOpts {
    /// Storage root (default /var/lib/husk, rootless ~/.local/share/husk).
    #[arg(long, global = true, value_name = "PATH")]
    pub root: Option<PathBuf>,
    /// Runtime state root (default /run/husk, rootless $XDG_RUNTIME_DIR/husk).
    #[arg(long, global = true, value_name = "PATH")]
    pub runroot: Option<PathBuf>,
    /// Storage driver: overlay or vfs (default: overlay where it works).
    #[arg(long, global = true, value_name = "NAME")]
    pub storage_driver: Option<String>,
    /// Storage driver options (accepted for podman compatibility).
    #[arg(long, global = true, value_name = "OPT")]
    pub storage_opt: Vec<String>,
    /// Log level (debug, info, warn, error, fatal, panic).
    #[arg(long, global = true, value_name = "LEVEL", default_value = "warn")]
    pub log_level: String,
    /// cgroup manager: cgroupfs (systemd is refused with a clear error).
    #[arg(long, global = true, value_name = "MANAGER")]
    pub cgroup_manager: Option<String>,
    /// Events backend (accepted for podman compatibility).
    #[arg(long, global = true, value_name = "BACKEND")]
    pub events_backend: Option<String>,
    /// OCI runtime (accepted for podman compatibility: husk always uses its
    /// own, built in). Repeatable: `husk bench startup` compares each.
    #[arg(long, global = true, value_name = "PATH")]
    pub runtime: Vec<String>,
    /// Directory for temporary files.
    #[arg(long, global = true, value_name = "PATH")]
    pub tmpdir: Option<PathBuf>,
    /// Print a per-phase trace of the command (table, or json with
    /// --trace=json); also $HUSK_TRACE.
    #[arg(long, global = true, value_name = "FORMAT", num_args = 0..=1, require_equals = true, default_missing_value = "table")]
    pub trace: Option<String>,
}

/// One command's context.
#[derive(Debug)]
pub struct Ctx {
    /// The global flags.
    pub global: GlobalOpts,
    /// Where things live.
    pub paths: Paths,
    catalog: Option<Catalog>,
    engine: Option<Engine>,
    in_storage_ns: bool,
}

impl Ctx {
    /// The context for `global`.
    pub fn new(global: GlobalOpts) -> anyhow::Result<Ctx> {
        if global.cgroup_manager.as_deref() == Some("systemd") {
            anyhow::bail!(
                "--cgroup-manager systemd is not supported: husk manages cgroups itself (use cgroupfs)"
            );
        }
        if let Some(d) = global.storage_driver.as_deref() {
            if !matches!(d, "overlay" | "vfs") {
                anyhow::bail!("unknown storage driver {d:?}: husk supports overlay and vfs");
            }
        }
        let paths = Paths::resolve(global.root.as_deref(), global.runroot.as_deref());
        Ok(Ctx {
            global,
            paths,
            catalog: None,
            engine: None,
            in_storage_ns: false,
        })
    }

    /// The catalog, opened on first use.
    pub fn catalog(&mut self) -> anyhow::Result<&mut Catalog> {
        if let Some(e) = self.engine.as_mut() {
            return Ok(&mut e.catalog);
        }
        if self.catalog.is_none() {
            let c = Catalog::open(&self.paths.catalog())
                .with_context(|| "opening the catalog".to_string())?;
            self.catalog = Some(c);
        }
        Ok(self.catalog.as_mut().expect("just opened"))
    }

    /// The rootless user's ids and subordinate ranges.
    pub fn ids(&self) -> IdContext {
        crate::userns::load_ids(self.paths.host_uid, self.paths.host_gid)
    }

    /// Enters husk's rootless user and mount namespaces (no-op rootful or
    /// when already inside). Commands that touch storage call it first,
    /// before any thread or open catalog exists.
    pub fn enter_storage_ns(&mut self) -> anyhow::Result<()> {
        if !self.paths.rootless || self.in_storage_ns {
            return Ok(());
        }
        self.in_storage_ns = true;
        // The catalog is reopened in the child: a SQLite handle must not
        // cross a fork.
        self.catalog = None;
        self.engine = None;
        let ids = self.ids();
        if ids.subuids.is_empty() || ids.subgids.is_empty() {
            eprintln!(
                "husk: warning: no subordinate ids for uid {} in /etc/subuid and /etc/subgid; \
                 containers get a single uid and gid",
                self.paths.host_uid
            );
        }
        let _t = crate::trace::span("engine.userns");
        crate::userns::enter(&ids)?;
        Ok(())
    }

    /// Rootless: enters the user namespace process `pid` is in (a pod
    /// infra's shim, which keeps the namespace its infra was created in),
    /// then a private mount namespace of this process for its own overlay
    /// mounts, instead of making a fresh user namespace. A pod member's
    /// runtime needs CAP_SYS_ADMIN in the user namespace that owns the
    /// infra's network (and other) namespaces, which a sibling namespace
    /// with the same mapping does not give. No-op rootful or when already
    /// inside; like [`Ctx::enter_storage_ns`], call it before any thread or
    /// open catalog exists.
    pub fn enter_pod_ns(&mut self, pid: i32) -> anyhow::Result<()> {
        if !self.paths.rootless || self.in_storage_ns {
            return Ok(());
        }
        self.in_storage_ns = true;
        self.catalog = None;
        self.engine = None;
        crate::userns::join(pid).context("joining the pod's user namespace")?;
        nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNS)
            .context("creating a mount namespace in the pod's user namespace")?;
        Ok(())
    }

    /// The engine handle; with `storage`, inside husk's rootless namespace
    /// (commands that mount, unpack or remove stored files need it).
    pub fn engine(&mut self, storage: bool) -> anyhow::Result<&mut Engine> {
        if storage {
            self.enter_storage_ns()?;
        }
        if self.engine.is_none() {
            let _t = crate::trace::span("engine.open");
            let e = Engine::open(self.paths.clone(), self.global.storage_driver.clone())
                .with_context(|| "opening the catalog".to_string())?;
            self.catalog = None;
            self.engine = Some(e);
        }
        Ok(self.engine.as_mut().expect("just opened"))
    }
}
