//! `husk image inspect` and `husk history`.

use clap::Args;
use serde_json::{json, Value};

use crate::cli::ctx::Ctx;
use crate::format::json::{self as fjson, JsonStyle};
use crate::format::times::Timestamp;
use crate::format::{self, duration, units, Headers, Origin, Report};
use crate::image::error::ImageError;
use crate::image::{inspect, local};

/// `husk image inspect` flags.
#[derive(Debug, Args)]
pub struct ImageInspectArgs {
    /// Go template, or json (the default).
    #[arg(short = 'f', long, value_name = "FORMAT")]
    pub format: Option<String>,
    /// The images.
    #[arg(value_name = "IMAGE", required = true)]
    pub images: Vec<String>,
}

/// The inspect document of the image `name` names, if any (also for the
/// generic `husk inspect`).
pub fn inspect_doc(ctx: &mut Ctx, name: &str) -> anyhow::Result<Option<Value>> {
    let eng = ctx.engine(true)?;
    let Some(rec) = local::lookup(&eng.catalog, name)? else {
        return Ok(None);
    };
    Ok(Some(inspect::inspect(eng, &rec)?))
}

/// `husk image inspect`.
pub fn inspect_cmd(ctx: &mut Ctx, a: ImageInspectArgs) -> anyhow::Result<i32> {
    let report = match a.format.as_deref() {
        Some(f) if !format::is_json(f) => Some(Report::parse("inspect", Origin::User, f)?),
        _ => None,
    };
    let mut docs = Vec::new();
    let mut errors = Vec::new();
    for n in &a.images {
        match inspect_doc(ctx, n)? {
            Some(d) => docs.push(d),
            None => errors.push(ImageError::NotKnown(n.clone())),
        }
    }
    match report {
        Some(r) => print!("{}", r.render(&docs, &Headers::default(), false)?),
        None => print!("{}", fjson::to_string(&docs, JsonStyle::INSPECT)?),
    }
    let Some(last) = errors.pop() else {
        return Ok(0);
    };
    for e in errors {
        eprintln!("Error: {e}");
    }
    Err(last.into())
}

/// `husk history` flags.
#[derive(Debug, Args)]
pub struct HistoryArgs {
    /// Go template or json.
    #[arg(long, value_name = "FORMAT")]
    pub format: Option<String>,
    /// Human-readable sizes and times (`-H=false` for RFC 3339 and bytes).
    #[arg(short = 'H', long, value_name = "BOOL", num_args = 0..=1, default_value = "true", default_missing_value = "true")]
    pub human: bool,
    /// Do not truncate ids and commands.
    #[arg(long = "no-trunc", visible_alias = "notruncate")]
    pub no_trunc: bool,
    /// Print ids only.
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// The image.
    #[arg(value_name = "IMAGE")]
    pub image: String,
}

/// `husk history`.
pub fn history_cmd(ctx: &mut Ctx, a: HistoryArgs) -> anyhow::Result<i32> {
    let eng = ctx.engine(true)?;
    let rec = local::lookup(&eng.catalog, &a.image)?
        .ok_or_else(|| ImageError::NotKnown(a.image.clone()))?;
    let rows = inspect::history(eng, &rec)?;
    let short = |id: &str| {
        if a.no_trunc || id == "<missing>" {
            id.to_owned()
        } else {
            id[..12.min(id.len())].to_owned()
        }
    };
    if a.quiet {
        for r in &rows {
            println!("{}", short(&r.id));
        }
        return Ok(0);
    }
    if a.format.as_deref().is_some_and(format::is_json) {
        let entries: Vec<Value> = rows
            .iter()
            .map(|r| {
                json!({
                    "id": r.id,
                    "created": r.created.as_deref().map(|c| inspect::created_text(Some(c))),
                    "Created": r.created.as_deref().and_then(|c| Timestamp::parse_rfc3339(c).ok()).map(|t| t.unix_seconds()).unwrap_or(0),
                    "createdBy": r.created_by,
                    "size": r.size,
                    "comment": r.comment,
                    "tags": if r.tags.is_empty() { Value::Null } else { json!(r.tags) },
                })
            })
            .collect();
        println!(
            "{}",
            fjson::to_string(&entries, JsonStyle::indented("    "))?
        );
        return Ok(0);
    }
    let now = Timestamp::now();
    let values: Vec<Value> = rows
        .iter()
        .map(|r| {
            let ts = r
                .created
                .as_deref()
                .and_then(|c| Timestamp::parse_rfc3339(c).ok());
            let created = match (ts, a.human) {
                (Some(t), true) => duration::time_ago(t, now),
                (Some(t), false) => t.to_utc().format_rfc3339(),
                (None, _) => String::new(),
            };
            let mut by = r.created_by.clone();
            if !a.no_trunc && by.len() > 45 {
                let mut cut = 42;
                while !by.is_char_boundary(cut) {
                    cut -= 1;
                }
                by.truncate(cut);
                by.push_str("...");
            }
            json!({
                "ID": short(&r.id),
                "Created": created,
                "CreatedSince": created,
                "CreatedAt": ts.map(|t| t.to_utc().format_rfc3339()).unwrap_or_default(),
                "CreatedBy": by,
                // podman shows sizes human-readable even with -H=false.
                "Size": units::podman_size(r.size as i64),
                "Comment": r.comment,
                "Tags": r.tags,
            })
        })
        .collect();
    let headers = Headers::new([("ID", "id"), ("CreatedBy", "created by")]);
    let rpt = match &a.format {
        Some(f) => Report::parse("history", Origin::User, f)?,
        None => Report::builtin_row(
            "history",
            "{{.ID}}\t{{.Created}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}",
        )?,
    };
    print!("{}", rpt.render(&values, &headers, true)?);
    Ok(0)
}
