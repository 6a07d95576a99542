//! A subset of Go's `text/template`, evaluated over `serde_json::Value`.
//!
//! Parsed once ([`Template::parse`]), executed per row or document
//! ([`Template::execute`]). Supported: text and `{{ }}` actions with `{{-`
//! / `-}}` trimming and `{{/* comments */}}`; `.`, `.A.B`, `$`, `$x.A`,
//! `(pipeline).A`; `{{$x := …}}` and `{{$x = …}}`; pipelines with `|`;
//! `if`/`else if`/`else`, `with`/`else with`/`else`, `range` (arrays,
//! objects in key order, integers, with `$i, $e :=`, `else`, `break`,
//! `continue`); string, raw string, character, number, bool and `nil`
//! literals; the functions of [`funcs`](self#functions).
//!
//! # Functions
//! Go's builtins `and or not len index slice print printf println eq ne lt
//! le gt ge` and podman's `json lower upper title join split pad truncate`.
//! Not supported: `define`, `template`, `block`, `call`, `html`, `js`,
//! `urlquery` (a parse error says so).
//!
//! # JSON as Go values
//! An object whose keys all start with an upper-case letter stands for a
//! Go struct: a missing field is an error (`can't evaluate field Nope in
//! type …`), as podman's is. Any other object stands for a Go map: a
//! missing key prints `<no value>`, and `index` of a missing key is `""`
//! (podman's label maps are `map[string]string`). `null` is a nil pointer:
//! a field of it is an error, as in Go.
//!
//! Errors have Go's shape: `template: NAME:LINE: …` when parsing and
//! `template: NAME:LINE:COL: executing "NAME" at <NODE>: …` when executing,
//! with a 0-based byte column as Go counts it.

mod ast;
mod eval;
mod funcs;
mod lexer;
mod parser;
mod printf;
pub(crate) mod value;

#[cfg(test)]
mod tests;

use serde_json::Value;
use thiserror::Error;

pub(crate) use funcs::title;

use crate::format::headers::Headers;
use ast::Node;
use parser::Parser;
use value::Val;

/// A template that failed to parse or to execute.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum TemplateError {
    /// The text is not a valid template.
    #[error("template: {name}:{line}: {msg}")]
    Parse {
        /// The template's name (podman uses the command's name).
        name: String,
        /// 1-based line of the offending token.
        line: usize,
        /// What was wrong.
        msg: String,
    },
    /// Executing the template failed at a node.
    #[error("template: {name}:{line}:{col}: executing \"{name}\" at <{context}>: {msg}")]
    Exec {
        /// The template's name.
        name: String,
        /// 1-based line of the node.
        line: usize,
        /// 0-based byte column of the node, as Go reports it.
        col: usize,
        /// The node as Go prints it (`.Nope`, `index .Labels "x"`).
        context: String,
        /// What was wrong.
        msg: String,
    },
}

/// A parsed template.
#[derive(Debug, Clone)]
pub struct Template {
    name: String,
    src: String,
    tree: Vec<Node>,
}

/// Go's `ErrorContext` position: 1-based line, 0-based byte column.
fn line_col(src: &str, pos: usize) -> (usize, usize) {
    let before = &src[..pos.min(src.len())];
    let line = 1 + before.matches('\n').count();
    let col = before
        .rfind('\n')
        .map_or(before.len(), |i| before.len() - i - 1);
    (line, col)
}

impl Template {
    /// Parses `text`; `name` appears in error messages.
    ///
    /// # Errors
    /// [`TemplateError::Parse`] for invalid syntax, an unknown function or
    /// variable, or an unsupported action.
    pub fn parse(name: &str, text: &str) -> Result<Template, TemplateError> {
        let perr = |pos: usize, msg: String| TemplateError::Parse {
            name: name.to_string(),
            line: line_col(text, pos).0,
            msg,
        };
        let toks = lexer::lex(text).map_err(|e| perr(e.pos, e.msg))?;
        let tree = Parser::new(toks, text.len())
            .parse()
            .map_err(|e| perr(e.pos, e.msg))?;
        Ok(Template {
            name: name.to_string(),
            src: text.to_string(),
            tree,
        })
    }

    /// The name given to [`parse`](Self::parse).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Executes with `data` as dot and `$`.
    ///
    /// # Errors
    /// [`TemplateError::Exec`] naming the node and what went wrong.
    pub fn execute(&self, data: &Value) -> Result<String, TemplateError> {
        let mut out = String::new();
        self.execute_into(&mut out, data)?;
        Ok(out)
    }

    /// Executes with `data` as dot, appending to `out`. On error, `out`
    /// keeps what was written before it.
    ///
    /// # Errors
    /// [`TemplateError::Exec`].
    pub fn execute_into(&self, out: &mut String, data: &Value) -> Result<(), TemplateError> {
        self.run(out, Val::Ref(data), None)
    }

    /// Executes with a list of rows as dot (what `{{range .}}` iterates).
    pub(crate) fn execute_rows(
        &self,
        out: &mut String,
        rows: &[Value],
    ) -> Result<(), TemplateError> {
        self.run(out, Val::Rows(rows), None)
    }

    /// Executes in header mode: field chains yield their column headers.
    pub(crate) fn execute_headers(
        &self,
        out: &mut String,
        headers: &Headers,
    ) -> Result<(), TemplateError> {
        self.run(out, Val::string(""), Some(headers))
    }

    fn run(
        &self,
        out: &mut String,
        data: Val<'_>,
        headers: Option<&Headers>,
    ) -> Result<(), TemplateError> {
        eval::Exec::run(out, &self.tree, data, headers).map_err(|e| {
            let (line, col) = line_col(&self.src, e.pos);
            TemplateError::Exec {
                name: self.name.clone(),
                line,
                col,
                context: e.context,
                msg: e.msg,
            }
        })
    }
}
