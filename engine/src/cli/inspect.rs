//! `husk inspect` (containers, images and pods by name), and the typed
//! `container inspect`, `image inspect` and `pod inspect`: podman's JSON
//! documents, or a Go template per document with `--format`.

use clap::Args;
use serde_json::Value;

use crate::cli::ctx::Ctx;
use crate::container::error::ContainerError;
use crate::container::{inspect, live, lookup};
use crate::format::json::{self, JsonStyle};
use crate::format::{self, Headers, Origin, Report};

/// `husk inspect` flags.
#[derive(Debug, Args)]
pub struct InspectArgs {
    /// Go template, or json (the default).
    #[arg(short = 'f', long, value_name = "FORMAT")]
    pub format: Option<String>,
    /// What to look for: container, image, pod, all.
    #[arg(short = 't', long = "type", value_name = "TYPE", default_value = "all")]
    pub kind: String,
    /// Accepted for podman compatibility (sizes are computed anyway).
    #[arg(short = 's', long)]
    pub size: bool,
    /// Inspect the latest container.
    #[arg(short = 'l', long)]
    pub latest: bool,
    /// Names or ids.
    #[arg(value_name = "NAME")]
    pub names: Vec<String>,
}

/// What an inspect looks in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Containers only.
    Container,
    /// Images only.
    Image,
    /// Pods only.
    Pod,
    /// Containers, then images, then pods.
    All,
}

fn container_doc(ctx: &mut Ctx, name: &str, latest: bool) -> anyhow::Result<Option<Value>> {
    let paths = ctx.paths.clone();
    let cat = ctx.catalog()?;
    let rec = if latest {
        lookup::latest(cat)
    } else {
        lookup::find(cat, name)
    };
    let rec = match rec {
        Ok(r) => r,
        Err(ContainerError::NotFound(_)) => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    let pod_name = match &rec.pod_id {
        Some(p) => cat.pod(p)?.map(|p| p.name).unwrap_or_default(),
        None => String::new(),
    };
    let l = live::live(&paths, &rec);
    Ok(Some(inspect::inspect(&paths, &rec, &l, &pod_name)))
}

/// Looks one name up in the kinds asked for.
fn find(ctx: &mut Ctx, kind: Kind, name: &str, latest: bool) -> anyhow::Result<Option<Value>> {
    if matches!(kind, Kind::Container | Kind::All) {
        if let Some(d) = container_doc(ctx, name, latest)? {
            return Ok(Some(d));
        }
    }
    if matches!(kind, Kind::Image | Kind::All) {
        if let Some(d) = super::image::inspect_doc(ctx, name)? {
            return Ok(Some(d));
        }
    }
    if matches!(kind, Kind::Pod | Kind::All) {
        if let Some(d) = super::pod::inspect_doc(ctx, name)? {
            return Ok(Some(d));
        }
    }
    Ok(None)
}

/// The RFC 3339 time fields of inspect documents, as paths.
const TIME_FIELDS: [&[&str]; 7] = [
    &["Created"],
    &["State", "StartedAt"],
    &["State", "FinishedAt"],
    &["State", "CheckpointedAt"],
    &["State", "RestoredAt"],
    &["Metadata", "LastTagTime"],
    &["LastTagTime"],
];

fn go_times(doc: &mut Value) {
    for path in TIME_FIELDS {
        let pointer: String = path.iter().map(|k| format!("/{k}")).collect();
        if let Some(v) = doc.pointer_mut(&pointer) {
            let go = v
                .as_str()
                .and_then(|s| crate::format::times::Timestamp::parse_rfc3339(s).ok())
                .map(|t| t.format_go());
            if let Some(go) = go {
                *v = Value::String(go);
            }
        }
    }
}

fn missing(kind: Kind, name: &str) -> String {
    match kind {
        Kind::Container => format!("no such container {name:?}"),
        Kind::Image => format!("{name}: image not known"),
        Kind::Pod => format!("no such pod {name:?}"),
        Kind::All => format!("no such object: {name:?}"),
    }
}

/// Inspects `names` of `kind`, printing the documents found; a name found
/// nowhere is an error (exit 125) after the others are printed.
pub fn run(ctx: &mut Ctx, kind: Kind, a: InspectArgs) -> anyhow::Result<i32> {
    let kind = match (kind, a.kind.as_str()) {
        (Kind::All, "container") => Kind::Container,
        (Kind::All, "image") => Kind::Image,
        (Kind::All, "pod") => Kind::Pod,
        (Kind::All, "all") => Kind::All,
        (Kind::All, other) => {
            anyhow::bail!("invalid type {other:?}: must be one of container, image, pod, all")
        }
        (k, _) => k,
    };
    let report = match a.format.as_deref() {
        Some(f) if !format::is_json(f) => Some(Report::parse("inspect", Origin::User, f)?),
        _ => None,
    };
    if a.names.is_empty() && !a.latest {
        anyhow::bail!("inspect requires at least one name or id (or --latest)");
    }
    let mut docs = Vec::new();
    let mut errors = Vec::new();
    let names = if a.latest {
        vec![String::new()]
    } else {
        a.names
    };
    for n in &names {
        match find(ctx, kind, n, a.latest)? {
            Some(d) => docs.push(d),
            None => errors.push(missing(kind, n)),
        }
    }
    match report {
        Some(r) => {
            // Templates see times as Go prints a time.Time
            // (`2006-01-02 15:04:05.999999999 -0700 MST`); JSON has RFC 3339.
            for d in &mut docs {
                go_times(d);
            }
            print!("{}", r.render(&docs, &Headers::default(), false)?)
        }
        None => print!("{}", json::to_string(&docs, JsonStyle::INSPECT)?),
    }
    if errors.is_empty() {
        return Ok(0);
    }
    let last = errors.pop().expect("non-empty");
    for e in errors {
        eprintln!("Error: {e}");
    }
    Err(anyhow::anyhow!(last))
}
