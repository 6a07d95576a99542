//! `WWW-Authenticate` challenges (RFC 7235): what a registry's 401 asks
//! for, `Bearer` (a token from a realm) or `Basic`.

use std::collections::BTreeMap;

/// One challenge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Challenge {
    /// Get a token from `realm`.
    Bearer {
        /// The token endpoint URL.
        realm: String,
        /// The `service` to ask the token for.
        service: Option<String>,
        /// The scope the server wants, if it said.
        scope: Option<String>,
        /// `insufficient_scope`, `invalid_token`...
        error: Option<String>,
    },
    /// Send the user name and password.
    Basic {
        /// The realm, for display.
        realm: Option<String>,
    },
}

/// Parses a `WWW-Authenticate` header value; schemes other than Bearer and
/// Basic, and a Bearer without realm, are skipped.
pub fn parse(header: &str) -> Vec<Challenge> {
    let mut p = Parser {
        s: header.as_bytes(),
        i: 0,
    };
    let mut out = Vec::new();
    let mut pending = None;
    loop {
        let scheme = match pending.take() {
            Some(s) => s,
            None => {
                p.skip(|c| c == b' ' || c == b'\t' || c == b',');
                match p.token() {
                    Some(t) => t,
                    None => break,
                }
            }
        };
        let mut params = BTreeMap::new();
        loop {
            p.skip(|c| c == b' ' || c == b'\t' || c == b',');
            let Some(name) = p.token() else { break };
            p.skip(|c| c == b' ' || c == b'\t');
            if !p.eat(b'=') {
                // A bare token starts the next challenge.
                pending = Some(name);
                break;
            }
            p.skip(|c| c == b' ' || c == b'\t');
            let value = p.value();
            params.insert(name.to_ascii_lowercase(), value);
        }
        match scheme.to_ascii_lowercase().as_str() {
            "bearer" => {
                if let Some(realm) = params.remove("realm").filter(|r| !r.is_empty()) {
                    out.push(Challenge::Bearer {
                        realm,
                        service: params.remove("service"),
                        scope: params.remove("scope"),
                        error: params.remove("error"),
                    });
                }
            }
            "basic" => out.push(Challenge::Basic {
                realm: params.remove("realm"),
            }),
            _ => {}
        }
        if pending.is_none() && p.i >= p.s.len() {
            break;
        }
    }
    out
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
}

impl Parser<'_> {
    fn skip(&mut self, f: impl Fn(u8) -> bool) {
        while self.i < self.s.len() && f(self.s[self.i]) {
            self.i += 1;
        }
    }

    fn eat(&mut self, c: u8) -> bool {
        if self.s.get(self.i) == Some(&c) {
            self.i += 1;
            true
        } else {
            false
        }
    }

    /// An RFC 7230 token (letters, digits and `!#$%&'*+-.^_`|~`).
    fn token(&mut self) -> Option<String> {
        let start = self.i;
        self.skip(|c| c.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~/:".contains(&c));
        (self.i > start).then(|| String::from_utf8_lossy(&self.s[start..self.i]).into_owned())
    }

    /// A quoted string (with `\` escapes) or a token.
    fn value(&mut self) -> String {
        if !self.eat(b'"') {
            return self.token().unwrap_or_default();
        }
        let mut v = Vec::new();
        while self.i < self.s.len() {
            match self.s[self.i] {
                b'"' => {
                    self.i += 1;
                    break;
                }
                b'\\' if self.i + 1 < self.s.len() => {
                    v.push(self.s[self.i + 1]);
                    self.i += 2;
                }
                c => {
                    v.push(c);
                    self.i += 1;
                }
            }
        }
        String::from_utf8_lossy(&v).into_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bearer(
        realm: &str,
        service: Option<&str>,
        scope: Option<&str>,
        error: Option<&str>,
    ) -> Challenge {
        Challenge::Bearer {
            realm: realm.into(),
            service: service.map(Into::into),
            scope: scope.map(Into::into),
            error: error.map(Into::into),
        }
    }

    #[test]
    fn parses_registry_challenges() {
        assert_eq!(
            parse(
                r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/busybox:pull""#
            ),
            [bearer(
                "https://auth.docker.io/token",
                Some("registry.docker.io"),
                Some("repository:library/busybox:pull"),
                None
            )]
        );
        assert_eq!(
            parse(
                r#"Bearer realm="http://127.0.0.1:1/token",service="s",scope="repository:a:pull,push repository:b:pull",error="insufficient_scope""#
            ),
            [bearer(
                "http://127.0.0.1:1/token",
                Some("s"),
                Some("repository:a:pull,push repository:b:pull"),
                Some("insufficient_scope")
            )]
        );
        assert_eq!(
            parse(r#"Basic realm="Registry Realm""#),
            [Challenge::Basic {
                realm: Some("Registry Realm".into())
            }]
        );
        assert_eq!(parse("basic"), [Challenge::Basic { realm: None }]);
        assert_eq!(
            parse(r#"Negotiate, Basic realm="a\"b", bearer REALM=https://x/t , service = svc"#),
            [
                Challenge::Basic {
                    realm: Some("a\"b".into())
                },
                bearer("https://x/t", Some("svc"), None, None),
            ]
        );
        assert!(parse("").is_empty());
        assert!(parse("Bearer service=\"x\"").is_empty(), "no realm");
        assert!(parse("Digest realm=\"x\", nonce=\"y\"").is_empty());
    }
}
