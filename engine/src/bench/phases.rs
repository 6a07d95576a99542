//! `--phases`: husk's per-phase trace of every timed command, summarised
//! per phase name over the samples, so the median and tail of each phase
//! show where start-up time goes (and which phase makes the tail).

use serde::Serialize;

use super::stats::Summary;
use crate::trace::Report;

/// The name under which the time no phase covers is reported.
pub const UNACCOUNTED: &str = "(unaccounted)";

/// One phase over all samples of an operation.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PhaseStat {
    /// Phase name (or [`UNACCOUNTED`]).
    pub phase: String,
    /// Its nesting depth in the first trace it appeared in.
    pub depth: usize,
    /// Samples in which it appeared.
    pub n: usize,
    /// Median duration (ms).
    pub p50_ms: f64,
    /// 90th percentile (ms).
    pub p90_ms: f64,
    /// Longest (ms).
    pub max_ms: f64,
    /// Mean (ms).
    pub mean_ms: f64,
}

/// Summarises traces: each phase name's total duration per trace, in the
/// order phases first appear, then the time between top-level phases.
pub fn summarise(traces: &[Report]) -> Vec<PhaseStat> {
    let mut names: Vec<(String, usize)> = Vec::new();
    for r in traces {
        for p in r.phases() {
            if !names.iter().any(|(n, _)| *n == p.name) {
                names.push((p.name.clone(), p.depth));
            }
        }
    }
    let stat = |phase: String, depth: usize, ms: Vec<f64>| {
        Summary::of(&ms).map(|s| PhaseStat {
            phase,
            depth,
            n: s.n,
            p50_ms: s.p50_ms,
            p90_ms: s.p90_ms,
            max_ms: s.max_ms,
            mean_ms: s.mean_ms,
        })
    };
    let mut out: Vec<PhaseStat> = names
        .into_iter()
        .filter_map(|(name, depth)| {
            let ms = traces
                .iter()
                .filter(|r| r.phases().iter().any(|p| p.name == name))
                .map(|r| r.duration_of(&name) as f64 / 1e6)
                .collect();
            stat(name, depth, ms)
        })
        .collect();
    let gaps = traces
        .iter()
        .filter(|r| !r.is_empty())
        .map(|r| r.total_ns().saturating_sub(r.covered_ns()) as f64 / 1e6)
        .collect();
    out.extend(stat(UNACCOUNTED.to_owned(), 0, gaps));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_phase_over_samples() {
        let a = Report::parse("1\tr.create\t0\t10000000\n1\tr.idmaps\t1000000\t9000000\n")
            .with_t0(0)
            .with_end(11_000_000);
        let b = Report::parse(
            "1\tr.create\t0\t2000000\n1\tr.idmaps\t500000\t700000\n1\tr.extra\t2000000\t3000000\n",
        )
        .with_end(3_000_000);
        let s = summarise(&[a, b]);
        let names: Vec<&str> = s.iter().map(|p| &p.phase[..]).collect();
        assert_eq!(names, ["r.create", "r.idmaps", "r.extra", UNACCOUNTED]);
        assert_eq!((s[1].depth, s[1].n, s[1].max_ms), (1, 2, 8.0));
        assert!((s[1].p50_ms - 4.1).abs() < 1e-9);
        assert_eq!((s[2].n, s[2].mean_ms), (1, 1.0));
        // a: 10 ms covered of 11; b: all covered.
        assert_eq!((s[3].max_ms, s[3].p50_ms), (1.0, 0.5));
    }
}
