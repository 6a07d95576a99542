//! Latency statistics: min, percentiles, mean.

/// Summary of one runtime's samples (milliseconds, kilobytes).
#[derive(Debug, Clone)]
pub struct Summary {
    /// Fastest sample.
    pub min: f64,
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 99th percentile.
    pub p99: f64,
    /// Arithmetic mean.
    pub mean: f64,
    /// Largest peak RSS seen, in KiB.
    pub max_rss_kb: i64,
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = (p / 100.0 * (sorted.len() - 1) as f64).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

/// Summarises latencies (ms) and peak RSS values (KiB).
pub fn summarize(samples: &[f64], rss: &[i64]) -> Summary {
    let mut s = samples.to_vec();
    s.sort_by(|a, b| a.total_cmp(b));
    Summary {
        min: s.first().copied().unwrap_or(f64::NAN),
        p50: percentile(&s, 50.0),
        p90: percentile(&s, 90.0),
        p99: percentile(&s, 99.0),
        mean: s.iter().sum::<f64>() / s.len().max(1) as f64,
        max_rss_kb: rss.iter().copied().max().unwrap_or(0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_of_a_known_series() {
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        let s = summarize(&v, &[10, 30, 20]);
        assert_eq!(s.min, 1.0);
        assert_eq!(s.p50, 51.0);
        assert_eq!(s.p90, 90.0);
        assert_eq!(s.p99, 99.0);
        assert_eq!(s.mean, 50.5);
        assert_eq!(s.max_rss_kb, 30);
    }
}
