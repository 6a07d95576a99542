//! The functions a template can call: Go's builtins (`and or not len
//! index slice print printf println eq ne lt le gt ge`) and podman's
//! report functions (`json lower upper title join split pad truncate`).

use serde_json::Value;

use super::super::json::{to_string, JsonStyle};
use super::printf::sprintf;
use super::value::Val;

/// Every function name a template may use.
const NAMES: [&str; 23] = [
    "and", "or", "not", "len", "index", "slice", "print", "printf", "println", "eq", "ne", "lt",
    "le", "gt", "ge", "json", "lower", "upper", "title", "join", "split", "pad", "truncate",
];

/// Whether `name` is a function templates may call.
pub(super) fn is_defined(name: &str) -> bool {
    NAMES.contains(&name)
}

/// How a call failed, which decides how Go words the error.
#[derive(Debug)]
pub(super) enum CallError {
    /// Reported as is (argument count and type checks).
    Direct(String),
    /// Reported as `error calling NAME: …` (the function itself failed).
    Calling(String),
}

type CResult<'a> = Result<Val<'a>, CallError>;

/// Go's arity check: `want N got M`, or `want at least N` for variadics.
fn arity(name: &str, args: &[Val<'_>], want: usize, variadic: bool) -> Result<(), CallError> {
    let ok = if variadic {
        args.len() >= want
    } else {
        args.len() == want
    };
    if ok {
        return Ok(());
    }
    let at_least = if variadic { "at least " } else { "" };
    Err(CallError::Direct(format!(
        "wrong number of args for {name}: want {at_least}{want} got {}",
        args.len()
    )))
}

/// A `string` parameter.
fn string_arg<'v>(v: &'v Val<'_>) -> Result<&'v str, CallError> {
    if v.is_nil() {
        return Err(CallError::Direct("invalid value; expected string".into()));
    }
    v.as_str().ok_or_else(|| {
        CallError::Direct(format!(
            "wrong type for value; expected string; got {}",
            v.type_name()
        ))
    })
}

/// An `int` parameter.
fn int_arg(v: &Val<'_>) -> Result<i64, CallError> {
    if v.is_nil() {
        return Err(CallError::Direct("invalid value; expected int".into()));
    }
    v.as_int().ok_or_else(|| {
        CallError::Direct(format!(
            "wrong type for value; expected int; got {}",
            v.type_name()
        ))
    })
}

/// Calls a function other than `and`/`or` (which the evaluator
/// short-circuits) on evaluated arguments. In `header` mode the formatting
/// functions return their subject unchanged, so a header row keeps
/// `CONTAINER ID` for `{{.ID | lower}}` or `{{json .Labels}}`.
pub(super) fn call<'a>(name: &str, mut args: Vec<Val<'a>>, header: bool) -> CResult<'a> {
    let passthrough = matches!(
        name,
        "json" | "lower" | "upper" | "title" | "truncate" | "split" | "join" | "index"
    );
    if header && passthrough && !args.is_empty() {
        return Ok(args.swap_remove(0));
    }
    match name {
        "not" => {
            arity(name, &args, 1, false)?;
            Ok(Val::Own(Value::Bool(!args[0].truth())))
        }
        "and" | "or" => {
            arity(name, &args, 1, true)?;
            let want = name == "or";
            let i = args
                .iter()
                .position(|a| a.truth() == want)
                .unwrap_or(args.len() - 1);
            Ok(args.swap_remove(i))
        }
        "len" => {
            arity(name, &args, 1, false)?;
            let n = match &args[0] {
                Val::Rows(r) => r.len(),
                a => match a.json() {
                    Some(Value::String(s)) => s.len(),
                    Some(Value::Array(v)) => v.len(),
                    Some(Value::Object(o)) => o.len(),
                    None | Some(Value::Null) => {
                        return Err(CallError::Calling("len of nil pointer".into()))
                    }
                    Some(_) => {
                        return Err(CallError::Calling(format!("len of type {}", a.type_name())))
                    }
                },
            };
            Ok(Val::Own(Value::from(n)))
        }
        "index" => {
            arity(name, &args, 1, true)?;
            let mut it = args.into_iter();
            let item = it.next().unwrap_or(Val::Missing);
            it.try_fold(item, index_one)
        }
        "slice" => {
            arity(name, &args, 1, true)?;
            slice(&args)
        }
        "print" => Ok(Val::string(sprint(&args))),
        "println" => {
            let parts: Vec<String> = args.iter().map(Val::print).collect();
            Ok(Val::string(parts.join(" ") + "\n"))
        }
        "printf" => {
            arity(name, &args, 1, true)?;
            let format = string_arg(&args[0])?.to_string();
            Ok(Val::string(sprintf(&format, &args[1..])))
        }
        "eq" => {
            arity(name, &args, 1, true)?;
            eq(&args[0], &args[1..]).map(|b| Val::Own(Value::Bool(b)))
        }
        "ne" | "lt" | "le" | "gt" | "ge" => {
            arity(name, &args, 2, false)?;
            let (a, b) = (&args[0], &args[1]);
            let r = match name {
                "ne" => !eq(a, std::slice::from_ref(b))?,
                "lt" => less(a, b)?,
                "le" => less(a, b)? || eq(a, std::slice::from_ref(b))?,
                "gt" => !(less(a, b)? || eq(a, std::slice::from_ref(b))?),
                _ => !less(a, b)?,
            };
            Ok(Val::Own(Value::Bool(r)))
        }
        "json" => {
            arity(name, &args, 1, false)?;
            let s = match &args[0] {
                Val::Rows(r) => to_string(r, JsonStyle::COMPACT),
                a => to_string(
                    &a.json().cloned().unwrap_or(Value::Null),
                    JsonStyle::COMPACT,
                ),
            };
            s.map(Val::string)
                .map_err(|e| CallError::Calling(e.to_string()))
        }
        "lower" | "upper" | "title" => {
            arity(name, &args, 1, false)?;
            let s = string_arg(&args[0])?;
            Ok(Val::string(match name {
                "lower" => s.to_lowercase(),
                "upper" => s.to_uppercase(),
                _ => title(s),
            }))
        }
        "join" => {
            arity(name, &args, 2, false)?;
            let sep = string_arg(&args[1])?;
            let parts: Vec<String> = match &args[0] {
                a if a.is_nil() => Vec::new(),
                a => match a.list() {
                    Some(items) => items
                        .iter()
                        .map(|v| {
                            v.as_str()
                                .map_or_else(|| Val::Ref(v).print(), str::to_string)
                        })
                        .collect(),
                    None => {
                        return Err(CallError::Direct(format!(
                            "wrong type for value; expected []string; got {}",
                            a.type_name()
                        )))
                    }
                },
            };
            Ok(Val::string(parts.join(sep)))
        }
        "split" => {
            arity(name, &args, 2, false)?;
            let (s, sep) = (string_arg(&args[0])?, string_arg(&args[1])?);
            let parts: Vec<Value> = if sep.is_empty() {
                s.chars().map(|c| Value::String(c.to_string())).collect()
            } else {
                s.split(sep).map(|p| Value::String(p.to_string())).collect()
            };
            Ok(Val::Own(Value::Array(parts)))
        }
        "pad" => {
            arity(name, &args, 3, false)?;
            let s = string_arg(&args[0])?;
            let (pre, post) = (int_arg(&args[1])?, int_arg(&args[2])?);
            if s.is_empty() {
                return Ok(Val::string(""));
            }
            let n = |k: i64| {
                usize::try_from(k)
                    .map_err(|_| CallError::Calling("strings: negative Repeat count".into()))
            };
            Ok(Val::string(format!(
                "{}{s}{}",
                " ".repeat(n(pre)?),
                " ".repeat(n(post)?)
            )))
        }
        "truncate" => {
            arity(name, &args, 2, false)?;
            let s = string_arg(&args[0])?;
            let n = int_arg(&args[1])?;
            if (s.len() as i64) < n {
                return Ok(Val::string(s));
            }
            let mut end = usize::try_from(n).map_err(|_| {
                CallError::Calling(format!("runtime error: slice bounds out of range [:{n}]"))
            })?;
            // Go cuts bytes; stay on a character boundary so the output
            // remains valid UTF-8.
            while !s.is_char_boundary(end) {
                end -= 1;
            }
            Ok(Val::string(&s[..end]))
        }
        other => Err(CallError::Direct(format!(
            "function \"{other}\" not defined"
        ))),
    }
}

/// Go's `strings.Title`: upper-cases the first letter of each word, a word
/// starting after anything but a letter, digit or `_`.
pub(crate) fn title(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut prev_sep = true;
    for c in s.chars() {
        if prev_sep {
            out.extend(c.to_uppercase());
        } else {
            out.push(c);
        }
        prev_sep = if c.is_ascii() {
            !(c.is_ascii_alphanumeric() || c == '_')
        } else {
            !c.is_alphanumeric() && c.is_whitespace()
        };
    }
    out
}

/// `fmt.Sprint`: a space between operands when neither is a string.
fn sprint(args: &[Val<'_>]) -> String {
    let mut out = String::new();
    for (i, a) in args.iter().enumerate() {
        let is_str = a.as_str().is_some();
        if i > 0 && !is_str && args[i - 1].as_str().is_none() {
            out.push(' ');
        }
        out.push_str(&a.print());
    }
    out
}

/// One step of `index`.
fn index_one<'a>(item: Val<'a>, key: Val<'a>) -> CResult<'a> {
    if item.is_nil() {
        let what = if matches!(item, Val::Missing) {
            "untyped nil"
        } else {
            "nil pointer"
        };
        return Err(CallError::Calling(format!("index of {what}")));
    }
    let position = |len: usize| -> Result<usize, CallError> {
        match key.json() {
            Some(Value::Number(n)) if n.as_i64().is_some() || n.as_u64().is_some() => {
                let x = n.as_i64().unwrap_or(i64::MAX);
                usize::try_from(x)
                    .ok()
                    .filter(|i| *i < len)
                    .ok_or_else(|| CallError::Calling(format!("index out of range: {x}")))
            }
            None | Some(Value::Null) => Err(CallError::Calling(
                "cannot index slice/array with nil".into(),
            )),
            Some(_) => Err(CallError::Calling(format!(
                "cannot index slice/array with type {}",
                key.type_name()
            ))),
        }
    };
    match item {
        Val::Rows(r) => Ok(Val::Ref(&r[position(r.len())?])),
        Val::Ref(v) => index_value(v, &key, position).map(|r| match r {
            Indexed::Elem(e) => Val::Ref(e),
            Indexed::Owned(o) => Val::Own(o),
        }),
        Val::Own(v) => index_value(&v, &key, position).map(|r| match r {
            Indexed::Elem(e) => Val::Own(e.clone()),
            Indexed::Owned(o) => Val::Own(o),
        }),
        Val::Missing => Err(CallError::Calling("index of untyped nil".into())),
    }
}

enum Indexed<'v> {
    Elem(&'v Value),
    Owned(Value),
}

fn index_value<'v>(
    v: &'v Value,
    key: &Val<'_>,
    position: impl Fn(usize) -> Result<usize, CallError>,
) -> Result<Indexed<'v>, CallError> {
    match v {
        Value::Array(a) => Ok(Indexed::Elem(&a[position(a.len())?])),
        // A byte of the string, as Go's index of a string gives a uint8.
        Value::String(s) => Ok(Indexed::Owned(Value::from(
            s.as_bytes()[position(s.len())?],
        ))),
        Value::Object(o) => {
            let k = key.as_str().ok_or_else(|| {
                CallError::Calling(format!(
                    "value has type {}; should be string",
                    key.type_name()
                ))
            })?;
            // A missing key is the zero value: podman's labels and
            // annotations are map[string]string, whose zero is "".
            Ok(o.get(k)
                .map_or(Indexed::Owned(Value::String(String::new())), Indexed::Elem))
        }
        other => Err(CallError::Calling(format!(
            "can't index item of type {}",
            Val::Ref(other).type_name()
        ))),
    }
}

/// Go's `slice x i j` for strings and arrays.
fn slice<'a>(args: &[Val<'a>]) -> CResult<'a> {
    let item = &args[0];
    let idx: Vec<i64> = args[1..].iter().map(int_arg).collect::<Result<_, _>>()?;
    if idx.len() > 2 {
        return Err(CallError::Calling("too many slice indexes: 3".into()));
    }
    let bounds = |len: usize| -> Result<(usize, usize), CallError> {
        let to = |x: i64| usize::try_from(x).ok().filter(|i| *i <= len);
        let lo = idx.first().map_or(Some(0), |x| to(*x));
        let hi = idx.get(1).map_or(Some(len), |x| to(*x));
        match (lo, hi) {
            (Some(l), Some(h)) if l <= h => Ok((l, h)),
            _ => Err(CallError::Calling(format!(
                "slice index out of range: {idx:?}"
            ))),
        }
    };
    if let Some(s) = item.as_str() {
        let (l, h) = bounds(s.len())?;
        let part = s
            .get(l..h)
            .ok_or_else(|| CallError::Calling("slice splits a character".into()))?;
        return Ok(Val::string(part));
    }
    match item.list() {
        Some(items) => {
            let (l, h) = bounds(items.len())?;
            Ok(Val::Own(Value::Array(items[l..h].to_vec())))
        }
        None => Err(CallError::Calling(format!(
            "can't slice item of type {}",
            item.type_name()
        ))),
    }
}

/// The comparable kind of a value.
enum Basic<'v> {
    Nil,
    Bool(bool),
    Int(i128),
    Float(f64),
    Str(&'v str),
    Other,
}

fn basic<'v>(v: &'v Val<'_>) -> Basic<'v> {
    match v.json() {
        None | Some(Value::Null) if !matches!(v, Val::Rows(_)) => Basic::Nil,
        Some(Value::Bool(b)) => Basic::Bool(*b),
        Some(Value::Number(n)) => match (n.as_i64(), n.as_u64()) {
            (Some(i), _) => Basic::Int(i128::from(i)),
            (None, Some(u)) => Basic::Int(i128::from(u)),
            _ => Basic::Float(n.as_f64().unwrap_or(0.0)),
        },
        Some(Value::String(s)) => Basic::Str(s),
        _ => Basic::Other,
    }
}

/// Go's `eq`: true when the first argument equals any of the others.
/// Integers and floats compare by value (JSON does not keep Go's types).
fn eq(a: &Val<'_>, others: &[Val<'_>]) -> Result<bool, CallError> {
    if others.is_empty() {
        return Err(CallError::Calling("missing argument for comparison".into()));
    }
    for b in others {
        let truth = match (basic(a), basic(b)) {
            (Basic::Nil, Basic::Nil) => true,
            (Basic::Nil, _) | (_, Basic::Nil) => false,
            (Basic::Bool(x), Basic::Bool(y)) => x == y,
            (Basic::Int(x), Basic::Int(y)) => x == y,
            (Basic::Int(x), Basic::Float(y)) | (Basic::Float(y), Basic::Int(x)) => x as f64 == y,
            (Basic::Float(x), Basic::Float(y)) => x == y,
            (Basic::Str(x), Basic::Str(y)) => x == y,
            (Basic::Other, _) | (_, Basic::Other) => {
                return Err(CallError::Calling(format!(
                    "non-comparable types {}, {}",
                    a.type_name(),
                    b.type_name()
                )))
            }
            _ => {
                return Err(CallError::Calling(
                    "incompatible types for comparison".into(),
                ))
            }
        };
        if truth {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Go's `lt`.
fn less(a: &Val<'_>, b: &Val<'_>) -> Result<bool, CallError> {
    let invalid = || CallError::Calling("invalid type for comparison".into());
    match (basic(a), basic(b)) {
        (Basic::Int(x), Basic::Int(y)) => Ok(x < y),
        (Basic::Int(x), Basic::Float(y)) => Ok((x as f64) < y),
        (Basic::Float(x), Basic::Int(y)) => Ok(x < y as f64),
        (Basic::Float(x), Basic::Float(y)) => Ok(x < y),
        (Basic::Str(x), Basic::Str(y)) => Ok(x < y),
        (Basic::Nil | Basic::Bool(_) | Basic::Other, _)
        | (_, Basic::Nil | Basic::Bool(_) | Basic::Other) => Err(invalid()),
        _ => Err(CallError::Calling(
            "incompatible types for comparison".into(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn title_like_go() {
        assert_eq!(title("running"), "Running");
        assert_eq!(
            title("hello wide-world o'neil x_y"),
            "Hello Wide-World O'Neil X_y"
        );
        assert_eq!(title(""), "");
    }
}
