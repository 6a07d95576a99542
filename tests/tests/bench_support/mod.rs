//! Helpers shared by the `husk bench` tests: running the built `husk` with
//! a chosen `PATH`, and a strict little XML reader to check the SVG chart.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use husk_tests::bundle::Output;

/// A quick run: one round, no warm-up, RSS measured in it.
pub const QUICK: [&str; 4] = ["-n", "1", "--warmup", "0"];

/// `husk ARGS…` with `PATH` set to `path` (stdin closed, output captured
/// through files: containers may hold pipes open).
pub fn husk_with_path<S: AsRef<OsStr>>(path: &OsStr, args: &[S]) -> Output {
    husk_cmd(husk_tests::husk::husk_binary(), path, args)
}

/// `BIN ARGS…` with `PATH` set to `path`.
pub fn husk_cmd<S: AsRef<OsStr>>(bin: PathBuf, path: &OsStr, args: &[S]) -> Output {
    let mut cmd = Command::new(bin);
    cmd.args(args).env("PATH", path);
    output(cmd)
}

/// Runs a command to completion, stdout and stderr through files.
pub fn output(mut cmd: Command) -> Output {
    let out = tempfile::tempfile().unwrap();
    let err = tempfile::tempfile().unwrap();
    let status = cmd
        .stdin(Stdio::null())
        .stdout(out.try_clone().unwrap())
        .stderr(err.try_clone().unwrap())
        .env_remove("HUSK_TRACE")
        .env_remove("HUSK_TRACE_FILE")
        .status()
        .expect("running husk");
    let read = |mut f: std::fs::File| {
        use std::io::{Read, Seek};
        let mut s = String::new();
        f.rewind().unwrap();
        f.read_to_string(&mut s).unwrap();
        s
    };
    Output {
        status,
        stdout: read(out),
        stderr: read(err),
    }
}

/// A `PATH` directory holding only `husk` and `husk-runtime` (symlinks to
/// the built ones).
pub fn husk_only_path(dir: &Path) -> PathBuf {
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let husk = husk_tests::husk::husk_binary();
    let rt = husk_tests::bundle::runtime_binary();
    std::os::unix::fs::symlink(&husk, bin.join("husk")).unwrap();
    std::os::unix::fs::symlink(&rt, bin.join("husk-runtime")).unwrap();
    bin
}

/// Parses `husk bench startup --json` output, panicking with the output
/// when it is not JSON.
#[track_caller]
pub fn json(o: &Output) -> serde_json::Value {
    assert!(o.status.success(), "husk bench failed: {o}");
    serde_json::from_str(&o.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {o}"))
}

/// The result rows of `tool` (any kind).
pub fn rows<'a>(doc: &'a serde_json::Value, tool: &str) -> Vec<&'a serde_json::Value> {
    doc["results"]
        .as_array()
        .expect("results")
        .iter()
        .filter(|r| r["tool"] == tool)
        .collect()
}

/// One element of an XML document: its name, attributes and the names of
/// its ancestors' `class` attributes (outermost first).
#[derive(Debug, Clone)]
pub struct Element {
    pub name: String,
    pub attrs: BTreeMap<String, String>,
    pub ancestors: Vec<(String, BTreeMap<String, String>)>,
}

fn check_text(t: &str, at: usize) {
    let mut rest = t;
    while let Some(i) = rest.find('&') {
        let after = &rest[i + 1..];
        let end = after
            .find(';')
            .unwrap_or_else(|| panic!("bare & at {at}: {t:?}"));
        let ent = &after[..end];
        let ok = matches!(ent, "amp" | "lt" | "gt" | "quot" | "apos")
            || (ent.starts_with('#')
                && ent[1..].chars().all(|c| c.is_ascii_hexdigit() || c == 'x'));
        assert!(ok, "unknown entity &{ent}; at {at}");
        rest = &after[end + 1..];
    }
    assert!(!t.contains('<'), "stray < at {at}");
}

fn parse_attrs(s: &str, at: usize) -> BTreeMap<String, String> {
    let mut attrs = BTreeMap::new();
    let mut rest = s.trim();
    while !rest.is_empty() {
        let eq = rest
            .find('=')
            .unwrap_or_else(|| panic!("attribute without value at {at}: {rest:?}"));
        let name = rest[..eq].trim();
        assert!(
            !name.is_empty()
                && name
                    .chars()
                    .all(|c| c.is_alphanumeric() || "-_:.".contains(c)),
            "bad attribute name {name:?} at {at}"
        );
        let after = rest[eq + 1..].trim_start();
        let quote = after.chars().next().expect("attribute value");
        assert!(quote == '"' || quote == '\'', "unquoted attribute at {at}");
        let close = after[1..]
            .find(quote)
            .unwrap_or_else(|| panic!("unterminated attribute at {at}"));
        let value = &after[1..1 + close];
        check_text(value, at);
        assert!(
            attrs.insert(name.to_owned(), value.to_owned()).is_none(),
            "duplicate attribute {name} at {at}"
        );
        rest = after[close + 2..].trim_start();
    }
    attrs
}

/// Checks that `doc` is well-formed XML (one root, balanced and matching
/// tags, quoted attributes, known entities) and returns its elements in
/// document order.
pub fn xml_elements(doc: &str) -> Vec<Element> {
    let mut out = Vec::new();
    let mut stack: Vec<(String, BTreeMap<String, String>)> = Vec::new();
    let mut roots = 0;
    let mut pos = 0;
    let doc_len = doc.len();
    while pos < doc_len {
        let Some(lt) = doc[pos..].find('<').map(|i| pos + i) else {
            check_text(&doc[pos..], pos);
            assert!(doc[pos..].trim().is_empty(), "text after the root element");
            break;
        };
        let text = &doc[pos..lt];
        check_text(text, pos);
        if stack.is_empty() {
            assert!(text.trim().is_empty(), "text outside the root at {pos}");
        }
        let rest = &doc[lt..];
        if let Some(body) = rest.strip_prefix("<?") {
            let end = body.find("?>").expect("unterminated declaration");
            pos = lt + 2 + end + 2;
        } else if let Some(body) = rest.strip_prefix("<!--") {
            let end = body.find("-->").expect("unterminated comment");
            pos = lt + 4 + end + 3;
        } else if let Some(body) = rest.strip_prefix("</") {
            let end = body.find('>').expect("unterminated end tag");
            let name = body[..end].trim();
            let (open, _) = stack
                .pop()
                .unwrap_or_else(|| panic!("</{name}> closes nothing"));
            assert_eq!(open, name, "</{name}> closes <{open}> at {lt}");
            pos = lt + 2 + end + 1;
        } else {
            let end = rest.find('>').expect("unterminated tag");
            let inner = &rest[1..end];
            let (inner, empty) = match inner.strip_suffix('/') {
                Some(i) => (i, true),
                None => (inner, false),
            };
            let name_end = inner.find(char::is_whitespace).unwrap_or(inner.len());
            let name = &inner[..name_end];
            assert!(
                !name.is_empty()
                    && name
                        .chars()
                        .all(|c| c.is_alphanumeric() || "-_:".contains(c)),
                "bad element name {name:?} at {lt}"
            );
            let attrs = parse_attrs(&inner[name_end..], lt);
            if stack.is_empty() {
                roots += 1;
            }
            out.push(Element {
                name: name.to_owned(),
                attrs: attrs.clone(),
                ancestors: stack.clone(),
            });
            if !empty {
                stack.push((name.to_owned(), attrs));
            }
            pos = lt + end + 1;
        }
    }
    assert!(stack.is_empty(), "unclosed elements: {stack:?}");
    assert_eq!(roots, 1, "one root element");
    out
}
