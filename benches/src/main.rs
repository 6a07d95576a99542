//! husk's benchmark suite. `husk-bench runtime-lifecycle` measures the
//! `run` of a busybox `true` (create, start, wait, delete in one command) with
//! husk-runtime and, when installed, crun and runc, interleaved so that noise
//! hits all alike, and reports latency percentiles and peak RSS as JSON and a
//! markdown table.

mod image_pull;
mod lifecycle;
mod shim_rss;
mod stats;

use anyhow::{bail, Result};

const USAGE: &str = "usage: husk-bench runtime-lifecycle [-n N] [--json FILE] [--markdown FILE]\n       husk-bench shim-rss [-n SHIMS] [--rounds N] [--json FILE] [--markdown FILE]\n       husk-bench image-pull [-n N] [--warm] [--json FILE] [--markdown FILE]";

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("runtime-lifecycle") => lifecycle::main(&args[1..]),
        Some("shim-rss") => shim_rss::main(&args[1..]),
        Some("image-pull") => image_pull::main(&args[1..]),
        _ => bail!("{USAGE}"),
    }
}
