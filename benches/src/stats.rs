//! Latency statistics: min, percentiles, mean, spread.

/// Summary of one series of samples (milliseconds, kilobytes).
#[derive(Debug, Clone, Copy)]
pub struct Summary {
    /// Number of samples.
    pub n: usize,
    /// Fastest sample.
    pub min: f64,
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 99th percentile.
    pub p99: f64,
    /// Slowest sample.
    pub max: f64,
    /// Arithmetic mean.
    pub mean: f64,
    /// Sample standard deviation.
    pub stddev: f64,
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
    let n = s.len();
    let mean = s.iter().sum::<f64>() / n.max(1) as f64;
    let var = if n > 1 {
        s.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1) as f64
    } else {
        0.0
    };
    Summary {
        n,
        min: s.first().copied().unwrap_or(f64::NAN),
        p50: percentile(&s, 50.0),
        p90: percentile(&s, 90.0),
        p99: percentile(&s, 99.0),
        max: s.last().copied().unwrap_or(f64::NAN),
        mean,
        stddev: var.sqrt(),
        max_rss_kb: rss.iter().copied().max().unwrap_or(0),
    }
}

impl Summary {
    /// The summary as JSON fields (`*_ms`).
    pub fn to_json(self) -> serde_json::Value {
        serde_json::json!({
            "n": self.n, "min_ms": self.min, "p50_ms": self.p50, "p90_ms": self.p90,
            "p99_ms": self.p99, "max_ms": self.max, "mean_ms": self.mean, "stddev_ms": self.stddev,
        })
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
        assert_eq!(s.max, 100.0);
        assert_eq!(s.mean, 50.5);
        assert!((s.stddev - (100.0f64 * 101.0 / 12.0).sqrt()).abs() < 1e-9);
        assert_eq!(s.max_rss_kb, 30);
    }
}
