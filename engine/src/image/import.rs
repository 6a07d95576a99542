//! `husk import`: a root filesystem tarball (plain, gzip or zstd; a file
//! or stdin) becomes a one-layer image. The tar is gzipped into a blob as
//! it streams (deterministically: mtime 0, no name), its diff id computed
//! on the way; the config gets podman's history line and the `--change`
//! instructions podman accepts (CMD, ENTRYPOINT, ENV, EXPOSE, LABEL,
//! ONBUILD, STOPSIGNAL, USER, VOLUME, WORKDIR).

use std::collections::BTreeMap;
use std::io::{BufReader, Read};

use crate::catalog::images::ImageRecord;
use crate::engine::Engine;
use crate::image::config::{History, ImageConfig, RootFs, RunConfig};
use crate::image::digest::Digest;
use crate::image::error::{ImageError, Result};
use crate::image::manifest::{Descriptor, Manifest};
use crate::image::media;
use crate::image::platform::PlatformSpec;
use crate::image::progress::Reporter;
use crate::image::record::{self, StoredImage};
use crate::storage::{decompress, sniff_reader, LayerSource, LockMode};

/// What to import.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportOptions {
    /// `--change` instructions.
    pub changes: Vec<String>,
    /// `--message`: the history comment.
    pub message: Option<String>,
    /// The name to give the image.
    pub name: Option<String>,
    /// The platform to record (default the host's).
    pub platform: Option<PlatformSpec>,
    /// `--quiet`.
    pub quiet: bool,
}

fn invalid(change: &str, why: &str) -> ImageError {
    ImageError::Other(format!("invalid change {change:?} - {why}"))
}

/// A JSON array of strings, or the shell form (`/bin/sh -c TEXT`).
fn command(arg: &str) -> Vec<String> {
    match serde_json::from_str::<Vec<String>>(arg) {
        Ok(v) => v,
        Err(_) => vec!["/bin/sh".into(), "-c".into(), arg.into()],
    }
}

/// `k=v k2="v 2"` or `k v`.
fn pairs(arg: &str, change: &str) -> Result<Vec<(String, String)>> {
    if !arg.contains('=') {
        let (k, v) = arg
            .split_once(char::is_whitespace)
            .ok_or_else(|| invalid(change, "needs a name and a value"))?;
        return Ok(vec![(k.into(), v.trim().into())]);
    }
    let mut out = Vec::new();
    let mut rest = arg.trim();
    while !rest.is_empty() {
        let (k, after) = rest
            .split_once('=')
            .ok_or_else(|| invalid(change, "expected key=value"))?;
        let (v, next) = if let Some(q) = after.strip_prefix('"') {
            let end = q
                .find('"')
                .ok_or_else(|| invalid(change, "unterminated quote"))?;
            (q[..end].to_owned(), &q[end + 1..])
        } else {
            match after.split_once(char::is_whitespace) {
                Some((v, n)) => (v.to_owned(), n),
                None => (after.to_owned(), ""),
            }
        };
        out.push((k.trim().to_owned(), v));
        rest = next.trim_start();
    }
    Ok(out)
}

/// Applies podman's `--change` instructions to `c`.
pub fn apply_changes(c: &mut RunConfig, changes: &[String]) -> Result<()> {
    for change in changes {
        let (instr, arg) = change
            .trim()
            .split_once(char::is_whitespace)
            .map(|(i, a)| (i, a.trim()))
            .unwrap_or((change.trim(), ""));
        match instr.to_ascii_uppercase().as_str() {
            "CMD" => c.cmd = Some(command(arg)),
            "ENTRYPOINT" => c.entrypoint = Some(command(arg)),
            "ENV" => {
                let env = c.env.get_or_insert_with(Vec::new);
                for (k, v) in pairs(arg, change)? {
                    env.retain(|e| e.split_once('=').map(|(ek, _)| ek) != Some(k.as_str()));
                    env.push(format!("{k}={v}"));
                }
            }
            "EXPOSE" => {
                let ports = c.exposed_ports.get_or_insert_with(BTreeMap::new);
                for p in arg.split_whitespace() {
                    let p = if p.contains('/') {
                        p.to_owned()
                    } else {
                        format!("{p}/tcp")
                    };
                    ports.insert(p, serde_json::json!({}));
                }
            }
            "LABEL" => {
                let labels = c.labels.get_or_insert_with(BTreeMap::new);
                for (k, v) in pairs(arg, change)? {
                    labels.insert(k, v);
                }
            }
            "ONBUILD" => c.on_build.get_or_insert_with(Vec::new).push(arg.into()),
            "STOPSIGNAL" => c.stop_signal = Some(arg.into()),
            "USER" => c.user = Some(arg.into()),
            "VOLUME" => {
                let vols = c.volumes.get_or_insert_with(BTreeMap::new);
                for v in command_or_words(arg) {
                    vols.insert(v, serde_json::json!({}));
                }
            }
            "WORKDIR" => c.working_dir = Some(arg.into()),
            other => return Err(invalid(change, &format!("invalid instruction {other}"))),
        }
    }
    Ok(())
}

fn command_or_words(arg: &str) -> Vec<String> {
    serde_json::from_str::<Vec<String>>(arg)
        .unwrap_or_else(|_| arg.split_whitespace().map(str::to_owned).collect())
}

/// Imports the tarball `input` (a reader over a file or stdin).
pub fn import(eng: &mut Engine, input: impl Read, opts: &ImportOptions) -> Result<ImageRecord> {
    let mut run = RunConfig::default();
    apply_changes(&mut run, &opts.changes)?;
    let name = opts
        .name
        .as_deref()
        .map(record::local_name)
        .transpose()?
        .map(|r| r.to_string());
    let rep = Reporter::new(opts.quiet);
    let store = eng
        .store()
        .map_err(ImageError::storage("opening the store"))?
        .clone();
    let _shared = store
        .lock(LockMode::Shared)
        .map_err(ImageError::storage("locking the store"))?;
    rep.line("Getting image source signatures");
    let mut buffered = BufReader::with_capacity(128 << 10, input);
    let compression =
        sniff_reader(&mut buffered).map_err(ImageError::io("reading", "the tarball"))?;
    let tar = decompress(buffered, compression)
        .map_err(ImageError::io("decompressing", "the tarball"))?;
    let layer = store
        .blobs()
        .import_layer(tar)
        .map_err(ImageError::storage("storing the tarball"))?;
    rep.blob("blob", &layer.diff_id, layer.size).done();
    let now = husk_runtime::time::now();
    let platform = opts.platform.clone().unwrap_or_else(PlatformSpec::host);
    let config = ImageConfig {
        created: Some(now.clone()),
        author: None,
        architecture: platform.architecture.clone(),
        os: platform.os.clone(),
        variant: platform.variant.clone(),
        config: Some(run),
        rootfs: RootFs {
            kind: "layers".into(),
            diff_ids: vec![layer.diff_id.clone()],
        },
        history: vec![History {
            created: Some(now),
            created_by: Some(format!(
                "/bin/sh -c #(nop) ADD file:{} in /",
                layer.diff_id.hex()
            )),
            author: None,
            comment: opts.message.clone(),
            empty_layer: None,
        }],
    };
    let cbytes = serde_json::to_vec(&config).expect("JSON serialises");
    let cdigest = Digest::sha256_of(&cbytes);
    record::put_exact(&store, &cdigest, &cbytes)?;
    rep.blob("config", &cdigest, cbytes.len() as u64).done();
    let desc = |media_type: &str, digest: Digest, size: u64| Descriptor {
        media_type: media_type.into(),
        digest,
        size,
        urls: None,
        annotations: None,
        platform: None,
        artifact_type: None,
    };
    let m = Manifest {
        schema_version: 2,
        media_type: Some(media::OCI_MANIFEST.into()),
        config: desc(media::OCI_CONFIG, cdigest.clone(), cbytes.len() as u64),
        layers: vec![desc(
            media::OCI_LAYER_GZIP,
            layer.digest.clone(),
            layer.size,
        )],
        artifact_type: None,
        subject: None,
        annotations: None,
    };
    let mbytes = serde_json::to_vec(&m).expect("JSON serialises");
    let mdigest = Digest::sha256_of(&mbytes);
    record::put_exact(&store, &mdigest, &mbytes)?;
    let info = store
        .layers()
        .ensure(
            store.blobs(),
            None,
            &LayerSource {
                blob: layer.digest.clone(),
                compression: media::Compression::Gzip,
                diff_id: layer.diff_id.clone(),
            },
        )
        .map_err(ImageError::storage("unpacking the tarball"))?;
    rep.line("Writing manifest to image destination");
    let stored = StoredImage {
        manifest_digest: mdigest,
        manifest_media_type: media::OCI_MANIFEST.into(),
        manifest_size: mbytes.len() as u64,
        index_digest: None,
        config_digest: cdigest,
        config_size: cbytes.len() as u64,
        config,
        layers: vec![info],
    };
    let names: Vec<String> = name.into_iter().collect();
    record::commit(eng, &stored, &names, &[])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_as_podman_reads_them() {
        let mut c = RunConfig::default();
        apply_changes(
            &mut c,
            &[
                r#"CMD ["/bin/sh"]"#.into(),
                "ENTRYPOINT echo hi".into(),
                "ENV A=b C=\"d e\"".into(),
                "ENV F g".into(),
                "LABEL x=y".into(),
                "EXPOSE 80 53/udp".into(),
                "WORKDIR /w".into(),
                "USER 1:2".into(),
                "VOLUME /data".into(),
            ],
        )
        .unwrap();
        assert_eq!(c.cmd.unwrap(), ["/bin/sh"]);
        assert_eq!(c.entrypoint.unwrap(), ["/bin/sh", "-c", "echo hi"]);
        assert_eq!(c.env.unwrap(), ["A=b", "C=d e", "F=g"]);
        assert_eq!(c.labels.unwrap()["x"], "y");
        let ports: Vec<String> = c.exposed_ports.unwrap().into_keys().collect();
        assert_eq!(ports, ["53/udp", "80/tcp"]);
        assert_eq!(c.working_dir.as_deref(), Some("/w"));
        assert_eq!(c.user.as_deref(), Some("1:2"));
        assert!(c.volumes.unwrap().contains_key("/data"));
        let e = apply_changes(&mut RunConfig::default(), &["BOGUS x".into()]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid change \"BOGUS x\" - invalid instruction BOGUS"
        );
    }
}
