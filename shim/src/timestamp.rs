//! RFC 3339 timestamps with nanoseconds, formatted without allocating (one
//! per chunk of container output) and parsed back for `logs --since`.

/// Length of a formatted timestamp with a numeric offset:
/// `2006-01-02T15:04:05.999999999+00:00`.
pub const LEN_OFFSET: usize = 35;
/// Length of a formatted UTC timestamp ending in `Z`.
pub const LEN_Z: usize = 30;

/// Nanoseconds since the Unix epoch.
pub type Nanos = i128;

/// (seconds, nanoseconds) since the epoch as [`Nanos`].
pub fn to_nanos(secs: i64, nanos: u32) -> Nanos {
    secs as i128 * 1_000_000_000 + nanos as i128
}

/// The current time.
pub fn now_nanos() -> Nanos {
    let (s, n) = crate::sys::now();
    to_nanos(s, n)
}

// Civil date from days since 1970-01-01 (proleptic Gregorian), after
// Howard Hinnant's public-domain date algorithms.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = if m > 2 { m - 3 } else { m + 9 } as i64;
    let doy = (153 * mp + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn put(buf: &mut [u8], mut v: u64, width: usize) {
    for i in (0..width).rev() {
        buf[i] = b'0' + (v % 10) as u8;
        v /= 10;
    }
}

/// Formats `secs.nanos` in UTC: `YYYY-MM-DDTHH:MM:SS.nnnnnnnnn` followed by
/// `+00:00` (k8s-file, as conmon writes a numeric offset) or `Z` (docker's
/// json-file). Returns the used part of `out`.
pub fn format(secs: i64, nanos: u32, zulu: bool, out: &mut [u8; LEN_OFFSET]) -> &[u8] {
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (y, m, d) = civil_from_days(days);
    put(&mut out[0..4], y.clamp(0, 9999) as u64, 4);
    out[4] = b'-';
    put(&mut out[5..7], m as u64, 2);
    out[7] = b'-';
    put(&mut out[8..10], d as u64, 2);
    out[10] = b'T';
    put(&mut out[11..13], (rem / 3600) as u64, 2);
    out[13] = b':';
    put(&mut out[14..16], ((rem / 60) % 60) as u64, 2);
    out[16] = b':';
    put(&mut out[17..19], (rem % 60) as u64, 2);
    out[19] = b'.';
    put(&mut out[20..29], nanos as u64, 9);
    if zulu {
        out[29] = b'Z';
        &out[..LEN_Z]
    } else {
        out[29..35].copy_from_slice(b"+00:00");
        &out[..LEN_OFFSET]
    }
}

/// Formats [`Nanos`] as a UTC RFC 3339 string ending in `Z`.
pub fn format_nanos(t: Nanos) -> String {
    let secs = t.div_euclid(1_000_000_000) as i64;
    let nanos = t.rem_euclid(1_000_000_000) as u32;
    let mut buf = [0u8; LEN_OFFSET];
    String::from_utf8_lossy(format(secs, nanos, true, &mut buf)).into_owned()
}

fn digits(s: &[u8]) -> Option<u64> {
    if s.is_empty() || !s.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(s.iter().fold(0u64, |a, &c| a * 10 + u64::from(c - b'0')))
}

/// Parses an RFC 3339 timestamp (`T` or space between date and time, any
/// number of fraction digits, `Z` or `±HH:MM`).
pub fn parse(s: &[u8]) -> Option<Nanos> {
    if s.len() < 20 || s[4] != b'-' || s[7] != b'-' || !matches!(s[10], b'T' | b't' | b' ') {
        return None;
    }
    if s[13] != b':' || s[16] != b':' {
        return None;
    }
    let y = digits(&s[0..4])? as i64;
    let mo = digits(&s[5..7])? as u32;
    let d = digits(&s[8..10])? as u32;
    let (h, mi, se) = (
        digits(&s[11..13])?,
        digits(&s[14..16])?,
        digits(&s[17..19])?,
    );
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || se > 60 {
        return None;
    }
    let mut rest = &s[19..];
    let mut nanos: u64 = 0;
    if rest.first() == Some(&b'.') {
        let n = rest[1..].iter().take_while(|c| c.is_ascii_digit()).count();
        if n == 0 {
            return None;
        }
        let frac = &rest[1..1 + n];
        for i in 0..9 {
            nanos = nanos * 10 + frac.get(i).map_or(0, |c| u64::from(c - b'0'));
        }
        rest = &rest[1 + n..];
    }
    let offset: i64 = match rest {
        b"Z" | b"z" => 0,
        [sign @ (b'+' | b'-'), hh @ .., b':', m1, m2] if hh.len() == 2 => {
            let v = digits(hh)? as i64 * 3600 + digits(&[*m1, *m2])? as i64 * 60;
            if *sign == b'+' {
                v
            } else {
                -v
            }
        }
        _ => return None,
    };
    let days = days_from_civil(y, mo, d);
    let secs = days * 86_400 + (h * 3600 + mi * 60 + se) as i64 - offset;
    Some(to_nanos(secs, nanos as u32))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_and_parses_round_trip() {
        let mut buf = [0u8; LEN_OFFSET];
        assert_eq!(
            format(0, 0, false, &mut buf),
            b"1970-01-01T00:00:00.000000000+00:00"
        );
        assert_eq!(
            format(1_709_251_199, 5, true, &mut buf),
            b"2024-02-29T23:59:59.000000005Z"
        );
        for t in [0i128, 1_709_251_199_000_000_005, 4_102_444_800_123_456_789] {
            let secs = (t / 1_000_000_000) as i64;
            let n = (t % 1_000_000_000) as u32;
            assert_eq!(parse(format(secs, n, false, &mut buf)), Some(t));
            assert_eq!(parse(format(secs, n, true, &mut buf)), Some(t));
        }
    }

    #[test]
    fn parses_offsets_and_short_fractions() {
        let utc = parse(b"2024-03-01T10:00:00Z").unwrap();
        assert_eq!(parse(b"2024-03-01T12:00:00+02:00"), Some(utc));
        assert_eq!(parse(b"2024-03-01T09:30:00-00:30"), Some(utc));
        assert_eq!(parse(b"2024-03-01T10:00:00.5Z"), Some(utc + 500_000_000));
        assert_eq!(parse(b"2024-13-01T10:00:00Z"), None);
        assert_eq!(parse(b"2024-03-01T10:00:00"), None);
        assert_eq!(parse(b"garbage"), None);
    }
}
