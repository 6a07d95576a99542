//! Durations: Go's `time.ParseDuration` and `Duration.String`, go-units'
//! `HumanDuration` ("About a minute"), and the STATUS/CREATED strings of
//! `podman ps` built from them.

use thiserror::Error;

use super::times::Timestamp;

/// Nanoseconds per unit, as Go's `time` package names them.
const UNITS: [(&str, u64); 8] = [
    ("ns", 1),
    ("us", 1_000),
    ("\u{b5}s", 1_000),  // µs, MICRO SIGN
    ("\u{3bc}s", 1_000), // μs, GREEK SMALL LETTER MU
    ("ms", 1_000_000),
    ("s", 1_000_000_000),
    ("m", 60_000_000_000),
    ("h", 3_600_000_000_000),
];

/// A duration Go's `time.ParseDuration` would refuse, with Go's message.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DurationError {
    /// Not of the form `[-+]?([0-9]*(\.[0-9]*)?[a-z]+)+`, or out of range.
    #[error("time: invalid duration \"{0}\"")]
    Invalid(String),
    /// A number without a unit (`"10"`; only `"0"` may stand alone).
    #[error("time: missing unit in duration \"{0}\"")]
    MissingUnit(String),
    /// A unit other than ns, us, µs, ms, s, m, h.
    #[error("time: unknown unit \"{unit}\" in duration \"{input}\"")]
    UnknownUnit {
        /// The unit as written.
        unit: String,
        /// The whole input.
        input: String,
    },
    /// A negative value where only a non-negative one makes sense.
    #[error("invalid duration \"{0}\": must not be negative")]
    Negative(String),
}

/// Go's `time.ParseDuration`: `300ms`, `-1.5h`, `2h45m`, `1µs`; the result
/// is in nanoseconds (Go's `Duration` is an `int64` of nanoseconds).
///
/// # Errors
/// [`DurationError`] with Go's message.
pub fn parse_go_duration(input: &str) -> Result<i64, DurationError> {
    let invalid = || DurationError::Invalid(input.to_string());
    let mut s = input;
    let mut neg = false;
    if let Some(rest) = s.strip_prefix(['-', '+']) {
        neg = s.starts_with('-');
        s = rest;
    }
    if s == "0" {
        return Ok(0);
    }
    if s.is_empty() {
        return Err(invalid());
    }
    let mut total: u64 = 0;
    while !s.is_empty() {
        let b = s.as_bytes();
        if !(b[0] == b'.' || b[0].is_ascii_digit()) {
            return Err(invalid());
        }
        let int_len = b.iter().take_while(|c| c.is_ascii_digit()).count();
        let mut v: u64 = 0;
        for &c in &b[..int_len] {
            v = v
                .checked_mul(10)
                .and_then(|v| v.checked_add(u64::from(c - b'0')))
                .filter(|v| *v <= 1 << 63)
                .ok_or_else(invalid)?;
        }
        s = &s[int_len..];
        let (mut frac, mut scale, mut frac_len) = (0u64, 1f64, 0usize);
        if let Some(rest) = s.strip_prefix('.') {
            s = rest;
            frac_len = s.bytes().take_while(u8::is_ascii_digit).count();
            let mut overflow = false;
            for &c in &s.as_bytes()[..frac_len] {
                // Go stops accumulating (but keeps consuming) on overflow.
                if overflow || frac > (i64::MAX as u64) / 10 {
                    overflow = true;
                    continue;
                }
                let y = frac * 10 + u64::from(c - b'0');
                if y > 1 << 63 {
                    overflow = true;
                    continue;
                }
                frac = y;
                scale *= 10.0;
            }
            s = &s[frac_len..];
        }
        if int_len == 0 && frac_len == 0 {
            return Err(invalid());
        }
        let unit_len = s
            .bytes()
            .take_while(|c| !(*c == b'.' || c.is_ascii_digit()))
            .count();
        if unit_len == 0 {
            return Err(DurationError::MissingUnit(input.to_string()));
        }
        let unit = &s[..unit_len];
        s = &s[unit_len..];
        let mult = UNITS
            .iter()
            .find(|(name, _)| *name == unit)
            .map(|(_, n)| *n)
            .ok_or_else(|| DurationError::UnknownUnit {
                unit: unit.to_string(),
                input: input.to_string(),
            })?;
        if v > (1u64 << 63) / mult {
            return Err(invalid());
        }
        v *= mult;
        if frac > 0 {
            v += (frac as f64 * (mult as f64 / scale)) as u64;
            if v > 1 << 63 {
                return Err(invalid());
            }
        }
        total = total
            .checked_add(v)
            .filter(|t| *t <= 1 << 63)
            .ok_or_else(invalid)?;
    }
    if neg {
        return Ok((total as i64).wrapping_neg());
    }
    i64::try_from(total).map_err(|_| invalid())
}

/// A flag that podman takes as seconds or as a Go duration
/// (`--stop-timeout 10`, `--timeout 1m30s`): a bare non-negative integer is
/// seconds, anything else goes through [`parse_go_duration`].
///
/// # Errors
/// [`DurationError`]; negative values are refused.
pub fn parse_seconds_or_duration(input: &str) -> Result<std::time::Duration, DurationError> {
    if !input.is_empty() && input.bytes().all(|b| b.is_ascii_digit()) {
        let secs = input
            .parse::<u64>()
            .map_err(|_| DurationError::Invalid(input.to_string()))?;
        return Ok(std::time::Duration::from_secs(secs));
    }
    let nanos = parse_go_duration(input)?;
    u64::try_from(nanos)
        .map(std::time::Duration::from_nanos)
        .map_err(|_| DurationError::Negative(input.to_string()))
}

/// Go's `Duration.String`: `1h2m3.5s`, `1.5ms`, `0s`.
pub fn format_go_duration(nanos: i64) -> String {
    let neg = nanos < 0;
    let u = nanos.unsigned_abs();
    let mut out = String::new();
    if u < 1_000_000_000 {
        let (div, prec, unit) = match u {
            0 => return "0s".to_string(),
            1..=999 => (1, 0, "ns"),
            1_000..=999_999 => (1_000, 3, "\u{b5}s"),
            _ => (1_000_000, 6, "ms"),
        };
        out.push_str(&(u / div).to_string());
        out.push_str(&frac_part(u % div, prec));
        out.push_str(unit);
    } else {
        let secs = u / 1_000_000_000;
        let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
        if h > 0 {
            out.push_str(&format!("{h}h{m}m"));
        } else if m > 0 {
            out.push_str(&format!("{m}m"));
        }
        out.push_str(&s.to_string());
        out.push_str(&frac_part(u % 1_000_000_000, 9));
        out.push('s');
    }
    if neg {
        out.insert(0, '-');
    }
    out
}

/// The fraction `frac / 10^prec` as `.5`, without trailing zeros, or
/// nothing when it is zero (Go's `fmtFrac`).
fn frac_part(frac: u64, prec: usize) -> String {
    if frac == 0 {
        return String::new();
    }
    let digits = format!("{frac:0prec$}");
    format!(".{}", digits.trim_end_matches('0'))
}

/// Go's `Duration.Seconds`, `Minutes`, `Hours`: whole units plus the
/// remainder as a fraction, computed the way Go rounds them.
fn go_units(nanos: i64, unit: i64) -> f64 {
    (nanos / unit) as f64 + (nanos % unit) as f64 / unit as f64
}

/// go-units `HumanDuration` of a Go duration in nanoseconds: `Less than a
/// second`, `1 second`, `About a minute`, `2 hours`, `3 weeks`, `2 years`.
pub fn human_duration(nanos: i64) -> String {
    let seconds = go_units(nanos, 1_000_000_000) as i64;
    if seconds < 1 {
        return "Less than a second".to_string();
    }
    if seconds == 1 {
        return "1 second".to_string();
    }
    if seconds < 60 {
        return format!("{seconds} seconds");
    }
    let minutes = go_units(nanos, 60_000_000_000) as i64;
    if minutes == 1 {
        return "About a minute".to_string();
    }
    if minutes < 60 {
        return format!("{minutes} minutes");
    }
    let hours_f = go_units(nanos, 3_600_000_000_000);
    let hours = (hours_f + 0.5) as i64;
    if hours == 1 {
        return "About an hour".to_string();
    }
    if hours < 48 {
        return format!("{hours} hours");
    }
    if hours < 24 * 7 * 2 {
        return format!("{} days", hours / 24);
    }
    if hours < 24 * 30 * 2 {
        return format!("{} weeks", hours / 24 / 7);
    }
    if hours < 24 * 365 * 2 {
        return format!("{} months", hours / 24 / 30);
    }
    format!("{} years", hours_f as i64 / 24 / 365)
}

/// podman's CREATED column: `HumanDuration(now - then) + " ago"`.
pub fn time_ago(then: Timestamp, now: Timestamp) -> String {
    format!("{} ago", human_duration(now.nanos_since(then)))
}

/// The STATUS column of `podman ps` (podman's `psReporter.Status`).
///
/// `state` is podman's state word (`running`, `exited`, `created`, …);
/// `started_at`/`exited_at` are Unix seconds, as podman keeps them for ps;
/// `health` is the health status or empty.
///
/// ```
/// use husk_engine::format::duration::container_status;
/// use husk_engine::format::times::Timestamp;
/// let now = Timestamp::from_unix(1_000, 0);
/// assert_eq!(container_status("running", 995, 0, 0, "", now), "Up 5 seconds");
/// assert_eq!(container_status("exited", 0, 997, 1, "", now), "Exited (1) 3 seconds ago");
/// assert_eq!(container_status("running", 995, 0, 0, "healthy", now), "Up 5 seconds (healthy)");
/// assert_eq!(container_status("created", 0, 0, 0, "", now), "Created");
/// ```
pub fn container_status(
    state: &str,
    started_at: i64,
    exited_at: i64,
    exit_code: i32,
    health: &str,
    now: Timestamp,
) -> String {
    let mut status = match state {
        "running" => format!(
            "Up {}",
            human_duration(now.nanos_since(Timestamp::from_unix(started_at, 0)))
        ),
        "exited" | "stopped" => format!(
            "Exited ({exit_code}) {} ago",
            human_duration(now.nanos_since(Timestamp::from_unix(exited_at, 0)))
        ),
        other => super::template::title(other),
    };
    if !health.is_empty() {
        status.push_str(" (");
        status.push_str(health);
        status.push(')');
    }
    status
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: i64 = 1_000_000_000;
    const MIN: i64 = 60 * S;
    const H: i64 = 60 * MIN;
    const DAY: i64 = 24 * H;
    const WEEK: i64 = 7 * DAY;
    const MONTH: i64 = 30 * DAY;
    const YEAR: i64 = 365 * DAY;

    #[test]
    fn human_duration_matches_go_units() {
        let cases: &[(i64, &str)] = &[
            (-5 * S, "Less than a second"),
            (0, "Less than a second"),
            (450_000_000, "Less than a second"),
            (999_999_999, "Less than a second"),
            (S, "1 second"),
            (45 * S, "45 seconds"),
            (59 * S, "59 seconds"),
            (60 * S, "About a minute"),
            (119 * S, "About a minute"),
            (120 * S, "2 minutes"),
            (35 * MIN + 40 * S, "35 minutes"),
            (59 * MIN + 59 * S, "59 minutes"),
            (H, "About an hour"),
            (H + 29 * MIN, "About an hour"),
            (H + 31 * MIN, "2 hours"),
            (3 * H + 29 * MIN, "3 hours"),
            (3 * H + 31 * MIN, "4 hours"),
            (24 * H, "24 hours"),
            (DAY + 12 * H, "36 hours"),
            (47 * H + 29 * MIN, "47 hours"),
            (47 * H + 31 * MIN, "2 days"),
            (2 * DAY, "2 days"),
            (13 * DAY + 5 * H, "13 days"),
            (2 * WEEK, "2 weeks"),
            (4 * WEEK + 3 * DAY, "4 weeks"),
            (MONTH, "4 weeks"),
            (MONTH + 2 * WEEK, "6 weeks"),
            (2 * MONTH, "2 months"),
            (3 * MONTH + WEEK, "3 months"),
            (24 * MONTH, "24 months"),
            (24 * MONTH + 2 * WEEK, "2 years"),
            (3 * YEAR + 2 * MONTH, "3 years"),
        ];
        for (d, want) in cases {
            assert_eq!(human_duration(*d), *want, "HumanDuration({d}ns)");
        }
    }

    #[test]
    fn parse_go_duration_accepts_go_syntax() {
        let cases: &[(&str, i64)] = &[
            ("0", 0),
            ("-0", 0),
            ("5s", 5 * S),
            ("30s", 30 * S),
            ("1478s", 1478 * S),
            ("-5s", -5 * S),
            ("+5s", 5 * S),
            ("5.0s", 5 * S),
            ("5.6s", 5 * S + 600_000_000),
            ("5.s", 5 * S),
            (".5s", S / 2),
            ("1.004s", S + 4_000_000),
            ("10ns", 10),
            ("11us", 11_000),
            ("12\u{b5}s", 12_000),
            ("12\u{3bc}s", 12_000),
            ("13ms", 13_000_000),
            ("15m", 15 * MIN),
            ("16h", 16 * H),
            ("3h30m", 3 * H + 30 * MIN),
            ("1h30m", 90 * MIN),
            ("10.5s4m", 4 * MIN + 10 * S + S / 2),
            ("-2m3.4s", -(2 * MIN + 3 * S + 400_000_000)),
            (
                "1h2m3s4ms5us6ns",
                H + 2 * MIN + 3 * S + 4_000_000 + 5_000 + 6,
            ),
            ("39h9m14.425s", 39 * H + 9 * MIN + 14 * S + 425_000_000),
            ("52763797000ns", 52_763_797_000),
            ("0.3333333333333333333h", 20 * MIN),
            ("9007199254740993ns", 9_007_199_254_740_993),
            ("9223372036854775807ns", i64::MAX),
            ("-9223372036854775808ns", i64::MIN),
            ("0.100000000000000000000h", 6 * MIN),
        ];
        for (s, want) in cases {
            assert_eq!(parse_go_duration(s), Ok(*want), "ParseDuration({s:?})");
        }
    }

    #[test]
    fn parse_go_duration_errors_like_go() {
        let inv = |s: &str| DurationError::Invalid(s.to_string());
        let cases: Vec<(&str, DurationError)> = vec![
            ("", inv("")),
            ("3", DurationError::MissingUnit("3".into())),
            ("-", inv("-")),
            ("s", inv("s")),
            (".", inv(".")),
            ("-.", inv("-.")),
            (".s", inv(".s")),
            ("+.s", inv("+.s")),
            (
                "1d",
                DurationError::UnknownUnit {
                    unit: "d".into(),
                    input: "1d".into(),
                },
            ),
            ("1.5.3s", DurationError::MissingUnit("1.5.3s".into())),
            ("9223372036854775808ns", inv("9223372036854775808ns")),
            ("9223372036854775.808us", inv("9223372036854775.808us")),
            ("3000000h", inv("3000000h")),
        ];
        for (s, want) in cases {
            assert_eq!(parse_go_duration(s), Err(want), "ParseDuration({s:?})");
        }
        assert_eq!(
            parse_go_duration("1d").unwrap_err().to_string(),
            "time: unknown unit \"d\" in duration \"1d\""
        );
        assert_eq!(
            parse_go_duration("10").unwrap_err().to_string(),
            "time: missing unit in duration \"10\""
        );
    }

    #[test]
    fn seconds_or_duration() {
        use std::time::Duration;
        assert_eq!(parse_seconds_or_duration("10"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_seconds_or_duration("0"), Ok(Duration::ZERO));
        assert_eq!(
            parse_seconds_or_duration("1m30s"),
            Ok(Duration::from_secs(90))
        );
        assert_eq!(
            parse_seconds_or_duration("250ms"),
            Ok(Duration::from_millis(250))
        );
        assert_eq!(
            parse_seconds_or_duration("-5s"),
            Err(DurationError::Negative("-5s".into()))
        );
        assert!(parse_seconds_or_duration("ten").is_err());
    }

    #[test]
    fn format_go_duration_matches_go() {
        let cases: &[(i64, &str)] = &[
            (0, "0s"),
            (1, "1ns"),
            (1_100, "1.1\u{b5}s"),
            (2_200_000, "2.2ms"),
            (3_300_000_000, "3.3s"),
            (4 * MIN + 5 * S, "4m5s"),
            (4 * MIN + 5_001_000_000, "4m5.001s"),
            (5 * H + 6 * MIN + 7_001_000_000, "5h6m7.001s"),
            (8 * MIN + 1, "8m0.000000001s"),
            (H, "1h0m0s"),
            (30 * S, "30s"),
            (-S / 2, "-500ms"),
            (i64::MAX, "2562047h47m16.854775807s"),
            (i64::MIN, "-2562047h47m16.854775808s"),
        ];
        for (d, want) in cases {
            assert_eq!(format_go_duration(*d), *want, "Duration({d}).String()");
        }
    }

    #[test]
    fn ps_status_and_created() {
        let now = Timestamp::from_unix(10_000, 500_000_000);
        assert_eq!(
            container_status("running", 10_000, 0, 0, "", now),
            "Up Less than a second"
        );
        assert_eq!(
            container_status("running", 10_000 - 7200, 0, 0, "", now),
            "Up 2 hours"
        );
        assert_eq!(
            container_status("stopped", 0, 10_000 - 60, 137, "", now),
            "Exited (137) About a minute ago"
        );
        assert_eq!(container_status("paused", 9_000, 0, 0, "", now), "Paused");
        assert_eq!(
            container_status("created", 0, 0, 0, "starting", now),
            "Created (starting)"
        );
        assert_eq!(
            time_ago(Timestamp::from_unix(10_000 - 120, 0), now),
            "2 minutes ago"
        );
        assert_eq!(time_ago(now, now), "Less than a second ago");
    }
}
