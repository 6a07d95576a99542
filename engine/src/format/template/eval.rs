//! Executes a parsed template over JSON data with Go's semantics: field
//! chains, variables and their scopes, pipelines, if/with/range with else,
//! break/continue, and Go's error wording.
//!
//! Header mode renders a table's header row from the same template: every
//! field chain evaluates to its column header, `range` runs its body once,
//! and the formatting functions pass their subject through.

use serde_json::Value;

use super::ast::{Arg, Branch, Cmd, Node, Number, Pipe};
use super::funcs::{self, CallError};
use super::value::{is_struct_like, Val};
use crate::format::headers::Headers;

/// An execution error at a node: its offset, its text, the message.
#[derive(Debug)]
pub(super) struct ExecError {
    pub pos: usize,
    pub context: String,
    pub msg: String,
}

type EResult<T> = Result<T, ExecError>;

/// How a list of nodes ended.
#[derive(Debug, PartialEq)]
enum Flow {
    Normal,
    Break,
    Continue,
}

pub(super) struct Exec<'t, 'a> {
    out: &'t mut String,
    vars: Vec<(&'t str, Val<'a>)>,
    headers: Option<&'t Headers>,
}

fn fail<T>(node: &dyn std::fmt::Display, pos: usize, msg: impl Into<String>) -> EResult<T> {
    Err(ExecError {
        pos,
        context: node.to_string(),
        msg: msg.into(),
    })
}

impl<'t, 'a> Exec<'t, 'a> {
    /// Runs `tree` with `data` as dot and `$`.
    pub fn run(
        out: &'t mut String,
        tree: &'t [Node],
        data: Val<'a>,
        headers: Option<&'t Headers>,
    ) -> EResult<()> {
        let mut exec = Exec {
            out,
            vars: vec![("$", data.clone())],
            headers,
        };
        exec.walk(&data, tree).map(|_| ())
    }

    fn walk(&mut self, dot: &Val<'a>, nodes: &'t [Node]) -> EResult<Flow> {
        for node in nodes {
            let flow = match node {
                Node::Text(s) => {
                    self.out.push_str(s);
                    Flow::Normal
                }
                Node::Action(pipe) => {
                    let v = self.eval_pipe(dot, pipe)?;
                    if pipe.decl.is_empty() {
                        self.out.push_str(&v.print());
                    }
                    Flow::Normal
                }
                Node::If(b) => self.walk_if_with(dot, b, false)?,
                Node::With(b) => self.walk_if_with(dot, b, true)?,
                Node::Range(b) => self.walk_range(dot, b)?,
                Node::Break => Flow::Break,
                Node::Continue => Flow::Continue,
            };
            if flow != Flow::Normal {
                return Ok(flow);
            }
        }
        Ok(Flow::Normal)
    }

    fn walk_if_with(&mut self, dot: &Val<'a>, b: &'t Branch, with: bool) -> EResult<Flow> {
        let mark = self.vars.len();
        let v = self.eval_pipe(dot, &b.pipe)?;
        let flow = if v.truth() {
            let inner = if with { v } else { dot.clone() };
            self.walk(&inner, &b.list)?
        } else if let Some(list) = &b.else_list {
            self.walk(dot, list)?
        } else {
            Flow::Normal
        };
        self.vars.truncate(mark);
        Ok(flow)
    }

    fn walk_range(&mut self, dot: &Val<'a>, b: &'t Branch) -> EResult<Flow> {
        let mark = self.vars.len();
        let v = self.eval_pipe(dot, &b.pipe)?;
        let decl = b.pipe.decl.len();
        let mut items: Vec<(Val<'a>, Val<'a>)> = Vec::new();
        if self.headers.is_some() {
            // One pass, so a header row shows the body's headers once.
            items.push((Val::string(""), v));
        } else {
            match &v {
                Val::Rows(rows) => items.extend(
                    rows.iter()
                        .enumerate()
                        .map(|(i, e)| (Val::Own(Value::from(i)), Val::Ref(e))),
                ),
                Val::Missing => {}
                Val::Ref(j) => {
                    collect_items(j, &mut items, Val::Ref).map_err(|m| range_err(b, m))?
                }
                Val::Own(j) => {
                    let mut owned = Vec::new();
                    collect_items(j, &mut owned, Val::Ref).map_err(|m| range_err(b, m))?;
                    items.extend(
                        owned
                            .into_iter()
                            .map(|(k, e)| (Val::Own(k.to_json()), Val::Own(e.to_json()))),
                    );
                }
            }
        }
        if items.is_empty() {
            let flow = match &b.else_list {
                Some(list) => self.walk(dot, list)?,
                None => Flow::Normal,
            };
            self.vars.truncate(mark);
            return Ok(flow);
        }
        for (key, elem) in items {
            match decl {
                1 => self.set_range_var(b, mark, 0, elem.clone()),
                2 => {
                    self.set_range_var(b, mark, 0, key);
                    self.set_range_var(b, mark, 1, elem.clone());
                }
                _ => {}
            }
            let inner = self.vars.len();
            let flow = self.walk(&elem, &b.list)?;
            self.vars.truncate(inner);
            if flow == Flow::Break {
                break;
            }
        }
        self.vars.truncate(mark);
        Ok(Flow::Normal)
    }

    /// Sets the `k`th variable of a range: declared ones sit at `mark + k`,
    /// assigned ones (`range $x = …`) are found by name.
    fn set_range_var(&mut self, b: &Branch, mark: usize, k: usize, v: Val<'a>) {
        if !b.pipe.assign {
            self.vars[mark + k].1 = v;
        } else if let Some(slot) = self
            .vars
            .iter_mut()
            .rev()
            .find(|(n, _)| *n == b.pipe.decl[k])
        {
            slot.1 = v;
        }
    }

    fn eval_pipe(&mut self, dot: &Val<'a>, pipe: &'t Pipe) -> EResult<Val<'a>> {
        let mut value: Option<Val<'a>> = None;
        for cmd in &pipe.cmds {
            value = Some(self.eval_cmd(dot, cmd, value.take())?);
        }
        let value = value.unwrap_or(Val::Missing);
        for name in &pipe.decl {
            if pipe.assign {
                if let Some(slot) = self.vars.iter_mut().rev().find(|(n, _)| n == name) {
                    slot.1 = value.clone();
                }
            } else {
                self.vars.push((name.as_str(), value.clone()));
            }
        }
        Ok(value)
    }

    fn lookup(&self, name: &str) -> Val<'a> {
        self.vars
            .iter()
            .rev()
            .find(|(n, _)| *n == name)
            .map_or(Val::Missing, |(_, v)| v.clone())
    }

    fn not_a_function(&self, cmd: &Cmd, fin: &Option<Val<'a>>) -> EResult<()> {
        if cmd.args.len() > 1 || fin.is_some() {
            let first = &cmd.args[0];
            return fail(
                first,
                first.pos(),
                format!("can't give argument to non-function {first}"),
            );
        }
        Ok(())
    }

    fn eval_cmd(&mut self, dot: &Val<'a>, cmd: &'t Cmd, fin: Option<Val<'a>>) -> EResult<Val<'a>> {
        let first = &cmd.args[0];
        let has_args = cmd.args.len() > 1 || fin.is_some();
        match first {
            Arg::Func { name, .. } => return self.eval_func(dot, name, cmd, fin),
            Arg::Field { pos, names } => {
                return self.eval_chain(dot.clone(), names, first, *pos, has_args)
            }
            Arg::Var { pos, name, names } => {
                let v = self.lookup(name);
                if names.is_empty() {
                    self.not_a_function(cmd, &fin)?;
                    return Ok(v);
                }
                return self.eval_chain(v, names, first, *pos, has_args);
            }
            Arg::Chain { pos, base, names } => {
                let v = self.eval_arg(dot, base)?;
                return self.eval_chain(v, names, first, *pos, has_args);
            }
            _ => {}
        }
        self.not_a_function(cmd, &fin)?;
        match first {
            Arg::Nil { pos } => fail(first, *pos, "nil is not a command"),
            other => self.eval_arg(dot, other),
        }
    }

    fn eval_arg(&mut self, dot: &Val<'a>, arg: &'t Arg) -> EResult<Val<'a>> {
        Ok(match arg {
            Arg::Dot { .. } => dot.clone(),
            Arg::Nil { .. } => Val::Own(Value::Null),
            Arg::Bool { value, .. } => Val::Own(Value::Bool(*value)),
            Arg::Str { value, .. } => Val::string(value.clone()),
            Arg::Num { value, .. } => Val::Own(match value {
                Number::Int(i) => Value::from(*i),
                Number::Float(f) => Value::from(*f),
            }),
            Arg::Field { pos, names } => self.eval_chain(dot.clone(), names, arg, *pos, false)?,
            Arg::Var { pos, name, names } => {
                let v = self.lookup(name);
                if names.is_empty() {
                    v
                } else {
                    self.eval_chain(v, names, arg, *pos, false)?
                }
            }
            Arg::Chain { pos, base, names } => {
                let v = self.eval_arg(dot, base)?;
                self.eval_chain(v, names, arg, *pos, false)?
            }
            // Variables declared in parentheses live on, as in Go.
            Arg::Pipe(p) => self.eval_pipe(dot, p)?,
            Arg::Func { name, pos } => {
                let cmd = Cmd {
                    pos: *pos,
                    args: vec![arg.clone()],
                };
                return self.call(name, &cmd, Vec::new(), None);
            }
        })
    }

    /// `.A.B.C` from `receiver`; `has_args` only concerns the last field.
    fn eval_chain(
        &mut self,
        receiver: Val<'a>,
        names: &'t [String],
        node: &Arg,
        pos: usize,
        has_args: bool,
    ) -> EResult<Val<'a>> {
        if let Some(h) = self.headers {
            if has_args {
                let last = names.last().map_or("", String::as_str);
                return fail(
                    node,
                    pos,
                    format!("{last} is not a method but has arguments"),
                );
            }
            let chain: Vec<&str> = names.iter().map(String::as_str).collect();
            return Ok(Val::string(h.header(&chain)));
        }
        let mut v = receiver;
        for (i, name) in names.iter().enumerate() {
            let args_here = has_args && i + 1 == names.len();
            v = field(v, name, args_here).map_err(|msg| ExecError {
                pos,
                context: node.to_string(),
                msg,
            })?;
        }
        Ok(v)
    }

    fn eval_func(
        &mut self,
        dot: &Val<'a>,
        name: &'t str,
        cmd: &'t Cmd,
        fin: Option<Val<'a>>,
    ) -> EResult<Val<'a>> {
        if name == "and" || name == "or" {
            // Short-circuit: arguments after the deciding one are not
            // evaluated (Go 1.18).
            let want = name == "or";
            let n = cmd.args.len() - 1 + usize::from(fin.is_some());
            if n == 0 {
                return fail(
                    cmd,
                    cmd.pos,
                    format!("wrong number of args for {name}: want at least 1 got 0"),
                );
            }
            let mut last = Val::Missing;
            for a in &cmd.args[1..] {
                last = self.eval_arg(dot, a)?;
                if last.truth() == want {
                    return Ok(last);
                }
            }
            return Ok(fin.unwrap_or(last));
        }
        let mut args = Vec::with_capacity(cmd.args.len());
        for a in &cmd.args[1..] {
            args.push(self.eval_arg(dot, a)?);
        }
        self.call(name, cmd, args, fin)
    }

    fn call(
        &mut self,
        name: &str,
        cmd: &Cmd,
        mut args: Vec<Val<'a>>,
        fin: Option<Val<'a>>,
    ) -> EResult<Val<'a>> {
        args.extend(fin);
        funcs::call(name, args, self.headers.is_some()).or_else(|e| match e {
            CallError::Direct(msg) => fail(cmd, cmd.pos, msg),
            CallError::Calling(msg) => fail(cmd, cmd.pos, format!("error calling {name}: {msg}")),
        })
    }
}

fn range_err(b: &Branch, msg: String) -> ExecError {
    ExecError {
        pos: b.pipe.pos,
        context: format!("range {}", b.pipe),
        msg,
    }
}

/// Elements of a JSON value for `range`: index/element or key/value, keys
/// sorted; an integer `n` ranges over 0..n.
fn collect_items<'a>(
    v: &'a Value,
    items: &mut Vec<(Val<'a>, Val<'a>)>,
    wrap: impl Fn(&'a Value) -> Val<'a>,
) -> Result<(), String> {
    match v {
        Value::Array(a) => items.extend(
            a.iter()
                .enumerate()
                .map(|(i, e)| (Val::Own(Value::from(i)), wrap(e))),
        ),
        Value::Object(o) => {
            // Go ranges over a map in sorted key order.
            let mut sorted: Vec<(&String, &Value)> = o.iter().collect();
            sorted.sort_by(|a, b| a.0.cmp(b.0));
            items.extend(
                sorted
                    .into_iter()
                    .map(|(k, e)| (Val::string(k.clone()), wrap(e))),
            )
        }
        Value::Null => {}
        Value::Number(n) if n.as_i64().is_some() => {
            let n = n.as_i64().unwrap_or(0);
            items.extend(
                (0..n.max(0)).map(|i| (Val::Own(Value::from(i)), Val::Own(Value::from(i)))),
            );
        }
        other => {
            return Err(format!(
                "range can't iterate over {}",
                Val::Ref(other).print()
            ))
        }
    }
    Ok(())
}

/// One field access with Go's map/struct rules.
fn field<'a>(receiver: Val<'a>, name: &str, has_args: bool) -> Result<Val<'a>, String> {
    let lookup = |map: &serde_json::Map<String, Value>| -> Result<Option<()>, String> {
        let struct_like = is_struct_like(map);
        let present = map.contains_key(name);
        if has_args {
            return Err(if struct_like && present {
                format!("{name} has arguments but cannot be invoked as function")
            } else if struct_like {
                format!("can't evaluate field {name} in type map[string]interface {{}}")
            } else {
                format!("{name} is not a method but has arguments")
            });
        }
        if present {
            Ok(Some(()))
        } else if struct_like {
            Err(format!(
                "can't evaluate field {name} in type map[string]interface {{}}"
            ))
        } else {
            Ok(None)
        }
    };
    match receiver {
        Val::Missing => Ok(Val::Missing),
        Val::Ref(Value::Object(map)) => Ok(match lookup(map)? {
            Some(()) => Val::Ref(&map[name]),
            None => Val::Missing,
        }),
        Val::Own(Value::Object(map)) => Ok(match lookup(&map)? {
            Some(()) => Val::Own(map[name].clone()),
            None => Val::Missing,
        }),
        other if matches!(other.json(), Some(Value::Null)) => {
            Err(format!("nil pointer evaluating interface {{}}.{name}"))
        }
        other => Err(format!(
            "can't evaluate field {name} in type {}",
            other.type_name()
        )),
    }
}
