//! `husk ps`: podman's columns, filters, `--format` (Go templates, `json`,
//! `table …`), `-q`, `-a`, `-l`, `-n`, `--no-trunc`, `-s`.

use clap::Args;
use serde::Serialize;
use serde_json::{json, Value};

use crate::catalog::containers::{ContainerRecord, State};
use crate::cli::ctx::Ctx;
use crate::container::live::{live, Live};
use crate::format::json::{self, JsonStyle};
use crate::format::times::Timestamp;
use crate::format::{self, duration, units, Headers, Origin, Report};

/// `husk ps` flags.
#[derive(Debug, Args)]
pub struct PsArgs {
    /// Show all containers (default: running ones).
    #[arg(short = 'a', long)]
    pub all: bool,
    /// Filter (status=, name=, id=, label=, ancestor=, exited=, pod=, before=, since=).
    #[arg(short = 'f', long, value_name = "FILTER")]
    pub filter: Vec<String>,
    /// Go template, `json`, or `table …`.
    #[arg(long, value_name = "FORMAT")]
    pub format: Option<String>,
    /// Print the n last created containers (all states).
    #[arg(short = 'n', long = "last", value_name = "N")]
    pub last: Option<usize>,
    /// Print the latest created container (all states).
    #[arg(short = 'l', long)]
    pub latest: bool,
    /// Do not truncate ids and commands.
    #[arg(long = "no-trunc")]
    pub no_trunc: bool,
    /// Print ids only.
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// Show the containers' sizes.
    #[arg(short = 's', long)]
    pub size: bool,
    /// Do not print the header.
    #[arg(long)]
    pub noheading: bool,
    /// Sort by: command, created, id, image, names, runningfor, size, status.
    #[arg(long, value_name = "FIELD", default_value = "created")]
    pub sort: String,
    /// Accepted for podman compatibility (no external containers here).
    #[arg(long)]
    pub external: bool,
    /// Accepted for podman compatibility.
    #[arg(long)]
    pub ns: bool,
    /// Show each container's pod (POD ID and PODNAME columns).
    #[arg(short = 'p', long)]
    pub pod: bool,
}

/// podman's `ps --format json` entry.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
struct Entry {
    auto_remove: bool,
    #[serde(rename = "CIDFile")]
    cid_file: String,
    command: Vec<String>,
    created_at: String,
    exited: bool,
    exited_at: i64,
    exit_code: i32,
    exposed_ports: Value,
    id: String,
    image: String,
    #[serde(rename = "ImageID")]
    image_id: String,
    is_infra: bool,
    labels: Value,
    mounts: Vec<String>,
    names: Vec<String>,
    namespaces: Value,
    networks: Vec<String>,
    pid: i32,
    pod: String,
    pod_name: String,
    ports: Value,
    restarts: u32,
    size: Value,
    started_at: i64,
    state: String,
    status: String,
    created: i64,
}

fn unix(ts: Option<&str>) -> i64 {
    ts.and_then(|t| Timestamp::parse_rfc3339(t).ok())
        .map(|t| t.unix_seconds())
        .unwrap_or(0)
}

/// One container with its live state, for listing.
#[derive(Debug)]
pub struct Listed {
    /// The record.
    pub rec: ContainerRecord,
    /// Its live state.
    pub live: Live,
}

impl Listed {
    fn exit_code(&self) -> i32 {
        self.live
            .exit
            .as_ref()
            .map(|e| e.exit_code)
            .or(self.rec.exit_code)
            .unwrap_or(0)
    }

    fn finished(&self) -> Option<String> {
        self.live
            .exit
            .as_ref()
            .map(|e| e.finished_at.clone())
            .or_else(|| self.rec.finished_at.clone())
    }

    fn status(&self, now: Timestamp) -> String {
        duration::container_status(
            self.live.state.as_str(),
            unix(self.rec.started_at.as_deref()),
            unix(self.finished().as_deref()),
            self.exit_code(),
            "",
            now,
        )
    }
}

fn entry(l: &Listed, now: Timestamp, size: Option<(i64, i64)>, pods: &[(String, String)]) -> Entry {
    let created = Timestamp::parse_rfc3339(&l.rec.created).unwrap_or(now);
    let exited = l.live.state == State::Exited;
    let pod = l.rec.pod_id.clone().unwrap_or_default();
    let pod_name = pods
        .iter()
        .find(|(id, _)| *id == pod)
        .map(|(_, n)| n.clone())
        .unwrap_or_default();
    Entry {
        auto_remove: l.rec.options.rm,
        cid_file: String::new(),
        command: l.rec.command.clone(),
        created_at: duration::time_ago(created, now),
        exited,
        exited_at: if exited {
            unix(l.finished().as_deref())
        } else {
            -62135596800
        },
        exit_code: l.exit_code(),
        exposed_ports: Value::Null,
        id: l.rec.id.clone(),
        image: l.rec.image_name.clone(),
        image_id: l.rec.image_id.clone(),
        is_infra: l
            .rec
            .extra
            .get("infra")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        labels: if l.rec.options.labels.is_empty() {
            Value::Null
        } else {
            json!(l.rec.options.labels)
        },
        mounts: Vec::new(),
        names: vec![l.rec.name.clone()],
        namespaces: json!({}),
        networks: Vec::new(),
        pid: l.live.pid,
        pod,
        pod_name,
        ports: Value::Null,
        restarts: l.rec.restart_count,
        size: size
            .map(|(rw, root)| json!({"rwSize": rw, "rootFsSize": root}))
            .unwrap_or(Value::Null),
        started_at: unix(l.rec.started_at.as_deref()),
        state: l.live.state.as_str().to_owned(),
        status: l.status(now),
        created: created.unix_seconds(),
    }
}

fn row(l: &Listed, e: &Entry, no_trunc: bool, size: Option<(i64, i64)>) -> Value {
    let id = if no_trunc {
        e.id.clone()
    } else {
        e.id[..12.min(e.id.len())].to_owned()
    };
    let mut command = e.command.join(" ");
    if !no_trunc && command.len() > 17 {
        let mut cut = 17;
        while !command.is_char_boundary(cut) {
            cut -= 1;
        }
        command.truncate(cut);
        command.push_str("...");
    }
    json!({
        "ID": id,
        "Image": e.image,
        "ImageID": if no_trunc { e.image_id.clone() } else { e.image_id.get(..12).unwrap_or(&e.image_id).to_owned() },
        "Command": command,
        "CreatedHuman": e.created_at,
        "CreatedAt": Timestamp::parse_rfc3339(&l.rec.created).map(|t| t.to_local().format_go()).unwrap_or_default(),
        "Created": e.created,
        "RunningFor": e.created_at,
        "Status": e.status,
        "State": e.state,
        "Names": e.names.join(","),
        "Ports": "",
        "Size": size.map(|(rw, root)| units::ps_size(rw, root)).unwrap_or_default(),
        "Labels": l.rec.options.labels,
        "Mounts": "",
        "Networks": "",
        "Pod": e.pod.get(..12.min(e.pod.len())).unwrap_or_default(),
        "PodName": e.pod_name,
        "Pid": e.pid,
        "ExitCode": e.exit_code,
        "Exited": e.exited,
        "Restarts": e.restarts,
        "AutoRemove": e.auto_remove,
        "IsInfra": e.is_infra,
        "StartedAt": e.started_at,
        "Namespaces": {},
    })
}

/// A parsed `--filter`.
enum Filter {
    Status(Vec<String>),
    Name(Vec<String>),
    Id(Vec<String>),
    Label(Vec<(String, Option<String>)>),
    Ancestor(Vec<String>),
    Exited(Vec<i32>),
    Pod(Vec<String>),
}

fn parse_filters(items: &[String]) -> anyhow::Result<Vec<Filter>> {
    let mut by_key: std::collections::BTreeMap<String, Vec<String>> = Default::default();
    for f in items {
        let (k, v) = f
            .split_once('=')
            .ok_or_else(|| anyhow::anyhow!("invalid filter {f:?}: expected key=value"))?;
        by_key.entry(k.to_owned()).or_default().push(v.to_owned());
    }
    by_key
        .into_iter()
        .map(|(k, vs)| {
            Ok(match k.as_str() {
                "status" => {
                    for v in &vs {
                        if !matches!(
                            v.as_str(),
                            "created"
                                | "running"
                                | "paused"
                                | "exited"
                                | "stopped"
                                | "configured"
                                | "removing"
                                | "unknown"
                        ) {
                            anyhow::bail!("{v} is not a valid status: unknown container state");
                        }
                    }
                    Filter::Status(vs)
                }
                "name" => Filter::Name(vs),
                "id" => Filter::Id(vs),
                "label" => Filter::Label(
                    vs.iter()
                        .map(|v| match v.split_once('=') {
                            Some((a, b)) => (a.to_owned(), Some(b.to_owned())),
                            None => (v.clone(), None),
                        })
                        .collect(),
                ),
                "ancestor" => Filter::Ancestor(vs),
                "exited" => Filter::Exited(
                    vs.iter()
                        .map(|v| {
                            v.parse()
                                .map_err(|_| anyhow::anyhow!("exited code out of range {v:?}"))
                        })
                        .collect::<anyhow::Result<_>>()?,
                ),
                "pod" => Filter::Pod(vs),
                other => anyhow::bail!("{other} is an invalid filter"),
            })
        })
        .collect()
}

/// podman matches name filters as (unanchored) regular expressions; an
/// invalid one matches as a plain substring.
pub fn name_matches(pattern: &str, name: &str) -> bool {
    match regex_lite::Regex::new(pattern) {
        Ok(re) => re.is_match(name),
        Err(_) => name.contains(pattern),
    }
}

fn keep(l: &Listed, filters: &[Filter]) -> bool {
    filters.iter().all(|f| match f {
        Filter::Status(v) => v.iter().any(|s| {
            s == l.live.state.as_str() || (s == "stopped" && l.live.state == State::Exited)
        }),
        Filter::Name(v) => v.iter().any(|p| name_matches(p, &l.rec.name)),
        Filter::Id(v) => v.iter().any(|p| l.rec.id.starts_with(p.as_str())),
        Filter::Label(v) => v.iter().all(|(k, want)| {
            l.rec
                .options
                .labels
                .get(k)
                .is_some_and(|have| want.as_ref().is_none_or(|w| w == have))
        }),
        Filter::Ancestor(v) => v.iter().any(|a| {
            l.rec.image_id.starts_with(a.as_str())
                || l.rec.image_name == *a
                || l.rec.image_name.ends_with(&format!("/{a}"))
                || l.rec.image_name.ends_with(&format!("/{a}:latest"))
        }),
        Filter::Exited(v) => l.live.state == State::Exited && v.contains(&l.exit_code()),
        Filter::Pod(v) => l
            .rec
            .pod_id
            .as_ref()
            .is_some_and(|p| v.iter().any(|want| p.starts_with(want.as_str()))),
    })
}

/// podman 5's ps rows have a `Label "key"` method; templates here work on
/// data, so it becomes `(index .Labels "key")`.
fn label_method(format: &str) -> std::borrow::Cow<'_, str> {
    let re = regex_lite::Regex::new(r#"\.Label\s+("(?:[^"\\]|\\.)*")"#).expect("valid");
    re.replace_all(format, "(index .Labels $1)")
}

/// Every container with its live state, newest first.
pub fn list(ctx: &mut Ctx) -> anyhow::Result<Vec<Listed>> {
    let paths = ctx.paths.clone();
    Ok(ctx
        .catalog()?
        .containers()?
        .into_iter()
        .map(|rec| {
            let live = live(&paths, &rec);
            Listed { rec, live }
        })
        .collect())
}

/// `husk ps`.
pub fn ps_cmd(ctx: &mut Ctx, a: PsArgs) -> anyhow::Result<i32> {
    if a.quiet && a.size {
        anyhow::bail!("quiet conflicts with size and namespace");
    }
    if a.latest && a.last.is_some() {
        anyhow::bail!("last and latest are mutually exclusive");
    }
    let mut filters = parse_filters(&a.filter)?;
    let pods: Vec<(String, String)> = ctx
        .catalog()?
        .pods()?
        .into_iter()
        .map(|p| (p.id, p.name))
        .collect();
    // `pod=` takes a pod name as podman does, not only an id prefix.
    for f in &mut filters {
        if let Filter::Pod(wanted) = f {
            for w in wanted.iter_mut() {
                if let Some((id, _)) = pods.iter().find(|(_, n)| n == w) {
                    *w = id.clone();
                }
            }
        }
    }
    let mut items = list(ctx)?;
    let limited = a.latest || a.last.is_some();
    if !a.all && !limited && !filters.iter().any(|f| matches!(f, Filter::Status(_))) {
        items.retain(|l| l.live.state == State::Running);
    }
    items.retain(|l| keep(l, &filters));
    match a.sort.as_str() {
        "created" | "runningfor" => {}
        "id" => items.sort_by(|x, y| x.rec.id.cmp(&y.rec.id)),
        "names" => items.sort_by(|x, y| x.rec.name.cmp(&y.rec.name)),
        "image" => items.sort_by(|x, y| x.rec.image_name.cmp(&y.rec.image_name)),
        "command" => items.sort_by(|x, y| x.rec.command.cmp(&y.rec.command)),
        "status" => items.sort_by(|x, y| x.live.state.as_str().cmp(y.live.state.as_str())),
        "size" => {}
        other => anyhow::bail!("invalid option for --sort, options are: command, created, id, image, names, runningfor, size, or status (got {other:?})"),
    }
    if a.latest {
        items.truncate(1);
    } else if let Some(n) = a.last {
        items.truncate(n);
    }
    if a.quiet {
        for l in &items {
            let id = &l.rec.id;
            println!(
                "{}",
                if a.no_trunc {
                    id
                } else {
                    &id[..12.min(id.len())]
                }
            );
        }
        return Ok(0);
    }
    let now = Timestamp::now();
    let sizes: Vec<Option<(i64, i64)>> = items
        .iter()
        .map(|l| a.size.then(|| container_size(ctx, &l.rec)))
        .collect();
    let entries: Vec<Entry> = items
        .iter()
        .zip(&sizes)
        .map(|(l, s)| entry(l, now, *s, &pods))
        .collect();
    let headers = Headers::new([
        ("ID", "container id"),
        ("CreatedHuman", "created"),
        ("Pod", "pod id"),
        ("PodName", "podname"),
    ]);
    match a.format.as_deref() {
        Some(f) if format::is_json(f) => {
            println!("{}", json::to_string(&entries, JsonStyle::indented("  "))?);
        }
        Some(f) => {
            let rows: Vec<Value> = items
                .iter()
                .zip(&entries)
                .zip(&sizes)
                .map(|((l, e), s)| row(l, e, a.no_trunc, *s))
                .collect();
            let rpt = Report::parse("ps", Origin::User, &label_method(f))?;
            print!("{}", rpt.render(&rows, &headers, !a.noheading)?);
        }
        None => {
            let rows: Vec<Value> = items
                .iter()
                .zip(&entries)
                .zip(&sizes)
                .map(|((l, e), s)| row(l, e, a.no_trunc, *s))
                .collect();
            let mut fmt = String::from(
                "{{.ID}}\t{{.Image}}\t{{.Command}}\t{{.CreatedHuman}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}",
            );
            if a.size {
                fmt.push_str("\t{{.Size}}");
            }
            if a.pod {
                fmt.push_str("\t{{.Pod}}\t{{.PodName}}");
            }
            let rpt = Report::builtin_row("ps", &fmt)?;
            print!("{}", rpt.render(&rows, &headers, !a.noheading)?);
        }
    }
    Ok(0)
}

/// (writable layer size, image size + writable layer size) in bytes.
fn container_size(ctx: &mut Ctx, rec: &ContainerRecord) -> (i64, i64) {
    let rw = crate::container::rootfs::upper_size(&ctx.paths, &rec.id) as i64;
    let image = ctx
        .catalog()
        .ok()
        .and_then(|c| c.image(&rec.image_id).ok().flatten())
        .map(|i| i.size as i64)
        .unwrap_or(0);
    (rw, image + rw)
}
