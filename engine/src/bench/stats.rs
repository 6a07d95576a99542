//! Latency statistics of one series of samples.

use serde::Serialize;

/// The summary `husk bench startup` reports per tool and operation
/// (milliseconds).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Summary {
    /// Number of samples.
    pub n: usize,
    /// Fastest sample.
    pub min_ms: f64,
    /// Median.
    pub p50_ms: f64,
    /// 90th percentile.
    pub p90_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
    /// Slowest sample.
    pub max_ms: f64,
    /// Arithmetic mean.
    pub mean_ms: f64,
    /// Sample standard deviation (n - 1), 0 for a single sample.
    pub stddev_ms: f64,
}

/// The `p`th percentile (0..=100) of sorted samples, by linear
/// interpolation between the closest ranks.
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    match sorted.len() {
        0 => f64::NAN,
        1 => sorted[0],
        n => {
            let rank = (p / 100.0).clamp(0.0, 1.0) * (n - 1) as f64;
            let lo = rank.floor() as usize;
            let hi = rank.ceil() as usize;
            sorted[lo] + (sorted[hi] - sorted[lo]) * (rank - lo as f64)
        }
    }
}

impl Summary {
    /// Summarises samples (any order); `None` when there are none.
    pub fn of(samples: &[f64]) -> Option<Summary> {
        if samples.is_empty() {
            return None;
        }
        let mut s = samples.to_vec();
        s.sort_by(f64::total_cmp);
        let n = s.len();
        let mean = s.iter().sum::<f64>() / n as f64;
        let var = if n > 1 {
            s.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / (n - 1) as f64
        } else {
            0.0
        };
        Some(Summary {
            n,
            min_ms: s[0],
            p50_ms: percentile(&s, 50.0),
            p90_ms: percentile(&s, 90.0),
            p99_ms: percentile(&s, 99.0),
            max_ms: s[n - 1],
            mean_ms: mean,
            stddev_ms: var.sqrt(),
        })
    }

    /// Each statistic divided by the baseline's.
    pub fn ratio_to(&self, base: &Summary) -> Ratios {
        let r = |a: f64, b: f64| if b > 0.0 { a / b } else { f64::NAN };
        Ratios {
            min: r(self.min_ms, base.min_ms),
            p50: r(self.p50_ms, base.p50_ms),
            p90: r(self.p90_ms, base.p90_ms),
            p99: r(self.p99_ms, base.p99_ms),
            mean: r(self.mean_ms, base.mean_ms),
            stddev: r(self.stddev_ms, base.stddev_ms),
        }
    }
}

/// A summary relative to the baseline's (1.0 = the same, 2.0 = twice as
/// slow).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Ratios {
    /// min / baseline min.
    pub min: f64,
    /// p50 / baseline p50.
    pub p50: f64,
    /// p90 / baseline p90.
    pub p90: f64,
    /// p99 / baseline p99.
    pub p99: f64,
    /// mean / baseline mean.
    pub mean: f64,
    /// stddev / baseline stddev.
    pub stddev: f64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_known_series() {
        let v: Vec<f64> = (1..=101).rev().map(f64::from).collect();
        let s = Summary::of(&v).unwrap();
        assert_eq!((s.n, s.min_ms, s.max_ms), (101, 1.0, 101.0));
        assert_eq!((s.p50_ms, s.p90_ms, s.p99_ms), (51.0, 91.0, 100.0));
        assert_eq!(s.mean_ms, 51.0);
        // Sample stddev of 1..=101: sqrt(101 * 102 / 12).
        assert!((s.stddev_ms - (101.0f64 * 102.0 / 12.0).sqrt()).abs() < 1e-9);
    }

    #[test]
    fn interpolates_and_handles_small_series() {
        assert_eq!(percentile(&[1.0, 2.0], 50.0), 1.5);
        assert!(Summary::of(&[]).is_none());
        let one = Summary::of(&[4.0]).unwrap();
        assert_eq!((one.p99_ms, one.stddev_ms), (4.0, 0.0));
    }

    #[test]
    fn ratios() {
        let a = Summary::of(&[2.0, 4.0]).unwrap();
        let b = Summary::of(&[1.0, 2.0]).unwrap();
        let r = a.ratio_to(&b);
        assert_eq!((r.min, r.p50, r.mean), (2.0, 2.0, 2.0));
        assert!(a.ratio_to(&Summary::of(&[0.0]).unwrap()).p50.is_nan());
    }
}
