//! Finding the container program: PATH lookup inside the container.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use crate::error::{Result, RuntimeError};

/// The PATH used when the process's env has none.
pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Finds `arg0` in `path` (a PATH value) as seen from the current root.
pub fn lookup(arg0: &str, path: &str) -> Result<PathBuf> {
    if arg0.starts_with('/') {
        // Checked here, before `create` returns, as a PATH lookup is: a
        // missing or unrunnable program fails create with the reason
        // (podman maps these words to 127 and 126), not the container
        // after start.
        return match std::fs::metadata(arg0) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(RuntimeError::Program(
                format!("exec: {arg0:?}: executable file not found: no such file or directory"),
            )),
            Ok(m) if !m.is_file() || m.permissions().mode() & 0o111 == 0 => Err(
                RuntimeError::Program(format!("exec: {arg0:?}: permission denied")),
            ),
            _ => Ok(PathBuf::from(arg0)),
        };
    }
    if arg0.contains('/') {
        // Relative to the process's cwd, which is entered later.
        return Ok(PathBuf::from(arg0));
    }
    for dir in path.split(':') {
        let dir = if dir.is_empty() { "." } else { dir };
        let cand = Path::new(dir).join(arg0);
        if let Ok(m) = std::fs::metadata(&cand) {
            if m.is_file() && m.permissions().mode() & 0o111 != 0 {
                return Ok(cand);
            }
        }
    }
    Err(RuntimeError::Program(format!(
        "exec: {arg0:?}: executable file not found in $PATH"
    )))
}

/// The PATH value of `env` (NAME=VALUE strings), or the default.
pub fn path_of(env: &[String]) -> &str {
    env.iter()
        .find_map(|e| e.strip_prefix("PATH="))
        .unwrap_or(DEFAULT_PATH)
}

/// Finds the program of `args` on the PATH of `env`.
pub fn resolve(args: &[String], env: &[String]) -> Result<PathBuf> {
    let arg0 = args
        .first()
        .ok_or_else(|| RuntimeError::Spec("process.args is empty".into()))?;
    lookup(arg0, path_of(env))
}
