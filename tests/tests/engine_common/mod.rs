//! Shared by the `engine_*` test binaries: an [`Env`] (a husk, rootful or
//! rootless, with a registry holding the busybox fixture), table-driven
//! rows of podman-style command lines with their expected exit status,
//! stdout and stderr, and checkers for podman's tables and JSON.
//!
//! The expectations were recorded from podman 4.3 (Debian's, driving
//! husk-runtime) and corrected to podman 5 where podman's source or docs
//! say 5 differs; docs/podman-compat.md lists every such decision.

#![allow(dead_code)]

pub mod table;

use std::collections::BTreeMap;
use std::fmt::Write as _;

use husk_tests::bundle::Output;
pub use husk_tests::husk::images::FixtureRegistry;
pub use husk_tests::husk::Husk;
use husk_tests::rootless::rootless_test;
use regex::Regex;
use serde_json::Value;

/// Declares a test body run twice, as two `#[test]`s named `rootful` and
/// `rootless` in a module named after the body:
/// `flavours!(fn name(env) { ... })`.
#[macro_export]
macro_rules! flavours {
    ($(#[$m:meta])* fn $name:ident($env:ident) $body:block) => {
        $(#[$m])*
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            fn body($env: &mut $crate::engine_common::Env) $body

            #[test]
            fn rootful() {
                body(&mut $crate::engine_common::Env::rootful(concat!(
                    stringify!($name),
                    "::rootful"
                )))
            }

            #[test]
            fn rootless() {
                body(&mut $crate::engine_common::Env::rootless(concat!(
                    stringify!($name),
                    "::rootless"
                )))
            }
        }
    };
}

/// Declares a rootful-only test, with the reason it cannot run rootless:
/// `rootful_only!("why", fn name(env) { ... })`.
#[macro_export]
macro_rules! rootful_only {
    ($why:literal, $(#[$m:meta])* fn $name:ident($env:ident) $body:block) => {
        $(#[$m])*
        #[doc = concat!("Rootful only: ", $why)]
        #[test]
        fn $name() {
            let $env = &mut $crate::engine_common::Env::rootful(stringify!($name));
            $body
        }
    };
}

/// Declares a rootless-only test, with the reason it cannot run rootful.
#[macro_export]
macro_rules! rootless_only {
    ($why:literal, $(#[$m:meta])* fn $name:ident($env:ident) $body:block) => {
        $(#[$m])*
        #[doc = concat!("Rootless only: ", $why)]
        #[test]
        fn $name() {
            let $env = &mut $crate::engine_common::Env::rootless(stringify!($name));
            $body
        }
    };
}

/// One test's world: a husk with its own storage, a registry with the
/// busybox fixture that short names resolve to, and the variables rows
/// refer to as `{name}`.
#[derive(Debug)]
pub struct Env {
    /// The husk under test. Dropped first: its Drop removes containers.
    pub husk: Husk,
    /// The registry holding `testbox:latest`.
    pub reg: FixtureRegistry,
    /// `{key}` substitutions for rows.
    pub vars: Vars,
}

impl Env {
    /// Rootful.
    pub fn rootful(test: &str) -> Env {
        eprintln!("[rootful] {test}");
        Env::with(Husk::rootful())
    }

    /// Rootless, as the test user (panics, never skips, when it is
    /// missing).
    pub fn rootless(test: &str) -> Env {
        let user = rootless_test(test);
        Env::with(Husk::rootless(&user))
    }

    fn with(mut husk: Husk) -> Env {
        let reg = FixtureRegistry::start();
        husk.use_registry(reg.registry());
        let mut vars = Vars::default();
        vars.set("img", reg.reference());
        vars.set("short", reg.short_name());
        vars.set("imgid", reg.image_id());
        vars.set("digest", reg.manifest_digest());
        vars.set("scratch", &husk.scratch().to_string_lossy());
        let (uid, gid) = husk.host_ids();
        vars.set("uid", &uid.to_string());
        vars.set("gid", &gid.to_string());
        if let Some(u) = husk.user() {
            vars.set("subuid", &u.subuids[0].start.to_string());
            vars.set("subgid", &u.subgids[0].start.to_string());
        }
        Env { husk, reg, vars }
    }

    /// Whether this env is rootless.
    pub fn rootless_env(&self) -> bool {
        self.husk.is_rootless()
    }

    /// The image's full reference.
    pub fn img(&self) -> String {
        self.reg.reference().to_owned()
    }

    /// Makes sure the image is in husk's storage (through `create`, then
    /// `rm`; husk has no `pull` command in this milestone), so rows after
    /// it see no pull progress on stderr.
    #[track_caller]
    pub fn pull(&self) {
        let img = self.img();
        self.husk
            .ok(&["create", "--name", "husk-e2e-pull", &img, "true"]);
        self.husk.ok(&["rm", "husk-e2e-pull"]);
    }

    /// What this env's husk (and the host's cgroups) hold that `before`
    /// had not, as a report ("" if nothing). Against the podman oracle,
    /// podman's lazily made `<root>/secrets` directory is not counted.
    pub fn left_since(&self, before: &husk_tests::husk::leftovers::Leftovers) -> String {
        before.added_in_except(&self.husk.snapshot(), |p| {
            podman43() && p.file_name().is_some_and(|n| n == "secrets")
        })
    }

    /// Fills `{key}`s in `s`.
    pub fn fill(&self, s: &str) -> String {
        self.vars.fill(s)
    }

    /// `husk ARGS…` with `{key}`s filled.
    pub fn run(&self, args: &[&str]) -> Output {
        let args: Vec<String> = args.iter().map(|a| self.fill(a)).collect();
        self.husk.run(&args)
    }

    /// `husk ARGS…` with `{key}`s filled; panics unless it succeeds;
    /// returns stdout.
    #[track_caller]
    pub fn ok(&self, args: &[&str]) -> String {
        let args: Vec<String> = args.iter().map(|a| self.fill(a)).collect();
        self.husk.ok(&args)
    }

    /// Lets a container that polls for `/tmp/go` go on: a detached exec
    /// touches the file. Not a foreground exec: the container may exit
    /// as soon as the file is there, and its pid namespace then kills an
    /// exec'd process the scheduler had not yet let reach its exit (the
    /// exec would report 137).
    #[track_caller]
    pub fn release(&self, name: &str) {
        let o = self.husk.run(&["exec", "-d", name, "touch", "/tmp/go"]);
        assert_eq!(
            o.code(),
            0,
            "[{}] exec -d {name} touch /tmp/go: {o}",
            self.husk.flavour()
        );
    }

    /// Starts a detached container named `name` running `cmd` (filled),
    /// waits until it runs, records `{name}` / `{name.id}` / `{name.short}`
    /// and returns its id.
    #[track_caller]
    pub fn start_detached(&mut self, name: &str, extra: &[&str], cmd: &[&str]) -> String {
        let mut args = vec!["run", "-d", "--name", name];
        args.extend_from_slice(extra);
        args.push("{img}");
        args.extend_from_slice(cmd);
        let out = self.ok(&args);
        let id = out.trim().to_owned();
        self.husk.wait_for_state(name, "running");
        self.remember(name, &id);
        id
    }

    /// Records `{name}`, `{name.id}` and `{name.short}` for a container.
    pub fn remember(&mut self, name: &str, id: &str) {
        self.vars.set(name, name);
        self.vars.set(&format!("{name}.id"), id);
        self.vars
            .set(&format!("{name}.short"), &id[..id.len().min(12)]);
    }

    /// Runs every row and panics with a report of all that failed.
    #[track_caller]
    pub fn check(&self, rows: &[Row]) {
        let mut failures = String::new();
        let mut n = 0;
        for r in rows {
            if podman43() && r.not_on_podman43.is_some() {
                continue;
            }
            if let Err(e) = self.check_row(r) {
                n += 1;
                let _ = writeln!(failures, "{e}\n");
            }
        }
        assert!(
            n == 0,
            "[{}] {n} of {} rows failed:\n\n{failures}",
            self.husk.flavour(),
            rows.len()
        );
    }

    /// Runs one row; the error describes the mismatch.
    pub fn check_row(&self, r: &Row) -> Result<Output, String> {
        let args: Vec<String> = r.args.iter().map(|a| self.fill(a)).collect();
        let o = match &r.stdin {
            Some(input) => self.husk.run_stdin(&args, self.fill(input).as_bytes()),
            None => self.husk.run(&args),
        };
        let mut why = Vec::new();
        if o.code() != r.code {
            why.push(format!("exit status {} (want {})", o.code(), r.code));
        }
        if let Err(e) = r.stdout.check(&o.stdout, &self.vars) {
            why.push(format!("stdout: {e}"));
        }
        if let Err(e) = r.stderr.check(&o.stderr, &self.vars) {
            why.push(format!("stderr: {e}"));
        }
        if why.is_empty() {
            Ok(o)
        } else {
            Err(format!(
                "husk {}{}\n  {}\n  --- stdout ---\n{}\n  --- stderr ---\n{}",
                shell_words(&args),
                r.note
                    .as_deref()
                    .map(|n| format!("   # {n}"))
                    .unwrap_or_default(),
                why.join("\n  "),
                indent(&o.stdout),
                indent(&o.stderr)
            ))
        }
    }
}

fn indent(s: &str) -> String {
    s.lines()
        .map(|l| format!("    {l:?}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// `args` as a shell would show them.
pub fn shell_words(args: &[String]) -> String {
    args.iter()
        .map(|a| {
            if !a.is_empty()
                && a.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_./:=,@%+".contains(c))
            {
                a.clone()
            } else {
                format!("'{}'", a.replace('\'', r"'\''"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// `{key}` substitutions.
#[derive(Debug, Default, Clone)]
pub struct Vars(BTreeMap<String, String>);

impl Vars {
    /// Sets `{key}`.
    pub fn set(&mut self, key: &str, value: &str) {
        self.0.insert(key.to_owned(), value.to_owned());
    }

    /// The value of `{key}`; panics if unset.
    pub fn get(&self, key: &str) -> &str {
        self.0
            .get(key)
            .unwrap_or_else(|| panic!("no variable {{{key}}}"))
    }

    /// Replaces every `{key}` whose key is set; other braces (Go
    /// templates' `{{...}}`) are left alone.
    pub fn fill(&self, s: &str) -> String {
        let mut out = s.to_owned();
        // Longest keys first, so `{web.id}` is not taken as `{web}`.
        let mut keys: Vec<&String> = self.0.keys().collect();
        keys.sort_by_key(|k| std::cmp::Reverse(k.len()));
        for k in keys {
            out = out.replace(&format!("{{{k}}}"), &self.0[k]);
        }
        out
    }

    /// [`Vars::fill`], with every filled value regex-escaped: for patterns.
    pub fn fill_regex(&self, pattern: &str) -> String {
        let mut out = pattern.to_owned();
        let mut keys: Vec<&String> = self.0.keys().collect();
        keys.sort_by_key(|k| std::cmp::Reverse(k.len()));
        for k in keys {
            out = out.replace(&format!("{{{k}}}"), &regex::escape(&self.0[k]));
        }
        out
    }
}

/// A custom check of a stream.
pub type CheckFn = Box<dyn Fn(&str, &Vars) -> Result<(), String>>;

/// A check of a stream parsed as JSON.
pub type JsonFn = Box<dyn Fn(&Value, &Vars) -> Result<(), String>>;

/// What a stream must look like.
pub enum Out {
    /// Anything.
    Any,
    /// Nothing at all.
    Empty,
    /// Exactly this text (after filling `{key}`s).
    Exact(String),
    /// Contains each of these (filled).
    Contains(Vec<String>),
    /// Matches this regex (filled, values escaped); anchor it yourself.
    Regex(String),
    /// No line starts with `Error: ` (warnings are fine).
    NoError,
    /// podman's error shape: a line starts with `Error: `, and the stream
    /// contains every needle (filled, case-insensitive).
    Error(Vec<String>),
    /// Parses as JSON and passes the check.
    Json(JsonFn),
    /// A custom check.
    Check(CheckFn),
}

impl std::fmt::Debug for Out {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Out::Any => write!(f, "Any"),
            Out::Empty => write!(f, "Empty"),
            Out::Exact(s) => write!(f, "Exact({s:?})"),
            Out::Contains(s) => write!(f, "Contains({s:?})"),
            Out::Regex(s) => write!(f, "Regex({s:?})"),
            Out::NoError => write!(f, "NoError"),
            Out::Error(s) => write!(f, "Error({s:?})"),
            Out::Json(_) => write!(f, "Json(..)"),
            Out::Check(_) => write!(f, "Check(..)"),
        }
    }
}

impl Out {
    /// Checks `text` against this expectation.
    pub fn check(&self, text: &str, vars: &Vars) -> Result<(), String> {
        match self {
            Out::Any => Ok(()),
            Out::Empty => expect(text.is_empty(), || "want nothing".to_owned()),
            Out::Exact(want) => {
                let want = vars.fill(want);
                expect(text == want, || format!("want exactly {want:?}"))
            }
            Out::Contains(needles) => {
                for n in needles {
                    let n = vars.fill(n);
                    if !text.contains(&n) {
                        return Err(format!("does not contain {n:?}"));
                    }
                }
                Ok(())
            }
            Out::Regex(re) => {
                let re = vars.fill_regex(re);
                let r = Regex::new(&re).map_err(|e| format!("bad test regex {re:?}: {e}"))?;
                expect(r.is_match(text), || format!("does not match /{re}/"))
            }
            Out::NoError => expect(!has_error_line(text), || "has an `Error: ` line".to_owned()),
            Out::Error(needles) => {
                if !has_error_line(text) {
                    return Err("no line starts with podman's `Error: ` prefix".to_owned());
                }
                let lower = text.to_lowercase();
                for n in needles {
                    let n = vars.fill(n);
                    if !lower.contains(&n.to_lowercase()) {
                        return Err(format!("error does not mention {n:?}"));
                    }
                }
                Ok(())
            }
            Out::Json(f) => {
                let v: Value = serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
                f(&v, vars)
            }
            Out::Check(f) => f(text, vars),
        }
    }
}

fn expect(ok: bool, why: impl FnOnce() -> String) -> Result<(), String> {
    if ok {
        Ok(())
    } else {
        Err(why())
    }
}

/// Whether a line of `text` starts with `Error: `.
pub fn has_error_line(text: &str) -> bool {
    text.lines().any(|l| l.starts_with("Error: "))
}

/// One command line and what it must do.
#[derive(Debug)]
pub struct Row {
    /// The arguments after `husk` (with `{key}`s).
    pub args: Vec<String>,
    /// Expected exit status.
    pub code: i32,
    /// Expected stdout.
    pub stdout: Out,
    /// Expected stderr.
    pub stderr: Out,
    /// Text fed to stdin (else stdin is closed).
    pub stdin: Option<String>,
    /// Shown with a failure: where the expectation comes from.
    pub note: Option<String>,
    /// Why podman 4.3 (with husk-runtime) cannot pass this row: a podman 5
    /// behaviour, or husk-runtime's own; such rows are skipped when the
    /// suite runs against the oracle (see [`podman43`]).
    pub not_on_podman43: Option<String>,
}

/// A row: `husk ARGS…` must exit 0, print anything on stdout and no
/// `Error: ` line on stderr, until told otherwise.
pub fn row(args: &[&str]) -> Row {
    Row {
        args: args.iter().map(|s| (*s).to_owned()).collect(),
        code: 0,
        stdout: Out::Any,
        stderr: Out::NoError,
        stdin: None,
        note: None,
        not_on_podman43: None,
    }
}

impl Row {
    /// Expected exit status.
    pub fn code(mut self, code: i32) -> Row {
        self.code = code;
        self
    }

    /// Expected stdout.
    pub fn out(mut self, o: Out) -> Row {
        self.stdout = o;
        self
    }

    /// Expected stderr.
    pub fn err(mut self, o: Out) -> Row {
        self.stderr = o;
        self
    }

    /// stdin text.
    pub fn stdin(mut self, s: &str) -> Row {
        self.stdin = Some(s.to_owned());
        self
    }

    /// A note shown on failure.
    pub fn note(mut self, s: &str) -> Row {
        self.note = Some(s.to_owned());
        self
    }

    /// Marks a row podman 4.3 cannot pass (a podman 5 behaviour, or a
    /// husk-runtime difference when podman drives it), with the reason.
    pub fn v5(mut self, why: &str) -> Row {
        self.not_on_podman43 = Some(why.to_owned());
        self
    }

    /// Shorthand: exits 0, stdout exactly `s`, stderr empty.
    pub fn prints(self, s: &str) -> Row {
        self.out(exact(s)).err(Out::Empty)
    }

    /// Shorthand: fails with `code`, nothing on stdout, podman's error
    /// shape on stderr mentioning every needle.
    pub fn fails(self, code: i32, needles: &[&str]) -> Row {
        self.code(code).out(Out::Empty).err(error(needles))
    }
}

/// [`Out::Exact`].
pub fn exact(s: &str) -> Out {
    Out::Exact(s.to_owned())
}

/// [`Out::Regex`].
pub fn re(s: &str) -> Out {
    Out::Regex(s.to_owned())
}

/// [`Out::Contains`].
pub fn contains(needles: &[&str]) -> Out {
    Out::Contains(needles.iter().map(|s| (*s).to_owned()).collect())
}

/// [`Out::Error`].
pub fn error(needles: &[&str]) -> Out {
    Out::Error(needles.iter().map(|s| (*s).to_owned()).collect())
}

/// [`Out::Json`].
pub fn json(f: impl Fn(&Value, &Vars) -> Result<(), String> + 'static) -> Out {
    Out::Json(Box::new(f))
}

/// [`Out::Check`].
pub fn check(f: impl Fn(&str, &Vars) -> Result<(), String> + 'static) -> Out {
    Out::Check(Box::new(f))
}

/// Whether the suite runs against the oracle instead of husk:
/// `HUSK_E2E_ORACLE=podman-4.3`, with `HUSK_TARGET_DIR` holding a `husk`
/// script that runs podman 4.3 with `--runtime husk-runtime` (see
/// docs/podman-compat.md). Rows marked [`Row::v5`] are skipped and the few
/// helpers that encode a podman 5 format switch to 4.3's, so every other
/// expectation is checked against real podman.
pub fn podman43() -> bool {
    std::env::var("HUSK_E2E_ORACLE").as_deref() == Ok("podman-4.3")
}

/// A 64-hex container id and a newline, what `run -d` and `create` print.
pub const ID_LINE: &str = r"^[0-9a-f]{64}\n$";

/// go-units' HumanDuration, which podman uses for CREATED and STATUS.
pub const HUMAN: &str = r"(?:Less than a second|About a minute|About an hour|1 second|\d+ (?:seconds|minutes|hours|days|weeks|months|years))";

/// A CREATED cell: `<human duration> ago`.
pub fn created_re() -> String {
    format!("^{HUMAN} ago$")
}

/// A running container's STATUS, unanchored: `Up <human duration>`
/// (podman 5; 4.3 printed `Up <duration> ago`).
pub fn up_pat() -> String {
    if podman43() {
        format!("Up {HUMAN} ago")
    } else {
        format!("Up {HUMAN}")
    }
}

/// [`up_pat`], anchored.
pub fn up_re() -> String {
    format!("^{}$", up_pat())
}

/// An exited container's STATUS, unanchored: `Exited (<code>) <duration>
/// ago`.
pub fn exited_pat(code: i32) -> String {
    format!(r"Exited \({code}\) {HUMAN} ago")
}

/// [`exited_pat`], anchored.
pub fn exited_re(code: i32) -> String {
    format!("^{}$", exited_pat(code))
}

/// stdout's lines match these regexes (filled, values escaped; anchored
/// for you) one to one, in any order.
pub fn lines_match(patterns: &[&str]) -> Out {
    let pats: Vec<String> = patterns.iter().map(|s| (*s).to_owned()).collect();
    check(move |text, vars| {
        let res: Vec<Regex> = pats
            .iter()
            .map(|p| Regex::new(&format!("^(?:{})$", vars.fill_regex(p))))
            .collect::<Result<_, _>>()
            .map_err(|e| format!("bad test regex: {e}"))?;
        let mut lines: Vec<Option<&str>> = text.lines().map(Some).collect();
        if lines.len() != res.len() || !(text.is_empty() || text.ends_with('\n')) {
            return Err(format!("want {} lines matching {pats:?}", res.len()));
        }
        for (r, p) in res.iter().zip(&pats) {
            let hit = lines
                .iter_mut()
                .find(|l| l.is_some_and(|l| r.is_match(l)))
                .ok_or_else(|| format!("no line matches /{p}/"))?;
            *hit = None;
        }
        Ok(())
    })
}

/// The fields of a JSON object, as a sorted list.
pub fn keys(v: &Value) -> Vec<String> {
    let mut k: Vec<String> = v
        .as_object()
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default();
    k.sort();
    k
}

/// Fails unless `obj` has every one of `fields`.
pub fn has_fields(obj: &Value, fields: &[&str], what: &str) -> Result<(), String> {
    let missing: Vec<&str> = fields
        .iter()
        .copied()
        .filter(|f| obj.get(f).is_none())
        .collect();
    expect(missing.is_empty(), || {
        format!(
            "{what} lacks podman's fields {missing:?}; has {:?}",
            keys(obj)
        )
    })
}

/// `/proc/self/status`'s `CapEff` of default podman 5 containers: CHOWN,
/// DAC_OVERRIDE, FOWNER, FSETID, KILL, NET_BIND_SERVICE, SETFCAP, SETGID,
/// SETPCAP, SETUID, SYS_CHROOT (containers.conf's default_capabilities
/// since containers/common 0.51; podman 4.3 here also grants AUDIT_WRITE,
/// MKNOD and NET_RAW: a80425fb).
pub const DEFAULT_CAPS: &str = "00000000800405fb";

/// A `/proc/PID/uid_map` line as the kernel prints it.
pub fn map_line(inside: u64, outside: u64, len: u64) -> String {
    format!("{inside:>10} {outside:>10} {len:>10}\n")
}

/// A serialising lock for tests that look at host-global state (cgroups):
/// the tests of one binary run in threads of one process.
pub fn host_lock() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

/// stdout's lines, as a set, are exactly these (filled): for listings whose
/// order podman does not promise.
pub fn line_set(lines: &[&str]) -> Out {
    let want: Vec<String> = lines.iter().map(|s| (*s).to_owned()).collect();
    check(move |text, vars| {
        let mut want: Vec<String> = want.iter().map(|l| vars.fill(l)).collect();
        want.sort();
        let mut got: Vec<String> = text.lines().map(str::to_owned).collect();
        got.sort();
        expect(
            got == want && (text.is_empty() || text.ends_with('\n')),
            || format!("want the lines {want:?} (any order, each newline-terminated)"),
        )
    })
}

/// Parses stdout as a table with `header` (checking podman's layout byte
/// for byte) and hands it to `f`.
pub fn table_out(
    header: &'static [&'static str],
    f: impl Fn(&table::Table, &Vars) -> Result<(), String> + 'static,
) -> Out {
    check(move |text, vars| {
        let t = table::parse(text, header)?;
        f(&t, vars)
    })
}
