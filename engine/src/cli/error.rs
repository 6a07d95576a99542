//! Exit statuses as podman sets them: 125 for husk's own errors, 126 when the
//! container's program cannot be invoked, 127 when it is not found, else the
//! container's own status. Commands return `anyhow::Result<i32>`; an error
//! that needs a status other than 125 carries it in a [`Coded`].

use std::fmt;

/// husk failed (podman's 125).
pub const ENGINE_ERROR: i32 = 125;
/// The program exists but cannot be invoked.
pub const CANNOT_INVOKE: i32 = 126;
/// The program was not found.
pub const NOT_FOUND: i32 = 127;

/// An error with the exit status it should end the command with.
#[derive(Debug)]
pub struct Coded {
    /// The exit status.
    pub code: i32,
    /// The error.
    pub error: anyhow::Error,
}

impl fmt::Display for Coded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:#}", self.error)
    }
}

impl std::error::Error for Coded {}

/// Wraps `error` so the command exits with `code`.
pub fn coded(code: i32, error: impl Into<anyhow::Error>) -> anyhow::Error {
    anyhow::Error::new(Coded {
        code,
        error: error.into(),
    })
}

/// The exit status for an error: the innermost [`Coded`] status, else 125.
pub fn exit_status(e: &anyhow::Error) -> i32 {
    e.chain()
        .find_map(|c| c.downcast_ref::<Coded>().map(|c| c.code))
        .unwrap_or(ENGINE_ERROR)
}

/// Reports every error of a command that acted on several objects, each
/// as `Error: ...`, and returns the exit status: the one all errors agree
/// on (per `classify`), else 125; 0 without errors.
pub fn finish_all<E: fmt::Display>(errors: &[E], classify: impl Fn(&E) -> i32) -> i32 {
    let mut code = 0;
    for e in errors {
        eprintln!("Error: {e}");
        let c = classify(e);
        code = if code == 0 || code == c {
            c
        } else {
            ENGINE_ERROR
        };
    }
    code
}

/// Prints an error as podman does: `Error: what: why`.
pub fn report(e: &anyhow::Error) {
    eprintln!("Error: {}", one_line(e));
}

/// The error and its causes on one line, `: `-separated, without repeating
/// a cause that a wrapper already printed.
pub fn one_line(e: &anyhow::Error) -> String {
    let mut out = String::new();
    for c in e.chain() {
        let s = c.to_string();
        if out.contains(&s) {
            continue;
        }
        if !out.is_empty() {
            out.push_str(": ");
        }
        out.push_str(&s);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_lines() {
        let e = coded(2, anyhow::anyhow!("inner")).context("outer");
        assert_eq!(exit_status(&e), 2);
        assert_eq!(one_line(&e), "outer: inner");
        assert_eq!(exit_status(&anyhow::anyhow!("x")), ENGINE_ERROR);
    }
}
