//! `husk save` and `husk load`: docker-archive, oci-archive, oci-dir and
//! docker-dir. Saving writes the stored blobs (docker-archive: the layers
//! uncompressed, as docker and podman write them); loading detects the
//! format, copies blobs in with their digests checked, unpacks the layers
//! and records the image as a pull does.

pub mod docker;
pub mod ingest;
pub mod oci;
pub mod sink;
pub mod source;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use crate::catalog::images::ImageRecord;
use crate::engine::Engine;
use crate::image::error::{ImageError, Result};
use crate::image::local;
use crate::image::platform::PlatformSpec;
use crate::image::progress::Reporter;
use crate::storage::LockMode;

use sink::{DirSink, Sink, TarSink};
use source::Source;

/// An archive format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// docker's `save` format (the default).
    DockerArchive,
    /// An OCI layout in a tar.
    OciArchive,
    /// An OCI layout directory.
    OciDir,
    /// containers/image's `dir:` layout (docker manifest and blobs).
    DockerDir,
}

impl FromStr for Format {
    type Err = ImageError;

    fn from_str(s: &str) -> Result<Format> {
        Ok(match s {
            "docker-archive" => Format::DockerArchive,
            "oci-archive" => Format::OciArchive,
            "oci-dir" => Format::OciDir,
            "docker-dir" => Format::DockerDir,
            other => {
                return Err(ImageError::Unsupported(format!(
                    "unsupported format {other:?}: use docker-archive, oci-archive, oci-dir or docker-dir"
                )))
            }
        })
    }
}

impl Format {
    /// Whether the format is a directory.
    pub fn is_dir(self) -> bool {
        matches!(self, Format::OciDir | Format::DockerDir)
    }
}

/// Where `save` writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// A file (or a directory, for the directory formats).
    Path(PathBuf),
    /// Standard output.
    Stdout,
}

/// `save` options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SaveOptions {
    /// The format.
    pub format: Format,
    /// `-m`: every argument is an image (docker-archive only); otherwise
    /// the first is the image and the rest extra names for it.
    pub multi_image: bool,
    /// `-q`.
    pub quiet: bool,
}

fn find(eng: &Engine, name: &str) -> Result<ImageRecord> {
    local::lookup(&eng.catalog, name)?.ok_or_else(|| ImageError::NotKnown(name.to_owned()))
}

/// The name to save `rec` under, given as `input`: the stored name it was
/// found by, none when it was given by id.
fn saved_name(rec: &ImageRecord, input: &str) -> Option<String> {
    let n = super::pull::found_as(rec, input);
    rec.names.contains(&n).then_some(n)
}

/// Saves `names` to `out`.
pub fn save(eng: &mut Engine, names: &[String], opts: &SaveOptions, out: &Output) -> Result<()> {
    if names.is_empty() {
        return Err(ImageError::Other("need at least one image to save".into()));
    }
    if opts.multi_image && opts.format != Format::DockerArchive {
        return Err(ImageError::Unsupported(
            "--multi-image-archive (-m) is only supported for docker-archive".into(),
        ));
    }
    let rep = Reporter::new(opts.quiet);
    let mut images: Vec<(ImageRecord, Vec<String>)> = Vec::new();
    if opts.multi_image {
        for n in names {
            let rec = find(eng, n)?;
            let saved = saved_name(&rec, n).into_iter().collect();
            images.push((rec, saved));
        }
    } else {
        let rec = find(eng, &names[0])?;
        let mut saved: Vec<String> = saved_name(&rec, &names[0]).into_iter().collect();
        for extra in &names[1..] {
            saved.push(crate::image::record::local_name(extra)?.to_string());
        }
        images.push((rec, saved));
    }
    if images.len() > 1 && opts.format != Format::DockerArchive {
        return Err(ImageError::Unsupported(format!(
            "{:?} holds one image; use docker-archive with -m for several",
            opts.format
        )));
    }
    let store = eng
        .store()
        .map_err(ImageError::storage("opening the store"))?
        .clone();
    let mut sink: Box<dyn Sink> = match (out, opts.format.is_dir()) {
        (Output::Path(p), true) => {
            Box::new(DirSink::new(p).map_err(ImageError::io("creating", p))?)
        }
        (Output::Path(p), false) => Box::new(TarSink::new(std::io::BufWriter::new(
            std::fs::File::create(p).map_err(ImageError::io("creating", p))?,
        ))),
        (Output::Stdout, false) => Box::new(TarSink::new(std::io::BufWriter::new(
            std::io::stdout().lock(),
        ))),
        (Output::Stdout, true) => {
            return Err(ImageError::Other(
                "a directory format needs --output (-o) DIR".into(),
            ))
        }
    };
    match opts.format {
        Format::DockerArchive => docker::write(&store, &images, sink.as_mut(), &rep)?,
        Format::OciArchive | Format::OciDir => {
            let (rec, names) = &images[0];
            oci::write(
                &store,
                rec,
                names.first().map(String::as_str),
                sink.as_mut(),
                &rep,
            )?
        }
        Format::DockerDir => docker::write_dir(&store, &images[0].0, sink.as_mut(), &rep)?,
    }
    sink.finish()
        .map_err(|e| ImageError::Other(format!("writing the archive: {e}")))?;
    let _ = std::io::stdout().flush();
    Ok(())
}

/// Loads every image of the archive at `input` (stdin when None); returns
/// the images with the names they were loaded as.
pub fn load(eng: &mut Engine, input: Option<&Path>, quiet: bool) -> Result<Vec<ImageRecord>> {
    let rep = Reporter::new(quiet);
    let src = Source::open(input)?;
    let store = eng
        .store()
        .map_err(ImageError::storage("opening the store"))?
        .clone();
    // Held across the blobs a docker-archive stores before its manifest
    // exists, so collection cannot take them meanwhile.
    let _shared = store
        .lock(LockMode::Shared)
        .map_err(ImageError::storage("locking the store"))?;
    let mut out = Vec::new();
    if src.exists("oci-layout") && src.exists("index.json") {
        for p in oci::read(&src, &PlatformSpec::host())? {
            out.push(ingest::ingest(eng, &src, &p, &oci::blob_name, &rep)?);
        }
    } else if src.exists("manifest.json") && src.exists("version") {
        let p = docker::read_dir(&src)?;
        out.push(ingest::ingest(
            eng,
            &src,
            &p,
            &|d| d.hex().to_owned(),
            &rep,
        )?);
    } else if src.exists("manifest.json") {
        for p in docker::read(&store, &src)? {
            out.push(ingest::ingest(eng, &src, &p, &|_| String::new(), &rep)?);
        }
    } else {
        return Err(ImageError::Archive {
            path: src.label(),
            reason: "payload does not match any of the supported image formats (oci-archive, oci-dir, docker-archive, docker-dir)".into(),
        });
    }
    Ok(out)
}
