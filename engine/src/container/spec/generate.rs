//! [`generate`]: the order of spec generation. Every option is parsed and
//! checked first; only then does anything touch the disk.

use std::os::fd::{AsFd, BorrowedFd};
use std::path::{Path, PathBuf};

use oci_spec::runtime::{Linux, Mount, Process, Root, Spec, User};

use super::error::{Result, SpecError};
use super::idmap::{UserNs, UserNsInput};
use super::mounts::{BaseInput, Undo};
use super::namespaces::Mode;
use super::volumes::{Kind, Planned};
use super::*;
use crate::container::passwd;

/// The OCI runtime spec version husk writes.
pub const OCI_VERSION: &str = "1.2.0";

fn check_id(id: &str) -> Result<()> {
    if id.len() < 12
        || !id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(SpecError::Internal(format!(
            "container id {id:?} is not a valid id"
        )));
    }
    Ok(())
}

/// The container's /etc/passwd and /etc/group: a user bind mount over
/// them (or over /etc) wins, as in podman; else the rootfs's, read inside
/// the root.
fn user_db(root: BorrowedFd<'_>, planned: &[Planned]) -> Result<(Option<String>, Option<String>)> {
    let read = |file: &str| -> Result<Option<String>> {
        let target = Path::new("/etc").join(file);
        for p in planned.iter().rev() {
            if let Kind::Bind { source, .. } = &p.kind {
                let host = if p.dest == target {
                    source.clone()
                } else if p.dest == Path::new("/etc") {
                    source.join(file)
                } else {
                    continue;
                };
                return passwd::read_host(&host).map_err(|e| SpecError::io("reading", host, e));
            }
        }
        passwd::read_in_root(root, &target.to_string_lossy())
            .map_err(|e| SpecError::io("reading the container's", target, e))
    };
    Ok((read("passwd")?, read("group")?))
}

/// Recursively lchowns `path` to `(uid, gid)` (`U`).
fn chown_tree(path: &Path, uid: u32, gid: u32) -> std::io::Result<()> {
    std::os::unix::fs::lchown(path, Some(uid), Some(gid))?;
    let meta = std::fs::symlink_metadata(path)?;
    if meta.is_dir() {
        for e in std::fs::read_dir(path)? {
            chown_tree(&e?.path(), uid, gid)?;
        }
    }
    Ok(())
}

fn write_file(path: &Path, text: &str, owner: Option<(u32, u32)>, undo: &mut Undo) -> Result<()> {
    std::fs::write(path, text).map_err(|e| SpecError::io("writing", path, e))?;
    undo.created(path.to_path_buf());
    if let Some((u, g)) = owner {
        std::os::unix::fs::lchown(path, Some(u), Some(g))
            .map_err(|e| SpecError::io("chowning", path, e))?;
    }
    Ok(())
}

/// Generates the container's OCI spec and writes the files it references
/// (see the module docs and docs/spec.md).
pub fn generate(input: &SpecInput<'_>) -> Result<Generated> {
    let o = input.opts;
    check_id(input.id)?;
    let rc = input.image.and_then(|i| i.config.as_ref());
    let mut warnings = Vec::new();

    // --- Parse and check; nothing is written in this part. ---
    let sec = security::parse(&o.security_opt, &mut warnings)?;
    let cg = resources::CgroupHost::probe();
    let ns = namespaces::plan(o, input.namespaces, cg.v2)?;
    if o.init && ns.pid != Mode::Private {
        return Err(SpecError::Conflict(
            "--init: cannot add init binary as PID 1 (PID namespace isn't private)".into(),
        ));
    }
    if o.init && !input.husk_exe.is_file() {
        return Err(SpecError::Internal(format!(
            "--init: the init binary {} is missing",
            input.husk_exe.display()
        )));
    }
    if let Some(h) = o.hostname.as_deref() {
        files::check_hostname(h)?;
        match ns.uts {
            Mode::Host => {
                return Err(SpecError::Conflict(
                    "--hostname: cannot set the hostname when running in the host UTS namespace (--uts host)".into(),
                ))
            }
            Mode::Join(_) => {
                return Err(SpecError::Conflict(
                    "--hostname: cannot set the hostname when joining another UTS namespace".into(),
                ))
            }
            _ => {}
        }
    }
    let host_hostname = || {
        nix::unistd::gethostname()
            .map(|h| h.to_string_lossy().into_owned())
            .unwrap_or_else(|_| "localhost".into())
    };
    let hostname = match (&o.hostname, &ns.uts) {
        (Some(h), _) => h.clone(),
        (None, Mode::Host) => host_hostname(),
        // podman: --network host alone keeps the host's name (in a UTS
        // namespace of its own).
        (None, _) if ns.network == Mode::Host && ns.uts_defaulted => host_hostname(),
        _ => input.id[..12].to_owned(),
    };

    let cwd_host = if o.volumes.iter().any(|v| v.starts_with('.')) {
        std::env::current_dir()
            .map_err(|e| SpecError::io("reading the current directory", ".", e))?
    } else {
        PathBuf::from("/")
    };
    let planned = volumes::parse_all(&o.volumes, &o.mounts, &o.tmpfs, &cwd_host)?;

    let root = passwd::open_root(input.rootfs)
        .map_err(|e| SpecError::io("opening rootfs", input.rootfs, e))?;
    let (pw_text, gr_text) = user_db(root.as_fd(), &planned)?;

    let mode = o.userns.as_deref().unwrap_or("");
    let sized = mode.starts_with("auto") || mode.starts_with("private");
    let userns = idmap::plan(&UserNsInput {
        mode,
        uidmap: &o.uidmap,
        gidmap: &o.gidmap,
        rootless: input.rootless,
        ids: input.ids,
        join: input.namespaces.user.as_deref(),
        image_max_ids: if sized {
            passwd::max_ids(
                pw_text.as_deref().unwrap_or(""),
                gr_text.as_deref().unwrap_or(""),
            )
        } else {
            (0, 0)
        },
    })?;
    let own_userns = userns.ns != UserNs::Shared;
    let gid_mapped = |g: u32| match &userns.ns {
        UserNs::New { gids, .. } => idmap::to_parent(gids, g).is_some(),
        UserNs::Join(_) => true,
        UserNs::Shared => !input.rootless || (g as u64) < input.ids.ns_gids(),
    };

    let keep_user = userns.keep_id.map(|(u, g)| format!("{u}:{g}"));
    let image_user = rc.and_then(|c| c.user.as_deref()).filter(|u| !u.is_empty());
    let (user_spec, user_flag) = match (o.user.as_deref(), keep_user.as_deref(), image_user) {
        (Some(u), _, _) => (Some(u), "--user"),
        (None, Some(k), _) => (Some(k), "--userns keep-id"),
        (None, None, Some(u)) => (Some(u), "the image's User"),
        _ => (None, "--user"),
    };
    let user = user::resolve(
        &user::UserInput {
            user: user_spec,
            flag: user_flag,
            group_add: &o.group_add,
            passwd: pw_text.as_deref(),
            group: gr_text.as_deref(),
        },
        &gid_mapped,
        &mut warnings,
    )?;

    let caps = caps::compute(
        &o.cap_add,
        &o.cap_drop,
        o.privileged,
        user.uid == 0,
        &caps::bounding_of,
    )?;
    let seccomp = security::seccomp(&sec, o.privileged, caps.bounding)?;

    let mut args = process::command(
        o.entrypoint.as_deref(),
        &o.command,
        rc.and_then(|c| c.entrypoint.as_deref()),
        rc.and_then(|c| c.cmd.as_deref()),
        o.init,
    )?;
    let init_plan = if o.init {
        let p = super::init_mount::plan(input.husk_exe)?;
        // `command` put `/run/husk-init --` first; a dynamic husk starts
        // through its loader instead.
        args.splice(0..2, p.prefix.iter().cloned());
        Some(p)
    } else {
        None
    };
    let (workdir, create_workdir) = process::workdir(
        o.workdir.as_deref(),
        rc.and_then(|c| c.working_dir.as_deref()),
    )?;
    let mut env = env::build(
        &env::EnvInput {
            image: rc.and_then(|c| c.env.as_deref()).unwrap_or(&[]),
            tty: o.tty,
            env_host: o.env_host,
            env_files: &o.env_files,
            env: &o.env,
            unset: &o.unsetenv,
            unset_all: o.unsetenv_all,
            http_proxy: o.http_proxy.unwrap_or(true),
        },
        &env::host_env,
    )?;
    // Limits above the current hard limit need CAP_SYS_RESOURCE in the
    // initial user namespace: never rootless, and never from inside a user
    // namespace of the container's own, where the runtime sets them.
    let rlimits = rlimits::build(
        &o.ulimits,
        &rlimits::RealHost {
            in_userns: input.rootless || own_userns,
        },
    )?;
    let oom = process::oom_score_adj(o.oom_score_adj, input.rootless, &mut warnings)?;
    let umask = match o.umask.as_deref() {
        None => 0o022,
        Some(m) => u32::from_str_radix(m, 8)
            .ok()
            .filter(|m| *m <= 0o777)
            .ok_or_else(|| SpecError::invalid("--umask", m, "an octal mask such as 0022"))?,
    };
    if o.no_hosts && !o.add_hosts.is_empty() {
        return Err(SpecError::Conflict(
            "--no-hosts and --add-host cannot be used together".into(),
        ));
    }

    let mut devs = Vec::new();
    for d in &o.devices {
        devs.extend(devices::parse(d)?);
    }
    if o.privileged {
        devs = devices::host_devices(input.rootless);
    }
    let rules = if input.rootless {
        Vec::new()
    } else if o.privileged {
        vec![resources::device_rule(true, None, None, None, "rwm")]
    } else {
        let mut r = vec![resources::device_rule(false, None, None, None, "rwm")];
        r.extend(devs.iter().map(|d| d.rule()));
        r
    };
    let limits = resources::Limits {
        memory: o.memory,
        memory_swap: o.memory_swap,
        memory_reservation: o.memory_reservation,
        pids_limit: o.pids_limit,
        cpus: o.cpus,
        cpu_period: o.cpu_period,
        cpu_quota: o.cpu_quota,
        cpu_shares: o.cpu_shares,
        cpuset_cpus: o.cpuset_cpus.as_deref(),
    };
    // podman 5 on cgroup v1 rootless: a warning, and the limits dropped
    // (no cgroup can be delegated to the user there).
    let limits = if input.rootless && !cg.v2 && limits.any() {
        warnings.push(
            "Resource limits are not supported and ignored on cgroups V1 rootless systems".into(),
        );
        resources::Limits::default()
    } else {
        limits
    };
    let res = resources::build(&limits, rules, input.rootless, &cg)?;
    let cgroups_path = resources::cgroups_path(input.id, input.cgroup_parent, input.rootless)?;
    let sysctl = resources::sysctls(&o.sysctls, &ns)?;

    let net = match ns.network {
        Mode::Host => files::Net::Host,
        Mode::Join(_) => files::Net::Joined,
        _ => files::Net::Loopback,
    };
    let host_hosts = std::fs::read_to_string("/etc/hosts").unwrap_or_default();
    let hosts_text = files::hosts(&o.add_hosts, &host_hosts, &hostname, input.name, net)?;
    let resolv_text = files::resolv_conf(
        &files::host_resolv(),
        &o.dns,
        &o.dns_search,
        &o.dns_options,
        ns.network != Mode::Host,
        ns.network == Mode::None,
    )?;
    let stop_signal = match (&o.stop_signal, rc.and_then(|c| c.stop_signal.as_deref())) {
        (Some(s), _) => signal::parse("--stop-signal", s)?,
        (None, Some(s)) if !s.is_empty() => signal::parse("the image's StopSignal", s)?,
        _ => libc::SIGTERM,
    };
    let stop_timeout = o.stop_timeout.unwrap_or(DEFAULT_STOP_TIMEOUT);
    for k in o.annotations.keys() {
        if k.is_empty() {
            return Err(SpecError::invalid("--annotation", "", "the key is empty"));
        }
    }

    // The container's root on the parent side, and its user's: owners of
    // what husk creates for it.
    let parent_ids = |uid: u32, gid: u32, what: &str| -> Result<(u32, u32)> {
        match (userns.ns.parent_uid(uid), userns.ns.parent_gid(gid)) {
            (Some(u), Some(g)) => Ok((u, g)),
            _ => Err(SpecError::Conflict(format!(
                "{what}: {uid}:{gid} is not mapped in the container's user namespace"
            ))),
        }
    };
    let root_owner = parent_ids(0, 0, "the container's root")?;

    let base_in = BaseInput {
        ns: &ns,
        rootless: input.rootless,
        own_userns,
        privileged: o.privileged,
        gid5_mapped: gid_mapped(5),
        shm_size: o.shm_size,
        shm_join: input.namespaces.shm.as_deref(),
        read_only: o.read_only,
        read_only_tmpfs: o.read_only_tmpfs,
        cgroup_rw: cg.v2 && security::unmasks_cgroup(&sec),
    };
    if let Some(s) = o.shm_size {
        if s <= 0 {
            return Err(SpecError::invalid(
                "--shm-size",
                &s.to_string(),
                "the size must be positive",
            ));
        }
    }
    let mask_sys_kernel = input.rootless && !mounts::can_mount_sys(&base_in);
    let (masked, readonly) = security::paths(o.privileged, &sec, mask_sys_kernel);
    let base = mounts::base(&base_in);

    // --- Write: sources, volumes, workdir, userdata files. ---
    let mut undo = Undo::default();
    let mut user_mounts: Vec<Mount> = Vec::with_capacity(planned.len());
    let mut anon_dests: Vec<PathBuf> = Vec::new();
    for p in &planned {
        match mounts::realize(p)? {
            None => anon_dests.push(p.dest.clone()),
            Some(mut m) => {
                if p.chown {
                    if p.kind == Kind::Tmpfs {
                        let mut opts = m.options().clone().unwrap_or_default();
                        opts.push(format!("uid={}", user.uid));
                        opts.push(format!("gid={}", user.gid));
                        m.set_options(Some(opts));
                    } else if let Kind::Bind { source, .. } = &p.kind {
                        let (u, g) = parent_ids(user.uid, user.gid, p.flag)?;
                        chown_tree(source, u, g)
                            .map_err(|e| SpecError::io("chowning (U)", source, e))?;
                    }
                }
                user_mounts.push(m);
            }
        }
    }
    for dest in rc
        .and_then(|c| c.volumes.as_ref())
        .into_iter()
        .flat_map(|v| v.keys())
    {
        let dest = process::clean(dest);
        if dest != Path::new("/")
            && !planned.iter().any(|p| p.dest == dest)
            && !anon_dests.contains(&dest)
        {
            anon_dests.push(dest);
        }
    }
    for dest in &anon_dests {
        user_mounts.push(anonymous::prepare(
            input.userdata,
            root.as_fd(),
            dest,
            root_owner,
            &mut undo,
            &mut warnings,
        )?);
    }

    let mut all: Vec<Mount> = base;
    let file_owner = own_userns.then_some(root_owner);
    let user_has = |d: &str| planned.iter().any(|p| p.dest == Path::new(d));
    let file =
        |name: &str, dest: &str, text: &str, all: &mut Vec<Mount>, undo: &mut Undo| -> Result<()> {
            if user_has(dest) {
                return Ok(());
            }
            let path = input.userdata.join(name);
            write_file(&path, text, file_owner, undo)?;
            all.push(mounts::file_bind(dest, &path, o.read_only));
            Ok(())
        };
    if !o.no_hosts {
        file("hosts", "/etc/hosts", &hosts_text, &mut all, &mut undo)?;
    }
    if !matches!(ns.uts, Mode::Join(_)) {
        file(
            "hostname",
            "/etc/hostname",
            &files::hostname(&hostname),
            &mut all,
            &mut undo,
        )?;
    }
    if let Some(r) = &resolv_text {
        file("resolv.conf", "/etc/resolv.conf", r, &mut all, &mut undo)?;
    }
    let sources: Vec<&Path> = user_mounts
        .iter()
        .filter_map(|m| m.source().as_deref())
        .collect();
    let cenv = files::containerenv(&files::ContainerEnv {
        privileged: o.privileged,
        name: input.name,
        id: input.id,
        image: input.image_name,
        image_id: input.image_id,
        rootless: input.rootless,
        graph_root_mounted: files::graph_root_mounted(input.graph_root, &sources),
    });
    file(
        ".containerenv",
        "/run/.containerenv",
        &cenv,
        &mut all,
        &mut undo,
    )?;
    let mut home = user.home.clone();
    if let Some((uid, gid)) = userns.keep_id {
        let mount_covers = |p: &str| {
            user_mounts
                .iter()
                .any(|m| Path::new(p).starts_with(m.destination()))
        };
        let kid_home = if mount_covers(&input.ids.home) {
            input.ids.home.clone()
        } else {
            workdir.to_string_lossy().into_owned()
        };
        let (pw, gr) = user::keep_id_entries(
            pw_text.as_deref(),
            gr_text.as_deref(),
            uid,
            gid,
            &input.ids.user_name,
            &kid_home,
        );
        if let Some(line) = pw {
            home = kid_home;
            let text = format!("{}{line}", pw_text.as_deref().unwrap_or(""));
            file("passwd", "/etc/passwd", &text, &mut all, &mut undo)?;
        }
        if let Some(line) = gr {
            let text = format!("{}{line}", gr_text.as_deref().unwrap_or(""));
            file("group", "/etc/group", &text, &mut all, &mut undo)?;
        }
    } else {
        let home_dir = workdir.to_string_lossy();
        let (pw, gr) = user::numeric_entries(
            user_spec,
            pw_text.as_deref(),
            gr_text.as_deref(),
            user.gid,
            &home_dir,
        );
        if let Some(line) = pw {
            home = home_dir.into_owned();
            let text = format!("{}{line}", pw_text.as_deref().unwrap_or(""));
            file("passwd", "/etc/passwd", &text, &mut all, &mut undo)?;
        }
        if let Some(line) = gr {
            let text = format!("{}{line}", gr_text.as_deref().unwrap_or(""));
            file("group", "/etc/group", &text, &mut all, &mut undo)?;
        }
    }
    if let Some(p) = init_plan {
        all.extend(p.mounts);
    }
    all.extend(user_mounts);
    let all = mounts::finalize(all);

    let workdir_owner = parent_ids(user.uid, user.gid, "the working directory's owner")?;
    process::ensure_workdir(
        root.as_fd(),
        &workdir,
        create_workdir,
        workdir != Path::new("/") && mounts::on_mount(&all, &workdir),
        workdir_owner,
        input.id,
    )?;

    env.set_default("HOSTNAME", &hostname);
    env.set_default("HOME", &home);

    // --- Assemble. ---
    let mut u = User::default();
    u.set_uid(user.uid);
    u.set_gid(user.gid);
    u.set_umask(Some(umask));
    u.set_additional_gids((!user.additional_gids.is_empty()).then(|| user.additional_gids.clone()));
    let mut p = Process::default();
    p.set_terminal(Some(o.tty));
    p.set_console_size(None);
    p.set_user(u);
    p.set_args(Some(args));
    p.set_command_line(None);
    p.set_env(Some(env.to_strings()));
    p.set_cwd(workdir);
    p.set_capabilities(Some(caps.to_oci()));
    p.set_rlimits(Some(rlimits));
    p.set_no_new_privileges(sec.no_new_privileges.then_some(true));
    p.set_apparmor_profile(None);
    p.set_oom_score_adj(oom);
    p.set_selinux_label(None);
    p.set_io_priority(None);
    p.set_scheduler(None);
    p.set_exec_cpu_affinity(None);

    let mut linux = Linux::default();
    let user_ns = match &userns.ns {
        UserNs::Shared => None,
        UserNs::New { .. } => Some(namespaces::user_namespace(None)),
        UserNs::Join(path) => Some(namespaces::user_namespace(Some(path))),
    };
    let (uid_maps, gid_maps) = userns.ns.oci_maps().unzip();
    linux.set_uid_mappings(uid_maps);
    linux.set_gid_mappings(gid_maps);
    linux.set_sysctl((!sysctl.is_empty()).then_some(sysctl));
    linux.set_resources(res);
    linux.set_cgroups_path(cgroups_path);
    linux.set_namespaces(Some(ns.to_oci(user_ns)));
    linux.set_devices((!devs.is_empty()).then(|| devs.iter().map(|d| d.to_oci()).collect()));
    linux.set_seccomp(seccomp);
    linux.set_rootfs_propagation(mounts::root_propagation(&all));
    linux.set_masked_paths((!masked.is_empty()).then_some(masked));
    linux.set_readonly_paths((!readonly.is_empty()).then_some(readonly));
    linux.set_mount_label(None);
    linux.set_intel_rdt(None);
    linux.set_personality(None);
    linux.set_time_offsets(None);

    let mut r = Root::default();
    r.set_path(input.rootfs.to_path_buf());
    r.set_readonly(Some(o.read_only));

    let annotations = annotations::build(o, stop_signal, stop_timeout);

    let mut spec = Spec::default();
    spec.set_version(OCI_VERSION.to_owned());
    spec.set_root(Some(r));
    spec.set_mounts(Some(all));
    spec.set_process(Some(p));
    spec.set_hostname(ns.uts.is_private().then_some(hostname));
    spec.set_domainname(None);
    spec.set_hooks(None);
    spec.set_annotations(Some(annotations));
    spec.set_linux(Some(linux));
    undo.commit();
    Ok(Generated {
        spec,
        stop_signal,
        stop_timeout,
        user: ResolvedUser { home, ..user },
        auto_userns: userns.auto,
        warnings,
    })
}
