//! `husk rmi` / `husk image rm` and `husk image prune`, with podman's
//! output (`Untagged: …`, `Deleted: …`) and exit statuses (1 when an image
//! is not known, 2 when one is in use, 125 otherwise).

use std::io::{BufRead, Write};

use clap::Args;
use serde_json::{json, Value};

use super::filter::ImageFilter;
use crate::cli::ctx::Ctx;
use crate::cli::error::{coded, report};
use crate::image::error::ImageError;
use crate::image::remove::{self, RemoveOptions};

/// `husk rmi` flags.
#[derive(Debug, Args)]
pub struct RmiArgs {
    /// Remove all images.
    #[arg(short = 'a', long)]
    pub all: bool,
    /// Remove containers using the images, and images with several names
    /// given by id.
    #[arg(short = 'f', long)]
    pub force: bool,
    /// Ignore images that do not exist.
    #[arg(short = 'i', long)]
    pub ignore: bool,
    /// Accepted for podman compatibility (dangling parents are kept).
    #[arg(long)]
    pub no_prune: bool,
    /// The images.
    #[arg(value_name = "IMAGE")]
    pub images: Vec<String>,
}

fn status(e: &ImageError) -> i32 {
    match e {
        ImageError::NotKnown(_) => 1,
        other => other.exit_status(),
    }
}

/// `husk rmi`.
pub fn rmi_cmd(ctx: &mut Ctx, a: RmiArgs) -> anyhow::Result<i32> {
    if a.all && !a.images.is_empty() {
        anyhow::bail!("when using the --all switch, you may not pass any images names or IDs");
    }
    if !a.all && a.images.is_empty() {
        anyhow::bail!("image name or ID must be specified");
    }
    let eng = ctx.engine(true)?;
    let (done, errors) = if a.all {
        remove::remove_all(eng, a.force)
    } else {
        remove::remove_images(
            eng,
            &a.images,
            RemoveOptions {
                force: a.force,
                ignore: a.ignore,
            },
        )
    };
    for u in &done.untagged {
        println!("Untagged: {u}");
    }
    for d in &done.deleted {
        println!("Deleted: {d}");
    }
    let Some(last) = errors.last() else {
        return Ok(0);
    };
    let code = if errors.iter().any(|e| matches!(e, ImageError::InUse { .. })) {
        2
    } else if errors.iter().all(|e| status(e) == 1) {
        1
    } else {
        status(last)
    };
    let mut errors = errors;
    let last = errors.pop().expect("non-empty");
    for e in &errors {
        report(&anyhow::anyhow!("{e}"));
    }
    Err(coded(code, last))
}

/// `husk image prune` flags.
#[derive(Debug, Args)]
pub struct PruneArgs {
    /// Remove every image no container uses, not only dangling ones.
    #[arg(short = 'a', long)]
    pub all: bool,
    /// Do not ask for confirmation.
    #[arg(short = 'f', long)]
    pub force: bool,
    /// Filter (label=, label!=, until=).
    #[arg(long, value_name = "FILTER")]
    pub filter: Vec<String>,
    /// Accepted for podman compatibility (no build cache here).
    #[arg(long)]
    pub build_cache: bool,
    /// Accepted for podman compatibility (images are pruned once).
    #[arg(long)]
    pub external: bool,
}

/// Asks podman's question on stdin; Ok(false) when the answer is not yes.
fn confirm(all: bool) -> anyhow::Result<bool> {
    let what = if all {
        "all images not used by at least one container"
    } else {
        "all dangling images"
    };
    eprint!("WARNING! This command removes {what}.\nAre you sure you want to continue? [y/N] ");
    let _ = std::io::stderr().flush();
    let mut line = String::new();
    if std::io::stdin().lock().read_line(&mut line)? == 0 {
        anyhow::bail!("EOF");
    }
    Ok(matches!(line.trim(), "y" | "Y" | "yes" | "Yes"))
}

/// `husk image prune`.
pub fn prune_cmd(ctx: &mut Ctx, a: PruneArgs) -> anyhow::Result<i32> {
    if !a.force && !confirm(a.all)? {
        return Ok(0);
    }
    let eng = ctx.engine(true)?;
    let filter = ImageFilter::parse(&a.filter, &eng.catalog)?;
    let mut labels = std::collections::HashMap::new();
    for rec in eng.catalog.images()? {
        let l = crate::image::pull::image_config(eng, &rec)
            .ok()
            .and_then(|c| c.config.and_then(|r| r.labels))
            .map(|l| json!(l))
            .unwrap_or(Value::Null);
        labels.insert(rec.id.clone(), l);
    }
    let keep = |rec: &crate::catalog::images::ImageRecord| {
        let l = labels.get(&rec.id).cloned().unwrap_or(Value::Null);
        filter.matches(rec, &l, 0, true, false)
    };
    for id in remove::prune(eng, a.all, &keep)? {
        println!("{id}");
    }
    Ok(0)
}
