//! `husk pod ps`: podman's columns (`POD ID  NAME  STATUS  CREATED  INFRA
//! ID  # OF CONTAINERS`), `--ctr-names`, `--ctr-ids`, `--ctr-status`,
//! `--filter`, `--format` (Go templates, `json`, `table …`), `-q`,
//! `--no-trunc`, `--sort`, `-l`.

use clap::Args;
use serde_json::{json, Value};

use crate::catalog::containers::State;
use crate::catalog::pods::PodRecord;
use crate::cli::ctx::Ctx;
use crate::format::json::{self, JsonStyle};
use crate::format::times::Timestamp;
use crate::format::{self, duration, Headers, Origin, Report};
use crate::pod::lookup;
use crate::pod::status::{members, state_of, Member, PodState};

/// `husk pod ps` flags.
#[derive(Debug, Args)]
pub struct PsArgs {
    /// Show the containers' ids.
    #[arg(long = "ctr-ids")]
    pub ctr_ids: bool,
    /// Show the containers' names.
    #[arg(long = "ctr-names")]
    pub ctr_names: bool,
    /// Show the containers' states.
    #[arg(long = "ctr-status")]
    pub ctr_status: bool,
    /// Filter (name=, id=, status=, label=, ctr-names=, ctr-ids=, ctr-status=, ctr-number=).
    #[arg(short = 'f', long, value_name = "FILTER")]
    pub filter: Vec<String>,
    /// Go template, `json`, or `table …`.
    #[arg(long, value_name = "FORMAT")]
    pub format: Option<String>,
    /// Show the latest created pod only.
    #[arg(short = 'l', long)]
    pub latest: bool,
    /// Show the cgroup path too.
    #[arg(long)]
    pub ns: bool,
    /// Do not truncate ids.
    #[arg(long = "no-trunc")]
    pub no_trunc: bool,
    /// Do not print the header.
    #[arg(long)]
    pub noheading: bool,
    /// Print pod ids only.
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// Sort by: created, id, name, number, status.
    #[arg(long, value_name = "FIELD", default_value = "created")]
    pub sort: String,
}

struct Listed {
    pod: PodRecord,
    members: Vec<Member>,
    state: PodState,
}

fn short(id: &str, no_trunc: bool) -> String {
    if no_trunc {
        id.to_owned()
    } else {
        id[..12.min(id.len())].to_owned()
    }
}

/// A parsed `--filter` key and its values.
type Filter = (String, Vec<String>);

fn parse_filters(items: &[String]) -> anyhow::Result<Vec<Filter>> {
    let mut out: Vec<Filter> = Vec::new();
    for f in items {
        let (k, v) = f
            .split_once('=')
            .ok_or_else(|| anyhow::anyhow!("invalid filter {f:?}: expected key=value"))?;
        if !matches!(
            k,
            "name"
                | "id"
                | "status"
                | "label"
                | "ctr-names"
                | "ctr-ids"
                | "ctr-status"
                | "ctr-number"
        ) {
            anyhow::bail!("{k:?} is an invalid filter");
        }
        if k == "status"
            && !matches!(
                v,
                "created"
                    | "running"
                    | "paused"
                    | "exited"
                    | "stopped"
                    | "degraded"
                    | "dead"
                    | "error"
            )
        {
            anyhow::bail!("{v:?} is not a valid status");
        }
        if k == "ctr-number" && v.parse::<usize>().is_err() {
            anyhow::bail!("invalid ctr-number filter {v:?}: not a number");
        }
        match out.iter_mut().find(|(key, _)| key == k) {
            Some((_, vs)) => vs.push(v.to_owned()),
            None => out.push((k.to_owned(), vec![v.to_owned()])),
        }
    }
    Ok(out)
}

fn keep(l: &Listed, filters: &[Filter]) -> bool {
    let opts = lookup::options(&l.pod);
    filters.iter().all(|(k, vs)| match k.as_str() {
        "name" => vs
            .iter()
            .any(|v| crate::cli::container::ps::name_matches(v, &l.pod.name)),
        "id" => vs.iter().any(|v| l.pod.id.starts_with(v.as_str())),
        "status" => vs.iter().any(|v| v.eq_ignore_ascii_case(l.state.as_str())),
        "label" => vs.iter().all(|v| match v.split_once('=') {
            Some((a, b)) => opts.labels.get(a).is_some_and(|x| x == b),
            None => opts.labels.contains_key(v),
        }),
        "ctr-names" => vs
            .iter()
            .any(|v| l.members.iter().any(|m| m.rec.name == *v)),
        "ctr-ids" => vs
            .iter()
            .any(|v| l.members.iter().any(|m| m.rec.id.starts_with(v.as_str()))),
        "ctr-status" => vs.iter().any(|v| {
            l.members.iter().any(|m| {
                m.live.state.as_str() == v || (v == "stopped" && m.live.state == State::Exited)
            })
        }),
        "ctr-number" => vs.iter().any(|v| v.parse::<usize>() == Ok(l.members.len())),
        _ => true,
    })
}

fn json_entry(l: &Listed) -> Value {
    let opts = lookup::options(&l.pod);
    let created = Timestamp::parse_rfc3339(&l.pod.created)
        .map(|t| t.to_local().format_rfc3339_nano())
        .unwrap_or_else(|_| l.pod.created.clone());
    json!({
        "Cgroup": lookup::cgroup_parent(&l.pod).unwrap_or_default(),
        "Containers": l.members.iter().map(|m| json!({
            "Id": m.rec.id,
            "Names": m.rec.name,
            "Status": m.live.state.as_str(),
            "RestartCount": m.rec.restart_count,
        })).collect::<Vec<_>>(),
        "Created": created,
        "Id": l.pod.id,
        "InfraId": l.pod.infra_id.clone().unwrap_or_default(),
        "Name": l.pod.name,
        "Namespace": "",
        "Networks": [],
        "Status": l.state.as_str(),
        "Labels": opts.labels,
    })
}

fn row(l: &Listed, no_trunc: bool, now: Timestamp) -> Value {
    let opts = lookup::options(&l.pod);
    let created = Timestamp::parse_rfc3339(&l.pod.created).unwrap_or(now);
    let join =
        |f: &dyn Fn(&Member) -> String| l.members.iter().map(f).collect::<Vec<_>>().join(",");
    let infra = l.pod.infra_id.as_deref().unwrap_or_default();
    json!({
        "Id": short(&l.pod.id, no_trunc),
        "Name": l.pod.name,
        "Status": l.state.as_str(),
        "Created": duration::time_ago(created, now),
        "InfraId": short(infra, no_trunc),
        "InfraID": short(infra, no_trunc),
        "NumberOfContainers": l.members.len(),
        "ContainerIds": join(&|m| short(&m.rec.id, no_trunc)),
        "ContainerNames": join(&|m| m.rec.name.clone()),
        "ContainerStatuses": join(&|m| m.live.state.as_str().to_owned()),
        "Cgroup": lookup::cgroup_parent(&l.pod).unwrap_or_default(),
        "Namespace": "",
        "Networks": "",
        "Labels": opts.labels,
    })
}

/// The row template of the default table for these flags (podman's).
fn default_row(a: &PsArgs) -> String {
    let mut fmt = String::from("{{.Id}}\t{{.Name}}\t{{.Status}}\t{{.Created}}\t{{.InfraId}}");
    if a.ctr_ids {
        fmt.push_str("\t{{.ContainerIds}}");
    }
    if a.ctr_names {
        fmt.push_str("\t{{.ContainerNames}}");
    }
    if a.ctr_status {
        fmt.push_str("\t{{.ContainerStatuses}}");
    }
    if a.ns {
        fmt.push_str("\t{{.Cgroup}}");
    }
    if !(a.ctr_ids || a.ctr_names || a.ctr_status) {
        fmt.push_str("\t{{.NumberOfContainers}}");
    }
    fmt
}

/// `husk pod ps`.
pub fn ps_cmd(ctx: &mut Ctx, a: PsArgs) -> anyhow::Result<i32> {
    let filters = parse_filters(&a.filter)?;
    let paths = ctx.paths.clone();
    let cat = ctx.catalog()?;
    let mut items = Vec::new();
    for pod in cat.pods()? {
        let members = members(&paths, cat, &pod)?;
        let state = state_of(&members);
        items.push(Listed {
            pod,
            members,
            state,
        });
    }
    items.retain(|l| keep(l, &filters));
    match a.sort.as_str() {
        "created" => {}
        "id" => items.sort_by(|x, y| x.pod.id.cmp(&y.pod.id)),
        "name" => items.sort_by(|x, y| x.pod.name.cmp(&y.pod.name)),
        "number" => items.sort_by_key(|x| x.members.len()),
        "status" => items.sort_by(|x, y| x.state.as_str().cmp(y.state.as_str())),
        other => anyhow::bail!("invalid option for --sort, options are: created, id, name, number, or status (got {other:?})"),
    }
    if a.latest {
        items.truncate(1);
    }
    if a.quiet {
        for l in &items {
            println!("{}", short(&l.pod.id, a.no_trunc));
        }
        return Ok(0);
    }
    let headers = Headers::new([
        ("Id", "pod id"),
        ("NumberOfContainers", "# of containers"),
        ("ContainerIds", "ids"),
        ("ContainerNames", "names"),
        ("ContainerStatuses", "status"),
        ("InfraID", "infra id"),
    ]);
    let now = Timestamp::now();
    match a.format.as_deref() {
        Some(f) if format::is_json(f) => {
            let entries: Vec<Value> = items.iter().map(json_entry).collect();
            println!("{}", json::to_string(&entries, JsonStyle::indented("  "))?);
        }
        other => {
            let rows: Vec<Value> = items.iter().map(|l| row(l, a.no_trunc, now)).collect();
            let rpt = match other {
                Some(f) => Report::parse("pod ps", Origin::User, f)?,
                None => Report::builtin_row("pod ps", &default_row(&a))?,
            };
            print!("{}", rpt.render(&rows, &headers, !a.noheading)?);
        }
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_are_checked() {
        assert!(parse_filters(&["status=bogus".into()]).is_err());
        assert!(parse_filters(&["colour=red".into()]).is_err());
        assert!(parse_filters(&["ctr-number=x".into()]).is_err());
        let f =
            parse_filters(&["name=a".into(), "name=b".into(), "status=running".into()]).unwrap();
        assert_eq!(f.len(), 2);
        assert_eq!(f[0].1, ["a", "b"]);
    }
}
