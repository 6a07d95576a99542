//! JSON written the way Go's `encoding/json` writes it.
//!
//! podman prints JSON three ways, and scripts diff the bytes:
//!
//! | podman | style |
//! | --- | --- |
//! | `inspect` (default `--format json`) | [`JsonStyle::INSPECT`]: an `Encoder` with `SetIndent("", "     ")` (five spaces), HTML not escaped, newline at the end |
//! | `images --format json`, `volume ls --format json` | [`JsonStyle::indented("    ")`](JsonStyle::indented): `json.MarshalIndent`, which escapes `<`, `>`, `&` |
//! | `ps --format json` | `JsonStyle::indented("  ")` |
//! | the `json` template function | [`JsonStyle::COMPACT`]: one line, HTML not escaped |
//!
//! Go also always escapes U+2028 and U+2029, and writes floats outside
//! [1e-6, 1e21) in exponent form (`1e+21`); serde_json does neither by
//! itself, so a [`serde_json::ser::Formatter`] adds both.
//!
//! Output keeps the order the value serialises in: a struct keeps its field
//! order (like Go), a `serde_json::Value` object is sorted by key (like a Go
//! map).

use std::io;

use serde::Serialize;
use serde_json::ser::{CompactFormatter, Formatter, PrettyFormatter};

/// How to lay out and escape JSON; see the module docs for which podman
/// command uses which.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JsonStyle {
    /// Indent per level; `None` writes one line.
    pub indent: Option<&'static str>,
    /// Escape `<`, `>` and `&` as `\u003c`, `\u003e`, `\u0026` (Go's default).
    pub escape_html: bool,
    /// Append a newline (a Go `Encoder` does; `Marshal` does not).
    pub trailing_newline: bool,
}

impl JsonStyle {
    /// podman `inspect`: five-space indent, HTML kept, newline at the end.
    pub const INSPECT: JsonStyle = JsonStyle {
        indent: Some("     "),
        escape_html: false,
        trailing_newline: true,
    };

    /// The template function `json`: compact, HTML kept, no newline.
    pub const COMPACT: JsonStyle = JsonStyle {
        indent: None,
        escape_html: false,
        trailing_newline: false,
    };

    /// `json.MarshalIndent(v, "", indent)`: HTML escaped, no newline (the
    /// commands print it with `fmt.Println`, which adds one).
    pub const fn indented(indent: &'static str) -> JsonStyle {
        JsonStyle {
            indent: Some(indent),
            escape_html: true,
            trailing_newline: false,
        }
    }
}

/// Serialises `value` in `style`.
///
/// # Errors
/// Whatever the value's `Serialize` implementation reports (a map with
/// non-string keys, a failing custom serialiser).
pub fn to_string<T: Serialize + ?Sized>(value: &T, style: JsonStyle) -> serde_json::Result<String> {
    let mut buf = Vec::with_capacity(256);
    write(&mut buf, value, style)?;
    // The serializer only ever writes UTF-8.
    Ok(String::from_utf8(buf).unwrap_or_default())
}

/// `v` with the keys of every map-like object sorted, as Go's encoders and
/// printers order map keys; struct-like objects (see
/// [`crate::format::template`]'s rule) keep their field order.
pub fn go_order(v: serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    match v {
        Value::Array(a) => Value::Array(a.into_iter().map(go_order).collect()),
        Value::Object(o) => {
            let sorted = !super::template::value::is_struct_like(&o);
            let mut items: Vec<(String, Value)> =
                o.into_iter().map(|(k, e)| (k, go_order(e))).collect();
            if sorted {
                items.sort_by(|a, b| a.0.cmp(&b.0));
            }
            Value::Object(items.into_iter().collect())
        }
        other => other,
    }
}

/// Serialises `value` in `style` into `out`.
///
/// # Errors
/// I/O errors from `out`, and whatever `Serialize` reports.
pub fn write<W: io::Write, T: Serialize + ?Sized>(
    mut out: W,
    value: &T,
    style: JsonStyle,
) -> serde_json::Result<()> {
    let fmt = GoFormatter {
        pretty: style
            .indent
            .map(|i| PrettyFormatter::with_indent(i.as_bytes())),
        escape_html: style.escape_html,
    };
    let mut ser = serde_json::Serializer::with_formatter(&mut out, fmt);
    // Objects keep the order they were built in (serde_json's
    // preserve_order); Go sorts the keys of maps, so map-like objects are
    // sorted here and struct-like ones (capitalised fields) keep theirs.
    go_order(serde_json::to_value(value)?).serialize(&mut ser)?;
    if style.trailing_newline {
        out.write_all(b"\n").map_err(serde_json::Error::io)?;
    }
    Ok(())
}

/// serde_json's compact or pretty layout with Go's escaping and floats.
struct GoFormatter<'a> {
    pretty: Option<PrettyFormatter<'a>>,
    escape_html: bool,
}

/// Forwards a layout call to the pretty formatter, or the compact one.
macro_rules! layout {
    ($name:ident $(, $arg:ident: $ty:ty)*) => {
        fn $name<W: ?Sized + io::Write>(&mut self, w: &mut W $(, $arg: $ty)*) -> io::Result<()> {
            match &mut self.pretty {
                Some(p) => p.$name(w $(, $arg)*),
                None => CompactFormatter.$name(w $(, $arg)*),
            }
        }
    };
}

impl Formatter for GoFormatter<'_> {
    layout!(begin_array);
    layout!(end_array);
    layout!(begin_array_value, first: bool);
    layout!(end_array_value);
    layout!(begin_object);
    layout!(end_object);
    layout!(begin_object_key, first: bool);
    layout!(begin_object_value);
    layout!(end_object_value);

    fn write_f64<W: ?Sized + io::Write>(&mut self, w: &mut W, value: f64) -> io::Result<()> {
        w.write_all(super::float::format_json(value).as_bytes())
    }

    fn write_f32<W: ?Sized + io::Write>(&mut self, w: &mut W, value: f32) -> io::Result<()> {
        self.write_f64(w, f64::from(value))
    }

    fn write_string_fragment<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        fragment: &str,
    ) -> io::Result<()> {
        let mut start = 0;
        for (i, ch) in fragment.char_indices() {
            let esc = match ch {
                '<' | '>' | '&' if self.escape_html => true,
                '\u{2028}' | '\u{2029}' => true,
                _ => false,
            };
            if esc {
                w.write_all(&fragment.as_bytes()[start..i])?;
                write!(w, "\\u{:04x}", u32::from(ch))?;
                start = i + ch.len_utf8();
            }
        }
        w.write_all(&fragment.as_bytes()[start..])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[derive(Serialize)]
    struct Row {
        #[serde(rename = "Names")]
        names: Vec<String>,
        #[serde(rename = "Id")]
        id: String,
        #[serde(rename = "Command")]
        command: String,
    }

    #[test]
    fn marshal_indent_keeps_struct_order_and_escapes_html() {
        let rows = vec![Row {
            names: vec!["web".into()],
            id: "abc".into(),
            command: "sh -c a && b <x>".into(),
        }];
        let got = to_string(&rows, JsonStyle::indented("    ")).unwrap();
        let want = "[\n    {\n        \"Names\": [\n            \"web\"\n        ],\n        \"Id\": \"abc\",\n        \"Command\": \"sh -c a \\u0026\\u0026 b \\u003cx\\u003e\"\n    }\n]";
        assert_eq!(got, want);
    }

    #[test]
    fn inspect_style_is_five_spaces_unescaped_with_newline() {
        let v = json!([{"A": "<&>", "B": []}]);
        let got = to_string(&v, JsonStyle::INSPECT).unwrap();
        assert_eq!(
            got,
            "[\n     {\n          \"A\": \"<&>\",\n          \"B\": []\n     }\n]\n"
        );
    }

    #[test]
    fn compact_escapes_like_go() {
        let v = json!({"s": "a\u{2028}b\u{7}\t\"\\", "f": 1e21, "g": 0.5, "e": {}});
        let got = to_string(&v, JsonStyle::COMPACT).unwrap();
        assert_eq!(
            got,
            r#"{"e":{},"f":1e+21,"g":0.5,"s":"a\u2028b\u0007\t\"\\"}"#
        );
    }

    #[test]
    fn empty_array_stays_compact() {
        let v: Vec<u8> = vec![];
        assert_eq!(to_string(&v, JsonStyle::indented("  ")).unwrap(), "[]");
    }
}
