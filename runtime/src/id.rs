//! Container id validation: ids become directory names under the state root,
//! so anything that could walk out of it is refused.

use crate::error::{Result, RuntimeError};

/// The longest id accepted: the id names the state directory, and a file
/// name may hold at most NAME_MAX (255) bytes.
pub const MAX_ID_LEN: usize = 255;

/// Checks that `id` is a safe container id: non-empty, at most
/// [`MAX_ID_LEN`] bytes, made of `[A-Za-z0-9_.+-]` and not `.` or `..`.
pub fn validate(id: &str) -> Result<()> {
    let bad = |reason| {
        Err(RuntimeError::InvalidId {
            id: id.to_string(),
            reason,
        })
    };
    if id.is_empty() {
        return bad("it is empty");
    }
    if id.len() > MAX_ID_LEN {
        return bad("it is longer than 255 bytes");
    }
    if id == "." || id == ".." {
        return bad("it is a path component");
    }
    if !id
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'+' | b'-'))
    {
        return bad("only letters, digits and _ . + - are allowed");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_usual_ids() {
        for id in ["a", "abc-123", "x.y_z+1", &"f".repeat(64), &"g".repeat(255)] {
            validate(id).unwrap();
        }
    }

    #[test]
    fn refuses_paths_and_junk() {
        for id in ["", ".", "..", "../x", "a/b", "a b", "é", &"x".repeat(256)] {
            assert!(validate(id).is_err(), "{id:?} accepted");
        }
    }
}
