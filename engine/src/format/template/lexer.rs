//! Splits template text into tokens, following Go's `text/template/parse`
//! lexer: text and `{{ }}` actions, `{{- ` / ` -}}` trimming, comments,
//! and the tokens inside actions.

/// Keywords of the template language.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Keyword {
    If,
    Else,
    End,
    Range,
    With,
    Break,
    Continue,
    Define,
    Template,
    Block,
}

/// One token.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Tok {
    /// Text outside actions, already trimmed by neighbouring markers.
    Text(String),
    /// `{{`
    Open,
    /// `}}`
    Close,
    /// Spaces inside an action (they separate arguments).
    Space,
    /// `.Name` (without the dot).
    Field(String),
    /// `.`
    Dot,
    /// `$` or `$name` (with the `$`).
    Var(String),
    /// A function name.
    Ident(String),
    /// A keyword.
    Keyword(Keyword),
    /// `true` or `false`.
    Bool(bool),
    /// `nil`
    Nil,
    /// A quoted or raw string: the value and the text as written.
    Str(String, String),
    /// A character constant: the value and the text as written.
    Char(char, String),
    /// A number as written.
    Number(String),
    /// `|`
    Pipe,
    /// `(`
    LParen,
    /// `)`
    RParen,
    /// `:=`
    Declare,
    /// `=`
    Assign,
    /// `,`
    Comma,
}

/// A token and the byte offset where it starts.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Token {
    pub tok: Tok,
    pub pos: usize,
}

/// A lexing error at a byte offset.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct LexError {
    pub pos: usize,
    pub msg: String,
}

fn is_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\r' | b'\n')
}

fn is_alnum(c: char) -> bool {
    c == '_' || c.is_alphanumeric()
}

/// Go's `hasLeftTrimMarker` / `hasRightTrimMarker` + delimiter checks.
fn at_right_delim(s: &str) -> Option<(bool, usize)> {
    let b = s.as_bytes();
    if b.len() >= 4 && is_space(b[0]) && b[1] == b'-' && &b[2..4] == b"}}" {
        return Some((true, 4));
    }
    if s.starts_with("}}") {
        return Some((false, 2));
    }
    None
}

/// Tokenises a whole template.
pub(super) fn lex(src: &str) -> Result<Vec<Token>, LexError> {
    let mut toks = Vec::new();
    let mut pos = 0;
    let mut trim_next = false;
    while pos < src.len() {
        let rest = &src[pos..];
        let open = rest.find("{{");
        let end = open.map_or(src.len(), |i| pos + i);
        let mut text = &src[pos..end];
        let left_trim = open.is_some() && {
            let b = &src.as_bytes()[end + 2..];
            b.len() >= 2 && b[0] == b'-' && is_space(b[1])
        };
        if trim_next {
            text = text.trim_start_matches([' ', '\t', '\r', '\n']);
        }
        if left_trim {
            text = text.trim_end_matches([' ', '\t', '\r', '\n']);
        }
        if !text.is_empty() {
            toks.push(Token {
                tok: Tok::Text(text.to_string()),
                pos: end - text.len(),
            });
        }
        if open.is_none() {
            break;
        }
        let mut p = end + 2 + if left_trim { 2 } else { 0 };
        if src[p..].starts_with("/*") {
            let close = src[p..].find("*/").ok_or(LexError {
                pos: end,
                msg: "unclosed comment".into(),
            })?;
            p += close + 2;
            let (trim, n) = at_right_delim(&src[p..]).ok_or(LexError {
                pos: end,
                msg: "comment ends before closing delimiter".into(),
            })?;
            trim_next = trim;
            pos = p + n;
            continue;
        }
        toks.push(Token {
            tok: Tok::Open,
            pos: end,
        });
        let (next, trim) = lex_action(src, p, &mut toks)?;
        trim_next = trim;
        pos = next;
    }
    Ok(toks)
}

/// Lexes inside one action from `p`; returns the offset after `}}` and
/// whether it was ` -}}`.
fn lex_action(src: &str, mut p: usize, toks: &mut Vec<Token>) -> Result<(usize, bool), LexError> {
    let err = |pos: usize, msg: String| LexError { pos, msg };
    let mut depth = 0usize;
    loop {
        let rest = &src[p..];
        if let Some((trim, n)) = at_right_delim(rest) {
            if depth > 0 {
                return Err(err(p, "unclosed left paren".into()));
            }
            toks.push(Token {
                tok: Tok::Close,
                pos: p,
            });
            return Ok((p + n, trim));
        }
        let Some(c) = rest.chars().next() else {
            return Err(err(p, "unclosed action".into()));
        };
        let start = p;
        let push = |toks: &mut Vec<Token>, tok| toks.push(Token { tok, pos: start });
        match c {
            ' ' | '\t' | '\r' | '\n' => {
                let n = rest.bytes().take_while(|b| is_space(*b)).count();
                // A single space before `-}}` is part of the trim marker.
                let after = &rest[n - 1..];
                if at_right_delim(after).is_some_and(|(t, _)| t) {
                    if n > 1 {
                        push(toks, Tok::Space);
                    }
                    p += n - 1;
                } else {
                    push(toks, Tok::Space);
                    p += n;
                }
            }
            '|' => {
                push(toks, Tok::Pipe);
                p += 1;
            }
            '(' => {
                depth += 1;
                push(toks, Tok::LParen);
                p += 1;
            }
            ')' => {
                if depth == 0 {
                    return Err(err(p, "unexpected right paren".into()));
                }
                depth -= 1;
                push(toks, Tok::RParen);
                p += 1;
            }
            ',' => {
                push(toks, Tok::Comma);
                p += 1;
            }
            '=' => {
                push(toks, Tok::Assign);
                p += 1;
            }
            ':' => {
                if !rest.starts_with(":=") {
                    return Err(err(p, "expected :=".into()));
                }
                push(toks, Tok::Declare);
                p += 2;
            }
            '"' => {
                let n = scan_quoted(rest, '"')
                    .ok_or_else(|| err(p, "unterminated quoted string".into()))?;
                let raw = &rest[..n];
                let val = unquote(&raw[1..n - 1])
                    .ok_or_else(|| err(p, format!("invalid syntax: {raw}")))?;
                push(toks, Tok::Str(val, raw.to_string()));
                p += n;
            }
            '`' => {
                let close = rest[1..]
                    .find('`')
                    .ok_or_else(|| err(p, "unterminated raw quoted string".into()))?;
                let raw = &rest[..close + 2];
                push(
                    toks,
                    Tok::Str(raw[1..raw.len() - 1].to_string(), raw.to_string()),
                );
                p += raw.len();
            }
            '\'' => {
                let n = scan_quoted(rest, '\'')
                    .ok_or_else(|| err(p, "unterminated character constant".into()))?;
                let raw = &rest[..n];
                let val = unquote(&raw[1..n - 1]).unwrap_or_default();
                let mut chars = val.chars();
                let (Some(ch), None) = (chars.next(), chars.next()) else {
                    return Err(err(p, format!("malformed character constant: {raw}")));
                };
                push(toks, Tok::Char(ch, raw.to_string()));
                p += n;
            }
            '$' => {
                let n = 1 + rest[1..]
                    .chars()
                    .take_while(|c| is_alnum(*c))
                    .map(char::len_utf8)
                    .sum::<usize>();
                check_terminator(src, p + n)?;
                push(toks, Tok::Var(rest[..n].to_string()));
                p += n;
            }
            '.' => {
                let second = rest[1..].chars().next();
                if second.is_some_and(|c| c.is_ascii_digit()) {
                    p += lex_number(src, p, toks)?;
                    continue;
                }
                let n: usize = rest[1..]
                    .chars()
                    .take_while(|c| is_alnum(*c))
                    .map(char::len_utf8)
                    .sum();
                check_terminator(src, p + 1 + n)?;
                if n == 0 {
                    push(toks, Tok::Dot);
                } else {
                    push(toks, Tok::Field(rest[1..=n].to_string()));
                }
                p += 1 + n;
            }
            '+' | '-' | '0'..='9' => {
                p += lex_number(src, p, toks)?;
            }
            c if is_alnum(c) => {
                let n: usize = rest
                    .chars()
                    .take_while(|c| is_alnum(*c))
                    .map(char::len_utf8)
                    .sum();
                check_terminator(src, p + n)?;
                let word = &rest[..n];
                let tok = match word {
                    "true" => Tok::Bool(true),
                    "false" => Tok::Bool(false),
                    "nil" => Tok::Nil,
                    "if" => Tok::Keyword(Keyword::If),
                    "else" => Tok::Keyword(Keyword::Else),
                    "end" => Tok::Keyword(Keyword::End),
                    "range" => Tok::Keyword(Keyword::Range),
                    "with" => Tok::Keyword(Keyword::With),
                    "break" => Tok::Keyword(Keyword::Break),
                    "continue" => Tok::Keyword(Keyword::Continue),
                    "define" => Tok::Keyword(Keyword::Define),
                    "template" => Tok::Keyword(Keyword::Template),
                    "block" => Tok::Keyword(Keyword::Block),
                    _ => Tok::Ident(word.to_string()),
                };
                push(toks, tok);
                p += n;
            }
            other => {
                return Err(err(
                    p,
                    format!("unrecognized character in action: {}", go_rune(other)),
                ));
            }
        }
    }
}

/// Go's `%#U`: `U+0021 '!'`.
fn go_rune(c: char) -> String {
    if c.is_control() {
        format!("U+{:04X}", u32::from(c))
    } else {
        format!("U+{:04X} '{c}'", u32::from(c))
    }
}

/// Go's `atTerminator`: what may follow a word, field or variable.
fn check_terminator(src: &str, p: usize) -> Result<(), LexError> {
    let rest = &src[p..];
    let Some(c) = rest.chars().next() else {
        return Ok(());
    };
    if matches!(
        c,
        ' ' | '\t' | '\r' | '\n' | '.' | ',' | '|' | ':' | ')' | '('
    ) || rest.starts_with("}}")
    {
        return Ok(());
    }
    Err(LexError {
        pos: p,
        msg: format!("bad character {}", go_rune(c)),
    })
}

/// Scans a number (sign, digits, base prefixes, `_`, `.`, exponents).
fn lex_number(src: &str, p: usize, toks: &mut Vec<Token>) -> Result<usize, LexError> {
    let b = src.as_bytes();
    let mut i = p;
    if matches!(b[i], b'+' | b'-') {
        i += 1;
    }
    while i < b.len() {
        let c = b[i];
        let exp_sign = matches!(c, b'+' | b'-') && matches!(b[i - 1], b'e' | b'E' | b'p' | b'P');
        if c.is_ascii_alphanumeric() || c == b'_' || c == b'.' || exp_sign {
            i += 1;
        } else {
            break;
        }
    }
    let text = &src[p..i];
    if super::ast::parse_number(text).is_none() {
        return Err(LexError {
            pos: p,
            msg: format!("bad number syntax: \"{text}\""),
        });
    }
    toks.push(Token {
        tok: Tok::Number(text.to_string()),
        pos: p,
    });
    Ok(i - p)
}

/// Length of a quoted token including both quotes, honouring `\` escapes;
/// `None` when a newline or the end comes first.
fn scan_quoted(s: &str, quote: char) -> Option<usize> {
    let mut it = s.char_indices().skip(1);
    while let Some((i, c)) = it.next() {
        match c {
            '\\' => {
                it.next()?;
            }
            '\n' => return None,
            c if c == quote => return Some(i + 1),
            _ => {}
        }
    }
    None
}

/// Go's `strconv.Unquote` body for `"…"` and `'…'`.
pub(super) fn unquote(s: &str) -> Option<String> {
    let mut out = String::with_capacity(s.len());
    let mut it = s.chars().peekable();
    while let Some(c) = it.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        let e = it.next()?;
        let hex = |it: &mut std::iter::Peekable<std::str::Chars<'_>>, n: usize| -> Option<u32> {
            let mut v = 0;
            for _ in 0..n {
                v = v * 16 + it.next()?.to_digit(16)?;
            }
            Some(v)
        };
        match e {
            'a' => out.push('\u{7}'),
            'b' => out.push('\u{8}'),
            'f' => out.push('\u{c}'),
            'n' => out.push('\n'),
            'r' => out.push('\r'),
            't' => out.push('\t'),
            'v' => out.push('\u{b}'),
            '\\' | '"' | '\'' => out.push(e),
            'x' => out.push(char::from(u8::try_from(hex(&mut it, 2)?).ok()?)),
            'u' => out.push(char::from_u32(hex(&mut it, 4)?)?),
            'U' => out.push(char::from_u32(hex(&mut it, 8)?)?),
            '0'..='7' => {
                let mut v = e.to_digit(8)?;
                for _ in 0..2 {
                    v = v * 8 + it.next()?.to_digit(8)?;
                }
                out.push(char::from(u8::try_from(v).ok()?));
            }
            _ => return None,
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(src: &str) -> Vec<Tok> {
        lex(src).unwrap().into_iter().map(|t| t.tok).collect()
    }

    #[test]
    fn text_actions_and_trim() {
        assert_eq!(
            kinds("a  {{- .A -}}  b"),
            vec![
                Tok::Text("a".into()),
                Tok::Open,
                Tok::Field("A".into()),
                Tok::Close,
                Tok::Text("b".into())
            ]
        );
        // `{{-3}}` is the number -3, not a trim marker.
        assert_eq!(kinds("x {{-3}}")[2], Tok::Number("-3".into()));
        assert_eq!(
            kinds("a {{/* c */}} b"),
            vec![Tok::Text("a ".into()), Tok::Text(" b".into())]
        );
        assert_eq!(
            kinds("a {{- /* c */ -}} b"),
            vec![Tok::Text("a".into()), Tok::Text("b".into())]
        );
    }

    #[test]
    fn tokens_inside_actions() {
        assert_eq!(
            kinds(r#"{{$x := index .A.B "k\tv" 'c' 1.5 | len}}"#),
            vec![
                Tok::Open,
                Tok::Var("$x".into()),
                Tok::Space,
                Tok::Declare,
                Tok::Space,
                Tok::Ident("index".into()),
                Tok::Space,
                Tok::Field("A".into()),
                Tok::Field("B".into()),
                Tok::Space,
                Tok::Str("k\tv".into(), r#""k\tv""#.into()),
                Tok::Space,
                Tok::Char('c', "'c'".into()),
                Tok::Space,
                Tok::Number("1.5".into()),
                Tok::Space,
                Tok::Pipe,
                Tok::Space,
                Tok::Ident("len".into()),
                Tok::Close,
            ]
        );
    }

    #[test]
    fn lex_errors() {
        let msg = |s: &str| lex(s).unwrap_err().msg;
        assert_eq!(msg("{{.A"), "unclosed action");
        assert_eq!(msg("{{!}}"), "unrecognized character in action: U+0021 '!'");
        assert_eq!(msg("{{\"abc}}"), "unterminated quoted string");
        assert_eq!(msg("{{/* x }}"), "unclosed comment");
        assert_eq!(
            msg("{{/* x */ .A}}"),
            "comment ends before closing delimiter"
        );
        assert_eq!(msg("{{)}}"), "unexpected right paren");
        assert_eq!(msg("{{(.A}}"), "unclosed left paren");
        assert_eq!(msg("{{.A#}}"), "bad character U+0023 '#'");
        assert_eq!(msg("{{3k}}"), "bad number syntax: \"3k\"");
    }

    #[test]
    fn unquote_go_escapes() {
        assert_eq!(unquote(r"a\n\x41\u00e9\101\\").as_deref(), Some("a\nAéA\\"));
        assert_eq!(unquote(r"\q"), None);
    }
}
