//! The process `exec` runs: from --process, or the container's own process
//! with the command line's changes, as runc builds it.

use anyhow::{bail, Context, Result};
use husk_runtime::container;
use husk_runtime::state::StateRoot;
use oci_spec::runtime::{Capabilities, Capability, Process, Spec};

use super::commands::ExecArgs;

fn parse_cap(name: &str) -> Result<Capability> {
    let full = if name.to_ascii_uppercase().starts_with("CAP_") {
        name.to_ascii_uppercase()
    } else {
        format!("CAP_{}", name.to_ascii_uppercase())
    };
    serde_json::from_value(serde_json::Value::String(full.clone()))
        .with_context(|| format!("unknown capability {name:?}"))
}

/// Builds the process for `a`.
pub fn build(root: &StateRoot, a: &ExecArgs) -> Result<Process> {
    if let Some(path) = &a.process {
        let data = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
        let p: Process = serde_json::from_slice(&data)
            .with_context(|| format!("parsing process {}", path.display()))?;
        return Ok(p);
    }
    if a.command.is_empty() {
        bail!("exec: no command given (pass a command or --process)");
    }
    let (st, _) = container::load(root, &a.id)?;
    let spec_path = st.bundle.join("config.json");
    let spec: Spec = serde_json::from_slice(
        &std::fs::read(&spec_path).with_context(|| format!("reading {}", spec_path.display()))?,
    )
    .with_context(|| format!("parsing {}", spec_path.display()))?;
    let mut p = spec.process().clone().unwrap_or_default();
    p.set_args(Some(a.command.clone()));
    p.set_terminal(Some(a.tty));
    p.set_console_size(None);
    let mut env = p.env().clone().unwrap_or_default();
    for kv in &a.env {
        let key = kv.split('=').next().unwrap_or_default();
        env.retain(|e| e.split('=').next() != Some(key));
        env.push(kv.clone());
    }
    p.set_env(Some(env));
    if let Some(cwd) = &a.cwd {
        p.set_cwd(cwd.clone());
    }
    if let Some(u) = &a.user {
        let (uid, gid) = match u.split_once(':') {
            Some((u, g)) => (u, Some(g)),
            None => (u.as_str(), None),
        };
        let mut user = p.user().clone();
        user.set_uid(
            uid.parse()
                .with_context(|| format!("--user {u}: uid must be numeric"))?,
        );
        if let Some(g) = gid {
            user.set_gid(
                g.parse()
                    .with_context(|| format!("--user {u}: gid must be numeric"))?,
            );
        }
        p.set_user(user);
    }
    if !a.additional_gids.is_empty() {
        let mut user = p.user().clone();
        user.set_additional_gids(Some(a.additional_gids.clone()));
        p.set_user(user);
    }
    if !a.cap.is_empty() {
        let mut caps = p.capabilities().clone().unwrap_or_default();
        let with = |set: &Option<Capabilities>, c: Capability| {
            let mut s = set.clone().unwrap_or_default();
            s.insert(c);
            Some(s)
        };
        for name in &a.cap {
            let c = parse_cap(name)?;
            caps.set_bounding(with(caps.bounding(), c));
            caps.set_effective(with(caps.effective(), c));
            caps.set_permitted(with(caps.permitted(), c));
        }
        p.set_capabilities(Some(caps));
    }
    if a.no_new_privs {
        p.set_no_new_privileges(Some(true));
    }
    Ok(p)
}
