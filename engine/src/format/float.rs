//! Go's `strconv` float formatting (`%e`, `%f`, `%g`, shortest `%v`).
//!
//! go-units sizes (`%.*g`), template `printf` and `{{.}}` of a float all go
//! through these rules, so they are reproduced exactly rather than
//! approximated with Rust's own `{}`: Go switches `%g` to exponent form at
//! different points and always writes at least two exponent digits.

/// Decimal digits of `|x|`: the value is `0.d[0]d[1]… × 10^dp`. No leading
/// or trailing zeros; zero has no digits (Go's `decimal` does the same).
struct Digits {
    d: Vec<u8>,
    dp: i32,
}

/// Reads Rust's `LowerExp` output (`1.2345e3`, `0e0`) into digits.
fn parse_exp(s: &str) -> Digits {
    let (mant, exp) = s.split_once('e').unwrap_or((s, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let mut d: Vec<u8> = mant.bytes().filter(u8::is_ascii_digit).collect();
    while d.last() == Some(&b'0') {
        d.pop();
    }
    if d.is_empty() {
        return Digits { d, dp: 0 };
    }
    Digits { d, dp: exp + 1 }
}

/// The shortest digits that round-trip (Go's precision -1).
fn shortest(x: f64) -> Digits {
    parse_exp(&format!("{:e}", x.abs()))
}

/// `sig` significant digits, correctly rounded (ties to even, like Go).
fn rounded(x: f64, sig: usize) -> Digits {
    parse_exp(&format!("{:.*e}", sig.saturating_sub(1), x.abs()))
}

/// `%e` from digits with `prec` digits after the point.
fn fmt_e(out: &mut String, digs: &Digits, prec: usize, upper: bool) {
    out.push(char::from(*digs.d.first().unwrap_or(&b'0')));
    if prec > 0 {
        out.push('.');
        for i in 1..=prec {
            out.push(char::from(*digs.d.get(i).unwrap_or(&b'0')));
        }
    }
    out.push(if upper { 'E' } else { 'e' });
    let exp = if digs.d.is_empty() { 0 } else { digs.dp - 1 };
    out.push(if exp < 0 { '-' } else { '+' });
    let exp = exp.unsigned_abs();
    if exp < 10 {
        out.push('0');
    }
    out.push_str(&exp.to_string());
}

/// `%f` from digits with `prec` digits after the point.
fn fmt_f(out: &mut String, digs: &Digits, prec: usize) {
    if digs.dp > 0 {
        for i in 0..digs.dp as usize {
            out.push(char::from(*digs.d.get(i).unwrap_or(&b'0')));
        }
    } else {
        out.push('0');
    }
    if prec > 0 {
        out.push('.');
        for i in 1..=prec as i32 {
            let j = digs.dp + i - 1;
            let ch = if j >= 0 {
                *digs.d.get(j as usize).unwrap_or(&b'0')
            } else {
                b'0'
            };
            out.push(char::from(ch));
        }
    }
}

/// NaN and infinities as Go prints them (`NaN`, `+Inf`, `-Inf`).
fn special(x: f64) -> Option<&'static str> {
    if x.is_nan() {
        Some("NaN")
    } else if x == f64::INFINITY {
        Some("+Inf")
    } else if x == f64::NEG_INFINITY {
        Some("-Inf")
    } else {
        None
    }
}

/// Go's `strconv.FormatFloat(x, 'g', prec, 64)`; `None` is the shortest
/// representation (`%v`), which switches to exponent form from 1e+06.
pub(crate) fn format_g(x: f64, prec: Option<usize>, upper: bool) -> String {
    if let Some(s) = special(x) {
        return s.to_string();
    }
    let (digs, shortest_mode, mut prec) = match prec {
        None => {
            let d = shortest(x);
            let n = d.d.len();
            (d, true, n)
        }
        Some(p) => {
            let p = p.max(1);
            (rounded(x, p), false, p)
        }
    };
    let mut out = String::new();
    if x.is_sign_negative() {
        out.push('-');
    }
    let nd = digs.d.len() as i32;
    let mut eprec = prec as i32;
    if eprec > nd && nd >= digs.dp {
        eprec = nd;
    }
    if shortest_mode {
        eprec = 6;
    }
    let exp = digs.dp - 1;
    if exp < -4 || exp >= eprec {
        if prec > digs.d.len() {
            prec = digs.d.len();
        }
        fmt_e(&mut out, &digs, prec.saturating_sub(1), upper);
        return out;
    }
    if prec as i32 > digs.dp {
        prec = digs.d.len();
    }
    fmt_f(&mut out, &digs, (prec as i32 - digs.dp).max(0) as usize);
    out
}

/// Go's `%e` with `prec` digits after the point (fmt's default is 6).
pub(crate) fn format_e(x: f64, prec: usize, upper: bool) -> String {
    if let Some(s) = special(x) {
        return s.to_string();
    }
    let mut out = String::new();
    if x.is_sign_negative() {
        out.push('-');
    }
    fmt_e(&mut out, &rounded(x, prec + 1), prec, upper);
    out
}

/// Go's `%f` with `prec` digits after the point (fmt's default is 6).
pub(crate) fn format_f(x: f64, prec: usize) -> String {
    if let Some(s) = special(x) {
        return s.to_string();
    }
    // Rust's fixed formatting rounds exactly like Go's (correctly, ties to
    // even on exact halves); only the sign of negative zero differs.
    let s = format!("{:.*}", prec, x.abs());
    if x.is_sign_negative() {
        format!("-{s}")
    } else {
        s
    }
}

/// Go's `encoding/json` float: plain below 1e21 and from 1e-6, exponent
/// form (`1e+21`, `1e-7`) outside that range.
pub(crate) fn format_json(x: f64) -> String {
    let abs = x.abs();
    if abs != 0.0 && !(1e-6..1e21).contains(&abs) {
        let s = format!("{x:e}");
        // Rust writes `1e21`/`1e-7`; Go writes `1e+21`/`1e-7`.
        return match s.split_once('e') {
            Some((m, e)) if !e.starts_with('-') => format!("{m}e+{e}"),
            _ => s,
        };
    }
    // Display never uses an exponent and prints the shortest digits.
    let s = format!("{x}");
    if s == "-0" {
        return "-0".to_string();
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shortest_g_matches_go_v() {
        let cases: &[(f64, &str)] = &[
            (0.0, "0"),
            (1.0, "1"),
            (1.5, "1.5"),
            (-2.25, "-2.25"),
            (100000.0, "100000"),
            (123456.0, "123456"),
            (1000000.0, "1e+06"),
            (1234567.0, "1.234567e+06"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (18446744073709551616.0, "1.8446744073709552e+19"),
            (f64::INFINITY, "+Inf"),
            (f64::NAN, "NaN"),
        ];
        for (x, want) in cases {
            assert_eq!(format_g(*x, None, false), *want, "%v of {x}");
        }
    }

    #[test]
    fn precision_g_matches_go() {
        // fmt.Sprintf("%.3g", x) in Go.
        let cases: &[(f64, &str)] = &[
            (0.0, "0"),
            (1.0, "1"),
            (999.0, "999"),
            (1.024, "1.02"),
            (4.86, "4.86"),
            (100.0, "100"),
            (999.999, "1e+03"),
            (1.5, "1.5"),
            (12.345, "12.3"),
            (0.0001234, "0.000123"),
            (0.00001234, "1.23e-05"),
        ];
        for (x, want) in cases {
            assert_eq!(format_g(*x, Some(3), false), *want, "%.3g of {x}");
        }
        assert_eq!(format_g(2.746, Some(4), false), "2.746");
        assert_eq!(format_g(1e21, Some(4), true), "1E+21");
    }

    #[test]
    fn e_and_f_match_go() {
        assert_eq!(format_e(1234.5678, 6, false), "1.234568e+03");
        assert_eq!(format_e(0.0, 2, false), "0.00e+00");
        assert_eq!(format_e(-1.5e-300, 1, true), "-1.5E-300");
        assert_eq!(format_f(1.23456, 2), "1.23");
        assert_eq!(format_f(2.5, 0), "2");
        assert_eq!(format_f(-1.0, 1), "-1.0");
        assert_eq!(format_f(f64::NEG_INFINITY, 1), "-Inf");
    }

    #[test]
    fn json_floats_match_encoding_json() {
        assert_eq!(format_json(1.5), "1.5");
        assert_eq!(format_json(1e20), "100000000000000000000");
        assert_eq!(format_json(1e21), "1e+21");
        assert_eq!(format_json(1.5e300), "1.5e+300");
        assert_eq!(format_json(0.000001), "0.000001");
        assert_eq!(format_json(1e-7), "1e-7");
        assert_eq!(format_json(0.0), "0");
        assert_eq!(format_json(3.0), "3");
    }
}
