//! What every benchmark produces: a JSON document and a markdown section,
//! printed and written where `--json`/`--markdown` say.

use anyhow::{Context, Result};
use serde_json::{json, Value};

use crate::args::Args;

/// One benchmark's result.
#[derive(Debug, Clone)]
pub struct Report {
    /// The JSON document.
    pub json: Value,
    /// A markdown section (a heading, the conditions, a table).
    pub markdown: String,
}

impl Report {
    /// Prints the markdown and writes the files the flags ask for.
    pub fn emit(&self, args: &Args) -> Result<()> {
        println!("{}", self.markdown);
        if let Some(p) = &args.json {
            std::fs::write(p, serde_json::to_vec_pretty(&self.json)?)
                .with_context(|| format!("writing {}", p.display()))?;
        }
        if let Some(p) = &args.markdown {
            std::fs::write(p, &self.markdown)
                .with_context(|| format!("writing {}", p.display()))?;
        }
        Ok(())
    }
}

/// The 1-minute load average now.
pub fn load1() -> f64 {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(f64::NAN)
}

/// The host, for the JSON documents.
pub fn host() -> Value {
    json!({
        "kernel": std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default().trim(),
        "cpus": std::thread::available_parallelism().map_or(1, |n| n.get()),
        "load1": load1(),
    })
}

/// One line of conditions under a heading: CPUs, kernel, load before and
/// after.
pub fn conditions(load_before: f64) -> String {
    format!(
        "{} CPUs, Linux {}, load average {:.2} before, {:.2} after.",
        std::thread::available_parallelism().map_or(1, |n| n.get()),
        std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .unwrap_or_default()
            .trim(),
        load_before,
        load1()
    )
}

/// A markdown table.
pub fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut s = format!(
        "| {} |\n|{}\n",
        header.join(" | "),
        "---|".repeat(header.len())
    );
    for r in rows {
        s.push_str(&format!("| {} |\n", r.join(" | ")));
    }
    s
}

/// The order of round `round` over `n` tools: row `round` of a balanced
/// Latin square (Williams design), so that over `n` rounds (`2n` for odd
/// `n`) every tool runs right after every other equally often. (The tool
/// after an idle spell or a long run pays the cgroup grace period; a fixed
/// or merely rotated order would make it always the same one.)
pub fn balanced_order(n: usize, round: usize) -> Vec<usize> {
    if n == 0 {
        return Vec::new();
    }
    let rows = if n % 2 == 0 { n } else { 2 * n };
    let row = round % rows;
    let mut order: Vec<usize> = (0..n)
        .map(|j| match j {
            0 => 0,
            j if j % 2 == 1 => j.div_ceil(2),
            j => n - j / 2,
        })
        .map(|x| (x + row % n) % n)
        .collect();
    if row >= n {
        order.reverse();
    }
    order
}

/// Milliseconds with two decimals.
pub fn ms(v: f64) -> String {
    format!("{v:.2}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn balanced() {
        // n = 3: six rows, each ordered pair twice.
        let mut pairs = std::collections::HashMap::new();
        for r in 0..6 {
            for w in balanced_order(3, r).windows(2) {
                *pairs.entry((w[0], w[1])).or_insert(0) += 1;
            }
        }
        assert_eq!(pairs.len(), 6);
        assert!(pairs.values().all(|&k| k == 2));
    }

    #[test]
    fn markdown_table() {
        let t = table(&["a", "b"], &[vec!["1".into(), "2".into()]]);
        assert_eq!(t, "| a | b |\n|---|---|\n| 1 | 2 |\n");
    }
}
