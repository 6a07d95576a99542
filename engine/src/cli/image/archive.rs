//! `husk save`, `husk load`, `husk import` and `husk export`.

use std::io::IsTerminal;
use std::path::PathBuf;

use clap::Args;

use crate::cli::ctx::Ctx;
use crate::image::archive::{self, Format, Output, SaveOptions};
use crate::image::import::{import, ImportOptions};
use crate::image::platform::PlatformSpec;
use crate::storage::{export_tree, ExportOptions};

/// `husk save` flags.
#[derive(Debug, Args)]
pub struct SaveArgs {
    /// Write to this file (or directory, for oci-dir and docker-dir).
    #[arg(short = 'o', long, value_name = "PATH")]
    pub output: Option<PathBuf>,
    /// docker-archive (default), oci-archive, oci-dir or docker-dir.
    #[arg(long, value_name = "FORMAT", default_value = "docker-archive")]
    pub format: String,
    /// Save several images in one docker-archive.
    #[arg(short = 'm', long = "multi-image-archive")]
    pub multi_image: bool,
    /// Print nothing but errors.
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// Accepted for podman compatibility (layers are written as stored).
    #[arg(long)]
    pub compress: bool,
    /// Accepted for podman compatibility.
    #[arg(long)]
    pub uncompressed: bool,
    /// The image, and extra names for it (or images, with -m).
    #[arg(value_name = "IMAGE", required = true)]
    pub images: Vec<String>,
}

/// `husk save`.
pub fn save_cmd(ctx: &mut Ctx, a: SaveArgs) -> anyhow::Result<i32> {
    let format: Format = a.format.parse()?;
    let out = match &a.output {
        Some(p) => Output::Path(p.clone()),
        None if std::io::stdout().is_terminal() => {
            anyhow::bail!("refusing to save to terminal. Use -o flag or redirect")
        }
        None => Output::Stdout,
    };
    let opts = SaveOptions {
        format,
        multi_image: a.multi_image,
        quiet: a.quiet,
    };
    let eng = ctx.engine(true)?;
    archive::save(eng, &a.images, &opts, &out)?;
    Ok(0)
}

/// `husk load` flags.
#[derive(Debug, Args)]
pub struct LoadArgs {
    /// Read from this archive (default stdin).
    #[arg(short = 'i', long, value_name = "PATH")]
    pub input: Option<PathBuf>,
    /// Print only the loaded names.
    #[arg(short = 'q', long)]
    pub quiet: bool,
}

/// `husk load`.
pub fn load_cmd(ctx: &mut Ctx, a: LoadArgs) -> anyhow::Result<i32> {
    if a.input.is_none() && std::io::stdin().is_terminal() {
        anyhow::bail!(
            "cannot read from terminal, use command-line redirection or the --input flag"
        );
    }
    let eng = ctx.engine(true)?;
    let loaded = archive::load(eng, a.input.as_deref(), a.quiet)?;
    let mut names: Vec<String> = Vec::new();
    for rec in &loaded {
        if rec.names.is_empty() {
            names.push(format!("sha256:{}", rec.id));
        }
        names.extend(crate::image::inspect::names_in_order(rec));
    }
    names.dedup();
    println!("Loaded image: {}", names.join("\nLoaded image: "));
    Ok(0)
}

/// `husk import` flags.
#[derive(Debug, Args)]
pub struct ImportArgs {
    /// Dockerfile instructions for the config (CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, ONBUILD, STOPSIGNAL, USER, VOLUME, WORKDIR).
    #[arg(short = 'c', long = "change", value_name = "INSTRUCTION")]
    pub changes: Vec<String>,
    /// The history comment.
    #[arg(short = 'm', long, value_name = "MESSAGE")]
    pub message: Option<String>,
    /// Print only the image id.
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// The architecture to record.
    #[arg(long, value_name = "ARCH")]
    pub arch: Option<String>,
    /// The operating system to record.
    #[arg(long, value_name = "OS")]
    pub os: Option<String>,
    /// The architecture variant to record.
    #[arg(long, value_name = "VARIANT")]
    pub variant: Option<String>,
    /// The tarball (`-` for stdin).
    #[arg(value_name = "TARBALL")]
    pub tarball: String,
    /// The name to give the image.
    #[arg(value_name = "NAME")]
    pub name: Option<String>,
}

/// `husk import`.
pub fn import_cmd(ctx: &mut Ctx, a: ImportArgs) -> anyhow::Result<i32> {
    if a.tarball.starts_with("http://") || a.tarball.starts_with("https://") {
        anyhow::bail!(
            "importing from a URL is not supported: download {} and import the file",
            a.tarball
        );
    }
    let platform = if a.arch.is_some() || a.os.is_some() || a.variant.is_some() {
        Some(PlatformSpec::from_flags(
            None,
            a.os.as_deref(),
            a.arch.as_deref(),
            a.variant.as_deref(),
        )?)
    } else {
        None
    };
    let opts = ImportOptions {
        changes: a.changes.clone(),
        message: a.message.clone(),
        name: a.name.clone(),
        platform,
        quiet: a.quiet,
    };
    let input: Box<dyn std::io::Read> = if a.tarball == "-" {
        Box::new(std::io::stdin())
    } else {
        Box::new(
            std::fs::File::open(&a.tarball)
                .map_err(|e| anyhow::anyhow!("opening {}: {e}", a.tarball))?,
        )
    };
    let eng = ctx.engine(true)?;
    let rec = import(eng, input, &opts)?;
    println!("sha256:{}", rec.id);
    Ok(0)
}

/// `husk export` flags.
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Write to this file (default stdout when it is not a terminal).
    #[arg(short = 'o', long, value_name = "PATH")]
    pub output: Option<PathBuf>,
    /// The container.
    #[arg(value_name = "CONTAINER")]
    pub container: String,
}

/// `husk export`: the container's root filesystem as a tar.
pub fn export_cmd(ctx: &mut Ctx, a: ExportArgs) -> anyhow::Result<i32> {
    if a.output.is_none() && std::io::stdout().is_terminal() {
        anyhow::bail!("refusing to export to terminal. Use -o flag or redirect");
    }
    let eng = ctx.engine(true)?;
    let rec = crate::container::lookup::find(&eng.catalog, &a.container)?;
    let store = eng.store()?.clone();
    let was_mounted = store.containers().is_mounted(&rec.id)?;
    let root = store.containers().mount(&rec.id)?;
    let opts = ExportOptions {
        layer_diff: false,
        ids: store.options().ids.clone(),
    };
    let result = match &a.output {
        Some(p) => {
            let f = std::fs::File::create(p)
                .map_err(|e| anyhow::anyhow!("creating {}: {e}", p.display()))?;
            export_tree(&root, std::io::BufWriter::new(f), &opts).and_then(|mut w| {
                std::io::Write::flush(&mut w).map_err(|e| crate::storage::StorageError::Io {
                    op: "writing",
                    path: p.clone(),
                    source: e,
                })
            })
        }
        None => export_tree(
            &root,
            std::io::BufWriter::new(std::io::stdout().lock()),
            &opts,
        )
        .and_then(|mut w| {
            std::io::Write::flush(&mut w).map_err(|e| crate::storage::StorageError::Io {
                op: "writing",
                path: "stdout".into(),
                source: e,
            })
        }),
    };
    if !was_mounted {
        let _ = store.containers().unmount(&rec.id);
    }
    result?;
    Ok(0)
}
