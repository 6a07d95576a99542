//! `husk tag`, `husk untag` and `husk image exists`.

use clap::Args;

use crate::cli::ctx::Ctx;
use crate::cli::error::coded;
use crate::image::error::ImageError;
use crate::image::local;
use crate::image::reference::Reference;

/// `husk tag` arguments.
#[derive(Debug, Args)]
pub struct TagArgs {
    /// The image.
    #[arg(value_name = "IMAGE")]
    pub image: String,
    /// The new names.
    #[arg(value_name = "NAME", required = true)]
    pub names: Vec<String>,
}

/// `husk untag` arguments.
#[derive(Debug, Args)]
pub struct UntagArgs {
    /// The image.
    #[arg(value_name = "IMAGE")]
    pub image: String,
    /// The names to remove (all when none).
    #[arg(value_name = "NAME")]
    pub names: Vec<String>,
}

/// `husk image exists` arguments.
#[derive(Debug, Args)]
pub struct ExistsArgs {
    /// The image.
    #[arg(value_name = "IMAGE")]
    pub image: String,
}

/// A name as tag and untag store it: short names go to `localhost/`, a
/// missing tag is `latest`.
pub fn normalize(name: &str) -> anyhow::Result<Reference> {
    Ok(crate::image::record::local_name(name)?)
}

fn find(ctx: &mut Ctx, image: &str) -> anyhow::Result<crate::catalog::images::ImageRecord> {
    local::lookup(ctx.catalog()?, image)?
        .ok_or_else(|| ImageError::NotKnown(image.to_owned()).into())
}

/// `husk tag`.
pub fn tag_cmd(ctx: &mut Ctx, a: TagArgs) -> anyhow::Result<i32> {
    let rec = find(ctx, &a.image)?;
    let names = a
        .names
        .iter()
        .map(|n| normalize(n))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let cat = ctx.catalog()?;
    for n in names {
        cat.tag_image(&rec.id, &n.to_string())?;
    }
    Ok(0)
}

/// `husk untag`.
pub fn untag_cmd(ctx: &mut Ctx, a: UntagArgs) -> anyhow::Result<i32> {
    let rec = find(ctx, &a.image)?;
    let cat = ctx.catalog()?;
    if a.names.is_empty() {
        for n in &rec.names {
            cat.untag_image(&rec.id, n)?;
        }
        return Ok(0);
    }
    for n in &a.names {
        let full = normalize(n)?.to_string();
        if !cat.untag_image(&rec.id, &full)? {
            return Err(ImageError::TagNotKnown(full).into());
        }
    }
    Ok(0)
}

/// `husk image exists`: 0 when the image is stored, 1 when not.
pub fn exists_cmd(ctx: &mut Ctx, a: ExistsArgs) -> anyhow::Result<i32> {
    match local::lookup(ctx.catalog()?, &a.image) {
        Ok(Some(_)) => Ok(0),
        Ok(None) => Ok(1),
        Err(e) => Err(coded(125, e)),
    }
}
