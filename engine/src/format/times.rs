//! Points in time as podman reads and prints them: RFC 3339 with
//! nanoseconds and offsets (inspect fields, `Created`), Go's `Time.String`
//! (`CreatedAt` in ps), and the `--since`/`--until` values of logs and
//! events.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use thiserror::Error;

use super::calendar::{civil_from_days, days_from_civil, days_in_month, local_zone};
use super::duration::parse_go_duration;

/// A time value podman would not accept.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum TimeError {
    /// Not RFC 3339 (`2006-01-02T15:04:05.999999999Z07:00`).
    #[error("parsing time \"{0}\": not an RFC 3339 time")]
    NotRfc3339(String),
    /// Not a time, a Unix timestamp or a duration (podman's wording).
    #[error("unable to interpret time value")]
    Uninterpretable(String),
}

/// Up to seven bytes of a zone abbreviation (`UTC`, `CEST`, `+0530`).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub(super) struct ZoneName {
    bytes: [u8; 7],
    len: u8,
}

impl ZoneName {
    pub(super) fn new(s: &str) -> Option<ZoneName> {
        let b = s.as_bytes();
        if b.is_empty() || b.len() > 7 || !s.is_ascii() {
            return None;
        }
        let mut bytes = [0u8; 7];
        bytes[..b.len()].copy_from_slice(b);
        Some(ZoneName {
            bytes,
            len: b.len() as u8,
        })
    }

    fn as_str(&self) -> &str {
        std::str::from_utf8(&self.bytes[..usize::from(self.len)]).unwrap_or("")
    }
}

/// An instant with nanoseconds and the UTC offset it is shown in.
///
/// Equality and order compare the instant only, like Go's `Time.Equal`.
/// Serialises as RFC 3339 with nanoseconds, as Go's `time.Time` does in JSON.
#[derive(Clone, Copy, Debug)]
pub struct Timestamp {
    secs: i64,
    nanos: u32,
    offset: i32,
    zone: Option<ZoneName>,
}

const UTC: Option<ZoneName> = Some(ZoneName {
    bytes: *b"UTC\0\0\0\0",
    len: 3,
});

impl PartialEq for Timestamp {
    fn eq(&self, other: &Self) -> bool {
        (self.secs, self.nanos) == (other.secs, other.nanos)
    }
}

impl Eq for Timestamp {}

impl PartialOrd for Timestamp {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Timestamp {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.secs, self.nanos).cmp(&(other.secs, other.nanos))
    }
}

impl Timestamp {
    /// `secs` and `nanos` after the Unix epoch, in UTC; nanoseconds past a
    /// second carry into the seconds.
    pub fn from_unix(secs: i64, nanos: u32) -> Timestamp {
        Timestamp {
            secs: secs.saturating_add(i64::from(nanos / 1_000_000_000)),
            nanos: nanos % 1_000_000_000,
            offset: 0,
            zone: UTC,
        }
    }

    /// Nanoseconds since the Unix epoch (podman's `ExitedAt`-style fields), in UTC.
    pub fn from_unix_nanos(nanos: i64) -> Timestamp {
        Timestamp::from_unix(
            nanos.div_euclid(1_000_000_000),
            nanos.rem_euclid(1_000_000_000) as u32,
        )
    }

    /// The current time, in UTC.
    pub fn now() -> Timestamp {
        let d = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        Timestamp::from_unix(d.as_secs() as i64, d.subsec_nanos())
    }

    /// Whole seconds since the Unix epoch (floor).
    pub fn unix_seconds(&self) -> i64 {
        self.secs
    }

    /// Nanoseconds within the second, 0..1e9.
    pub fn subsec_nanos(&self) -> u32 {
        self.nanos
    }

    /// Nanoseconds since the Unix epoch.
    pub fn unix_nanos(&self) -> i128 {
        i128::from(self.secs) * 1_000_000_000 + i128::from(self.nanos)
    }

    /// `self - earlier` in nanoseconds, saturated to Go's `Duration` range.
    pub fn nanos_since(&self, earlier: Timestamp) -> i64 {
        let d = self.unix_nanos() - earlier.unix_nanos();
        d.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64
    }

    /// This instant moved by `nanos` (negative goes back).
    pub fn add_nanos(&self, nanos: i64) -> Timestamp {
        let total = self.unix_nanos() + i128::from(nanos);
        let secs = total.div_euclid(1_000_000_000);
        Timestamp {
            secs: secs.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64,
            nanos: total.rem_euclid(1_000_000_000) as u32,
            ..*self
        }
    }

    /// Seconds east of UTC this time is shown in.
    pub fn offset_seconds(&self) -> i32 {
        self.offset
    }

    /// The same instant shown in UTC.
    pub fn to_utc(&self) -> Timestamp {
        Timestamp::from_unix(self.secs, self.nanos)
    }

    /// The same instant at a fixed offset (no zone name, as Go's
    /// `FixedZone("", offset)`).
    pub fn with_offset(&self, offset_seconds: i32) -> Timestamp {
        Timestamp {
            offset: offset_seconds,
            zone: None,
            ..*self
        }
    }

    /// The same instant in the host's local time zone (`TZ`,
    /// `/etc/localtime`), with its abbreviation, as Go's `time.Local`.
    pub fn to_local(&self) -> Timestamp {
        match local_zone(self.secs) {
            Some((offset, zone)) => Timestamp {
                offset,
                zone,
                ..*self
            },
            None => self.to_utc(),
        }
    }

    /// Parses RFC 3339: `2006-01-02T15:04:05Z`, with optional fraction of up
    /// to nine digits (more are ignored, as Go does) and `Z` or `±hh:mm`.
    ///
    /// # Errors
    /// [`TimeError::NotRfc3339`].
    pub fn parse_rfc3339(s: &str) -> Result<Timestamp, TimeError> {
        match parse_layout(s.as_bytes()) {
            Some(p) if p.time && p.zone.is_some() => Ok(p.into_timestamp()),
            _ => Err(TimeError::NotRfc3339(s.into())),
        }
    }

    /// Go's `time.RFC3339`: `2006-01-02T15:04:05Z07:00` (no fraction).
    pub fn format_rfc3339(&self) -> String {
        let mut out = self.format_date_time('T');
        self.push_rfc3339_offset(&mut out);
        out
    }

    /// Go's `time.RFC3339Nano`: like [`format_rfc3339`](Self::format_rfc3339)
    /// with the fraction's trailing zeros dropped (`.5`, `.123456789`).
    pub fn format_rfc3339_nano(&self) -> String {
        let mut out = self.format_date_time('T');
        push_fraction(&mut out, self.nanos);
        self.push_rfc3339_offset(&mut out);
        out
    }

    /// Go's `Time.String`: `2006-01-02 15:04:05.999999999 -0700 MST`, the
    /// zone printed as its offset when it has no name.
    pub fn format_go(&self) -> String {
        let mut out = self.format_date_time(' ');
        push_fraction(&mut out, self.nanos);
        let (sign, off) = if self.offset < 0 {
            ('-', -self.offset)
        } else {
            ('+', self.offset)
        };
        let hhmm = format!("{sign}{:02}{:02}", off / 3600, off / 60 % 60);
        out.push(' ');
        out.push_str(&hhmm);
        out.push(' ');
        match &self.zone {
            Some(z) => out.push_str(z.as_str()),
            None => out.push_str(&hhmm),
        }
        out
    }

    fn format_date_time(&self, sep: char) -> String {
        let local = self.secs + i64::from(self.offset);
        let (y, mo, d) = civil_from_days(local.div_euclid(86_400));
        let sod = local.rem_euclid(86_400);
        format!(
            "{y:04}-{mo:02}-{d:02}{sep}{:02}:{:02}:{:02}",
            sod / 3600,
            sod / 60 % 60,
            sod % 60
        )
    }

    fn push_rfc3339_offset(&self, out: &mut String) {
        if self.offset == 0 {
            out.push('Z');
            return;
        }
        let (sign, off) = if self.offset < 0 {
            ('-', -self.offset)
        } else {
            ('+', self.offset)
        };
        out.push_str(&format!("{sign}{:02}:{:02}", off / 3600, off / 60 % 60));
    }
}

impl fmt::Display for Timestamp {
    /// RFC 3339 with nanoseconds.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.format_rfc3339_nano())
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.format_rfc3339_nano())
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Timestamp::parse_rfc3339(&s).map_err(serde::de::Error::custom)
    }
}

/// The `.999999999` part of Go's layouts: nothing for zero, else the
/// digits without trailing zeros.
fn push_fraction(out: &mut String, nanos: u32) {
    if nanos == 0 {
        return;
    }
    let digits = format!("{nanos:09}");
    out.push('.');
    out.push_str(digits.trim_end_matches('0'));
}

/// Fields read by [`parse_layout`].
struct Parsed {
    days: i64,
    sod: i64,
    nanos: u32,
    time: bool,
    /// The offset of a written `Z` or `±hh:mm`; none means UTC.
    zone: Option<i32>,
}

impl Parsed {
    fn into_timestamp(self) -> Timestamp {
        let offset = self.zone.unwrap_or(0);
        let secs = self.days * 86_400 + self.sod - i64::from(offset);
        let t = Timestamp::from_unix(secs, self.nanos);
        if offset == 0 {
            t
        } else {
            t.with_offset(offset)
        }
    }
}

/// `YYYY-MM-DD`, then optionally `Thh:mm:ss[.fff…]`, then optionally `Z` or
/// `±hh:mm` — the union of the layouts podman tries for `--since`.
fn parse_layout(b: &[u8]) -> Option<Parsed> {
    let num = |from: usize, n: usize| -> Option<i64> {
        let s = b.get(from..from + n)?;
        s.iter()
            .all(u8::is_ascii_digit)
            .then(|| s.iter().fold(0i64, |a, c| a * 10 + i64::from(c - b'0')))
    };
    let (year, month, day) = (num(0, 4)?, num(5, 2)?, num(8, 2)?);
    if b.get(4) != Some(&b'-') || b.get(7) != Some(&b'-') {
        return None;
    }
    if !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) {
        return None;
    }
    let mut i = 10;
    let mut parsed = Parsed {
        days: days_from_civil(year, month, day),
        sod: 0,
        nanos: 0,
        time: false,
        zone: None,
    };
    if b.get(i) == Some(&b'T') {
        let (h, m, s) = (num(i + 1, 2)?, num(i + 4, 2)?, num(i + 7, 2)?);
        if b.get(i + 3) != Some(&b':') || b.get(i + 6) != Some(&b':') || h > 23 || m > 59 || s > 59
        {
            return None;
        }
        parsed.sod = h * 3600 + m * 60 + s;
        parsed.time = true;
        i += 9;
        if b.get(i) == Some(&b'.') {
            i += 1;
            let start = i;
            while b.get(i).is_some_and(u8::is_ascii_digit) {
                i += 1;
            }
            if i == start {
                return None;
            }
            let mut digits: Vec<u8> = b[start..i.min(start + 9)].to_vec();
            digits.resize(9, b'0');
            parsed.nanos = digits
                .iter()
                .fold(0u32, |a, c| a * 10 + u32::from(c - b'0'));
        }
    }
    match b.get(i) {
        None => {}
        Some(b'Z') if i + 1 == b.len() => parsed.zone = Some(0),
        Some(&sign @ (b'+' | b'-')) if i + 6 == b.len() => {
            let (h, m) = (num(i + 1, 2)?, num(i + 4, 2)?);
            if b[i + 3] != b':' || h > 23 || m > 59 {
                return None;
            }
            let off = (h * 3600 + m * 60) as i32;
            parsed.zone = Some(if sign == b'-' { -off } else { off });
        }
        _ => return None,
    }
    Some(parsed)
}

/// podman's `util.ParseInputTime` for `--since`/`--until`: an RFC 3339
/// time (fraction and zone optional; no zone is UTC), a date
/// (`2006-01-02`, optionally with `Z07:00`), a Unix timestamp with optional
/// fraction (`1700000000.5`), or a Go duration counted back from `now` for
/// `--since` (`since = true`) and forward for `--until`.
///
/// # Errors
/// [`TimeError::Uninterpretable`], which prints podman's message.
pub fn parse_input_time(input: &str, since: bool, now: Timestamp) -> Result<Timestamp, TimeError> {
    if let Some(t) = parse_layout(input.as_bytes()).map(Parsed::into_timestamp) {
        return Ok(t);
    }
    let is_float_syntax = !input.is_empty()
        && input
            .bytes()
            .all(|c| c.is_ascii_digit() || matches!(c, b'.' | b'-' | b'+' | b'e' | b'E'));
    if is_float_syntax {
        if let Ok(f) = input.parse::<f64>() {
            if f.is_finite() {
                let secs = f.trunc();
                let nanos = ((f - secs) * 1e9) as i64;
                return Ok(Timestamp::from_unix_nanos(
                    (secs as i64)
                        .saturating_mul(1_000_000_000)
                        .saturating_add(nanos),
                ));
            }
        }
    }
    let d = parse_go_duration(input).map_err(|_| TimeError::Uninterpretable(input.into()))?;
    Ok(now.add_nanos(if since { d.saturating_neg() } else { d }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: &str) -> Timestamp {
        Timestamp::parse_rfc3339(s).unwrap()
    }

    #[test]
    fn rfc3339_round_trips_with_nanos_and_offsets() {
        let cases: &[(&str, i64, u32, i32, &str)] = &[
            ("1970-01-01T00:00:00Z", 0, 0, 0, "1970-01-01T00:00:00Z"),
            (
                "2024-02-29T23:59:59.5Z",
                1_709_251_199,
                500_000_000,
                0,
                "2024-02-29T23:59:59.5Z",
            ),
            (
                "2023-11-14T22:13:20.123456789+01:00",
                1_699_996_400,
                123_456_789,
                3600,
                "2023-11-14T22:13:20.123456789+01:00",
            ),
            (
                "2023-11-14T12:13:20-08:30",
                1_699_994_600,
                0,
                -30_600,
                "2023-11-14T12:13:20-08:30",
            ),
            (
                "1969-12-31T23:59:59.999999999Z",
                -1,
                999_999_999,
                0,
                "1969-12-31T23:59:59.999999999Z",
            ),
            (
                "2000-01-01T00:00:00.1234567891Z",
                946_684_800,
                123_456_789,
                0,
                "2000-01-01T00:00:00.123456789Z",
            ),
            (
                "2024-01-02T03:04:05+00:00",
                1_704_164_645,
                0,
                0,
                "2024-01-02T03:04:05Z",
            ),
        ];
        for (s, secs, nanos, off, back) in cases {
            let t = ts(s);
            assert_eq!(
                (t.unix_seconds(), t.subsec_nanos(), t.offset_seconds()),
                (*secs, *nanos, *off),
                "{s}"
            );
            assert_eq!(t.format_rfc3339_nano(), *back, "{s}");
        }
        assert_eq!(
            ts("2023-11-14T22:13:20.5+01:00").format_rfc3339(),
            "2023-11-14T22:13:20+01:00"
        );
    }

    #[test]
    fn rfc3339_rejects_what_go_rejects() {
        for bad in [
            "",
            "2024-01-02",
            "2024-01-02T03:04:05",
            "2024-01-02 03:04:05Z",
            "2024-01-02t03:04:05Z",
            "2024-13-01T00:00:00Z",
            "2023-02-29T00:00:00Z",
            "2024-01-02T24:00:00Z",
            "2024-01-02T03:60:00Z",
            "2024-01-02T03:04:60Z",
            "2024-01-02T03:04:05.Z",
            "2024-01-02T03:04:05z",
            "2024-01-02T03:04:05+0100",
            "2024-01-02T03:04:05+01:00x",
            "24-01-02T03:04:05Z",
        ] {
            assert!(
                Timestamp::parse_rfc3339(bad).is_err(),
                "{bad:?} should not parse"
            );
        }
    }

    #[test]
    fn go_string_format() {
        assert_eq!(
            Timestamp::from_unix(1_700_000_000, 0).format_go(),
            "2023-11-14 22:13:20 +0000 UTC"
        );
        assert_eq!(
            Timestamp::from_unix(1_700_000_000, 120_000_000)
                .with_offset(19_800)
                .format_go(),
            "2023-11-15 03:43:20.12 +0530 +0530"
        );
        assert_eq!(
            ts("2023-11-14T22:13:20Z").to_utc().format_go(),
            "2023-11-14 22:13:20 +0000 UTC"
        );
    }

    #[test]
    fn unix_nanos_and_arithmetic() {
        let t = Timestamp::from_unix_nanos(-1);
        assert_eq!((t.unix_seconds(), t.subsec_nanos()), (-1, 999_999_999));
        assert_eq!(t.unix_nanos(), -1);
        let a = Timestamp::from_unix(100, 0);
        assert_eq!(
            a.add_nanos(-1).format_rfc3339_nano(),
            "1970-01-01T00:01:39.999999999Z"
        );
        assert_eq!(
            a.nanos_since(Timestamp::from_unix(99, 500_000_000)),
            500_000_000
        );
        assert!(Timestamp::from_unix(5, 0) > Timestamp::from_unix(4, 999_999_999));
        assert_eq!(ts("2023-11-14T23:13:20+01:00"), ts("2023-11-14T22:13:20Z"));
    }

    #[test]
    fn serde_is_rfc3339_nano() {
        let t = ts("2023-11-14T22:13:20.25+01:00");
        let j = serde_json::to_string(&t).unwrap();
        assert_eq!(j, "\"2023-11-14T22:13:20.25+01:00\"");
        let back: Timestamp = serde_json::from_str(&j).unwrap();
        assert_eq!(back, t);
        assert!(serde_json::from_str::<Timestamp>("\"yesterday\"").is_err());
    }

    #[test]
    fn since_until_inputs() {
        let now = Timestamp::from_unix(1_700_000_000, 0);
        let cases: &[(&str, bool, &str)] = &[
            ("2023-11-14T22:13:20Z", true, "2023-11-14T22:13:20Z"),
            (
                "2023-11-14T22:13:20.5+01:00",
                true,
                "2023-11-14T22:13:20.5+01:00",
            ),
            ("2023-11-14T22:13:20", true, "2023-11-14T22:13:20Z"),
            ("2023-11-14T22:13:20.123", true, "2023-11-14T22:13:20.123Z"),
            ("2023-11-14", true, "2023-11-14T00:00:00Z"),
            ("2023-11-14Z", true, "2023-11-14T00:00:00Z"),
            ("2023-11-14+02:00", true, "2023-11-14T00:00:00+02:00"),
            ("1700000000", true, "2023-11-14T22:13:20Z"),
            ("1700000000.25", true, "2023-11-14T22:13:20.25Z"),
            ("0", true, "1970-01-01T00:00:00Z"),
            ("10m", true, "2023-11-14T22:03:20Z"),
            ("1h30m", true, "2023-11-14T20:43:20Z"),
            ("10m", false, "2023-11-14T22:23:20Z"),
            ("-10m", true, "2023-11-14T22:23:20Z"),
        ];
        for (s, since, want) in cases {
            let got = parse_input_time(s, *since, now).unwrap();
            assert_eq!(got.format_rfc3339_nano(), *want, "{s:?} since={since}");
        }
        for bad in [
            "",
            "yesterday",
            "10",
            "1d",
            "2023-11-14T22:13",
            "2023-02-30",
        ] {
            if bad == "10" {
                // A bare number is a Unix timestamp, not a missing unit.
                assert!(parse_input_time(bad, true, now).is_ok());
                continue;
            }
            let err = parse_input_time(bad, true, now).unwrap_err();
            assert_eq!(err.to_string(), "unable to interpret time value", "{bad:?}");
        }
    }

    #[test]
    fn local_zone_is_consistent() {
        // Whatever the host zone is, the shown wall clock minus the offset
        // is the same instant.
        let t = Timestamp::from_unix(1_700_000_000, 0).to_local();
        assert_eq!(t.unix_seconds(), 1_700_000_000);
        let back = ts(&t.format_rfc3339());
        assert_eq!(back, t);
    }
}
