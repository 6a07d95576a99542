//! `husk pull`: podman's flags and output (progress on stderr, the image
//! id on stdout).

use clap::Args;

use super::flags::RemoteFlags;
use crate::cli::ctx::Ctx;
use crate::image::platform::PlatformSpec;
use crate::image::progress::Reporter;
use crate::image::pull::{pull_reporting, PullOptions};
use crate::image::reference::{ImageName, Reference};

/// `husk pull` flags.
#[derive(Debug, Args)]
pub struct PullArgs {
    /// Pull every tagged image of the repository.
    #[arg(short = 'a', long)]
    pub all_tags: bool,
    /// Print only the image id.
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// The platform to pull (os/arch[/variant]).
    #[arg(long, value_name = "OS/ARCH")]
    pub platform: Option<String>,
    /// The architecture to pull.
    #[arg(long, value_name = "ARCH")]
    pub arch: Option<String>,
    /// The operating system to pull.
    #[arg(long, value_name = "OS")]
    pub os: Option<String>,
    /// The architecture variant to pull.
    #[arg(long, value_name = "VARIANT")]
    pub variant: Option<String>,
    /// Accepted for podman compatibility (signatures are not checked).
    #[arg(long)]
    pub disable_content_trust: bool,
    /// Registry flags.
    #[command(flatten)]
    pub remote: RemoteFlags,
    /// The images to pull.
    #[arg(value_name = "IMAGE", required = true)]
    pub images: Vec<String>,
}

impl PullArgs {
    /// The library's options.
    pub fn options(&self) -> anyhow::Result<PullOptions> {
        self.remote.check_authfile()?;
        Ok(PullOptions {
            platform: PlatformSpec::from_flags(
                self.platform.as_deref(),
                self.os.as_deref(),
                self.arch.as_deref(),
                self.variant.as_deref(),
            )?,
            remote: self.remote.options()?,
            quiet: self.quiet,
        })
    }
}

/// `husk pull`.
pub fn pull_cmd(ctx: &mut Ctx, a: PullArgs) -> anyhow::Result<i32> {
    let opts = a.options()?;
    let rep = Reporter::new(a.quiet);
    let eng = ctx.engine(true)?;
    let mut names = Vec::new();
    for image in &a.images {
        if !a.all_tags {
            names.push(image.clone());
            continue;
        }
        let r = match ImageName::parse(image.strip_prefix("docker://").unwrap_or(image))? {
            ImageName::Qualified(r) => r,
            ImageName::Short(s) => s.qualify("docker.io")?,
        };
        if r.tag().is_some() || r.digest().is_some() {
            anyhow::bail!("tag can't be used with --all-tags/-a");
        }
        let remote = crate::image::remote::Remote::new(&opts.remote, eng.paths.host_uid)?;
        let insecure = remote.conf.host_insecure(r.domain());
        let repo = remote.repository(&r, insecure)?;
        let tags = repo.tags()?;
        for t in tags {
            names.push(Reference::with_tag(&r, &t)?.to_string());
        }
    }
    for n in &names {
        let rec = pull_reporting(eng, n, &opts, &rep)?;
        println!("{}", rec.id);
    }
    Ok(0)
}
