//! `--filter` for `images` and `image prune`, as podman reads them:
//! `key=value` (and `key!=value` for labels), several values of one key
//! OR'ed, different keys AND'ed.

use serde_json::Value;

use crate::catalog::images::ImageRecord;
use crate::catalog::Catalog;
use crate::format::times::{parse_input_time, Timestamp};
use crate::image::local;
use crate::image::reference::Reference;

/// One filter term.
#[derive(Debug, Clone)]
enum Term {
    Dangling(bool),
    Intermediate(bool),
    Reference(String),
    Label(String, Option<String>, bool),
    Before(Timestamp),
    Since(Timestamp),
    Until(Timestamp),
    Id(String),
    Containers(bool),
}

/// Parsed filters.
#[derive(Debug, Clone, Default)]
pub struct ImageFilter {
    groups: Vec<(String, Vec<Term>)>,
}

fn boolean(key: &str, v: &str) -> anyhow::Result<bool> {
    match v {
        "true" | "1" => Ok(true),
        "false" | "0" => Ok(false),
        _ => anyhow::bail!("invalid filter {key}={v}: expected true or false"),
    }
}

fn created(rec: &ImageRecord) -> Option<Timestamp> {
    rec.created
        .as_deref()
        .and_then(|c| Timestamp::parse_rfc3339(c).ok())
}

/// `*` and `?` globbing over a whole string.
pub fn glob(pattern: &str, s: &str) -> bool {
    fn go(p: &[u8], s: &[u8]) -> bool {
        match (p.first(), s.first()) {
            (None, None) => true,
            (Some(b'*'), _) => go(&p[1..], s) || (!s.is_empty() && go(p, &s[1..])),
            (Some(b'?'), Some(_)) => go(&p[1..], &s[1..]),
            (Some(a), Some(b)) if a == b => go(&p[1..], &s[1..]),
            _ => false,
        }
    }
    go(pattern.as_bytes(), s.as_bytes())
}

/// Whether a `reference=` pattern matches one stored name: the full name,
/// its docker form, or (for a pattern without tag) its repository, with
/// or without the registry.
fn reference_matches(pattern: &str, name: &str) -> bool {
    let Ok(r) = Reference::parse(name) else {
        return glob(pattern, name);
    };
    let mut forms = vec![name.to_owned(), r.familiar()];
    let no_domain = name
        .split_once('/')
        .map(|(_, rest)| rest.to_owned())
        .unwrap_or_default();
    forms.push(no_domain.clone());
    let has_tag = pattern
        .rsplit('/')
        .next()
        .is_some_and(|last| last.contains(':') || last.contains('@'));
    if !has_tag {
        let repo = r.repository();
        forms.push(repo.to_string());
        forms.push(repo.familiar());
        forms.push(repo.path().to_owned());
        if let Some(last) = repo.path().rsplit('/').next() {
            forms.push(last.to_owned());
        }
    }
    forms.iter().any(|f| glob(pattern, f))
}

impl ImageFilter {
    /// Parses `--filter` values; `before=`/`since=` name images in `cat`.
    pub fn parse(items: &[String], cat: &Catalog) -> anyhow::Result<ImageFilter> {
        let mut f = ImageFilter::default();
        for item in items {
            let (key, value, negated) = match item.split_once("!=") {
                Some((k, v)) => (k, v, true),
                None => {
                    let (k, v) = item.split_once('=').ok_or_else(|| {
                        anyhow::anyhow!("invalid image filter {item:?}: need key=value")
                    })?;
                    (k, v, false)
                }
            };
            let image_time = |v: &str| -> anyhow::Result<Timestamp> {
                let rec = local::lookup(cat, v)?
                    .ok_or_else(|| anyhow::anyhow!("{v}: image not known"))?;
                Ok(created(&rec).unwrap_or_else(|| Timestamp::from_unix(0, 0)))
            };
            let term = match (key, negated) {
                ("label", _) => match value.split_once('=') {
                    Some((k, v)) => Term::Label(k.into(), Some(v.into()), negated),
                    None => Term::Label(value.into(), None, negated),
                },
                ("dangling", false) => Term::Dangling(boolean(key, value)?),
                ("intermediate", false) => Term::Intermediate(boolean(key, value)?),
                ("containers", false) => Term::Containers(boolean(key, value)?),
                ("reference", false) => Term::Reference(value.into()),
                ("before", false) => Term::Before(image_time(value)?),
                ("since", false) => Term::Since(image_time(value)?),
                ("until", false) => Term::Until(parse_input_time(value, false, Timestamp::now())?),
                ("id", false) => Term::Id(value.strip_prefix("sha256:").unwrap_or(value).into()),
                _ => anyhow::bail!("unsupported image filter {item:?}"),
            };
            match f.groups.iter_mut().find(|(k, _)| k == key) {
                Some((_, terms)) => terms.push(term),
                None => f.groups.push((key.to_owned(), vec![term])),
            }
        }
        Ok(f)
    }

    /// Whether `rec` passes: `labels` from its config, `containers` using
    /// it, whether it is dangling and whether it has children.
    pub fn matches(
        &self,
        rec: &ImageRecord,
        labels: &Value,
        containers: usize,
        dangling: bool,
        has_children: bool,
    ) -> bool {
        self.groups.iter().all(|(key, terms)| {
            let one = |t: &Term| match t {
                Term::Dangling(want) => dangling == *want,
                Term::Intermediate(want) => (rec.names.is_empty() && has_children) == *want,
                Term::Containers(want) => (containers > 0) == *want,
                Term::Reference(p) => rec.names.iter().any(|n| reference_matches(p, n)),
                Term::Label(k, v, neg) => {
                    let have = labels.get(k).and_then(Value::as_str);
                    let hit = match v {
                        Some(v) => have == Some(v.as_str()),
                        None => have.is_some(),
                    };
                    hit != *neg
                }
                Term::Before(t) => created(rec).is_some_and(|c| c.unix_nanos() < t.unix_nanos()),
                Term::Since(t) => created(rec).is_some_and(|c| c.unix_nanos() > t.unix_nanos()),
                Term::Until(t) => created(rec).is_none_or(|c| c.unix_nanos() < t.unix_nanos()),
                Term::Id(p) => rec.id.starts_with(p.as_str()),
            };
            // Labels are AND'ed (podman); other keys OR their values.
            if key == "label" {
                terms.iter().all(one)
            } else {
                terms.iter().any(one)
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_match_as_podman_does() {
        let n = "docker.io/library/busybox:latest";
        assert!(reference_matches("busybox", n));
        assert!(reference_matches("busybox:latest", n));
        assert!(reference_matches("docker.io/library/busybox", n));
        assert!(reference_matches("*box", n));
        assert!(!reference_matches("busybox:1", n));
        assert!(reference_matches("foo/bar", "localhost/foo/bar:1"));
        assert!(!reference_matches("alpine", n));
        assert!(glob("a*c?", "abbcd") && !glob("a*c", "abd"));
    }
}
