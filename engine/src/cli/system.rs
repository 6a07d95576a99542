//! `husk version` and `husk info`.

use clap::Args;
use serde_json::json;

use super::ctx::Ctx;

/// `husk version` flags.
#[derive(Debug, Args)]
pub struct VersionArgs {
    /// Output as json or a Go template.
    #[arg(short, long)]
    pub format: Option<String>,
}

fn go_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    }
}

/// `husk version`.
pub fn version(_ctx: &mut Ctx, a: VersionArgs) -> anyhow::Result<i32> {
    let v = env!("CARGO_PKG_VERSION");
    let doc = json!({
        "Client": {"Version": v, "APIVersion": v, "OsArch": format!("linux/{}", go_arch()), "Os": "linux"},
    });
    match a.format.as_deref() {
        Some("json") => println!("{}", serde_json::to_string_pretty(&doc)?),
        Some(other) => anyhow::bail!("unsupported --format {other:?} for version (use json)"),
        None => {
            println!("Version:      {v}");
            println!("API Version:  {v}");
            println!("OS/Arch:      linux/{}", go_arch());
        }
    }
    Ok(0)
}

/// `husk info` flags.
#[derive(Debug, Args)]
pub struct InfoArgs {
    /// Output as json or a Go template.
    #[arg(short, long)]
    pub format: Option<String>,
}

/// `husk info`.
pub fn info(ctx: &mut Ctx, a: InfoArgs) -> anyhow::Result<i32> {
    let layout = husk_runtime::cgroup::layout::Layout::detect();
    let doc = json!({
        "host": {
            "arch": go_arch(),
            "os": "linux",
            "rootless": ctx.paths.rootless,
            "cgroupManager": "cgroupfs",
            "cgroupVersion": match layout {
                husk_runtime::cgroup::layout::Layout::Unified => "v2",
                _ => "v1",
            },
            "kernel": std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default().trim(),
            "ociRuntime": {"name": "husk-runtime (built in)", "version": env!("CARGO_PKG_VERSION")},
        },
        "store": {
            "graphRoot": ctx.paths.root,
            "runRoot": ctx.paths.runroot,
            "graphDriverName": ctx.global.storage_driver.as_deref().unwrap_or("overlay"),
        },
        "version": {"Version": env!("CARGO_PKG_VERSION")},
    });
    match a.format.as_deref() {
        Some("json") | None => println!("{}", serde_json::to_string_pretty(&doc)?),
        Some(other) => anyhow::bail!("unsupported --format {other:?} for info (use json)"),
    }
    Ok(0)
}

/// `husk unshare` arguments.
#[derive(Debug, Args)]
pub struct UnshareArgs {
    /// The command to run (default: $SHELL, else /bin/sh).
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub command: Vec<String>,
}

/// `husk unshare`: runs a command inside husk's rootless user and mount
/// namespace, where stored files show as the containers see them and
/// `husk mount` lives as long as the session.
pub fn unshare(ctx: &mut Ctx, a: UnshareArgs) -> anyhow::Result<i32> {
    use std::os::unix::process::CommandExt;
    if !ctx.paths.rootless {
        anyhow::bail!("please use unshare with rootless");
    }
    ctx.enter_storage_ns()?;
    let mut argv = a.command;
    if argv.is_empty() {
        argv.push(std::env::var("SHELL").unwrap_or_else(|_| "/bin/sh".into()));
    }
    let err = std::process::Command::new(&argv[0])
        .args(&argv[1..])
        .env("CONTAINERS_GRAPHROOT", &ctx.paths.root)
        .env("CONTAINERS_RUNROOT", &ctx.paths.runroot)
        .exec();
    Err(crate::cli::error::coded(
        if err.kind() == std::io::ErrorKind::NotFound {
            127
        } else {
            126
        },
        anyhow::anyhow!("running {}: {err}", argv[0]),
    ))
}
