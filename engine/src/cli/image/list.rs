//! `husk images` / `husk image ls`: podman's columns, one row per tag,
//! `<none>` for untagged images, filters, `--format`, `-q`, `-a`,
//! `--digests`, `--no-trunc`, `--noheading`, `--sort`.

use clap::Args;
use serde_json::{json, Value};

use super::filter::ImageFilter;
use crate::catalog::images::ImageRecord;
use crate::cli::ctx::Ctx;
use crate::format::json::{self as fjson, JsonStyle};
use crate::format::times::Timestamp;
use crate::format::{self, duration, units, Headers, Origin, Report};
use crate::image::inspect::{names_in_order, repo_digests, repo_tags, shown_digest};
use crate::image::reference::Reference;
use crate::image::remove::is_child;

/// `husk images` flags.
#[derive(Debug, Args)]
pub struct ImagesArgs {
    /// Show all images (default hides intermediate images).
    #[arg(short = 'a', long)]
    pub all: bool,
    /// Show digests.
    #[arg(long)]
    pub digests: bool,
    /// Filter (dangling=, reference=, label=, before=, since=, id=, containers=, intermediate=).
    #[arg(short = 'f', long, value_name = "FILTER")]
    pub filter: Vec<String>,
    /// Go template, `json`, or `table …`.
    #[arg(long, value_name = "FORMAT")]
    pub format: Option<String>,
    /// Do not print the header.
    #[arg(short = 'n', long)]
    pub noheading: bool,
    /// Do not truncate output.
    #[arg(long = "no-trunc", visible_alias = "notruncate")]
    pub no_trunc: bool,
    /// Print image ids only.
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// Sort by created, id, repository, size or tag.
    #[arg(long, value_name = "FIELD", default_value = "created")]
    pub sort: String,
    /// Show the image's name history.
    #[arg(long)]
    pub history: bool,
    /// Only images matching this reference.
    #[arg(value_name = "IMAGE")]
    pub image: Option<String>,
}

/// One listed row: an image under one of its names.
struct Row<'a> {
    rec: &'a ImageRecord,
    repo: String,
    tag: String,
    labels: Value,
    containers: usize,
    dangling: bool,
}

fn created(rec: &ImageRecord) -> Timestamp {
    rec.created
        .as_deref()
        .and_then(|c| Timestamp::parse_rfc3339(c).ok())
        .unwrap_or_else(|| Timestamp::from_unix(0, 0))
}

/// The rows of one image: one per tagged name, else one for a digest name
/// (`repo <none>`), else `<none> <none>`.
fn rows_of<'a>(
    rec: &'a ImageRecord,
    labels: Value,
    containers: usize,
    dangling: bool,
) -> Vec<Row<'a>> {
    let mk = |repo: String, tag: String| Row {
        rec,
        repo,
        tag,
        labels: labels.clone(),
        containers,
        dangling,
    };
    let mut tagged = Vec::new();
    let mut untagged = Vec::new();
    for n in &names_in_order(rec) {
        let Ok(r) = Reference::parse(n) else { continue };
        match r.tag() {
            Some(t) => tagged.push(mk(r.repository().to_string(), t.to_owned())),
            None => untagged.push(mk(r.repository().to_string(), "<none>".into())),
        }
    }
    if !tagged.is_empty() {
        return tagged;
    }
    if let Some(first) = untagged.into_iter().next() {
        return vec![first];
    }
    vec![mk("<none>".into(), "<none>".into())]
}

fn id_text(id: &str, no_trunc: bool) -> String {
    if no_trunc {
        format!("sha256:{id}")
    } else {
        id[..12.min(id.len())].to_owned()
    }
}

fn template_row(r: &Row<'_>, no_trunc: bool, now: Timestamp) -> Value {
    let c = created(r.rec);
    json!({
        "Repository": r.repo,
        "Tag": r.tag,
        "ID": id_text(&r.rec.id, no_trunc),
        "Id": r.rec.id,
        "Digest": shown_digest(r.rec),
        "Created": duration::time_ago(c, now),
        "CreatedSince": duration::time_ago(c, now),
        "CreatedAt": c.format_go(),
        "CreatedTime": c.format_go(),
        "Size": units::podman_size(r.rec.size as i64),
        "VirtualSize": r.rec.size,
        "SharedSize": 0,
        "Labels": r.labels,
        "Names": names_in_order(r.rec),
        "RepoTags": repo_tags(r.rec),
        "RepoDigests": repo_digests(r.rec),
        "History": r.rec.names.join(", "),
        "Containers": r.containers,
        "Dangling": r.dangling,
        "ReadOnly": false,
        "ParentId": "",
        "Arch": r.rec.arch,
        "Os": r.rec.os,
    })
}

/// podman's `images --format json` entry.
fn json_entry(r: &Row<'_>) -> Value {
    let c = created(r.rec);
    let mut m = serde_json::Map::new();
    m.insert("Id".into(), json!(r.rec.id));
    m.insert("ParentId".into(), json!(""));
    m.insert("RepoTags".into(), Value::Null);
    m.insert("RepoDigests".into(), json!(repo_digests(r.rec)));
    m.insert("Size".into(), json!(r.rec.size));
    m.insert("SharedSize".into(), json!(0));
    m.insert("VirtualSize".into(), json!(r.rec.size));
    m.insert("Labels".into(), r.labels.clone());
    m.insert("Containers".into(), json!(r.containers));
    if r.dangling {
        m.insert("Dangling".into(), json!(true));
    }
    if !r.rec.arch.is_empty() {
        m.insert("Arch".into(), json!(r.rec.arch));
    }
    m.insert("Names".into(), json!(names_in_order(r.rec)));
    m.insert("Digest".into(), json!(shown_digest(r.rec)));
    m.insert("History".into(), json!(r.rec.names));
    if !r.rec.os.is_empty() {
        m.insert("Os".into(), json!(r.rec.os));
    }
    m.insert("Created".into(), json!(c.unix_seconds()));
    m.insert("CreatedAt".into(), json!(c.to_utc().format_rfc3339_nano()));
    Value::Object(m)
}

/// `husk images`.
pub fn images_cmd(ctx: &mut Ctx, a: ImagesArgs) -> anyhow::Result<i32> {
    if a.image.is_some() && !a.filter.is_empty() {
        anyhow::bail!("cannot specify an image and a filter(s)");
    }
    if !matches!(
        a.sort.as_str(),
        "created" | "id" | "repository" | "size" | "tag"
    ) {
        anyhow::bail!(
            "\"{}\" is not a valid field for sorting. Choose from: created, id, repository, size, tag",
            a.sort
        );
    }
    let mut filters = a.filter.clone();
    if let Some(i) = &a.image {
        filters.push(format!("reference={i}"));
    }
    let eng = ctx.engine(true)?;
    let filter = ImageFilter::parse(&filters, &eng.catalog)?;
    let mut images = eng.catalog.images()?;
    // podman lists in the order images entered the store, then sorts
    // (stably) by the field asked for.
    images.reverse();
    let containers = eng.catalog.containers()?;
    let mut labels = Vec::new();
    for rec in &images {
        let l = crate::image::pull::image_config(eng, rec)
            .ok()
            .and_then(|c| c.config.and_then(|r| r.labels))
            .map(|l| json!(l))
            .unwrap_or(Value::Null);
        labels.push(l);
    }
    let mut rows = Vec::new();
    for (rec, l) in images.iter().zip(labels) {
        let used = containers.iter().filter(|c| c.image_id == rec.id).count();
        let has_children = images.iter().any(|o| is_child(rec, o));
        let dangling = rec.names.is_empty() && !has_children;
        if !a.all && rec.names.is_empty() && has_children {
            continue;
        }
        if !filter.matches(rec, &l, used, dangling, has_children) {
            continue;
        }
        rows.extend(rows_of(rec, l, used, dangling));
    }
    match a.sort.as_str() {
        "id" => rows.sort_by(|x, y| x.rec.id.cmp(&y.rec.id)),
        "repository" => rows.sort_by(|x, y| x.repo.cmp(&y.repo)),
        "size" => rows.sort_by_key(|r| r.rec.size),
        "tag" => rows.sort_by(|x, y| x.tag.cmp(&y.tag)),
        _ => rows.sort_by(|x, y| {
            created(y.rec)
                .unix_nanos()
                .cmp(&created(x.rec).unix_nanos())
        }),
    }
    let json_out = a.format.as_deref().is_some_and(format::is_json);
    if json_out {
        let entries: Vec<Value> = rows.iter().map(json_entry).collect();
        println!(
            "{}",
            fjson::to_string(&entries, JsonStyle::indented("    "))?
        );
        return Ok(0);
    }
    if a.quiet {
        let mut seen = std::collections::HashSet::new();
        for r in &rows {
            let id = id_text(&r.rec.id, a.no_trunc);
            if seen.insert(id.clone()) {
                println!("{id}");
            }
        }
        return Ok(0);
    }
    let now = Timestamp::now();
    let values: Vec<Value> = rows
        .iter()
        .map(|r| template_row(r, a.no_trunc, now))
        .collect();
    let headers = Headers::new([("ID", "image id"), ("ReadOnly", "r/o")]);
    let rpt = match &a.format {
        Some(f) => Report::parse("images", Origin::User, f)?,
        None => {
            let mut row = vec![
                "{{if .Repository}}{{.Repository}}{{else}}<none>{{end}}",
                "{{if .Tag}}{{.Tag}}{{else}}<none>{{end}}",
            ];
            if a.digests {
                row.push("{{.Digest}}");
            }
            row.extend(["{{.ID}}", "{{.Created}}", "{{.Size}}"]);
            if a.history {
                row.push("{{if .History}}{{.History}}{{else}}<none>{{end}}");
            }
            Report::builtin_row("images", &row.join("\t"))?
        }
    };
    print!("{}", rpt.render(&values, &headers, !a.noheading)?);
    Ok(0)
}
