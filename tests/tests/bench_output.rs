//! `husk bench startup` output shapes: the table's columns, the JSON
//! schema, the SVG chart (well-formed, one series per tool and operation),
//! --parallel and --phases. Never timings: only which rows, fields and
//! series exist and how many samples they hold.

mod bench_support;

use bench_support::{husk_with_path, json, rows, xml_elements, QUICK};
use serde_json::Value;

const OPS: [&str; 4] = ["create", "start", "delete", "run"];

/// husk alone: a PATH of only husk and husk-runtime, so no peer is found.
fn husk_alone(extra: &[&str]) -> husk_tests::bundle::Output {
    let dir = tempfile::tempdir().unwrap();
    let path = bench_support::husk_only_path(dir.path());
    let mut args = vec!["bench", "startup"];
    args.extend(QUICK);
    args.extend(extra);
    husk_with_path(path.as_os_str(), &args)
}

#[test]
fn table_has_the_columns_and_a_row_per_operation() {
    let o = husk_alone(&["--only", "runtimes"]);
    assert!(o.status.success(), "{o}");
    let lines: Vec<&str> = o.stdout.lines().collect();
    let header = lines
        .iter()
        .find(|l| l.starts_with("tool "))
        .unwrap_or_else(|| panic!("no header: {o}"));
    let cols: Vec<&str> = header
        .split("  ")
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .collect();
    for want in [
        "tool", "op", "min ms", "p50 ms", "p90 ms", "p99 ms", "mean ms", "stddev", "p50 x",
        "RSS KiB", "per s",
    ] {
        assert!(
            cols.iter().any(|c| c.ends_with(want)),
            "column {want:?} in {header:?}"
        );
    }
    for op in OPS {
        let row = lines
            .iter()
            .find(|l| l.split_whitespace().take(2).eq(["husk", op]))
            .unwrap_or_else(|| panic!("no husk {op} row: {o}"));
        let fields: Vec<&str> = row.split_whitespace().collect();
        assert_eq!(fields.len(), 12, "{row}");
        assert_eq!(fields[2], "1", "one sample: {row}");
        assert_eq!(fields[9], "1.00x", "husk is the baseline: {row}");
    }
    let tools: Vec<&str> = lines
        .iter()
        .filter(|l| OPS.iter().any(|op| l.split_whitespace().nth(1) == Some(op)))
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert!(
        tools.iter().all(|t| *t == "husk"),
        "only husk on this PATH: {o}"
    );
}

fn check_stats(s: &Value) {
    for k in [
        "n",
        "min_ms",
        "p50_ms",
        "p90_ms",
        "p99_ms",
        "max_ms",
        "mean_ms",
        "stddev_ms",
    ] {
        assert!(s[k].is_number(), "stats.{k} in {s}");
    }
}

#[test]
fn json_follows_the_schema() {
    let o = husk_alone(&["--json"]);
    let doc = json(&o);
    assert_eq!(doc["schema"], "husk-bench-startup/1");
    assert!(doc["husk_version"].is_string());
    for k in [
        "kernel",
        "cpus",
        "cgroup",
        "cgroup2_hidden",
        "rootless",
        "loadavg_start",
        "loadavg_end",
    ] {
        assert!(!doc["host"][k].is_null(), "host.{k}: {doc:#}");
    }
    let c = &doc["config"];
    assert_eq!(
        (
            c["rounds"].as_u64(),
            c["warmup"].as_u64(),
            c["parallel"].as_u64()
        ),
        (Some(1), Some(0), Some(1))
    );
    assert_eq!(c["baseline"], "husk");
    assert_eq!(c["image"], "built");
    assert!(doc["notes"].is_array());
    let husk = rows(&doc, "husk");
    let runtime: Vec<&&Value> = husk.iter().filter(|r| r["kind"] == "runtime").collect();
    assert_eq!(
        runtime
            .iter()
            .map(|r| r["op"].as_str().unwrap())
            .collect::<Vec<_>>(),
        OPS
    );
    for r in &runtime {
        assert_eq!(r["status"], "ok", "{r}");
        assert!(r["path"].as_str().unwrap().ends_with("husk-runtime"), "{r}");
        check_stats(&r["stats"]);
        assert_eq!(r["samples_ms"].as_array().map(Vec::len), Some(1));
        assert_eq!(r["baseline"], "husk");
        assert_eq!(r["ratio"]["p50"], 1.0);
        assert!(r["peak_rss_kib"].as_u64().is_some_and(|k| k > 0), "{r}");
        assert!(r["throughput_per_s"].is_number());
        assert_eq!(r["phases"], Value::Array(Vec::new()));
        assert!(r["reason"].is_null());
    }
    // husk's engine row exists either way: measured once `husk run` works,
    // otherwise "unavailable" with the reason.
    let engine: Vec<&&Value> = husk.iter().filter(|r| r["kind"] == "engine").collect();
    assert_eq!(engine.len(), 1, "{doc:#}");
    assert_eq!(engine[0]["op"], "run --rm");
    match engine[0]["status"].as_str() {
        Some("ok") => check_stats(&engine[0]["stats"]),
        Some("unavailable") => assert!(engine[0]["reason"]
            .as_str()
            .is_some_and(|r| r.contains("run"))),
        other => panic!("husk engine status {other:?}: {doc:#}"),
    }
}

#[test]
fn chart_is_well_formed_svg_with_a_series_per_tool_and_operation() {
    let dir = tempfile::tempdir().unwrap();
    let chart = dir.path().join("chart.svg");
    let o = husk_alone(&["--only", "runtimes", "--chart", chart.to_str().unwrap()]);
    assert!(o.status.success(), "{o}");
    let text = std::fs::read_to_string(&chart).unwrap();
    let els = xml_elements(&text);
    assert_eq!(els[0].name, "svg");
    assert_eq!(els[0].attrs["xmlns"], "http://www.w3.org/2000/svg");
    let panels: Vec<&str> = els
        .iter()
        .filter(|e| e.attrs.get("class").map(String::as_str) == Some("panel"))
        .map(|e| e.attrs["data-op"].as_str())
        .collect();
    assert_eq!(panels, OPS);
    for op in OPS {
        let series: Vec<&str> = els
            .iter()
            .filter(|e| e.attrs.get("class").map(String::as_str) == Some("series"))
            .filter(|e| {
                e.ancestors
                    .iter()
                    .any(|(_, a)| a.get("data-op").map(String::as_str) == Some(op))
            })
            .map(|e| e.attrs["data-tool"].as_str())
            .collect();
        assert_eq!(series, ["husk"], "series of {op}");
    }
    let legend: Vec<&str> = els
        .iter()
        .filter(|e| {
            e.name == "rect"
                && e.ancestors
                    .iter()
                    .any(|(_, a)| a.get("class").map(String::as_str) == Some("legend"))
        })
        .map(|_| "entry")
        .collect();
    assert_eq!(legend.len(), 1, "one legend entry");
    // One dot per sample.
    let dots = els.iter().filter(|e| e.name == "circle").count();
    assert_eq!(dots, OPS.len());
}

#[test]
fn parallel_runs_p_containers_per_batch() {
    let doc = json(&husk_alone(&[
        "--only",
        "runtimes",
        "--parallel",
        "3",
        "--json",
    ]));
    assert_eq!(doc["config"]["parallel"], 3);
    for r in rows(&doc, "husk") {
        assert_eq!(r["status"], "ok", "{r}");
        assert_eq!(r["samples_ms"].as_array().map(Vec::len), Some(3), "{r}");
        assert_eq!(r["stats"]["n"], 3);
    }
}

#[test]
fn phases_break_husk_down_from_its_trace() {
    let doc = json(&husk_alone(&["--only", "runtimes", "--phases", "--json"]));
    let husk = rows(&doc, "husk");
    let phases = |op: &str| -> Vec<String> {
        husk.iter().find(|r| r["op"] == op).unwrap()["phases"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["phase"].as_str().unwrap().to_owned())
            .collect()
    };
    let create = phases("create");
    for want in [
        "exec",
        "runtime.create",
        "runtime.clone",
        "init.mounts",
        "(unaccounted)",
    ] {
        assert!(create.iter().any(|p| p == want), "{want} in {create:?}");
    }
    let start = phases("start");
    for want in ["exec", "runtime.start", "init.execve"] {
        assert!(start.iter().any(|p| p == want), "{want} in {start:?}");
    }
    let row = husk.iter().find(|r| r["op"] == "create").unwrap();
    for k in [
        "phase", "depth", "n", "p50_ms", "p90_ms", "max_ms", "mean_ms",
    ] {
        assert!(!row["phases"][0][k].is_null(), "phases[0].{k}");
    }
}

#[test]
fn the_xml_checker_rejects_broken_documents() {
    let good = r#"<?xml version="1.0"?><svg a="1"><g class="x"><t>a &amp; b</t></g><r/></svg>"#;
    let els = xml_elements(good);
    assert_eq!(els.len(), 4);
    assert_eq!(els[2].ancestors.len(), 2);
    for bad in [
        "<svg><g></svg>",
        "<svg a=1></svg>",
        "<svg>&nbsp;</svg>",
        "<svg></svg><svg></svg>",
        "<svg a=\"1\" a=\"2\"/>",
        "<svg>a & b</svg>",
    ] {
        assert!(
            std::panic::catch_unwind(|| xml_elements(bad)).is_err(),
            "accepted {bad}"
        );
    }
}
