//! `husk run`, `husk create` and `husk start`: podman's flags, output and
//! exit statuses (125 husk's own error, 126 the program cannot be invoked,
//! 127 it is not found, otherwise the container's own status).

use std::path::Path;

use clap::Args;
use nix::sys::signal::Signal;

use super::flags::CreateFlags;
use super::targets::{always_125, Targets};
use crate::catalog::containers::ContainerRecord;
use crate::cli::ctx::Ctx;
use crate::cli::error::{coded, CANNOT_INVOKE, NOT_FOUND};
use crate::container::create::{self, CreateRequest, ResolvedImage};
use crate::container::error::ContainerError;
use crate::container::options::ContainerOptions;
use crate::container::{start, stop, wait};
use crate::engine::Engine;
use husk_shim::attach::{self, AttachOptions, AttachOutcome};
use husk_shim::config::TtySize;

/// `husk run` / `husk create` arguments.
#[derive(Debug, Args)]
#[command(disable_help_flag = true)]
pub struct RunArgs {
    /// The flags.
    #[command(flatten)]
    pub flags: CreateFlags,
    /// The image, then the command and its arguments.
    #[arg(
        value_name = "IMAGE [COMMAND [ARG...]]",
        trailing_var_arg = true,
        allow_hyphen_values = true,
        required = true
    )]
    pub args: Vec<String>,
}

/// Signals a foreground run passes on to its container (`--sig-proxy`).
const PROXIED: [i32; 6] = [
    libc::SIGINT,
    libc::SIGTERM,
    libc::SIGHUP,
    libc::SIGQUIT,
    libc::SIGUSR1,
    libc::SIGUSR2,
];

fn tty_size() -> Option<TtySize> {
    // SAFETY: winsize is plain data; TIOCGWINSZ fills it in.
    let mut ws: libc::winsize = unsafe { std::mem::zeroed() };
    for fd in [0, 1] {
        // SAFETY: ioctl with a valid pointer to our winsize.
        if unsafe { libc::ioctl(fd, libc::TIOCGWINSZ, &mut ws) } == 0 && ws.ws_row > 0 {
            return Some(TtySize {
                rows: ws.ws_row,
                cols: ws.ws_col,
            });
        }
    }
    None
}

/// The image for a new container: found in the store (the cheap, common
/// case) or pulled, as `--pull` says.
fn resolve_image(
    eng: &mut Engine,
    opts: &ContainerOptions,
) -> anyhow::Result<Option<ResolvedImage>> {
    if opts.rootfs {
        let p = Path::new(&opts.image);
        if !p.is_dir() {
            anyhow::bail!(
                "rootfs {:?} does not exist or is not a directory: no such file or directory",
                opts.image
            );
        }
        return Ok(None);
    }
    let _t = crate::trace::span("engine.image");
    use crate::image::pull::{self, PullOptions, PullPolicy};
    let policy: PullPolicy = opts.pull.as_deref().unwrap_or("missing").parse()?;
    let platform = crate::image::platform::PlatformSpec::from_flags(
        opts.accepted.get("platform").map(String::as_str),
        None,
        None,
        None,
    )?;
    let pull_opts = PullOptions {
        platform,
        remote: crate::image::remote::RemoteOptions {
            tls_verify: opts.accepted.get("tls-verify").map(|v| v == "true"),
            authfile: opts.accepted.get("authfile").map(std::path::PathBuf::from),
            ..Default::default()
        },
        quiet: opts.accepted.contains_key("quiet"),
    };
    let (record, name) = pull::resolve_for_run(eng, &opts.image, policy, &pull_opts)?;
    let config = pull::image_config(eng, &record)?;
    Ok(Some(ResolvedImage {
        record,
        config,
        name,
    }))
}

/// Maps a failed create to podman's statuses: 127 when the program is not
/// found, 126 when it cannot be run, else 125.
fn create_error(e: ContainerError) -> anyhow::Error {
    let text = e.to_string();
    if text.contains("executable file not found")
        || text.contains("no such file or directory: OCI runtime")
    {
        return coded(
            NOT_FOUND,
            anyhow::anyhow!("{text}: OCI runtime attempted to invoke a command that was not found"),
        );
    }
    // podman resolves the user and checks the working directory when the
    // OCI runtime starts the container, so these fail with 126 there; husk
    // finds them while generating the spec (stable phrases of SpecError's
    // NoSuchUser, NoSuchGroup and NoWorkdir).
    if (text.contains("unable to find user ")
        && text.contains("no matching entries in passwd file"))
        || (text.contains("unable to find group ")
            && text.contains("no matching entries in group file"))
        || (text.starts_with("workdir \"") && text.contains("\" does not exist on container "))
    {
        return coded(CANNOT_INVOKE, anyhow::anyhow!("{text}"));
    }
    if text.contains("ermission denied") && text.contains("exec") {
        return coded(
            CANNOT_INVOKE,
            anyhow::anyhow!("{text}: OCI permission denied"),
        );
    }
    e.into()
}

/// The image and the command after it. The positional list accepts
/// hyphens (for the command's own flags), so an unknown flag before the
/// image lands here: refuse it as podman does.
fn split_args(args: &[String]) -> anyhow::Result<(&str, &[String])> {
    if args[0].starts_with('-') {
        return Err(anyhow::anyhow!("unknown flag: {}", args[0]));
    }
    Ok((&args[0], &args[1..]))
}

/// Creates the container `a` describes; returns its record.
fn create_from(ctx: &mut Ctx, a: &RunArgs) -> anyhow::Result<ContainerRecord> {
    let (image, command) = split_args(&a.args)?;
    let mut opts = a.flags.to_options(image, command)?;
    if !ctx.paths.rootless {
        // Rootful only: the rootless path forks without exec into its user
        // namespace, which a live thread would not survive; rootless
        // containers have no v1 cgroups to wait for anyway.
        husk_runtime::cgroup::warm::start();
    }
    // `--pod`: the pod is found (or made, for new:NAME) and, rootless, its
    // user namespace entered before anything else.
    let pod = crate::cli::pod::member::resolve(ctx, &mut opts)?;
    let made = create_in(ctx, opts, pod.as_ref().map(|p| p.pod.id.clone()));
    if let (Err(_), Some(p)) = (&made, &pod) {
        p.undo(ctx);
    }
    made
}

fn create_in(
    ctx: &mut Ctx,
    mut opts: ContainerOptions,
    pod_id: Option<String>,
) -> anyhow::Result<ContainerRecord> {
    let eng = ctx.engine(true)?;
    let image = resolve_image(eng, &opts)?;
    if let Some(i) = &image {
        opts.image = i.name.clone();
    }
    let tty = if opts.tty { tty_size() } else { None };
    let req = CreateRequest {
        opts,
        image,
        pod_id,
        infra: false,
        tty_size: tty,
    };
    create::create(eng, &req).map_err(create_error)
}

/// `husk create`: prints the new container's id.
pub fn create_cmd(ctx: &mut Ctx, a: RunArgs) -> anyhow::Result<i32> {
    let rec = create_from(ctx, &a)?;
    println!("{}", rec.id);
    Ok(0)
}

/// `husk run`.
pub fn run_cmd(ctx: &mut Ctx, a: RunArgs) -> anyhow::Result<i32> {
    let rec = create_from(ctx, &a)?;
    let eng = ctx.engine(true)?;
    if rec.options.detach {
        start::start_created(eng, &rec.id).map_err(create_error)?;
        println!("{}", rec.id);
        return Ok(0);
    }
    foreground(eng, &rec)
}

/// Attaches, starts, relays until the container exits or the user
/// detaches; returns the container's exit status (0 on detach).
fn foreground(eng: &mut Engine, rec: &ContainerRecord) -> anyhow::Result<i32> {
    let socket = eng
        .paths
        .run_dir(&rec.id)
        .join(husk_shim::config::ATTACH_SOCKET);
    let session = attach::connect(&socket)?;
    // Cleaning up here saves the shim starting another husk for it; the
    // rootfs mount is only reachable from the shim's mount namespace.
    let claimed = match &session {
        Some(s) => {
            let shim = eng.catalog.container(&rec.id)?.map_or(0, |c| c.shim_pid);
            shares_mount_ns(shim) && s.claim_cleanup().is_ok()
        }
        None => false,
    };
    start::start_created(eng, &rec.id).map_err(create_error)?;
    let outcome = match &session {
        Some(s) => relay(eng, rec, s)?,
        None => AttachOutcome::Disconnected,
    };
    if let (AttachOutcome::Exited(code), Some(s), true) = (outcome, session, claimed) {
        let _t = crate::trace::span("engine.cleanup");
        if crate::container::cleanup::cleanup(eng, &rec.id).is_ok() {
            s.cleaned();
            return Ok(code);
        }
        // Closing without CLEANED: the shim runs its exit command, which
        // tries again; wait for that as usual.
    }
    finish(eng, rec, outcome)
}

/// Whether process `pid` is in this process's mount namespace.
fn shares_mount_ns(pid: i32) -> bool {
    use std::os::unix::fs::MetadataExt;
    if pid <= 0 {
        return false;
    }
    match (
        std::fs::metadata("/proc/self/ns/mnt"),
        std::fs::metadata(format!("/proc/{pid}/ns/mnt")),
    ) {
        (Ok(a), Ok(b)) => a.ino() == b.ino() && a.dev() == b.dev(),
        _ => false,
    }
}

fn relay(
    eng: &Engine,
    rec: &ContainerRecord,
    s: &attach::Session,
) -> anyhow::Result<AttachOutcome> {
    let opts = AttachOptions {
        detach_keys: rec
            .options
            .detach_keys
            .clone()
            .unwrap_or_else(|| husk_shim::detach::DEFAULT_DETACH_KEYS.into()),
        stdin: rec.options.interactive,
        ..AttachOptions::default()
    };
    let opts = match rec.options.accepted.get("attach") {
        // -a names the streams to relay; the others only reach the log.
        Some(streams) => AttachOptions {
            stdin: opts.stdin && streams.contains("stdin"),
            stdout: streams.contains("stdout"),
            stderr: streams.contains("stderr"),
            ..opts
        },
        None => opts,
    };
    // With a terminal the container gets ^C from its tty; without one the
    // signals this process gets go to the container.
    let proxy = rec.options.sig_proxy.unwrap_or(true) && !s.tty();
    let root = eng.runtime_root().ok();
    let id = rec.id.clone();
    let mut forward = |sig: i32| {
        if let (Some(r), Ok(s)) = (root.as_ref(), Signal::try_from(sig)) {
            let _ = husk_runtime::container::signal(r, &id, s, false);
        }
    };
    let hook: Option<&mut dyn FnMut(i32)> = if proxy { Some(&mut forward) } else { None };
    Ok(s.relay(&opts, &PROXIED, hook)?)
}

/// The exit status of a foreground run, once its cleanup is done (for
/// `--rm`, the container is gone when `run` returns).
fn finish(eng: &mut Engine, rec: &ContainerRecord, outcome: AttachOutcome) -> anyhow::Result<i32> {
    match outcome {
        AttachOutcome::Detached => Ok(0),
        AttachOutcome::Exited(code) => {
            let _t = crate::trace::span("engine.cleanup-wait");
            if let Some(cur) = eng.catalog.container(&rec.id)? {
                wait::wait_pid(cur.shim_pid, None);
                if cur.options.rm {
                    return Ok(code);
                }
                stop::wait_for_cleanup(eng, &cur)?;
            }
            Ok(code)
        }
        AttachOutcome::Disconnected => {
            if let Some(cur) = eng.catalog.container(&rec.id)? {
                stop::wait_for_cleanup(eng, &cur)?;
            }
            Ok(eng
                .catalog
                .container(&rec.id)?
                .and_then(|c| c.exit_code)
                .unwrap_or(crate::cli::error::ENGINE_ERROR))
        }
    }
}

/// `husk start` flags.
#[derive(Debug, Args)]
pub struct StartArgs {
    /// Attach to the container's output (one container only).
    #[arg(short = 'a', long)]
    pub attach: bool,
    /// Keep stdin open and relay it (with --attach).
    #[arg(short = 'i', long)]
    pub interactive: bool,
    /// Keys that detach from the container.
    #[arg(long = "detach-keys", value_name = "KEYS")]
    pub detach_keys: Option<String>,
    /// Forward signals to the container (with --attach).
    #[arg(long = "sig-proxy", value_name = "BOOL", num_args = 0..=1, default_missing_value = "true")]
    pub sig_proxy: Option<bool>,
    /// The containers to start.
    #[command(flatten)]
    pub targets: super::targets::StartTargets,
}

/// `husk start`.
pub fn start_cmd(ctx: &mut Ctx, a: StartArgs) -> anyhow::Result<i32> {
    let (targets, errs) = Targets::from(a.targets).resolve(ctx, "start", false)?;
    if a.attach && targets.len() + errs.len() > 1 {
        anyhow::bail!("you cannot start and attach multiple containers at once");
    }
    let recs: Vec<&ContainerRecord> = targets.iter().map(|(_, r)| r).collect();
    crate::cli::pod::member::enter_for_members(ctx, &recs)?;
    let eng = ctx.engine(true)?;
    if a.attach {
        if let Some(e) = errs.into_iter().next() {
            return Err(e.into());
        }
        let (_, mut rec) = targets.into_iter().next().expect("one target");
        rec.options.interactive |= a.interactive;
        if let Some(k) = a.detach_keys {
            rec.options.detach_keys = Some(k);
        }
        if let Some(p) = a.sig_proxy {
            rec.options.sig_proxy = Some(p);
        }
        if !start::prepare(eng, &rec, None)? {
            anyhow::bail!("container {} is already running; use husk attach", rec.name);
        }
        return foreground(eng, &rec);
    }
    Ok(super::targets::for_each(targets, errs, always_125, |rec| {
        start::start(eng, rec)
    }))
}

/// `husk restart` flags.
#[derive(Debug, Args)]
pub struct RestartArgs {
    /// Seconds to wait for a stop before killing.
    #[arg(
        short = 't',
        long = "time",
        visible_alias = "timeout",
        value_name = "SECONDS"
    )]
    pub time: Option<u64>,
    /// Restart only running containers (with --all).
    #[arg(long)]
    pub running: bool,
    /// The containers to restart.
    #[command(flatten)]
    pub targets: Targets,
}

/// `husk restart`.
pub fn restart_cmd(ctx: &mut Ctx, a: RestartArgs) -> anyhow::Result<i32> {
    let (mut targets, errs) = a.targets.resolve(ctx, "restart", false)?;
    let recs: Vec<&ContainerRecord> = targets.iter().map(|(_, r)| r).collect();
    crate::cli::pod::member::enter_for_members(ctx, &recs)?;
    let eng = ctx.engine(true)?;
    if a.running {
        let paths = eng.paths.clone();
        targets.retain(|(_, r)| crate::container::live::live(&paths, r).state.is_active());
    }
    Ok(super::targets::for_each(targets, errs, always_125, |rec| {
        start::restart(eng, rec, a.time)
    }))
}

/// `husk attach` flags.
#[derive(Debug, Args)]
pub struct AttachArgs {
    /// Keys that detach from the container.
    #[arg(long = "detach-keys", value_name = "KEYS")]
    pub detach_keys: Option<String>,
    /// Do not relay stdin.
    #[arg(long = "no-stdin")]
    pub no_stdin: bool,
    /// Forward signals to the container.
    #[arg(long = "sig-proxy", value_name = "BOOL", num_args = 0..=1, default_missing_value = "true")]
    pub sig_proxy: Option<bool>,
    /// Use the most recently created container.
    #[arg(short = 'l', long)]
    pub latest: bool,
    /// The container.
    pub container: Option<String>,
}

/// `husk attach`: relays the running container's stdio until it exits
/// (its exit status) or the user detaches (0).
pub fn attach_cmd(ctx: &mut Ctx, a: AttachArgs) -> anyhow::Result<i32> {
    let eng = ctx.engine(false)?;
    let mut rec = match (&a.container, a.latest) {
        (Some(n), _) => crate::container::lookup::find(&eng.catalog, n)?,
        (None, true) => crate::container::lookup::latest(&eng.catalog)?,
        (None, false) => anyhow::bail!("attach requires the name or id of a container"),
    };
    let l = crate::container::live::live(&eng.paths, &rec);
    if !matches!(
        l.state,
        crate::catalog::containers::State::Running | crate::catalog::containers::State::Paused
    ) {
        anyhow::bail!("you can only attach to running containers: container state improper");
    }
    rec.options.interactive &= !a.no_stdin;
    // attach's own --detach-keys (default ctrl-p,ctrl-q), not the ones the
    // container was run with, as podman does.
    rec.options.detach_keys = a.detach_keys;
    if let Some(p) = a.sig_proxy {
        rec.options.sig_proxy = Some(p);
    }
    let socket = eng
        .paths
        .run_dir(&rec.id)
        .join(husk_shim::config::ATTACH_SOCKET);
    let outcome = match attach::connect(&socket)? {
        Some(s) => relay(eng, &rec, &s)?,
        None => AttachOutcome::Disconnected,
    };
    match outcome {
        AttachOutcome::Detached => Ok(0),
        other => {
            finish(eng, &rec, other)?;
            // What podman (4.3 and 5) does when the container ends under
            // `attach`: a newline, and status 0.
            println!();
            Ok(0)
        }
    }
}
