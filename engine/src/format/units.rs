//! Sizes as podman prints and parses them (docker/go-units rules).
//!
//! Printing is decimal (1 kB = 1000 B) with `%.*g`, so three significant
//! digits and Go's exponent switch: `999999` bytes is `1e+03kB`, as in
//! podman. Which podman column uses which function:
//!
//! | podman | function | example |
//! | --- | --- | --- |
//! | `images` SIZE, `history` SIZE | [`podman_size`] | `7.67 MB` |
//! | `ps --size` SIZE | [`ps_size`] | `1.05kB (virtual 7.67MB)` |
//! | `stats`, `system df` | [`human_size`] (4 digits) | `2.746MB` |
//! | binary sizes (`BytesSize`) | [`bytes_size`] | `44KiB` |
//!
//! Parsing: `--memory`, `--memory-swap`, `--shm-size` use [`ram_in_bytes`]
//! (k = 1024); `--log-opt max-size=` uses [`from_human_size`] (k = 1000).

use thiserror::Error;

use super::float::format_g;

/// A size flag that go-units would refuse.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SizeError {
    /// No number, an unparsable number, or a negative one.
    #[error("invalid size: '{0}'")]
    InvalidSize(String),
    /// A unit other than b, k, m, g, t, p (optionally followed by `b` or `ib`).
    #[error("invalid suffix: '{0}'")]
    InvalidSuffix(String),
}

const DECIMAL_ABBRS: [&str; 9] = ["B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB"];
const BINARY_ABBRS: [&str; 9] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB", "ZiB", "YiB"];

/// Divides by `base` until below it (or out of units).
fn size_and_unit(mut size: f64, base: f64, abbrs: &[&'static str]) -> (f64, &'static str) {
    let mut i = 0;
    while size >= base && i < abbrs.len() - 1 {
        size /= base;
        i += 1;
    }
    (size, abbrs[i])
}

/// go-units `HumanSizeWithPrecision`: `%.{precision}g` and a decimal unit,
/// no space (`1.05kB`, `999B`, `0B`).
pub fn human_size_with_precision(size: f64, precision: usize) -> String {
    let (s, unit) = size_and_unit(size, 1000.0, &DECIMAL_ABBRS);
    format!("{}{unit}", format_g(s, Some(precision), false))
}

/// go-units `HumanSize`: four significant digits (`2.746MB`).
pub fn human_size(size: f64) -> String {
    human_size_with_precision(size, 4)
}

/// go-units `BytesSize`: binary units, four digits (`44KiB`, `1.5GiB`).
pub fn bytes_size(size: f64) -> String {
    let (s, unit) = size_and_unit(size, 1024.0, &BINARY_ABBRS);
    format!("{}{unit}", format_g(s, Some(4), false))
}

/// The SIZE column of `podman images` and `podman history`: three digits and
/// a space before the unit (`7.67 MB`, `0 B`).
pub fn podman_size(bytes: i64) -> String {
    let s = human_size_with_precision(bytes as f64, 3);
    // podman splits after the last digit, so `1e+03kB` becomes `1e+03 kB`.
    let split = s.rfind(|c: char| c.is_ascii_digit()).map_or(0, |i| i + 1);
    format!("{} {}", &s[..split], &s[split..])
}

/// The SIZE column of `podman ps --size`: `1.05kB (virtual 7.67MB)`.
pub fn ps_size(rw_size: i64, root_fs_size: i64) -> String {
    format!(
        "{} (virtual {})",
        human_size_with_precision(rw_size as f64, 3),
        human_size_with_precision(root_fs_size as f64, 3)
    )
}

/// go-units `RAMInBytes`: k, m, g, t, p are powers of 1024 (`512m`, `1g`,
/// `1.5GiB`, `100`); case-insensitive, `b` / `ib` optional.
///
/// # Errors
/// [`SizeError`] with go-units' wording.
pub fn ram_in_bytes(size: &str) -> Result<i64, SizeError> {
    parse_size(size, 1024)
}

/// go-units `FromHumanSize`: k, m, g, t, p are powers of 1000 (`10mb` is
/// 10,000,000).
///
/// # Errors
/// [`SizeError`] with go-units' wording.
pub fn from_human_size(size: &str) -> Result<i64, SizeError> {
    parse_size(size, 1000)
}

/// go-units `parseSize` (v0.5): number up to the last digit, dot or space;
/// the rest is the unit.
fn parse_size(size: &str, base: i64) -> Result<i64, SizeError> {
    let invalid = || SizeError::InvalidSize(size.to_string());
    let bytes = size.as_bytes();
    let sep = bytes
        .iter()
        .rposition(|b| b.is_ascii_digit() || *b == b'.' || *b == b' ')
        .ok_or_else(invalid)?;
    // The separator is ASCII, so both slices fall on character boundaries.
    let (num, sfx) = if bytes[sep] == b' ' {
        (&size[..sep], &size[sep + 1..])
    } else {
        (&size[..=sep], &size[sep + 1..])
    };
    let value = parse_go_float(num).ok_or_else(invalid)?;
    if value < 0.0 {
        return Err(invalid());
    }
    if sfx.is_empty() {
        return Ok(value as i64);
    }
    if sfx.len() > 3 {
        return Err(SizeError::InvalidSuffix(sfx.to_string()));
    }
    let lower = sfx.to_lowercase();
    let bad = || SizeError::InvalidSuffix(lower.clone());
    let lb = lower.as_bytes();
    if lb[0] == b'b' {
        return if lb.len() > 1 {
            Err(bad())
        } else {
            Ok(value as i64)
        };
    }
    let power = match lb[0] {
        b'k' => 1,
        b'm' => 2,
        b'g' => 3,
        b't' => 4,
        b'p' => 5,
        _ => return Err(bad()),
    };
    match lb.len() {
        2 if lb[1] != b'b' => return Err(bad()),
        3 if &lb[1..] != b"ib" => return Err(bad()),
        _ => {}
    }
    Ok((value * base.pow(power) as f64) as i64)
}

/// `strconv.ParseFloat` for the decimal forms go-units meets; Rust's parser
/// agrees with Go's on these (`1`, `1.5`, `.5`, `5.`, `1e3`, `+2`).
fn parse_go_float(s: &str) -> Option<f64> {
    if s.is_empty() || s.contains(|c: char| c.is_ascii_whitespace()) {
        return None;
    }
    s.parse::<f64>().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_size_with_precision_3() {
        let cases: &[(f64, &str)] = &[
            (0.0, "0B"),
            (1.0, "1B"),
            (999.0, "999B"),
            (1000.0, "1kB"),
            (1024.0, "1.02kB"),
            (1050.0, "1.05kB"),
            (999_499.0, "999kB"),
            (999_999.0, "1e+03kB"),
            (1_000_000.0, "1MB"),
            (4_860_000.0, "4.86MB"),
            (7_667_000.0, "7.67MB"),
            (1.5e9, "1.5GB"),
            (1e24, "1YB"),
            (1e27, "1e+03YB"),
        ];
        for (n, want) in cases {
            assert_eq!(human_size_with_precision(*n, 3), *want, "size {n}");
        }
    }

    #[test]
    fn human_size_four_digits_and_binary() {
        assert_eq!(human_size(2_746_000.0), "2.746MB");
        assert_eq!(human_size(796_000.0), "796kB");
        assert_eq!(human_size(1_000_000_000.0), "1GB");
        assert_eq!(bytes_size(44.0 * 1024.0), "44KiB");
        assert_eq!(bytes_size(1023.0), "1023B");
        assert_eq!(bytes_size(1024.0), "1KiB");
        assert_eq!(bytes_size(1.5 * 1024.0 * 1024.0 * 1024.0), "1.5GiB");
    }

    #[test]
    fn podman_columns() {
        assert_eq!(podman_size(7_667_000), "7.67 MB");
        assert_eq!(podman_size(0), "0 B");
        assert_eq!(podman_size(999), "999 B");
        assert_eq!(podman_size(999_999), "1e+03 kB");
        assert_eq!(podman_size(1_500_000_000), "1.5 GB");
        assert_eq!(ps_size(1050, 4_860_000), "1.05kB (virtual 4.86MB)");
        assert_eq!(ps_size(0, 0), "0B (virtual 0B)");
    }

    #[test]
    fn ram_in_bytes_is_binary() {
        let cases: &[(&str, i64)] = &[
            ("0", 0),
            ("100", 100),
            ("32", 32),
            ("32b", 32),
            ("32B", 32),
            ("32k", 32 * 1024),
            ("32K", 32 * 1024),
            ("32kb", 32 * 1024),
            ("32Kb", 32 * 1024),
            ("32Mb", 32 * 1024 * 1024),
            ("512m", 512 * 1024 * 1024),
            ("1g", 1 << 30),
            ("1GiB", 1 << 30),
            ("1gib", 1 << 30),
            ("32Tb", 32 << 40),
            ("32PB", 32 << 50),
            ("32 MB", 32 * 1024 * 1024),
            ("0.3MB", 314_572),
            ("1.5g", 1_610_612_736),
            (".5k", 512),
            ("5.", 5),
            ("0.3", 0),
            ("32.3", 32),
        ];
        for (s, want) in cases {
            assert_eq!(ram_in_bytes(s), Ok(*want), "RAMInBytes({s:?})");
        }
    }

    #[test]
    fn from_human_size_is_decimal() {
        assert_eq!(from_human_size("10mb"), Ok(10_000_000));
        assert_eq!(from_human_size("1k"), Ok(1000));
        assert_eq!(from_human_size("1.5GB"), Ok(1_500_000_000));
        assert_eq!(from_human_size("1KiB"), Ok(1000));
    }

    #[test]
    fn size_errors_use_go_units_wording() {
        let bad: &[(&str, SizeError)] = &[
            ("", SizeError::InvalidSize(String::new())),
            ("hello", SizeError::InvalidSize("hello".into())),
            ("-32", SizeError::InvalidSize("-32".into())),
            (" 32 ", SizeError::InvalidSize(" 32 ".into())),
            ("1.2.3k", SizeError::InvalidSize("1.2.3k".into())),
            ("32x", SizeError::InvalidSuffix("x".into())),
            ("32bb", SizeError::InvalidSuffix("bb".into())),
            ("32ki", SizeError::InvalidSuffix("ki".into())),
            ("32kbb", SizeError::InvalidSuffix("kbb".into())),
            // Too long: reported as typed; otherwise lower-cased, as Go does.
            ("32MiBX", SizeError::InvalidSuffix("MiBX".into())),
            ("32MBX", SizeError::InvalidSuffix("mbx".into())),
        ];
        for (s, want) in bad {
            assert_eq!(ram_in_bytes(s).as_ref(), Err(want), "RAMInBytes({s:?})");
        }
        assert_eq!(
            ram_in_bytes("32kbb").unwrap_err().to_string(),
            "invalid suffix: 'kbb'"
        );
        assert_eq!(
            ram_in_bytes("x").unwrap_err().to_string(),
            "invalid size: 'x'"
        );
    }
}
