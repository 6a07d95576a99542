//! Detach keys in podman's `--detach-keys` syntax: a comma-separated
//! sequence of `ctrl-<c>` (c in a-z, @, [, \, ], ^, _) or single
//! characters; the empty string disables detaching. The default is
//! `ctrl-p,ctrl-q`.

use crate::error::{Result, ShimError};

/// podman's default detach sequence.
pub const DEFAULT_DETACH_KEYS: &str = "ctrl-p,ctrl-q";

/// Parses a detach-keys specification into the bytes it stands for.
pub fn parse(spec: &str) -> Result<Vec<u8>> {
    let bad = |reason: &str| {
        Err(ShimError::DetachKeys {
            keys: spec.to_owned(),
            reason: reason.to_owned(),
        })
    };
    if spec.is_empty() {
        return Ok(Vec::new());
    }
    let mut out = Vec::new();
    for key in spec.split(',') {
        let b = key.as_bytes();
        match b {
            [c] => out.push(*c),
            [b'c', b't', b'r', b'l', b'-', c] => match c {
                b'a'..=b'z' => out.push(c - b'a' + 1),
                b'@' => out.push(0),
                b'[' | b'\\' | b']' | b'^' | b'_' => out.push(c - b'@'),
                _ => return bad("ctrl- takes a-z, @, [, \\, ], ^ or _"),
            },
            _ => return bad("each key is one character or ctrl-<character>"),
        }
    }
    Ok(out)
}

/// Watches input for the detach sequence. Bytes that might start it are
/// held back until it is clear whether they do.
#[derive(Debug, Clone)]
pub struct DetachScanner {
    keys: Vec<u8>,
    matched: usize,
}

impl DetachScanner {
    /// A scanner for `keys` (empty: never detaches).
    pub fn new(keys: Vec<u8>) -> DetachScanner {
        DetachScanner { keys, matched: 0 }
    }

    /// Appends to `out` the bytes of `input` to forward; returns `true`
    /// when the sequence completed (what follows it is dropped).
    pub fn scan(&mut self, input: &[u8], out: &mut Vec<u8>) -> bool {
        if self.keys.is_empty() {
            out.extend_from_slice(input);
            return false;
        }
        for &c in input {
            if c == self.keys[self.matched] {
                self.matched += 1;
                if self.matched == self.keys.len() {
                    self.matched = 0;
                    return true;
                }
                continue;
            }
            out.extend_from_slice(&self.keys[..self.matched]);
            self.matched = usize::from(c == self.keys[0]);
            if self.matched == 0 {
                out.push(c);
            }
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_podman_syntax() {
        assert_eq!(parse(DEFAULT_DETACH_KEYS).unwrap(), [16, 17]);
        assert_eq!(parse("ctrl-a,d").unwrap(), [1, b'd']);
        assert_eq!(parse("ctrl-@,ctrl-_").unwrap(), [0, 31]);
        assert!(parse("").unwrap().is_empty());
        assert!(parse("ctrl-1").is_err());
        assert!(parse("ab").is_err());
    }

    #[test]
    fn scanner_holds_back_prefixes_and_detects() {
        let mut s = DetachScanner::new(vec![16, 17]);
        let mut out = Vec::new();
        assert!(!s.scan(b"ab\x10", &mut out));
        assert_eq!(out, b"ab");
        assert!(!s.scan(b"x\x10\x10", &mut out));
        assert_eq!(out, b"ab\x10x\x10");
        assert!(s.scan(b"\x11rest", &mut out));
        assert_eq!(out, b"ab\x10x\x10");
        let mut off = DetachScanner::new(Vec::new());
        let mut o = Vec::new();
        assert!(!off.scan(b"\x10\x11", &mut o));
        assert_eq!(o, b"\x10\x11");
    }
}
