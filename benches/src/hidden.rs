//! Every benchmark runs in a private mount namespace with a hybrid host's
//! cgroup2 mount (/sys/fs/cgroup/unified) hidden: crun 1.8 refuses to
//! start anything while it is visible, and every tool must see the same
//! host. The benchmark re-executes itself there (needs root; without root
//! it runs as it is).

use std::path::Path;
use std::process::Command;

use anyhow::{bail, Context, Result};

const HIDDEN_ENV: &str = "HUSK_BENCH_PRIVATE_MOUNTS";
const UNIFIED: &str = "/sys/fs/cgroup/unified";

/// Whether this process already runs with the mount hidden.
pub fn is_hidden() -> bool {
    std::env::var_os(HIDDEN_ENV).is_some()
}

/// Re-executes `husk-bench ARGS…` in the private mount namespace and
/// returns Ok(true) when it did (the caller then returns: the child did the
/// work); Ok(false) when this process should run the benchmark itself.
pub fn reexec(args: &[String]) -> Result<bool> {
    // SAFETY: geteuid has no preconditions and cannot fail.
    let root = unsafe { libc::geteuid() } == 0;
    if is_hidden() || !root || !Path::new(UNIFIED).join("cgroup.procs").exists() {
        return Ok(false);
    }
    let exe = std::env::current_exe()?;
    let script = format!("umount {UNIFIED} && exec \"$0\" \"$@\"");
    let st = Command::new("unshare")
        .args(["-m", "--propagation", "private", "sh", "-c", &script])
        .arg(exe)
        .args(args)
        .env(HIDDEN_ENV, "1")
        .status()
        .context("running unshare -m")?;
    if !st.success() {
        bail!("benchmark in the private mount namespace failed: {st}");
    }
    Ok(true)
}
