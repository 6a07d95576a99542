//! Builds the tree of a template from its tokens, with Go's grammar and
//! Go's parse-time checks (undefined functions and variables, `{{break}}`
//! outside `{{range}}`, non-executable pipeline stages).

use super::ast::{parse_number, Arg, Branch, Cmd, Node, Number, Pipe};
use super::funcs;
use super::lexer::{Keyword, Tok, Token};

/// A parse error at a byte offset.
#[derive(Debug, Clone)]
pub(super) struct ParseError {
    pub pos: usize,
    pub msg: String,
}

/// What an action turned out to be.
enum Item {
    Node(Node),
    End,
    /// `{{else}}`, or `{{else if`/`{{else with` with the keyword pending.
    Else,
}

pub(super) struct Parser {
    toks: Vec<Token>,
    i: usize,
    vars: Vec<String>,
    range_depth: usize,
    end_pos: usize,
    /// Nesting of pipelines and controls, bounded (as Go bounds it with
    /// `maxStackDepth`) so a pathological format cannot exhaust the stack.
    depth: usize,
}

/// Deepest nesting of parentheses and if/with/range accepted. Go allows
/// 10,000; real formats nest a handful, and this keeps parsing and
/// evaluation well inside a 2 MiB thread stack even in debug builds.
const MAX_DEPTH: usize = 100;

type PResult<T> = Result<T, ParseError>;

impl Parser {
    pub fn new(toks: Vec<Token>, src_len: usize) -> Parser {
        Parser {
            toks,
            i: 0,
            vars: vec!["$".to_string()],
            range_depth: 0,
            end_pos: src_len,
            depth: 0,
        }
    }

    fn peek(&self) -> Option<&Token> {
        self.toks.get(self.i)
    }

    fn pos(&self) -> usize {
        self.peek().map_or(self.end_pos, |t| t.pos)
    }

    fn skip_space(&mut self) {
        while matches!(
            self.peek(),
            Some(Token {
                tok: Tok::Space,
                ..
            })
        ) {
            self.i += 1;
        }
    }

    fn peek_non_space(&mut self) -> Option<&Tok> {
        self.skip_space();
        self.peek().map(|t| &t.tok)
    }

    fn next(&mut self) -> Option<Token> {
        let t = self.toks.get(self.i).cloned();
        self.i += 1;
        t
    }

    fn err<T>(&self, pos: usize, msg: impl Into<String>) -> PResult<T> {
        Err(ParseError {
            pos,
            msg: msg.into(),
        })
    }

    /// Parses the whole template.
    pub fn parse(mut self) -> PResult<Vec<Node>> {
        let mut list = Vec::new();
        while self.peek().is_some() {
            let pos = self.pos();
            match self.text_or_action()? {
                Item::Node(n) => list.push(n),
                Item::End => return self.err(pos, "unexpected {{end}}"),
                Item::Else => return self.err(pos, "unexpected {{else}}"),
            }
        }
        Ok(list)
    }

    fn text_or_action(&mut self) -> PResult<Item> {
        match self.next() {
            Some(Token {
                tok: Tok::Text(s), ..
            }) => Ok(Item::Node(Node::Text(s))),
            Some(Token { tok: Tok::Open, .. }) => self.action(),
            Some(t) => self.err(t.pos, format!("unexpected {}", describe(&t.tok))),
            None => self.err(self.end_pos, "unexpected EOF"),
        }
    }

    /// Nodes up to `{{end}}` or `{{else}}`.
    fn item_list(&mut self) -> PResult<(Vec<Node>, Item)> {
        let mut list = Vec::new();
        while self.peek().is_some() {
            match self.text_or_action()? {
                Item::Node(n) => list.push(n),
                other => return Ok((list, other)),
            }
        }
        self.err(self.end_pos, "unexpected EOF")
    }

    fn expect_close(&mut self, context: &str) -> PResult<()> {
        self.skip_space();
        match self.next() {
            Some(Token {
                tok: Tok::Close, ..
            }) => Ok(()),
            Some(t) => self.err(
                t.pos,
                format!("unexpected {} in {context}", describe(&t.tok)),
            ),
            None => self.err(self.end_pos, "unclosed action"),
        }
    }

    fn action(&mut self) -> PResult<Item> {
        self.skip_space();
        let Some(tok) = self.peek().cloned() else {
            return self.err(self.end_pos, "unclosed action");
        };
        if let Tok::Keyword(k) = tok.tok {
            self.i += 1;
            return match k {
                Keyword::End => self.expect_close("end").map(|()| Item::End),
                Keyword::Else => {
                    if !matches!(
                        self.peek_non_space(),
                        Some(Tok::Keyword(Keyword::If | Keyword::With))
                    ) {
                        self.expect_close("else")?;
                    }
                    Ok(Item::Else)
                }
                Keyword::If => self.control("if").map(|b| Item::Node(Node::If(b))),
                Keyword::With => self.control("with").map(|b| Item::Node(Node::With(b))),
                Keyword::Range => self.control("range").map(|b| Item::Node(Node::Range(b))),
                Keyword::Break | Keyword::Continue => {
                    let name = if k == Keyword::Break {
                        "break"
                    } else {
                        "continue"
                    };
                    self.expect_close(name)?;
                    if self.range_depth == 0 {
                        return self.err(tok.pos, format!("{{{{{name}}}}} outside {{{{range}}}}"));
                    }
                    Ok(Item::Node(if k == Keyword::Break {
                        Node::Break
                    } else {
                        Node::Continue
                    }))
                }
                Keyword::Define | Keyword::Template | Keyword::Block => {
                    let name = match k {
                        Keyword::Define => "define",
                        Keyword::Template => "template",
                        _ => "block",
                    };
                    self.err(
                        tok.pos,
                        format!("{{{{{name}}}}} is not supported by husk templates"),
                    )
                }
            };
        }
        let pipe = self.pipeline("command", true)?;
        Ok(Item::Node(Node::Action(pipe)))
    }

    fn control(&mut self, context: &str) -> PResult<Branch> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return self.err(self.pos(), "max expression depth exceeded");
        }
        let branch = self.control_inner(context);
        self.depth -= 1;
        branch
    }

    fn control_inner(&mut self, context: &str) -> PResult<Branch> {
        let mark = self.vars.len();
        let pipe = self.pipeline(context, true)?;
        if context == "range" {
            self.range_depth += 1;
        }
        let (list, next) = self.item_list()?;
        if context == "range" {
            self.range_depth -= 1;
        }
        let mut else_list = None;
        if let Item::Else = next {
            let chained = match self.peek_non_space() {
                Some(Tok::Keyword(Keyword::If)) if context == "if" => Some(("if", Keyword::If)),
                Some(Tok::Keyword(Keyword::With)) if context == "with" => {
                    Some(("with", Keyword::With))
                }
                _ => None,
            };
            if let Some((ctx, _)) = chained {
                // `{{else if b}}` is `{{else}}{{if b}}…{{end}}{{end}}`: the
                // inner control consumes the one `{{end}}`.
                self.i += 1;
                let inner = self.control(ctx)?;
                else_list = Some(vec![if ctx == "if" {
                    Node::If(inner)
                } else {
                    Node::With(inner)
                }]);
            } else {
                let pos = self.pos();
                let (list, next) = self.item_list()?;
                if !matches!(next, Item::End) {
                    return self.err(pos, "expected end; found {{else}}");
                }
                else_list = Some(list);
            }
        }
        self.vars.truncate(mark);
        Ok(Branch {
            pipe,
            list,
            else_list,
        })
    }

    /// A pipeline ending at `}}` (`at_close`) or `)`.
    fn pipeline(&mut self, context: &str, at_close: bool) -> PResult<Pipe> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return self.err(self.pos(), "max expression depth exceeded");
        }
        let pipe = self.pipeline_inner(context, at_close);
        self.depth -= 1;
        pipe
    }

    fn pipeline_inner(&mut self, context: &str, at_close: bool) -> PResult<Pipe> {
        self.skip_space();
        let mut pipe = Pipe {
            pos: self.pos(),
            decl: Vec::new(),
            assign: false,
            cmds: Vec::new(),
        };
        self.declarations(context, &mut pipe)?;
        loop {
            self.skip_space();
            let Some(t) = self.peek().cloned() else {
                return self.err(self.end_pos, "unclosed action");
            };
            match t.tok {
                Tok::Close if at_close => {
                    self.i += 1;
                    break;
                }
                Tok::RParen if !at_close => {
                    self.i += 1;
                    break;
                }
                Tok::Bool(_)
                | Tok::Char(..)
                | Tok::Dot
                | Tok::Field(_)
                | Tok::Ident(_)
                | Tok::Number(_)
                | Tok::Nil
                | Tok::Str(..)
                | Tok::Var(_)
                | Tok::LParen => {
                    let cmd = self.command()?;
                    pipe.cmds.push(cmd);
                }
                other => {
                    return self.err(
                        t.pos,
                        format!("unexpected {} in {context}", describe(&other)),
                    )
                }
            }
        }
        if pipe.cmds.is_empty() {
            return self.err(pipe.pos, format!("missing value for {context}"));
        }
        for (i, c) in pipe.cmds.iter().enumerate().skip(1) {
            if matches!(
                c.args[0],
                Arg::Bool { .. }
                    | Arg::Dot { .. }
                    | Arg::Nil { .. }
                    | Arg::Num { .. }
                    | Arg::Str { .. }
            ) {
                return self.err(
                    c.pos,
                    format!("non executable command in pipeline stage {}", i + 1),
                );
            }
        }
        Ok(pipe)
    }

    /// `$x :=`, `$x =`, `$i, $e :=` (range only).
    fn declarations(&mut self, context: &str, pipe: &mut Pipe) -> PResult<()> {
        loop {
            let start = self.i;
            let Some(Tok::Var(name)) = self.peek_non_space().cloned() else {
                return Ok(());
            };
            let var_pos = self.pos();
            self.i += 1;
            match self.peek_non_space() {
                Some(Tok::Declare) | Some(Tok::Assign) => {
                    pipe.assign = matches!(self.peek().map(|t| &t.tok), Some(Tok::Assign));
                    self.i += 1;
                    if pipe.assign && !self.vars.contains(&name) {
                        return self.err(var_pos, format!("undefined variable \"{name}\""));
                    }
                    pipe.decl.push(name.clone());
                    self.vars.push(name);
                    return Ok(());
                }
                Some(Tok::Comma) => {
                    self.i += 1;
                    pipe.decl.push(name.clone());
                    self.vars.push(name);
                    if context == "range" && pipe.decl.len() < 2 {
                        if matches!(self.peek_non_space(), Some(Tok::Var(_))) {
                            continue;
                        }
                        return self.err(var_pos, "range can only initialize variables");
                    }
                    return self.err(var_pos, format!("too many declarations in {context}"));
                }
                _ => {
                    self.i = start;
                    return Ok(());
                }
            }
        }
    }

    fn command(&mut self) -> PResult<Cmd> {
        self.skip_space();
        let mut cmd = Cmd {
            pos: self.pos(),
            args: Vec::new(),
        };
        loop {
            self.skip_space();
            if let Some(op) = self.operand()? {
                cmd.args.push(op);
            }
            match self.peek().map(|t| t.tok.clone()) {
                Some(Tok::Space) => continue,
                Some(Tok::Close | Tok::RParen) => break,
                Some(Tok::Pipe) => {
                    self.i += 1;
                    break;
                }
                Some(other) => {
                    return self.err(
                        self.pos(),
                        format!("unexpected {} in operand", describe(&other)),
                    )
                }
                None => return self.err(self.end_pos, "unclosed action"),
            }
        }
        if cmd.args.is_empty() {
            return self.err(cmd.pos, "empty command");
        }
        Ok(cmd)
    }

    fn operand(&mut self) -> PResult<Option<Arg>> {
        let Some(term) = self.term()? else {
            return Ok(None);
        };
        let mut names = Vec::new();
        let mut chain_pos = None;
        while let Some(Token {
            tok: Tok::Field(f),
            pos,
        }) = self.peek().cloned()
        {
            chain_pos.get_or_insert(pos);
            names.push(f);
            self.i += 1;
        }
        let Some(pos) = chain_pos else {
            return Ok(Some(term));
        };
        Ok(Some(match term {
            // Go keeps one node for `.A.B` and `$x.A`, placed at the chain.
            Arg::Field {
                names: mut first, ..
            } => {
                first.extend(names);
                Arg::Field { pos, names: first }
            }
            Arg::Var {
                name,
                names: mut first,
                ..
            } => {
                first.extend(names);
                Arg::Var {
                    pos,
                    name,
                    names: first,
                }
            }
            Arg::Bool { .. }
            | Arg::Str { .. }
            | Arg::Num { .. }
            | Arg::Nil { .. }
            | Arg::Dot { .. } => {
                return self.err(
                    pos,
                    format!("unexpected . after term {:?}", term.to_string()),
                );
            }
            other => Arg::Chain {
                pos,
                base: Box::new(other),
                names,
            },
        }))
    }

    fn term(&mut self) -> PResult<Option<Arg>> {
        self.skip_space();
        let Some(t) = self.peek().cloned() else {
            return Ok(None);
        };
        let pos = t.pos;
        let arg = match t.tok {
            Tok::Ident(name) => {
                if !funcs::is_defined(&name) {
                    return self.err(pos, format!("function \"{name}\" not defined"));
                }
                Arg::Func { pos, name }
            }
            Tok::Dot => Arg::Dot { pos },
            Tok::Nil => Arg::Nil { pos },
            Tok::Var(name) => {
                if !self.vars.contains(&name) {
                    return self.err(pos, format!("undefined variable \"{name}\""));
                }
                Arg::Var {
                    pos,
                    name,
                    names: Vec::new(),
                }
            }
            Tok::Field(f) => Arg::Field {
                pos,
                names: vec![f],
            },
            Tok::Bool(value) => Arg::Bool { pos, value },
            Tok::Number(text) => match parse_number(&text) {
                Some(value) => Arg::Num { pos, value, text },
                None => return self.err(pos, format!("illegal number syntax: \"{text}\"")),
            },
            Tok::Char(c, text) => Arg::Num {
                pos,
                value: Number::Int(i64::from(u32::from(c))),
                text,
            },
            Tok::Str(value, quoted) => Arg::Str { pos, value, quoted },
            Tok::LParen => {
                self.i += 1;
                let p = self.pipeline("parenthesized pipeline", false)?;
                return Ok(Some(Arg::Pipe(Box::new(p))));
            }
            _ => return Ok(None),
        };
        self.i += 1;
        Ok(Some(arg))
    }
}

/// Go's `item.String()` for error messages.
fn describe(t: &Tok) -> String {
    let q = |s: &str| format!("\"{s}\"");
    match t {
        Tok::Text(s) => q(s),
        Tok::Open => q("{{"),
        Tok::Close => q("}}"),
        Tok::Space => q(" "),
        Tok::Field(f) => q(&format!(".{f}")),
        Tok::Dot => q("."),
        Tok::Var(v) | Tok::Ident(v) | Tok::Number(v) => q(v),
        Tok::Keyword(k) => format!("<{}>", format!("{k:?}").to_lowercase()),
        Tok::Bool(b) => q(&b.to_string()),
        Tok::Nil => "<nil>".to_string(),
        Tok::Str(_, raw) | Tok::Char(_, raw) => format!("{raw:?}"),
        Tok::Pipe => q("|"),
        Tok::LParen => q("("),
        Tok::RParen => q(")"),
        Tok::Declare => q(":="),
        Tok::Assign => q("="),
        Tok::Comma => q(","),
    }
}
