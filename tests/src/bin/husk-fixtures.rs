//! `husk-fixtures build OUTDIR [NAME...]`: writes fixture images as OCI
//! layouts (`OUTDIR/<name>`) and prints a JSON summary of name -> digest.
//! `husk-fixtures list` prints the fixture names.

use std::path::PathBuf;

use anyhow::{bail, Context as _, Result};
use husk_tests::fixtures;

const USAGE: &str = "usage: husk-fixtures build OUTDIR [NAME...] | husk-fixtures list";

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
        Some("list") => {
            for name in fixtures::FIXTURES {
                println!("{name}");
            }
            Ok(())
        }
        _ => bail!("{USAGE}"),
    }
}
