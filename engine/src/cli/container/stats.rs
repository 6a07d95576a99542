//! `husk stats`: resource use of running containers from their cgroups
//! (two samples a moment apart for CPU %), podman's columns.

use std::time::{Duration, Instant};

use clap::Args;
use serde_json::{json, Value};

use crate::catalog::containers::{ContainerRecord, State};
use crate::cli::ctx::Ctx;
use crate::container::{live, lookup};
use crate::format::{self, units, Headers, Origin, Report};

/// `husk stats` flags.
#[derive(Debug, Args)]
pub struct StatsArgs {
    /// Every container (default: running ones).
    #[arg(short = 'a', long)]
    pub all: bool,
    /// Print one sample and exit.
    #[arg(long = "no-stream")]
    pub no_stream: bool,
    /// Do not truncate ids.
    #[arg(long = "no-trunc")]
    pub no_trunc: bool,
    /// Go template, `json`, or `table …`.
    #[arg(long, value_name = "FORMAT")]
    pub format: Option<String>,
    /// Seconds between samples when streaming.
    #[arg(short = 'i', long, default_value = "5", value_name = "SECONDS")]
    pub interval: u64,
    /// Use the most recently created container.
    #[arg(short = 'l', long)]
    pub latest: bool,
    /// The containers.
    pub containers: Vec<String>,
}

struct Sample {
    cpu_ns: u64,
    at: Instant,
}

fn cgroup_stats(paths: &crate::paths::Paths, rec: &ContainerRecord) -> Option<Value> {
    let root = husk_runtime::state::StateRoot::open(paths.runtime_root()).ok()?;
    let (st, _) = husk_runtime::container::load(&root, &rec.id).ok()?;
    if st.cgroup.is_empty() {
        return None;
    }
    Some(husk_runtime::cgroup::resources::stats::stats(&st.cgroup))
}

fn cpu_ns(v: &Value) -> u64 {
    v.pointer("/cpu/usage/total")
        .and_then(Value::as_u64)
        .unwrap_or(0)
}

fn row(rec: &ContainerRecord, s: &Value, cpu_pct: f64, no_trunc: bool) -> Value {
    let mem = v_u64(s, "/memory/usage/usage");
    let limit = v_u64(s, "/memory/usage/limit");
    let host_mem = host_memory();
    let limit = if limit == 0 { host_mem } else { limit };
    let pids = v_u64(s, "/pids/current");
    let id = if no_trunc {
        rec.id.clone()
    } else {
        rec.id[..12].to_owned()
    };
    json!({
        "ID": id,
        "Name": rec.name,
        "CPUPerc": format!("{cpu_pct:.2}%"),
        "MemUsage": format!("{} / {}", units::human_size(mem as f64), units::human_size(limit as f64)),
        "MemUsageBytes": format!("{} / {}", units::bytes_size(mem as f64), units::bytes_size(limit as f64)),
        "MemPerc": format!("{:.2}%", if limit > 0 { mem as f64 / limit as f64 * 100.0 } else { 0.0 }),
        "NetIO": "0B / 0B",
        "BlockIO": "-- / --",
        "PIDs": pids,
        "CPU": cpu_ns(s),
        "CPUTime": crate::format::duration::format_go_duration(cpu_ns(s) as i64),
        "AVGCPU": format!("{cpu_pct:.2}%"),
        "UpTime": "",
    })
}

fn v_u64(v: &Value, p: &str) -> u64 {
    v.pointer(p).and_then(Value::as_u64).unwrap_or(0)
}

fn host_memory() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find(|l| l.starts_with("MemTotal:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse::<u64>().ok())
        })
        .map(|kb| kb * 1024)
        .unwrap_or(0)
}

/// `husk stats`.
pub fn stats_cmd(ctx: &mut Ctx, a: StatsArgs) -> anyhow::Result<i32> {
    let paths = ctx.paths.clone();
    let cat = ctx.catalog()?;
    let mut recs: Vec<ContainerRecord> = if a.latest {
        vec![lookup::latest(cat)?]
    } else if a.containers.is_empty() {
        cat.containers()?
    } else {
        a.containers
            .iter()
            .map(|n| lookup::find(cat, n))
            .collect::<Result<_, _>>()?
    };
    recs.retain(|r| {
        a.all || !a.containers.is_empty() || live::live(&paths, r).state == State::Running
    });
    for r in &recs {
        if live::live(&paths, r).state != State::Running && !a.all {
            anyhow::bail!(
                "container {} is not running: container state improper",
                r.name
            );
        }
    }
    if paths.rootless && recs.iter().any(|r| cgroup_stats(&paths, r).is_none()) {
        anyhow::bail!(
            "stats is not supported in rootless mode without cgroups v2 (no cgroup is delegated to this user)"
        );
    }
    let headers = Headers::new([
        ("ID", "id"),
        ("CPUPerc", "cpu %"),
        ("MemUsage", "mem usage / limit"),
        ("MemPerc", "mem %"),
        ("NetIO", "net io"),
        ("BlockIO", "block io"),
        ("PIDs", "pids"),
        ("CPUTime", "cpu time"),
        ("AVGCPU", "avg cpu %"),
    ]);
    let report = match a.format.as_deref() {
        Some(f) if format::is_json(f) => None,
        Some(f) => Some(Report::parse("stats", Origin::User, f)?),
        None => Some(Report::builtin_row(
            "stats",
            "{{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.MemPerc}}\t{{.NetIO}}\t{{.BlockIO}}\t{{.PIDs}}\t{{.CPUTime}}\t{{.AVGCPU}}",
        )?),
    };
    let mut prev: Vec<Option<Sample>> = recs
        .iter()
        .map(|r| {
            cgroup_stats(&paths, r).map(|s| Sample {
                cpu_ns: cpu_ns(&s),
                at: Instant::now(),
            })
        })
        .collect();
    let wait = if a.no_stream {
        Duration::from_millis(100)
    } else {
        Duration::from_secs(a.interval.max(1))
    };
    loop {
        std::thread::sleep(wait);
        let mut rows = Vec::new();
        for (r, p) in recs.iter().zip(prev.iter_mut()) {
            let Some(s) = cgroup_stats(&paths, r) else {
                continue;
            };
            let now = Instant::now();
            let pct = match p {
                Some(old) => {
                    let dt = now.duration_since(old.at).as_nanos().max(1) as f64;
                    cpu_ns(&s).saturating_sub(old.cpu_ns) as f64 / dt * 100.0
                }
                None => 0.0,
            };
            *p = Some(Sample {
                cpu_ns: cpu_ns(&s),
                at: now,
            });
            rows.push(row(r, &s, pct, a.no_trunc));
        }
        match &report {
            None => {
                // podman's `stats --format json` keys.
                let docs: Vec<Value> = rows
                    .iter()
                    .map(|r| {
                        json!({
                            "id": r["ID"], "name": r["Name"], "cpu_time": r["CPUTime"],
                            "cpu_percent": r["CPUPerc"], "avg_cpu": r["AVGCPU"],
                            "mem_usage": r["MemUsage"], "mem_percent": r["MemPerc"],
                            "net_io": r["NetIO"], "block_io": r["BlockIO"], "pids": r["PIDs"].to_string(),
                        })
                    })
                    .collect();
                println!("{}", serde_json::to_string_pretty(&docs)?)
            }
            Some(rp) => print!("{}", rp.render(&rows, &headers, true)?),
        }
        if a.no_stream {
            return Ok(0);
        }
    }
}
