//! Locating the host tools the end-to-end tests drive. A missing tool is an
//! error naming it and the setup script, never a silent skip.

use std::path::{Path, PathBuf};

/// A host tool the tests need is not installed.
#[derive(Debug, thiserror::Error)]
#[error("required tool `{name}` not found ({searched}); run scripts/setup-host.sh as root to install it")]
pub struct MissingTool {
    /// The tool.
    pub name: String,
    /// Where it was looked for.
    pub searched: String,
}

/// Finds an executable: `$<env>` if set (must exist), else `default` if it
/// is a path, else `default` in `$PATH`.
pub fn find_tool(env: &str, default: &str) -> Result<PathBuf, MissingTool> {
    if let Some(p) = std::env::var_os(env) {
        let p = PathBuf::from(p);
        return if is_executable(&p) {
            Ok(p)
        } else {
            Err(MissingTool {
                name: default.to_owned(),
                searched: format!("${env}={}", p.display()),
            })
        };
    }
    if default.contains('/') {
        let p = PathBuf::from(default);
        return if is_executable(&p) {
            Ok(p)
        } else {
            Err(MissingTool {
                name: default.to_owned(),
                searched: format!("{default} does not exist; ${env} unset"),
            })
        };
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/usr/bin", "/sbin", "/bin"].map(PathBuf::from))
        .map(|d| d.join(default))
        .find(|p| is_executable(p))
        .ok_or_else(|| MissingTool {
            name: default.to_owned(),
            searched: format!("not in $PATH; ${env} unset"),
        })
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p)
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

/// `skopeo` (`$HUSK_SKOPEO` overrides).
pub fn skopeo() -> Result<PathBuf, MissingTool> {
    find_tool("HUSK_SKOPEO", "skopeo")
}

/// The registry server, Debian's `docker-registry` (`$HUSK_REGISTRY_BIN`
/// overrides).
pub fn registry_server() -> Result<PathBuf, MissingTool> {
    find_tool("HUSK_REGISTRY_BIN", "/usr/bin/docker-registry")
}

/// Panics with the [`MissingTool`] message: for tests that must fail, not
/// skip, when the host is not set up.
pub fn require(tool: Result<PathBuf, MissingTool>) -> PathBuf {
    tool.unwrap_or_else(|e| panic!("{e}"))
}
