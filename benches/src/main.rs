//! husk's benchmark suite entry point. The start-up latency suite against crun,
//! runc and podman lands with the benchmark issue; see docs/performance.md.

fn main() -> anyhow::Result<()> {
    let out = serde_json::json!({ "suite": "husk-benches", "benchmarks": [] });
    println!("{out}");
    Ok(())
}
