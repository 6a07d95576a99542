//! Go's `fmt.Sprintf` for template `printf`: flags `-+# 0`, width,
//! precision and the verbs `v s q d b o O x X c U e E f F g G t %`, with
//! Go's `%!verb(type=value)` / `%!d(MISSING)` / `%!(EXTRA …)` markers for
//! mismatches.

use serde_json::Value;

use super::super::float::{format_e, format_f, format_g};
use super::value::{json_type_name, print_json, Val};

#[derive(Debug, Clone, Copy, Default)]
struct Spec {
    minus: bool,
    plus: bool,
    sharp: bool,
    space: bool,
    zero: bool,
    width: Option<usize>,
    prec: Option<usize>,
}

/// `fmt.Sprintf(format, args...)`.
pub(super) fn sprintf(format: &str, args: &[Val<'_>]) -> String {
    let mut out = String::with_capacity(format.len() + 16);
    let mut next_arg = 0;
    let mut chars = format.char_indices().peekable();
    while let Some((_, c)) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let mut spec = Spec::default();
        while let Some(&(_, f)) = chars.peek() {
            match f {
                '-' => spec.minus = true,
                '+' => spec.plus = true,
                '#' => spec.sharp = true,
                ' ' => spec.space = true,
                '0' => spec.zero = true,
                _ => break,
            }
            chars.next();
        }
        let number = |chars: &mut std::iter::Peekable<std::str::CharIndices<'_>>| {
            let mut n: Option<usize> = None;
            while let Some(&(_, d)) = chars.peek() {
                let Some(v) = d.to_digit(10) else { break };
                n = Some(n.unwrap_or(0).saturating_mul(10).saturating_add(v as usize));
                chars.next();
            }
            n
        };
        spec.width = number(&mut chars);
        if chars.peek().is_some_and(|&(_, c)| c == '.') {
            chars.next();
            spec.prec = Some(number(&mut chars).unwrap_or(0));
        }
        let Some((_, verb)) = chars.next() else {
            out.push_str("%!(NOVERB)");
            break;
        };
        if verb == '%' {
            out.push('%');
            continue;
        }
        match args.get(next_arg) {
            Some(arg) => {
                next_arg += 1;
                out.push_str(&format_arg(spec, verb, arg));
            }
            None => {
                out.push_str("%!");
                out.push(verb);
                out.push_str("(MISSING)");
            }
        }
    }
    if next_arg < args.len() {
        out.push_str("%!(EXTRA ");
        for (i, a) in args[next_arg..].iter().enumerate() {
            if i > 0 {
                out.push_str(", ");
            }
            out.push_str(&typed(a));
        }
        out.push(')');
    }
    out
}

/// `type=value`, or `<nil>`, as the mismatch markers print an argument.
fn typed(a: &Val<'_>) -> String {
    if a.is_nil() {
        return "<nil>".to_string();
    }
    format!("{}={}", a.type_name(), a.print())
}

fn bad_verb(verb: char, a: &Val<'_>) -> String {
    format!("%!{verb}({})", typed(a))
}

/// Formats one argument.
fn format_arg(spec: Spec, verb: char, arg: &Val<'_>) -> String {
    match arg {
        Val::Missing => nil_arg(spec, verb, arg),
        Val::Rows(rows) => {
            let items: Vec<String> = rows.iter().map(|v| format_json(spec, verb, v)).collect();
            format!("[{}]", items.join(" "))
        }
        _ => match arg.json() {
            Some(v) => format_json(spec, verb, v),
            None => nil_arg(spec, verb, arg),
        },
    }
}

fn nil_arg(spec: Spec, verb: char, arg: &Val<'_>) -> String {
    match verb {
        'v' => pad(spec, "<nil>", false),
        _ => bad_verb(verb, arg),
    }
}

fn format_json(spec: Spec, verb: char, v: &Value) -> String {
    match v {
        Value::Null => nil_arg(spec, verb, &Val::Ref(v)),
        Value::Bool(b) => match verb {
            'v' | 't' => pad(spec, if *b { "true" } else { "false" }, false),
            _ => bad_verb(verb, &Val::Ref(v)),
        },
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                format_int(spec, verb, i128::from(i), v)
            } else if let Some(u) = n.as_u64() {
                format_int(spec, verb, i128::from(u), v)
            } else {
                format_float(spec, verb, n.as_f64().unwrap_or(0.0), v)
            }
        }
        Value::String(s) => format_str(spec, verb, s, v),
        Value::Array(a) => {
            let items: Vec<String> = a.iter().map(|e| format_json(spec, verb, e)).collect();
            format!("[{}]", items.join(" "))
        }
        Value::Object(o) => {
            // Go's fmt prints map keys sorted.
            let mut sorted: Vec<(&String, &Value)> = o.iter().collect();
            sorted.sort_by(|a, b| a.0.cmp(b.0));
            let items: Vec<String> = sorted
                .into_iter()
                .map(|(k, e)| {
                    format!(
                        "{}:{}",
                        format_str(spec, verb, k, v),
                        format_json(spec, verb, e)
                    )
                })
                .collect();
            format!("map[{}]", items.join(" "))
        }
    }
}

/// Pads to the width with spaces (or zeros after any sign when `zero`
/// applies), left or right as `-` says.
fn pad(spec: Spec, s: &str, numeric: bool) -> String {
    let Some(width) = spec.width else {
        return s.to_string();
    };
    let len = s.chars().count();
    if len >= width {
        return s.to_string();
    }
    let fill = width - len;
    if spec.minus {
        return format!("{s}{}", " ".repeat(fill));
    }
    if spec.zero {
        if numeric {
            let sign_len = usize::from(s.starts_with(['-', '+', ' ']));
            return format!("{}{}{}", &s[..sign_len], "0".repeat(fill), &s[sign_len..]);
        }
        return format!("{}{s}", "0".repeat(fill));
    }
    format!("{}{s}", " ".repeat(fill))
}

fn sign(spec: Spec, neg: bool) -> &'static str {
    if neg {
        "-"
    } else if spec.plus {
        "+"
    } else if spec.space {
        " "
    } else {
        ""
    }
}

fn format_int(spec: Spec, verb: char, i: i128, v: &Value) -> String {
    let neg = i < 0;
    let u = i.unsigned_abs();
    let (digits, prefix) = match verb {
        'v' | 'd' => (u.to_string(), ""),
        'b' => (format!("{u:b}"), if spec.sharp { "0b" } else { "" }),
        'o' => (format!("{u:o}"), if spec.sharp { "0" } else { "" }),
        'O' => (format!("{u:o}"), "0o"),
        'x' => (format!("{u:x}"), if spec.sharp { "0x" } else { "" }),
        'X' => (format!("{u:X}"), if spec.sharp { "0X" } else { "" }),
        'c' => {
            let c = u32::try_from(i)
                .ok()
                .and_then(char::from_u32)
                .unwrap_or('\u{fffd}');
            return pad(spec, &c.to_string(), false);
        }
        'q' => {
            let c = u32::try_from(i)
                .ok()
                .and_then(char::from_u32)
                .unwrap_or('\u{fffd}');
            return pad(spec, &go_quote_char(c), false);
        }
        'U' => {
            let s = format!("U+{u:04X}");
            return pad(spec, &s, false);
        }
        'e' | 'E' | 'f' | 'F' | 'g' | 'G' => return bad_verb(verb, &Val::Ref(v)),
        _ => return bad_verb(verb, &Val::Ref(v)),
    };
    let mut digits = digits;
    if let Some(p) = spec.prec {
        if p == 0 && u == 0 {
            digits.clear();
        } else if digits.len() < p {
            digits = format!("{}{digits}", "0".repeat(p - digits.len()));
        }
    }
    let s = format!("{}{prefix}{digits}", sign(spec, neg));
    // Go ignores the zero flag when a precision is given.
    let spec = Spec {
        zero: spec.zero && spec.prec.is_none() && !spec.minus,
        ..spec
    };
    pad(spec, &s, true)
}

fn format_float(spec: Spec, verb: char, f: f64, v: &Value) -> String {
    let body = match verb {
        'v' | 'g' => format_g(f, spec.prec, false),
        'G' => format_g(f, spec.prec, true),
        'e' => format_e(f, spec.prec.unwrap_or(6), false),
        'E' => format_e(f, spec.prec.unwrap_or(6), true),
        'f' | 'F' => format_f(f, spec.prec.unwrap_or(6)),
        _ => return bad_verb(verb, &Val::Ref(v)),
    };
    let s = match body.strip_prefix('-') {
        Some(rest) => format!("-{rest}"),
        None if body.starts_with('+') => body,
        None => format!("{}{body}", sign(spec, false)),
    };
    let spec = Spec {
        zero: spec.zero && !spec.minus && f.is_finite(),
        ..spec
    };
    pad(spec, &s, true)
}

fn format_str(spec: Spec, verb: char, s: &str, v: &Value) -> String {
    let truncated: String = match spec.prec {
        Some(p) => s.chars().take(p).collect(),
        None => s.to_string(),
    };
    let body = match verb {
        'v' | 's' => truncated,
        'q' => go_quote(&truncated),
        'x' | 'X' => {
            let sep = if spec.space { " " } else { "" };
            let hex: Vec<String> = truncated
                .bytes()
                .map(|b| {
                    let h = if verb == 'x' {
                        format!("{b:02x}")
                    } else {
                        format!("{b:02X}")
                    };
                    if spec.sharp {
                        format!("0{}{h}", if verb == 'x' { 'x' } else { 'X' })
                    } else {
                        h
                    }
                })
                .collect();
            hex.join(sep)
        }
        _ => return format!("%!{verb}({}={})", json_type_name(v), print_json(v)),
    };
    pad(spec, &body, false)
}

/// Go's `strconv.Quote`.
pub(super) fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        push_escaped(&mut out, c, '"');
    }
    out.push('"');
    out
}

/// Go's `strconv.QuoteRune`.
fn go_quote_char(c: char) -> String {
    let mut out = String::from("'");
    push_escaped(&mut out, c, '\'');
    out.push('\'');
    out
}

fn push_escaped(out: &mut String, c: char, quote: char) {
    match c {
        '\u{7}' => out.push_str("\\a"),
        '\u{8}' => out.push_str("\\b"),
        '\u{c}' => out.push_str("\\f"),
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        '\u{b}' => out.push_str("\\v"),
        '\\' => out.push_str("\\\\"),
        c if c == quote => {
            out.push('\\');
            out.push(c);
        }
        ' ' => out.push(' '),
        c if c.is_control() || c.is_whitespace() => {
            let n = u32::from(c);
            if n < 0x80 {
                out.push_str(&format!("\\x{n:02x}"));
            } else if n < 0x10000 {
                out.push_str(&format!("\\u{n:04x}"));
            } else {
                out.push_str(&format!("\\U{n:08x}"));
            }
        }
        c => out.push(c),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn f(format: &str, args: &[Value]) -> String {
        let vals: Vec<Val<'_>> = args.iter().map(Val::Ref).collect();
        sprintf(format, &vals)
    }

    #[test]
    fn common_verbs() {
        assert_eq!(f("%s-%d", &[json!("web"), json!(3)]), "web-3");
        assert_eq!(
            f("%v %v %v", &[json!(true), json!(1.5), json!(["a", "b"])]),
            "true 1.5 [a b]"
        );
        assert_eq!(f("%q", &[json!("a\"b\n")]), r#""a\"b\n""#);
        assert_eq!(f("%-8s|", &[json!("ab")]), "ab      |");
        assert_eq!(f("%8s|", &[json!("ab")]), "      ab|");
        assert_eq!(
            f("%-20s%s", &[json!("NAME"), json!("x")]),
            "NAME                x"
        );
        assert_eq!(f("%05d", &[json!(-42)]), "-0042");
        assert_eq!(f("%+d % d", &[json!(5), json!(5)]), "+5  5");
        assert_eq!(f("%.3d", &[json!(7)]), "007");
        assert_eq!(
            f(
                "%x %X %#x %o %b",
                &[json!(255), json!(255), json!(255), json!(8), json!(5)]
            ),
            "ff FF 0xff 10 101"
        );
        assert_eq!(f("%c%c", &[json!(72), json!(105)]), "Hi");
        assert_eq!(
            f(
                "%.2f %e %g",
                &[json!(1.23456), json!(1234.5678), json!(0.00001)]
            ),
            "1.23 1.234568e+03 1e-05"
        );
        assert_eq!(f("%8.2f|", &[json!(1.23456)]), "    1.23|");
        assert_eq!(f("%.3s", &[json!("abcdef")]), "abc");
        assert_eq!(f("%x", &[json!("hi")]), "6869");
        assert_eq!(f("%t", &[json!(false)]), "false");
        assert_eq!(f("100%%", &[]), "100%");
        assert_eq!(f("%v", &[json!({"b": 2, "a": "x"})]), "map[a:x b:2]");
        assert_eq!(f("%s", &[json!(["a", "b"])]), "[a b]");
        assert_eq!(f("%5s|", &[json!("é")]), "    é|");
    }

    #[test]
    fn mismatches_are_marked_like_go() {
        assert_eq!(f("%d", &[json!("x")]), "%!d(string=x)");
        assert_eq!(f("%s", &[json!(5)]), "%!s(int=5)");
        assert_eq!(f("%d", &[json!(1.5)]), "%!d(float64=1.5)");
        assert_eq!(f("%s", &[json!(null)]), "%!s(<nil>)");
        assert_eq!(f("%v", &[json!(null)]), "<nil>");
        assert_eq!(f("%s %s", &[json!("a")]), "a %!s(MISSING)");
        assert_eq!(
            f("%s", &[json!("a"), json!(1), json!("b")]),
            "a%!(EXTRA int=1, string=b)"
        );
        assert_eq!(f("50%", &[]), "50%!(NOVERB)");
        assert_eq!(f("%z", &[json!(true)]), "%!z(bool=true)");
        assert_eq!(sprintf("%s", &[Val::Missing]), "%!s(<nil>)");
    }

    #[test]
    fn quoting_like_strconv() {
        assert_eq!(go_quote("tab\there"), r#""tab\there""#);
        assert_eq!(go_quote("\u{1}é\u{a0}"), r#""\x01é\u00a0""#);
        assert_eq!(go_quote_char('\''), r"'\''");
    }
}
