//! What registries.conf makes of a reference: the `[[registry]]` table with
//! the longest matching prefix, the ordered places to pull from (mirrors,
//! then the location), and the candidates a short name resolves to.
//!
//! A prefix matches a reference that equals it or continues it with `/`,
//! `@`, or `:` after the domain (a tag); `example.com` does not match
//! `example.com:5000/x` (containers/image lets it, by its own admission
//! unintentionally). `*.example.com` matches any subdomain, any port.

use std::path::PathBuf;

use super::{MirrorUse, Registries, RegistriesError, RegistryEntry};
use crate::image::reference::{ImageName, Reference};

/// A place to pull from (or push to) and how to talk to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// The reference at that place (rewritten for a location or mirror).
    pub reference: Reference,
    /// Plain HTTP or unverified TLS allowed.
    pub insecure: bool,
    /// Whether it is a mirror (the image is still named by the reference
    /// the user gave).
    pub mirror: bool,
}

/// Where a candidate of a short name came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CandidateOrigin {
    /// The name was fully qualified.
    Qualified,
    /// A short-name alias in this file.
    Alias(PathBuf),
    /// This search registry.
    Search(String),
}

/// One reference a user's image name may mean, in the order to try.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    /// The fully qualified reference (the image's name once pulled).
    pub reference: Reference,
    /// Why it is a candidate.
    pub origin: CandidateOrigin,
}

/// The length of `prefix` matched at the start of `s`
/// (`domain[/path][:tag][@digest]`), or None.
fn match_prefix(s: &str, domain: &str, prefix: &str) -> Option<usize> {
    if let Some(suffix) = prefix.strip_prefix('*') {
        // `*.example.com`: the host (without port) ends with `.example.com`.
        let host = match domain.rsplit_once(':') {
            Some((h, p)) if !h.ends_with(']') && p.bytes().all(|b| b.is_ascii_digit()) => h,
            _ => domain,
        };
        return host.ends_with(suffix).then_some(domain.len());
    }
    let rest = s.strip_prefix(prefix)?;
    let ok = match rest.as_bytes().first() {
        None | Some(b'/' | b'@') => true,
        Some(b':') => prefix.contains('/'),
        Some(_) => false,
    };
    ok.then_some(prefix.len())
}

impl Registries {
    /// The `[[registry]]` table for `r`: the longest matching prefix.
    pub fn find(&self, r: &Reference) -> Option<&RegistryEntry> {
        self.find_str(&r.to_string(), r.domain()).map(|(e, _)| e)
    }

    /// The table for a registry host (`host[:port]`), as login and ping use.
    pub fn find_host(&self, host: &str) -> Option<&RegistryEntry> {
        self.find_str(host, host).map(|(e, _)| e)
    }

    fn find_str(&self, s: &str, domain: &str) -> Option<(&RegistryEntry, usize)> {
        self.entries
            .iter()
            .filter_map(|e| Some((e, match_prefix(s, domain, &e.prefix)?)))
            .max_by_key(|(e, _)| e.prefix.len())
    }

    /// Whether `host` may be reached over plain HTTP or unverified TLS.
    pub fn host_insecure(&self, host: &str) -> bool {
        self.find_host(host).is_some_and(|e| e.insecure)
    }

    /// Where to pull `r` from, in order: the mirrors that apply to it, then
    /// its location. Refused when its table is blocked.
    pub fn pull_sources(&self, r: &Reference) -> Result<Vec<Location>, RegistriesError> {
        let s = r.to_string();
        let Some((e, matched)) = self.find_str(&s, r.domain()) else {
            return Ok(vec![Location {
                reference: r.clone(),
                insecure: false,
                mirror: false,
            }]);
        };
        if e.blocked {
            return Err(RegistriesError::Blocked {
                reference: s,
                registry: r.domain().to_owned(),
                prefix: e.prefix.clone(),
                file: e.file.clone(),
            });
        }
        let rewrite = |location: &str| {
            let text = format!("{location}{}", &s[matched..]);
            Reference::parse(&text).map_err(|source| RegistriesError::Rewrite {
                reference: s.clone(),
                location: location.to_owned(),
                prefix: e.prefix.clone(),
                source: Box::new(source),
            })
        };
        let by_digest = r.digest().is_some();
        let mut out = Vec::new();
        for m in &e.mirrors {
            let applies = match m.pull_from {
                MirrorUse::All => true,
                MirrorUse::DigestOnly => by_digest,
                MirrorUse::TagOnly => !by_digest,
            };
            if applies {
                out.push(Location {
                    reference: rewrite(&m.location)?,
                    insecure: m.insecure,
                    mirror: true,
                });
            }
        }
        let primary = if e.location.is_empty() {
            r.clone()
        } else {
            rewrite(&e.location)?
        };
        out.push(Location {
            reference: primary,
            insecure: e.insecure,
            mirror: false,
        });
        Ok(out)
    }

    /// Where to push `r`: the reference itself (locations and mirrors apply
    /// to pulls only, as in containers/image), insecure if its table says so.
    pub fn push_destination(&self, r: &Reference) -> Location {
        Location {
            reference: r.clone(),
            insecure: self.find(r).is_some_and(|e| e.insecure),
            mirror: false,
        }
    }

    /// The references a user's image name may mean, in the order to try: the
    /// name itself when qualified; for a short name its alias alone if it has
    /// one, else the name on every search registry in order. husk does not
    /// prompt in any `short-name-mode`.
    pub fn resolve(&self, name: &ImageName) -> Result<Vec<Candidate>, RegistriesError> {
        let short = match name {
            ImageName::Qualified(r) => {
                return Ok(vec![Candidate {
                    reference: r.clone(),
                    origin: CandidateOrigin::Qualified,
                }])
            }
            ImageName::Short(s) => s,
        };
        if let Some(a) = self.alias(short.path()) {
            let mut r = a.target.clone();
            if let Some(t) = short.tag() {
                r = r.with_tag(t).expect("tag validated when parsed");
            }
            if let Some(d) = short.digest() {
                r = r.with_digest(d.clone());
            }
            return Ok(vec![Candidate {
                reference: r,
                origin: CandidateOrigin::Alias(a.file.clone()),
            }]);
        }
        let (search, origin) = self.search_registries();
        if search.is_empty() {
            return Err(RegistriesError::NoSearchRegistries {
                name: short.to_string(),
                origin: origin.cloned().unwrap_or_default(),
            });
        }
        search
            .iter()
            .map(|registry| {
                let reference =
                    short
                        .qualify(registry)
                        .map_err(|source| RegistriesError::Rewrite {
                            reference: short.to_string(),
                            location: registry.clone(),
                            prefix: String::new(),
                            source: Box::new(source),
                        })?;
                Ok(Candidate {
                    reference,
                    origin: CandidateOrigin::Search(registry.clone()),
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    const D: &str = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    fn conf(text: &str) -> Registries {
        Registries::parse_file(text, Path::new("/test/registries.conf"))
            .unwrap_or_else(|e| panic!("{e}"))
    }

    fn refs(r: &Registries, name: &str) -> Vec<(String, bool, bool)> {
        r.pull_sources(&Reference::parse(name).unwrap())
            .unwrap()
            .into_iter()
            .map(|l| (l.reference.to_string(), l.insecure, l.mirror))
            .collect()
    }

    #[test]
    fn matches_the_longest_prefix() {
        let r = conf(
            r#"
            [[registry]]
            prefix = "example.com"
            location = "all.internal"
            [[registry]]
            prefix = "example.com/foo"
            location = "foo.internal/bar"
            insecure = true
            [[registry.mirror]]
            location = "mirror-0.local/mirror-for-foo"
            [[registry.mirror]]
            location = "mirror-1.local:5000/mirrors/foo"
            insecure = true
            [[registry]]
            prefix = "example.com/foo/pinned:v1"
            location = "pinned.internal/p:v2"
            [[registry]]
            prefix = "*.wild.example"
            insecure = true
            [[registry.mirror]]
            location = "wild-mirror.local"
            "#,
        );
        assert_eq!(
            refs(&r, "example.com/foo/image:latest"),
            [
                (
                    "mirror-0.local/mirror-for-foo/image:latest".to_owned(),
                    false,
                    true
                ),
                (
                    "mirror-1.local:5000/mirrors/foo/image:latest".to_owned(),
                    true,
                    true
                ),
                ("foo.internal/bar/image:latest".to_owned(), true, false),
            ]
        );
        assert_eq!(
            refs(&r, "example.com/foobar/x"),
            [("all.internal/foobar/x".to_owned(), false, false)]
        );
        assert_eq!(
            refs(&r, "example.com/foo/pinned:v1"),
            [("pinned.internal/p:v2".to_owned(), false, false)]
        );
        // `example.com` is not `example.com:5000`.
        assert_eq!(
            refs(&r, "example.com:5000/foo/x"),
            [("example.com:5000/foo/x".to_owned(), false, false)]
        );
        assert_eq!(
            refs(&r, "a.b.wild.example:443/x"),
            [
                ("wild-mirror.local/x".to_owned(), false, true),
                ("a.b.wild.example:443/x".to_owned(), true, false),
            ]
        );
        assert!(r
            .find(&Reference::parse("wild.example/x").unwrap())
            .is_none());
        assert!(r.host_insecure("x.wild.example"));
        assert!(!r.host_insecure("example.com"));
        assert_eq!(
            refs(&r, "quay.io/a/b"),
            [("quay.io/a/b".to_owned(), false, false)]
        );
        let push = r.push_destination(&Reference::parse("example.com/foo/x").unwrap());
        assert_eq!(
            (push.reference.to_string().as_str(), push.insecure),
            ("example.com/foo/x", true)
        );
    }

    #[test]
    fn mirrors_by_digest_or_tag_only() {
        let r = conf(
            r#"
            [[registry]]
            location = "docker.io/library"
            [[registry.mirror]]
            location = "by-digest.local"
            pull-from-mirror = "digest-only"
            [[registry.mirror]]
            location = "by-tag.local"
            pull-from-mirror = "tag-only"
            [[registry.mirror]]
            location = "always.local"
            [[registry]]
            location = "quay.io"
            mirror-by-digest-only = true
            [[registry.mirror]]
            location = "q.local"
            "#,
        );
        let names = |n: &str| refs(&r, n).into_iter().map(|x| x.0).collect::<Vec<_>>();
        assert_eq!(
            names("busybox"),
            [
                "by-tag.local/busybox",
                "always.local/busybox",
                "docker.io/library/busybox"
            ]
        );
        assert_eq!(
            names(&format!("busybox@{D}")),
            [
                format!("by-digest.local/busybox@{D}"),
                format!("always.local/busybox@{D}"),
                format!("docker.io/library/busybox@{D}")
            ]
        );
        assert_eq!(names("quay.io/a:1"), ["quay.io/a:1"]);
        assert_eq!(
            names(&format!("quay.io/a@{D}"))[0],
            format!("q.local/a@{D}")
        );
    }

    #[test]
    fn blocked_registries_are_refused_by_name() {
        let r = conf("[[registry]]\nprefix = \"evil.example\"\nblocked = true\n");
        let e = r
            .pull_sources(&Reference::parse("evil.example/x:1").unwrap())
            .unwrap_err();
        assert!(matches!(e, RegistriesError::Blocked { .. }));
        assert_eq!(
            e.to_string(),
            "registry evil.example is blocked in /test/registries.conf (prefix \"evil.example\"): \
             refusing to pull evil.example/x:1"
        );
    }

    #[test]
    fn refuses_invalid_files() {
        for (text, needle) in [
            ("[[registry]]\ninsecure = true\n", "needs a prefix or a location"),
            ("[[registry]]\nprefix = \"*.x.example/a\"\n", "wildcard prefix"),
            ("[[registry]]\nprefix = \"*.x.example\"\nlocation = \"y.example\"\n", "cannot have a location"),
            ("[[registry]]\nlocation = \"a.example\"\n[[registry]]\nprefix = \"a.example\"\n", "more than once"),
            ("[[registry]]\nlocation = \"https://a.example\"\n", "URL scheme"),
            ("[[registry]]\nlocation = \"a.example\"\n[[registry.mirror]]\nlocation = \"m.example\"\npull-from-mirror = \"sometimes\"\n", "pull-from-mirror"),
            ("[[registry]]\nlocation = \"a.example\"\nmirror-by-digest-only = true\n[[registry.mirror]]\nlocation = \"m.example\"\npull-from-mirror = \"tag-only\"\n", "cannot be combined"),
            ("short-name-mode = \"loose\"\n", "short-name-mode"),
            ("unqualified-search-registries = [\"a.example/ns\"]\n", "not a host"),
            ("[aliases]\n\"quay.io/x\" = \"quay.io/x\"\n", "must be a short name"),
            ("[aliases]\n\"x:1\" = \"quay.io/x\"\n", "must be a short name"),
            ("[aliases]\n\"x\" = \"x\"\n", "fully qualified"),
            ("[aliases]\n\"x\" = \"quay.io/x:1\"\n", "fully qualified"),
            ("unqualified-search-registries = \"docker.io\"\n", "invalid type"),
            ("[[registry]\n", "invalid"),
        ] {
            let e = Registries::parse_file(text, Path::new("/t.conf"))
                .map(|_| ())
                .expect_err(text)
                .to_string();
            assert!(e.contains(needle) && e.contains("/t.conf"), "{text:?}: {e}");
        }
    }

    #[test]
    fn resolves_short_names() {
        let mut r = conf(
            r#"unqualified-search-registries = ["quay.io", "docker.io", "localhost:5000"]
               [aliases]
               "app" = "registry.example/team/app""#,
        );
        let cands = |r: &Registries, n: &str| {
            r.resolve(&ImageName::parse(n).unwrap())
                .unwrap()
                .into_iter()
                .map(|c| (c.reference.to_string(), c.origin))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            cands(&r, "app:1.2"),
            [(
                "registry.example/team/app:1.2".to_owned(),
                CandidateOrigin::Alias("/test/registries.conf".into())
            )]
        );
        assert_eq!(
            cands(&r, &format!("app@{D}"))[0].0,
            format!("registry.example/team/app@{D}")
        );
        assert_eq!(
            cands(&r, "busybox"),
            [
                (
                    "quay.io/busybox".to_owned(),
                    CandidateOrigin::Search("quay.io".into())
                ),
                (
                    "docker.io/library/busybox".to_owned(),
                    CandidateOrigin::Search("docker.io".into())
                ),
                (
                    "localhost:5000/busybox".to_owned(),
                    CandidateOrigin::Search("localhost:5000".into())
                ),
            ]
        );
        assert_eq!(
            cands(&r, "quay.io/app"),
            [("quay.io/app".to_owned(), CandidateOrigin::Qualified)]
        );
        // No file sets search registries: Docker Hub, as docker does.
        assert_eq!(
            cands(&Registries::default(), "busybox")[0].0,
            "docker.io/library/busybox"
        );
        // An explicit empty list is podman's error.
        r.merge_str(
            "unqualified-search-registries = []",
            Path::new("/d/99.conf"),
        )
        .unwrap();
        let e = r
            .resolve(&ImageName::parse("busybox").unwrap())
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "short-name \"busybox\" did not resolve to an alias and no unqualified-search \
             registries are defined in \"/d/99.conf\""
        );
    }
}
