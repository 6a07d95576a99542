//! Creating a container: a catalog row (which reserves the name), the
//! rootfs mounted from the image's layers, the OCI spec and the files it
//! binds in, then a shim that creates it in the runtime. `start` then only
//! opens the exec fifo. A failure at any step removes what the earlier
//! steps made, so bad input leaves no row, directory, mount or cgroup.

use std::path::PathBuf;

use husk_shim::config::{LogDriver, ShimConfig, TtySize};

use super::error::{ContainerError, Result};
use super::options::ContainerOptions;
use super::{id, remove, rootfs};
use crate::catalog::containers::{ContainerRecord, State, StateUpdate};
use crate::catalog::images::ImageRecord;
use crate::catalog::CatalogError;
use crate::engine::Engine;
use crate::image::config::ImageConfig;

/// An image resolved for a new container.
#[derive(Debug, Clone)]
pub struct ResolvedImage {
    /// Its catalog record.
    pub record: ImageRecord,
    /// Its config document.
    pub config: ImageConfig,
    /// The name it was found by, fully qualified (`ImageName` in inspect).
    pub name: String,
}

/// What to create.
#[derive(Debug, Clone)]
pub struct CreateRequest {
    /// The user's options.
    pub opts: ContainerOptions,
    /// The image (None with `--rootfs`).
    pub image: Option<ResolvedImage>,
    /// The pod to join, resolved.
    pub pod_id: Option<String>,
    /// This is `pod_id`'s infra container: it creates the namespaces the
    /// pod shares instead of joining them.
    pub infra: bool,
    /// The caller's terminal size, for `-t`.
    pub tty_size: Option<TtySize>,
}

/// Removes a half-made container unless disarmed.
struct Undo<'a> {
    eng: &'a mut Engine,
    rec: Option<ContainerRecord>,
}

impl Drop for Undo<'_> {
    fn drop(&mut self) {
        if let Some(rec) = self.rec.take() {
            let _ = remove::purge(self.eng, &rec);
        }
    }
}

fn now() -> String {
    husk_runtime::time::now()
}

/// Inserts the row, taking a generated name when none was asked for (and
/// drawing another on the rare collision), or replacing the holder of the
/// asked-for name with `--replace`.
fn insert(
    eng: &mut Engine,
    mut rec: ContainerRecord,
    given: bool,
    replace: bool,
) -> Result<ContainerRecord> {
    let mut tries = 0;
    loop {
        match eng.catalog.insert_container(&rec) {
            Ok(()) => return Ok(rec),
            Err(CatalogError::NameInUse { kind, id, .. })
                if replace && given && kind == "container" =>
            {
                if let Some(old) = eng.catalog.container(&id)? {
                    remove::remove(eng, &old, true, Some(0))?;
                }
            }
            Err(CatalogError::NameInUse { .. }) if !given && tries < 16 => {
                rec.name = id::random_name();
            }
            Err(e) => return Err(e.into()),
        }
        tries += 1;
    }
}

/// Creates a container; returns its record in state `created`.
pub fn create(eng: &mut Engine, req: &CreateRequest) -> Result<ContainerRecord> {
    let _t = crate::trace::span("engine.create");
    let opts = &req.opts;
    let cid = id::new_id();
    let given = opts.name.is_some();
    let (image_id, image_name) = match &req.image {
        Some(i) => (i.record.id.clone(), i.name.clone()),
        None => (String::new(), opts.image.clone()),
    };
    // Before anything is made: a pod member's options are checked and its
    // infra made to exist, so its namespaces can be joined.
    let placed = crate::pod::member::place(eng, req.pod_id.as_deref(), req.infra, opts)?;
    let t = crate::trace::span("engine.catalog-insert");
    let rec = ContainerRecord {
        id: cid.clone(),
        name: opts.name.clone().unwrap_or_else(id::random_name),
        image_id,
        image_name,
        pod_id: req.pod_id.clone(),
        created: now(),
        options: opts.clone(),
        command: Vec::new(),
        state: State::Configured,
        pid: 0,
        shim_pid: 0,
        started_at: None,
        finished_at: None,
        exit_code: None,
        oom_killed: false,
        restart_count: 0,
        extra: serde_json::json!({}),
    };
    let rec = insert(eng, rec, given, opts.replace)?;
    t.end();
    let mut undo = Undo {
        eng,
        rec: Some(rec.clone()),
    };
    let eng = &mut *undo.eng;
    let userdata = eng.paths.userdata(&cid);
    mkdir(&userdata)?;
    mkdir(&eng.paths.run_dir(&cid))?;
    let t = crate::trace::span("engine.rootfs");
    let root = match &req.image {
        Some(img) => rootfs::prepare(eng, &cid, &img.record, opts.rm)?,
        None => PathBuf::from(&opts.image),
    };
    t.end();
    let t = crate::trace::span("engine.spec");
    let generated = super::spec::generate(&super::spec::SpecInput {
        id: &cid,
        name: &rec.name,
        opts,
        image: req.image.as_ref().map(|i| &i.config),
        rootfs: &root,
        userdata: &userdata,
        rootless: eng.paths.rootless,
        ids: &crate::userns::load_ids(eng.paths.host_uid, eng.paths.host_gid),
        namespaces: &placed.joins,
        husk_exe: &eng.exe,
        cgroup_parent: placed.cgroup_parent.as_deref(),
        image_name: &rec.image_name,
        image_id: &rec.image_id,
        graph_root: Some(&eng.paths.root),
    })
    .map_err(|e| ContainerError::Other(e.to_string()))?;
    if req.image.is_some() {
        // The maps are known only now (auto picks them): idmap the layers.
        rootfs::idmap_layers(eng, &cid, &generated.spec)?;
    }
    let config = userdata.join("config.json");
    let json = serde_json::to_vec(&generated.spec).expect("specs serialise");
    std::fs::write(&config, json).map_err(|e| ContainerError::io("writing", &config, e))?;
    t.end();
    let command = generated
        .spec
        .process()
        .as_ref()
        .and_then(|p| p.args().clone())
        .unwrap_or_default();
    for w in &generated.warnings {
        eprintln!("WARN[0000] {w}");
    }
    let image_entrypoint = req
        .image
        .as_ref()
        .and_then(|i| i.config.config.as_ref())
        .and_then(|c| c.entrypoint.clone());
    let mut extra = serde_json::json!({
        "image_digest": req.image.as_ref().map(|i| i.record.manifest_digest.to_string()),
        "image_entrypoint": image_entrypoint,
        "rootfs": root,
        "stop_signal": generated.stop_signal,
        "stop_timeout": generated.stop_timeout,
        "log_path": log_path(eng, &rec),
    });
    placed.record(&mut extra);
    eng.catalog.update_container(
        &cid,
        &StateUpdate {
            extra: Some(extra),
            command: Some(command),
            ..Default::default()
        },
    )?;
    if let Err(e) = instantiate(eng, &rec, req.tty_size) {
        // As podman: a container whose program could not start stays, as
        // exited (unless --rm), for inspect and rm; its mount goes.
        if !opts.rm {
            let _ = rootfs::unmount(eng, &cid);
            let code = if e.to_string().contains("not found") {
                127
            } else {
                126
            };
            eng.catalog.update_container(
                &cid,
                &StateUpdate {
                    state: Some(State::Exited),
                    exit_code: Some(code),
                    finished_at: Some(now()),
                    ..Default::default()
                },
            )?;
            undo.rec = None;
        }
        return Err(e);
    }
    undo.rec = None;
    let rec = undo
        .eng
        .catalog
        .container(&cid)?
        .ok_or_else(|| ContainerError::NotFound(cid.clone()))?;
    Ok(rec)
}

fn mkdir(p: &std::path::Path) -> Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(p)
        .map_err(|e| ContainerError::io("creating", p, e))
}

fn log_path(eng: &Engine, rec: &ContainerRecord) -> PathBuf {
    rec.options
        .log_opts
        .get("path")
        .map(PathBuf::from)
        .unwrap_or_else(|| eng.paths.log_file(&rec.id))
}

fn log_settings(rec: &ContainerRecord) -> Result<(LogDriver, u64, u32)> {
    let o = &rec.options;
    let driver = match o.log_driver.as_deref() {
        None | Some("k8s-file") => LogDriver::K8sFile,
        Some(d) => LogDriver::parse(d).ok_or_else(|| {
            ContainerError::Other(format!(
                "invalid log driver {d:?}: husk supports k8s-file, json-file and none"
            ))
        })?,
    };
    let size = match o.log_opts.get("max-size") {
        None => 0,
        Some(s) => crate::format::units::ram_in_bytes(s)
            .map_err(|e| ContainerError::Other(format!("invalid --log-opt max-size={s:?}: {e}")))?
            as u64,
    };
    let files = match o.log_opts.get("max-file") {
        None => 1,
        Some(s) => s.parse().map_err(|_| {
            ContainerError::Other(format!("invalid --log-opt max-file={s:?}: not a number"))
        })?,
    };
    Ok((driver, size, files))
}

/// Mounts the rootfs (again, for a restart) and starts a shim that creates
/// the container in the runtime; records it as `created`.
pub fn instantiate(
    eng: &mut Engine,
    rec: &ContainerRecord,
    tty_size: Option<TtySize>,
) -> Result<()> {
    crate::pod::member::refresh(eng, rec)?;
    if !rec.image_id.is_empty() && rec.state != State::Configured {
        rootfs::mount_existing(eng, &rec.id)?;
    }
    let run_dir = eng.paths.run_dir(&rec.id);
    mkdir(&run_dir)?;
    let exit_file = eng.paths.exit_file(&rec.id);
    let _ = std::fs::remove_file(&exit_file);
    let (log_driver, log_max_size, log_max_files) = log_settings(rec)?;
    let mut exit_command = vec![eng.exe.display().to_string()];
    exit_command.extend(eng.global_args.iter().cloned());
    exit_command.extend(["container".into(), "cleanup".into(), rec.id.clone()]);
    let mut cfg = ShimConfig::new(
        &rec.id,
        &eng.paths.userdata(&rec.id),
        &eng.paths.runtime_root(),
    );
    cfg.log_driver = log_driver;
    cfg.log_path = log_path(eng, rec);
    cfg.log_max_size = log_max_size;
    cfg.log_max_files = log_max_files;
    cfg.exit_file = Some(exit_file);
    cfg.attach_dir = Some(run_dir.clone());
    cfg.stdin = rec.options.interactive;
    cfg.terminal = rec.options.tty;
    cfg.tty_size = tty_size;
    cfg.exit_command = exit_command;
    cfg.shim_pid_file = Some(run_dir.join(super::live::files::SHIM_PID));
    eng.runtime_root()
        .map_err(|e| ContainerError::io("creating", eng.paths.runtime_root(), e))?;
    let t = crate::trace::span("engine.shim-spawn");
    let spawned = husk_shim::spawn(&eng.exe, &cfg)?;
    t.end();
    // The runtime's notes (running rootless without a cgroup, say) are
    // expected here; podman prints nothing for them either.
    if !spawned.warnings.trim().is_empty() && std::env::var_os("HUSK_DEBUG").is_some() {
        eprint!("{}", spawned.warnings);
    }
    eng.catalog.update_container(
        &rec.id,
        &StateUpdate {
            state: Some(State::Created),
            pid: Some(spawned.container_pid),
            shim_pid: Some(spawned.shim_pid),
            ..Default::default()
        },
    )?;
    Ok(())
}
