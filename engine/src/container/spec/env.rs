//! The container's environment, merged as podman 5 merges it:
//!
//! 1. `PATH` (podman's default) and `container=podman`;
//! 2. the image's `Env` (overriding 1);
//! 3. `TERM=xterm` when `-t` is given and nothing set `TERM` (podman 5; 4.x
//!    set it always);
//! 4. `--unsetenv` names (and `--unsetenv-all`, everything so far) removed;
//!    then, with `--env-host`, the host's whole environment, else (podman's
//!    `--http-proxy` default) the host's proxy variables;
//! 5. `--env-file` files in order, then `-e` in order. `NAME` alone takes the
//!    host's value (and is skipped when the host has none); `NAME*` takes
//!    every host variable whose name starts with `NAME`;
//! 6. later, once the user is known, `HOSTNAME` and `HOME` when still unset.
//!
//! Order is kept (first definition's position, last definition's value), so
//! the spec is the same on every run.

use super::error::{Result, SpecError};

/// podman's default `PATH`.
pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// An ordered environment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Env {
    vars: Vec<(String, String)>,
}

impl Env {
    /// Sets `name`, keeping its position when it exists.
    pub fn set(&mut self, name: &str, value: &str) {
        match self.vars.iter_mut().find(|(n, _)| n == name) {
            Some((_, v)) => {
                v.clear();
                v.push_str(value);
            }
            None => self.vars.push((name.to_owned(), value.to_owned())),
        }
    }

    /// Sets `name` only when it is not set yet.
    pub fn set_default(&mut self, name: &str, value: &str) {
        if self.get(name).is_none() {
            self.vars.push((name.to_owned(), value.to_owned()));
        }
    }

    /// The value of `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.vars
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// `NAME=value` strings, in order.
    pub fn to_strings(&self) -> Vec<String> {
        self.vars.iter().map(|(n, v)| format!("{n}={v}")).collect()
    }
}

/// The inputs of the merge, apart from the host environment.
#[derive(Debug, Clone, Copy)]
pub struct EnvInput<'a> {
    /// The image's `Env` (`NAME=value`).
    pub image: &'a [String],
    /// `-t`.
    pub tty: bool,
    /// `--env-host`.
    pub env_host: bool,
    /// `--env-file` paths.
    pub env_files: &'a [std::path::PathBuf],
    /// `-e` values.
    pub env: &'a [String],
    /// `--unsetenv` names.
    pub unset: &'a [String],
    /// `--unsetenv-all`.
    pub unset_all: bool,
    /// `--http-proxy` (podman's default true).
    pub http_proxy: bool,
}

/// The proxy variables `--http-proxy` passes through (podman's list).
pub const PROXY_VARS: [&str; 8] = [
    "http_proxy",
    "HTTP_PROXY",
    "https_proxy",
    "HTTPS_PROXY",
    "ftp_proxy",
    "FTP_PROXY",
    "no_proxy",
    "NO_PROXY",
];

impl Env {
    /// Removes `name`.
    pub fn unset(&mut self, name: &str) {
        self.vars.retain(|(n, _)| n != name);
    }
}

/// Merges steps 1-5 (see the module doc). `host` returns the host's
/// environment; it is called at most once, and only when needed.
pub fn build(input: &EnvInput<'_>, host: &dyn Fn() -> Vec<(String, String)>) -> Result<Env> {
    let mut env = Env::default();
    env.set("PATH", DEFAULT_PATH);
    env.set("container", "podman");
    for entry in input.image {
        // A bare NAME in an image config is not a request for the host's
        // value (podman would leak it): skipped.
        if let Some((n, v)) = entry.split_once('=') {
            if !n.is_empty() {
                env.set(n, v);
            }
        }
    }
    if input.tty {
        env.set_default("TERM", "xterm");
    }
    let mut host = Host {
        source: host,
        vars: None,
    };
    for u in input.unset {
        env.unset(u);
    }
    if input.unset_all {
        env.vars.clear();
    }
    if input.env_host {
        for (n, v) in host.vars() {
            env.set(n, v);
        }
    } else if input.http_proxy {
        for (n, v) in host.vars() {
            if PROXY_VARS.contains(&n.as_str()) {
                env.set(n, v);
            }
        }
    }
    for file in input.env_files {
        let text = std::fs::read_to_string(file).map_err(|e| {
            SpecError::invalid(
                "--env-file",
                &file.to_string_lossy(),
                format!(
                    "parsing env file {:?}: open {}: {e}",
                    file.display().to_string(),
                    file.display()
                ),
            )
        })?;
        for (i, line) in text.lines().enumerate() {
            let line = line.trim_start_matches([' ', '\t']);
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            apply(&mut env, line, &mut host).map_err(|reason| {
                SpecError::invalid(
                    "--env-file",
                    &file.to_string_lossy(),
                    format!("line {}: {reason}", i + 1),
                )
            })?;
        }
    }
    for e in input.env {
        apply(&mut env, e, &mut host).map_err(|reason| SpecError::invalid("--env", e, reason))?;
    }
    Ok(env)
}

/// The host environment, fetched on first use.
struct Host<'a> {
    source: &'a dyn Fn() -> Vec<(String, String)>,
    vars: Option<Vec<(String, String)>>,
}

impl Host<'_> {
    fn vars(&mut self) -> &[(String, String)] {
        let source = self.source;
        self.vars.get_or_insert_with(source)
    }
}

/// Applies one `NAME=value`, `NAME` or `NAME*` entry.
fn apply(env: &mut Env, entry: &str, host: &mut Host<'_>) -> std::result::Result<(), String> {
    let (name, value) = match entry.split_once('=') {
        Some((n, v)) => (n, Some(v)),
        None => (entry, None),
    };
    let name = name.trim_start_matches([' ', '\t']);
    if name.is_empty() {
        return Err(format!("invalid variable {entry:?}: the name is empty"));
    }
    if name.contains('\0') || value.is_some_and(|v| v.contains('\0')) {
        return Err(format!("invalid variable {entry:?}: it holds a NUL byte"));
    }
    match value {
        Some(v) => env.set(name, v),
        None => {
            if let Some(prefix) = name.strip_suffix('*') {
                for (n, v) in host.vars() {
                    if n.starts_with(prefix) {
                        env.set(n, v);
                    }
                }
            } else if let Some((_, v)) = host.vars().iter().find(|(n, _)| n == name) {
                env.set(name, v);
            }
        }
    }
    Ok(())
}

/// The host environment of this process, lossily decoded.
pub fn host_env() -> Vec<(String, String)> {
    std::env::vars_os()
        .map(|(n, v)| {
            (
                n.to_string_lossy().into_owned(),
                v.to_string_lossy().into_owned(),
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host() -> Vec<(String, String)> {
        vec![
            ("HOSTVAR".into(), "fromhost".into()),
            ("HUSK_A".into(), "1".into()),
            ("HUSK_B".into(), "2".into()),
            ("PATH".into(), "/host/bin".into()),
        ]
    }

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    fn run(image: &[&str], tty: bool, env_host: bool, env: &[&str]) -> Vec<String> {
        build(
            &EnvInput {
                image: &s(image),
                tty,
                env_host,
                env_files: &[],
                env: &s(env),
                unset: &[],
                unset_all: false,
                http_proxy: false,
            },
            &host,
        )
        .unwrap()
        .to_strings()
    }

    #[test]
    fn defaults_then_image_then_user() {
        assert_eq!(
            run(&[], false, false, &[]),
            s(&[&format!("PATH={DEFAULT_PATH}"), "container=podman"])
        );
        assert_eq!(
            run(
                &["PATH=/img", "A=1", "BARE"],
                false,
                false,
                &["A=2", "B=x=y"]
            ),
            s(&["PATH=/img", "container=podman", "A=2", "B=x=y"])
        );
    }

    #[test]
    fn term_only_with_a_tty_and_not_over_the_image() {
        assert!(!run(&[], false, false, &[])
            .iter()
            .any(|e| e.starts_with("TERM=")));
        assert!(run(&[], true, false, &[]).contains(&"TERM=xterm".to_string()));
        assert!(run(&["TERM=vt100"], true, false, &[]).contains(&"TERM=vt100".to_string()));
    }

    #[test]
    fn host_values_names_globs_and_env_host() {
        let e = run(&[], false, false, &["HOSTVAR", "MISSING", "HUSK_*"]);
        assert!(e.contains(&"HOSTVAR=fromhost".to_string()));
        assert!(!e.iter().any(|x| x.starts_with("MISSING")));
        assert!(e.contains(&"HUSK_A=1".to_string()) && e.contains(&"HUSK_B=2".to_string()));
        let e = run(&["PATH=/img"], false, true, &["PATH=/mine"]);
        assert!(e.contains(&"PATH=/mine".to_string()));
        assert!(e.contains(&"HOSTVAR=fromhost".to_string()));
        let e = run(&["PATH=/img"], false, true, &[]);
        assert!(e.contains(&"PATH=/host/bin".to_string()), "{e:?}");
    }

    #[test]
    fn host_is_asked_only_when_needed() {
        let called = std::cell::Cell::new(0);
        let counting = || {
            called.set(called.get() + 1);
            host()
        };
        let input = EnvInput {
            image: &[],
            tty: false,
            env_host: false,
            env_files: &[],
            env: &s(&["A=1"]),
            unset: &[],
            unset_all: false,
            http_proxy: false,
        };
        build(&input, &counting).unwrap();
        assert_eq!(called.get(), 0);
        let env = s(&["HOSTVAR", "HUSK_*"]);
        build(&EnvInput { env: &env, ..input }, &counting).unwrap();
        assert_eq!(called.get(), 1);
    }

    #[test]
    fn env_files_in_podman_syntax() {
        let d = tempfile::tempdir().unwrap();
        let f1 = d.path().join("a.env");
        std::fs::write(
            &f1,
            "# comment\n\n   INDENTED=yes\nQUOTED=\"kept as is\" \nHOSTVAR\nHUSK_*\nEMPTY=\nOVER=file\n",
        )
        .unwrap();
        let f2 = d.path().join("b.env");
        std::fs::write(&f2, "OVER=second\n").unwrap();
        let files = vec![f1, f2];
        let env = build(
            &EnvInput {
                image: &[],
                tty: false,
                env_host: false,
                env_files: &files,
                env: &s(&["LAST=flag"]),
                unset: &[],
                unset_all: false,
                http_proxy: false,
            },
            &host,
        )
        .unwrap();
        assert_eq!(env.get("INDENTED"), Some("yes"));
        assert_eq!(env.get("QUOTED"), Some("\"kept as is\" "));
        assert_eq!(env.get("HOSTVAR"), Some("fromhost"));
        assert_eq!(env.get("HUSK_B"), Some("2"));
        assert_eq!(env.get("EMPTY"), Some(""));
        assert_eq!(env.get("OVER"), Some("second"));
        assert_eq!(env.get("LAST"), Some("flag"));
    }

    #[test]
    fn bad_entries_name_the_flag() {
        let e = build(
            &EnvInput {
                image: &[],
                tty: false,
                env_host: false,
                env_files: &[],
                env: &s(&["=A"]),
                unset: &[],
                unset_all: false,
                http_proxy: false,
            },
            &host,
        )
        .unwrap_err()
        .to_string();
        assert!(e.starts_with("invalid --env \"=A\""), "{e}");
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("bad.env");
        std::fs::write(&f, "OK=1\n=oops\n").unwrap();
        let files = [f, d.path().join("missing.env")];
        let e = build(
            &EnvInput {
                image: &[],
                tty: false,
                env_host: false,
                env_files: &files[..1],
                env: &[],
                unset: &[],
                unset_all: false,
                http_proxy: false,
            },
            &host,
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("--env-file") && e.contains("line 2"), "{e}");
        let e = build(
            &EnvInput {
                image: &[],
                tty: false,
                env_host: false,
                env_files: &files[1..],
                env: &[],
                unset: &[],
                unset_all: false,
                http_proxy: false,
            },
            &host,
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("--env-file") && e.contains("missing.env"), "{e}");
    }

    #[test]
    fn unset_and_proxies() {
        let proxy_host = || {
            vec![
                ("https_proxy".to_string(), "http://proxy:3128".to_string()),
                ("OTHER".to_string(), "x".to_string()),
            ]
        };
        let img = s(&["A=1", "B=2"]);
        let e = build(
            &EnvInput {
                image: &img,
                tty: false,
                env_host: false,
                env_files: &[],
                env: &s(&["C=3"]),
                unset: &s(&["A", "container"]),
                unset_all: false,
                http_proxy: true,
            },
            &proxy_host,
        )
        .unwrap();
        assert_eq!(
            e.to_strings(),
            s(&[
                &format!("PATH={DEFAULT_PATH}"),
                "B=2",
                "https_proxy=http://proxy:3128",
                "C=3"
            ])
        );
        let e = build(
            &EnvInput {
                image: &img,
                tty: true,
                env_host: false,
                env_files: &[],
                env: &s(&["C=3"]),
                unset: &[],
                unset_all: true,
                http_proxy: false,
            },
            &proxy_host,
        )
        .unwrap();
        assert_eq!(e.to_strings(), s(&["C=3"]));
    }
}
