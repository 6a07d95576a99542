//! `husk-fixtures build OUTDIR [NAME...]`: writes fixture images as OCI
//! layouts (`OUTDIR/<name>`) and prints a JSON summary of name -> digest.
//! `husk-fixtures list` prints the fixture names.
//! `husk-fixtures bundle [--rootless UID:GID] NAME DIR [-- ARGS...]` unpacks
//! fixture NAME into DIR/rootfs and writes DIR/config.json (made by
//! `husk-runtime spec` next to this binary) running ARGS.

use std::path::PathBuf;

use anyhow::{bail, Context as _, Result};
use husk_tests::fixtures;

const USAGE: &str = "usage: husk-fixtures build OUTDIR [NAME...] | husk-fixtures list | \
husk-fixtures bundle [--rootless UID:GID] NAME DIR [-- ARGS...]";

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("build") => {
            let Some(out) = args.get(1) else {
                bail!("{USAGE}");
            };
            let out = PathBuf::from(out);
            std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
            let built = if args.len() > 2 {
                args[2..]
                    .iter()
                    .map(|n| fixtures::build_one(n, &out))
                    .collect::<Result<Vec<_>, _>>()?
            } else {
                fixtures::build_all(&out)?
            };
            let summary: serde_json::Map<String, serde_json::Value> = built
                .iter()
                .map(|b| {
                    (
                        b.name.clone(),
                        serde_json::json!({
                            "layout": b.layout_dir,
                            "tag": b.tag,
                            "digest": b.digest,
                            "mediaType": b.media_type,
                        }),
                    )
                })
                .collect();
            println!("{}", serde_json::to_string_pretty(&summary)?);
            Ok(())
        }
        Some("bundle") => bundle(&args[1..]),
        Some("list") => {
            for name in fixtures::FIXTURES {
                println!("{name}");
            }
            Ok(())
        }
        _ => bail!("{USAGE}"),
    }
}

/// Writes a runnable OCI bundle from a fixture image.
fn bundle(args: &[String]) -> Result<()> {
    let (opts, cmd) = match args.iter().position(|a| a == "--") {
        Some(i) => (&args[..i], &args[i + 1..]),
        None => (args, &[][..]),
    };
    let (owner, rest) = match opts.first().map(String::as_str) {
        Some("--rootless") => {
            let spec = opts.get(1).context("--rootless needs UID:GID")?;
            let (u, g) = spec.split_once(':').context("--rootless needs UID:GID")?;
            (Some((u.parse::<u32>()?, g.parse::<u32>()?)), &opts[2..])
        }
        _ => (None, opts),
    };
    let [name, dir] = rest else {
        bail!("{USAGE}");
    };
    let dir = PathBuf::from(dir);
    let image = fixtures::build_one(name, &dir.join("image"))?;
    husk_tests::bundle::unpack_image(&image.layout_dir, &dir.join("rootfs"))
        .map_err(|e| anyhow::anyhow!("unpacking {name}: {e}"))?;
    std::fs::remove_dir_all(dir.join("image"))?;
    let runtime = std::env::current_exe()?
        .parent()
        .context("locating husk-runtime")?
        .join("husk-runtime");
    let mut spec_cmd = std::process::Command::new(&runtime);
    spec_cmd.args(["spec", "--bundle"]).arg(&dir);
    if owner.is_some() {
        spec_cmd.arg("--rootless");
    }
    let st = spec_cmd
        .status()
        .with_context(|| format!("running {} spec", runtime.display()))?;
    if !st.success() {
        bail!("{} spec failed", runtime.display());
    }
    let path = dir.join("config.json");
    let mut spec: serde_json::Value = serde_json::from_slice(&std::fs::read(&path)?)?;
    spec["process"]["terminal"] = false.into();
    spec["hostname"] = "husk".into();
    if !cmd.is_empty() {
        spec["process"]["args"] = serde_json::json!(cmd);
    }
    if let Some((uid, gid)) = owner {
        spec["linux"]["uidMappings"] =
            serde_json::json!([{"containerID": 0, "hostID": uid, "size": 1}]);
        spec["linux"]["gidMappings"] =
            serde_json::json!([{"containerID": 0, "hostID": gid, "size": 1}]);
    }
    std::fs::write(&path, serde_json::to_vec_pretty(&spec)?)?;
    Ok(())
}
