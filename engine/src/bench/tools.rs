//! What `husk bench startup` measures: husk, and the OCI runtimes and
//! engines it is compared with, named on the command line or found on
//! `PATH`.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::BenchError;

/// The name husk's own entries carry (runtime and engine).
pub const HUSK: &str = "husk";

/// The runtime binary husk's lifecycle is measured with.
pub const HUSK_RUNTIME_BIN: &str = "husk-runtime";

/// OCI runtimes looked for on `PATH` when none is named.
pub const DISCOVERED_RUNTIMES: &[&str] = &["crun", "runc", "youki"];

/// Engines looked for on `PATH` when none is named (docker only when
/// named: its daemon is shared state the benchmark should not touch
/// unasked).
pub const DISCOVERED_ENGINES: &[&str] = &["podman"];

/// Whether a tool is an OCI runtime (runc's command line) or an engine
/// (podman's).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `create`/`start`/`delete`/`run` of a bundle.
    Runtime,
    /// `run --rm IMAGE true`.
    Engine,
}

/// How an engine loads the benchmark image and which flags it takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavour {
    /// podman, or anything else with podman's command line.
    Podman,
    /// docker: one daemon, no private store.
    Docker,
    /// husk itself.
    Husk,
}

/// One thing to measure.
#[derive(Debug, Clone)]
pub struct Tool {
    /// The name shown in reports (`husk`, `crun`, `podman+runc`).
    pub name: String,
    /// Runtime or engine.
    pub kind: Kind,
    /// The executable.
    pub path: PathBuf,
    /// The first line of `--version`, when it answers.
    pub version: Option<String>,
    /// Engines: which command line.
    pub flavour: Flavour,
    /// Engines: the OCI runtime to ask for (`podman --runtime`).
    pub engine_runtime: Option<String>,
}

impl Tool {
    /// Whether this is husk's own entry.
    pub fn is_husk(&self) -> bool {
        self.name == HUSK
    }
}

fn is_executable(p: &Path) -> bool {
    std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// The first executable `name` in `$PATH`.
pub fn find_in_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .filter(|d| !d.as_os_str().is_empty())
        .map(|d| d.join(name))
        .find(|p| is_executable(p))
}

/// The first line of `PATH --version`, if it answers within reason.
pub fn version_of(path: &Path) -> Option<String> {
    let out = Command::new(path)
        .arg("--version")
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text.lines().find(|l| !l.trim().is_empty())?.trim();
    out.status.success().then(|| line.to_owned())
}

fn file_name(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| p.display().to_string())
}

/// Resolves a `--runtime`/`--engine` argument: a path (must be an
/// executable file) or a name looked up on `PATH`.
fn resolve(arg: &str, what: &'static str) -> Result<PathBuf, BenchError> {
    let unknown = |reason: &str| BenchError::UnknownTool {
        what,
        name: arg.to_owned(),
        reason: reason.to_owned(),
    };
    if arg.is_empty() {
        return Err(unknown("empty name"));
    }
    if arg.contains('/') {
        let p = PathBuf::from(arg);
        return if is_executable(&p) {
            Ok(p)
        } else if p.exists() {
            Err(unknown("not an executable file"))
        } else {
            Err(unknown("no such file"))
        };
    }
    find_in_path(arg).ok_or_else(|| unknown("not found on PATH"))
}

/// husk's runtime binary: `husk-runtime` next to the running `husk`, else
/// on `PATH`.
pub fn husk_runtime() -> Option<PathBuf> {
    std::env::current_exe()
        .ok()
        .and_then(|e| e.parent().map(|d| d.join(HUSK_RUNTIME_BIN)))
        .filter(|p| is_executable(p))
        .or_else(|| find_in_path(HUSK_RUNTIME_BIN))
}

/// An OCI runtime named by `--runtime PATH|NAME` (`husk` names husk's).
pub fn runtime(arg: &str) -> Result<Tool, BenchError> {
    if arg == HUSK {
        return husk_runtime_tool(None);
    }
    let path = resolve(arg, "runtime")?;
    let name = if arg.contains('/') {
        file_name(&path)
    } else {
        arg.to_owned()
    };
    Ok(runtime_tool(name, path))
}

fn runtime_tool(name: String, path: PathBuf) -> Tool {
    Tool {
        version: version_of(&path),
        name,
        kind: Kind::Runtime,
        path,
        flavour: Flavour::Podman,
        engine_runtime: None,
    }
}

/// husk's runtime entry: `explicit` (`--husk-runtime`), else
/// [`husk_runtime`].
pub fn husk_runtime_tool(explicit: Option<&Path>) -> Result<Tool, BenchError> {
    let path = match explicit {
        Some(p) => resolve(&p.to_string_lossy(), "runtime")?,
        None => husk_runtime().ok_or_else(|| BenchError::UnknownTool {
            what: "runtime",
            name: HUSK.to_owned(),
            reason: format!(
                "{HUSK_RUNTIME_BIN} is neither next to husk nor on PATH; install it there"
            ),
        })?,
    };
    Ok(runtime_tool(HUSK.to_owned(), path))
}

/// An engine named by `--engine NAME|PATH[+RUNTIME]` (`podman+runc` asks
/// podman for runc).
pub fn engine(arg: &str) -> Result<Tool, BenchError> {
    let (engine, rt) = match arg.split_once('+') {
        Some((e, r)) if !r.is_empty() => (e, Some(r.to_owned())),
        _ => (arg, None),
    };
    let path = if engine == HUSK {
        std::env::current_exe().map_err(|e| BenchError::Io {
            path: PathBuf::from("/proc/self/exe"),
            source: e,
        })?
    } else {
        resolve(engine, "engine")?
    };
    let base = file_name(&path);
    let flavour = if engine == HUSK || base == HUSK {
        Flavour::Husk
    } else if base.contains("docker") {
        Flavour::Docker
    } else {
        Flavour::Podman
    };
    let mut name = if engine.contains('/') {
        base
    } else {
        engine.to_owned()
    };
    if let Some(r) = &rt {
        name = format!("{name}+{r}");
    }
    Ok(Tool {
        version: version_of(&path),
        name,
        kind: Kind::Engine,
        path,
        flavour,
        engine_runtime: rt,
    })
}

/// The tools besides husk: the named ones, then (with `discover`) those
/// found on `PATH`, without duplicates (by name, or by path and runtime).
/// A name that resolves to nothing is an error.
pub fn select(
    runtimes: &[String],
    engines: &[String],
    discover: bool,
) -> Result<Vec<Tool>, BenchError> {
    let husk_rt = husk_runtime();
    let mut out: Vec<Tool> = Vec::new();
    let push = |t: Tool, out: &mut Vec<Tool>| {
        let same = |o: &Tool| {
            o.kind == t.kind
                && (o.name == t.name || (o.path == t.path && o.engine_runtime == t.engine_runtime))
        };
        let husk_itself = t.name == HUSK
            || (t.kind == Kind::Runtime && Some(&t.path) == husk_rt.as_ref())
            || t.flavour == Flavour::Husk;
        if !husk_itself && !out.iter().any(same) {
            out.push(t);
        }
    };
    for r in runtimes {
        push(runtime(r)?, &mut out);
    }
    for e in engines {
        push(engine(e)?, &mut out);
    }
    if discover {
        for r in DISCOVERED_RUNTIMES {
            if let Ok(t) = runtime(r) {
                push(t, &mut out);
            }
        }
        for e in DISCOVERED_ENGINES {
            if let Ok(t) = engine(e) {
                push(t, &mut out);
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_names_and_paths_are_errors() {
        let e = runtime("no-such-runtime-xyz").unwrap_err().to_string();
        assert!(
            e.contains("no-such-runtime-xyz") && e.contains("PATH"),
            "{e}"
        );
        let e = runtime("/nonexistent/crun").unwrap_err().to_string();
        assert!(e.contains("no such file"), "{e}");
        let e = engine("/etc/passwd").unwrap_err().to_string();
        assert!(e.contains("not an executable"), "{e}");
    }

    #[test]
    fn engine_with_a_runtime() {
        let t = engine("/bin/sh+runc").unwrap();
        assert_eq!(t.name, "sh+runc");
        assert_eq!(t.engine_runtime.as_deref(), Some("runc"));
        assert_eq!(t.flavour, Flavour::Podman);
        assert_eq!(t.kind, Kind::Engine);
    }
}
