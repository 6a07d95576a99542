//! Values during evaluation, and how Go prints, tests and names them.
//!
//! JSON data stand in for podman's Go values: an object for a struct or a
//! map, an array for a slice, a number for an `int` (integers) or a
//! `float64`, `null` for a nil pointer/map/interface. Go's "invalid" value
//! (a missing map key) is [`Val::Missing`] and prints `<no value>`.

use serde_json::Value;

use super::super::float::format_g;

/// A value during evaluation: borrowed from the data where possible.
#[derive(Debug, Clone)]
pub(super) enum Val<'a> {
    /// Go's invalid `reflect.Value`: a missing key, a field of nil.
    Missing,
    Ref(&'a Value),
    Own(Value),
    /// The rows passed to a report, ranged over as one array.
    Rows(&'a [Value]),
}

impl<'a> Val<'a> {
    /// The JSON value, if there is one (`Rows` and `Missing` have none).
    pub fn json(&self) -> Option<&Value> {
        match self {
            Val::Ref(v) => Some(v),
            Val::Own(v) => Some(v),
            Val::Missing | Val::Rows(_) => None,
        }
    }

    /// An array's elements, borrowed.
    pub fn list(&self) -> Option<&[Value]> {
        match self {
            Val::Rows(r) => Some(r),
            _ => self.json().and_then(Value::as_array).map(Vec::as_slice),
        }
    }

    /// The string, when the value is a JSON string.
    pub fn as_str(&self) -> Option<&str> {
        self.json().and_then(Value::as_str)
    }

    /// Missing, or JSON null: Go's nil.
    pub fn is_nil(&self) -> bool {
        matches!(self, Val::Missing) || matches!(self.json(), Some(Value::Null))
    }

    /// Go's `isTrue`: false for the zero value, empty collections and nil.
    pub fn truth(&self) -> bool {
        match self {
            Val::Missing => false,
            Val::Rows(r) => !r.is_empty(),
            _ => match self.json() {
                Some(Value::Null) | None => false,
                Some(Value::Bool(b)) => *b,
                Some(Value::Number(n)) => n.as_f64().is_some_and(|f| f != 0.0),
                Some(Value::String(s)) => !s.is_empty(),
                Some(Value::Array(a)) => !a.is_empty(),
                Some(Value::Object(o)) => !o.is_empty(),
            },
        }
    }

    /// Go's name for the type this value stands for, as error messages
    /// print it.
    pub fn type_name(&self) -> &'static str {
        match self {
            Val::Missing => "<nil>",
            Val::Rows(_) => "[]interface {}",
            _ => match self.json() {
                Some(v) => json_type_name(v),
                None => "<nil>",
            },
        }
    }

    /// Go's `fmt.Sprint` of the value, as `{{.}}` prints it.
    pub fn print(&self) -> String {
        match self {
            Val::Missing => "<no value>".to_string(),
            Val::Rows(r) => print_list(r),
            _ => self.json().map_or_else(String::new, print_json),
        }
    }

    /// The value as JSON, owned (for functions that build new values).
    pub fn to_json(&self) -> Value {
        match self {
            Val::Missing => Value::Null,
            Val::Rows(r) => Value::Array(r.to_vec()),
            Val::Ref(v) => (*v).clone(),
            Val::Own(v) => v.clone(),
        }
    }

    /// An integer argument (`int` in Go; JSON integers only).
    pub fn as_int(&self) -> Option<i64> {
        self.json().and_then(Value::as_i64)
    }

    /// A string value.
    pub fn string(s: impl Into<String>) -> Val<'a> {
        Val::Own(Value::String(s.into()))
    }
}

/// Go's type name for a JSON value.
pub(super) fn json_type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "<nil>",
        Value::Bool(_) => "bool",
        Value::Number(n) if n.is_f64() => "float64",
        Value::Number(_) => "int",
        Value::String(_) => "string",
        Value::Array(_) => "[]interface {}",
        Value::Object(_) => "map[string]interface {}",
    }
}

/// A JSON number as Go prints an `int` or a `float64`.
pub(super) fn print_number(n: &serde_json::Number) -> String {
    if let Some(i) = n.as_i64() {
        i.to_string()
    } else if let Some(u) = n.as_u64() {
        u.to_string()
    } else {
        format_g(n.as_f64().unwrap_or(0.0), None, false)
    }
}

/// Go's `%v`: `[a b]` for slices, `map[k:v]` with sorted keys, `<nil>`.
pub(super) fn print_json(v: &Value) -> String {
    let mut out = String::new();
    write_json(&mut out, v);
    out
}

fn print_list(items: &[Value]) -> String {
    let mut out = String::new();
    write_list(&mut out, items);
    out
}

fn write_list(out: &mut String, items: &[Value]) {
    out.push('[');
    for (i, e) in items.iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        write_json(out, e);
    }
    out.push(']');
}

fn write_json(out: &mut String, v: &Value) {
    match v {
        Value::Null => out.push_str("<nil>"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&print_number(n)),
        Value::String(s) => out.push_str(s),
        Value::Array(a) => write_list(out, a),
        Value::Object(o) => {
            // Go's fmt prints map keys sorted.
            let mut keys: Vec<(&String, &Value)> = o.iter().collect();
            keys.sort_by(|a, b| a.0.cmp(b.0));
            out.push_str("map[");
            for (i, (k, e)) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                out.push_str(k);
                out.push(':');
                write_json(out, e);
            }
            out.push(']');
        }
    }
}

/// Whether a missing key of this object is an error (the object stands for
/// a Go struct) rather than `<no value>` (a Go map).
///
/// podman's rows and inspect documents are structs whose field names start
/// with an upper-case letter; label, annotation and network maps have keys
/// users chose. So a non-empty object whose keys all start upper-case is
/// taken for a struct.
pub(crate) fn is_struct_like(map: &serde_json::Map<String, Value>) -> bool {
    !map.is_empty()
        && map
            .keys()
            .all(|k| k.starts_with(|c: char| c.is_ascii_uppercase()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn prints_like_go_fmt() {
        let cases = [
            (json!("s"), "s"),
            (json!(5), "5"),
            (json!(-5), "-5"),
            (json!(18446744073709551615u64), "18446744073709551615"),
            (json!(1.5), "1.5"),
            (json!(2e6), "2e+06"),
            (json!(true), "true"),
            (json!(null), "<nil>"),
            (json!(["a", "b"]), "[a b]"),
            (json!([]), "[]"),
            (json!({"b": 1, "a": [1, 2]}), "map[a:[1 2] b:1]"),
            (json!({}), "map[]"),
        ];
        for (v, want) in cases {
            assert_eq!(Val::Ref(&v).print(), want, "{v}");
        }
        assert_eq!(Val::Missing.print(), "<no value>");
    }

    #[test]
    fn truthiness_follows_go() {
        for (v, want) in [
            (json!(0), false),
            (json!(0.0), false),
            (json!(2), true),
            (json!(""), false),
            (json!("x"), true),
            (json!([]), false),
            (json!([0]), true),
            (json!({}), false),
            (json!({"a": 1}), true),
            (json!(null), false),
            (json!(false), false),
        ] {
            assert_eq!(Val::Ref(&v).truth(), want, "{v}");
        }
        assert!(!Val::Missing.truth());
    }

    #[test]
    fn struct_like_objects() {
        let s = json!({"Status": "running", "Pid": 1});
        let m = json!({"app": "web", "Tier": "x"});
        assert!(is_struct_like(s.as_object().unwrap()));
        assert!(!is_struct_like(m.as_object().unwrap()));
        assert!(!is_struct_like(json!({}).as_object().unwrap()));
    }
}
