//! Image references: the docker reference grammar
//! (`[domain[:port]/]path[:tag][@digest]`), normalised the way docker and
//! podman normalise it (`busybox` is `docker.io/library/busybox`,
//! `index.docker.io` is `docker.io`), and the short names that
//! registries.conf resolves.
//!
//! The first path component is a domain when it contains `.` or `:`, is
//! `localhost`, or has an upper-case letter (which a repository may not);
//! otherwise the name is short and belongs to no registry yet.

use std::fmt;
use std::str::FromStr;

use super::digest::Digest;

/// The registry of names given without one, once qualified the docker way.
pub const DEFAULT_DOMAIN: &str = "docker.io";
/// The old name of [`DEFAULT_DOMAIN`], still accepted and normalised.
pub const LEGACY_DEFAULT_DOMAIN: &str = "index.docker.io";
/// The namespace of Docker Hub's single-component ("official") images.
pub const OFFICIAL_NAMESPACE: &str = "library";
/// The tag a reference without tag or digest means.
pub const DEFAULT_TAG: &str = "latest";
/// The longest `domain/path` the grammar allows.
pub const NAME_TOTAL_LENGTH_MAX: usize = 255;
/// The longest tag the grammar allows.
pub const TAG_LENGTH_MAX: usize = 128;

/// What is wrong with a reference.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReferenceProblem {
    /// Nothing, or only a tag or digest, was given.
    #[error("repository name must have at least one component")]
    Empty,
    /// The repository path has an upper-case letter.
    #[error("repository name must be lowercase")]
    Uppercase,
    /// `domain/path` is longer than [`NAME_TOTAL_LENGTH_MAX`].
    #[error("repository name must not be more than {NAME_TOTAL_LENGTH_MAX} characters")]
    NameTooLong,
    /// A 64-hex string, which names an image id, not a repository.
    #[error("cannot specify 64-byte hexadecimal strings as a repository name")]
    HexIdentifier,
    /// The domain is not `host[:port]`.
    #[error("invalid domain {0:?}")]
    Domain(String),
    /// A path component is not lower-case alphanumerics joined by `.`, `_`,
    /// `__` or dashes.
    #[error("invalid path component {0:?}")]
    PathComponent(String),
    /// The tag is not `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`.
    #[error("invalid tag format {0:?}")]
    Tag(String),
    /// The digest does not parse or uses an algorithm husk cannot verify.
    #[error("invalid digest format: {0}")]
    Digest(String),
    /// More than one `@`.
    #[error("more than one '@'")]
    ExtraAt,
}

/// A reference that does not follow the grammar.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid reference format: {problem} (in {input:?})")]
pub struct ReferenceError {
    /// The text given.
    pub input: String,
    /// What is wrong with it.
    pub problem: ReferenceProblem,
}

/// What a manifest request names: a tag, or a digest (which wins when a
/// reference has both, as docker and podman decide).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum TagOrDigest {
    /// A tag.
    Tag(String),
    /// A digest.
    Digest(Digest),
}

impl fmt::Display for TagOrDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TagOrDigest::Tag(t) => f.write_str(t),
            TagOrDigest::Digest(d) => write!(f, "{d}"),
        }
    }
}

/// A fully qualified image reference: a registry domain, a repository path
/// and optionally a tag and a digest.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Reference {
    domain: String,
    path: String,
    tag: Option<String>,
    digest: Option<Digest>,
}

/// A name given without a registry (`busybox`, `team/app:1`), to be
/// resolved through aliases and search registries.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ShortName {
    path: String,
    tag: Option<String>,
    digest: Option<Digest>,
}

/// A user's image name: qualified, or short.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ImageName {
    /// It names its registry.
    Qualified(Reference),
    /// It does not; see [`crate::image::registries`].
    Short(ShortName),
}

impl ImageName {
    /// Parses a user's image name, telling short names from qualified ones.
    pub fn parse(input: &str) -> Result<ImageName, ReferenceError> {
        let parts = split(input)?;
        match parts.domain {
            Some(_) => Ok(ImageName::Qualified(parts.into_reference(input)?)),
            None => {
                // Validate as docker would qualify it, then keep the short form.
                let short = ShortName {
                    path: parts.path.clone(),
                    tag: parts.tag.clone(),
                    digest: parts.digest.clone(),
                };
                parts.into_reference(input)?;
                Ok(ImageName::Short(short))
            }
        }
    }

    /// Whether no registry was named.
    pub fn is_short(&self) -> bool {
        matches!(self, ImageName::Short(_))
    }

    /// The reference docker would make of it (short names on
    /// [`DEFAULT_DOMAIN`]).
    pub fn docker_default(&self) -> Reference {
        match self {
            ImageName::Qualified(r) => r.clone(),
            ImageName::Short(s) => s
                .qualify(DEFAULT_DOMAIN)
                .expect("validated against docker.io when parsed"),
        }
    }
}

impl fmt::Display for ImageName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ImageName::Qualified(r) => r.fmt(f),
            ImageName::Short(s) => s.fmt(f),
        }
    }
}

impl ShortName {
    /// The repository path as given (`busybox`, `team/app`).
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The tag, if one was given.
    pub fn tag(&self) -> Option<&str> {
        self.tag.as_deref()
    }

    /// The digest, if one was given.
    pub fn digest(&self) -> Option<&Digest> {
        self.digest.as_ref()
    }

    /// The reference on `domain` (`host[:port]`), with `library/` added on
    /// Docker Hub for a one-component path.
    pub fn qualify(&self, domain: &str) -> Result<Reference, ReferenceError> {
        let mut s = format!("{domain}/{}", self.path);
        if let Some(t) = &self.tag {
            s.push(':');
            s.push_str(t);
        }
        if let Some(d) = &self.digest {
            s.push('@');
            s.push_str(&d.to_string());
        }
        Reference::parse(&s)
    }
}

impl fmt::Display for ShortName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.path)?;
        write_suffix(f, self.tag.as_deref(), self.digest.as_ref())
    }
}

fn write_suffix(f: &mut fmt::Formatter<'_>, tag: Option<&str>, d: Option<&Digest>) -> fmt::Result {
    if let Some(t) = tag {
        write!(f, ":{t}")?;
    }
    if let Some(d) = d {
        write!(f, "@{d}")?;
    }
    Ok(())
}

impl Reference {
    /// Parses and normalises a reference; a short name is qualified with
    /// [`DEFAULT_DOMAIN`] (use [`ImageName::parse`] to keep it short).
    pub fn parse(input: &str) -> Result<Reference, ReferenceError> {
        split(input)?.into_reference(input)
    }

    /// The registry: `host[:port]`, `docker.io` for Docker Hub.
    pub fn domain(&self) -> &str {
        &self.domain
    }

    /// The repository path inside the registry (`library/busybox`).
    pub fn path(&self) -> &str {
        &self.path
    }

    /// `domain/path`, without tag or digest.
    pub fn name(&self) -> String {
        format!("{}/{}", self.domain, self.path)
    }

    /// The tag, if any.
    pub fn tag(&self) -> Option<&str> {
        self.tag.as_deref()
    }

    /// The digest, if any.
    pub fn digest(&self) -> Option<&Digest> {
        self.digest.as_ref()
    }

    /// What to ask the registry for: the digest if there is one, else the
    /// tag, else [`DEFAULT_TAG`].
    pub fn tag_or_digest(&self) -> TagOrDigest {
        match (&self.digest, &self.tag) {
            (Some(d), _) => TagOrDigest::Digest(d.clone()),
            (None, Some(t)) => TagOrDigest::Tag(t.clone()),
            (None, None) => TagOrDigest::Tag(DEFAULT_TAG.to_owned()),
        }
    }

    /// The same repository with `tag` and no digest.
    pub fn with_tag(&self, tag: &str) -> Result<Reference, ReferenceError> {
        if !valid_tag(tag) {
            return Err(ReferenceError {
                input: format!("{}:{tag}", self.name()),
                problem: ReferenceProblem::Tag(tag.to_owned()),
            });
        }
        Ok(Reference {
            tag: Some(tag.to_owned()),
            digest: None,
            ..self.clone()
        })
    }

    /// The same repository pinned to `digest` (the tag is kept).
    pub fn with_digest(&self, digest: Digest) -> Reference {
        Reference {
            digest: Some(digest),
            ..self.clone()
        }
    }

    /// The same repository without tag or digest.
    pub fn repository(&self) -> Reference {
        Reference {
            tag: None,
            digest: None,
            ..self.clone()
        }
    }

    /// The same reference with [`DEFAULT_TAG`] when it has neither tag nor
    /// digest, as `podman images` shows a pulled name.
    pub fn or_latest(&self) -> Reference {
        if self.tag.is_none() && self.digest.is_none() {
            Reference {
                tag: Some(DEFAULT_TAG.to_owned()),
                ..self.clone()
            }
        } else {
            self.clone()
        }
    }

    /// The form docker shows: without `docker.io/` and `library/`.
    pub fn familiar(&self) -> String {
        let name = if self.domain == DEFAULT_DOMAIN {
            match self.path.strip_prefix("library/") {
                Some(rest) if !rest.contains('/') => rest,
                _ => &self.path,
            }
        } else {
            return self.to_string();
        };
        let mut s = name.to_owned();
        if let Some(t) = &self.tag {
            s.push(':');
            s.push_str(t);
        }
        if let Some(d) = &self.digest {
            s.push('@');
            s.push_str(&d.to_string());
        }
        s
    }
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.domain, self.path)?;
        write_suffix(f, self.tag.as_deref(), self.digest.as_ref())
    }
}

impl FromStr for Reference {
    type Err = ReferenceError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Reference::parse(s)
    }
}

impl serde::Serialize for Reference {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Reference {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Reference::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// A reference split into its parts, before normalisation.
struct Parts {
    domain: Option<String>,
    path: String,
    tag: Option<String>,
    digest: Option<Digest>,
}

impl Parts {
    fn into_reference(self, input: &str) -> Result<Reference, ReferenceError> {
        let err = |problem| ReferenceError {
            input: input.to_owned(),
            problem,
        };
        let mut domain = self.domain.unwrap_or_else(|| DEFAULT_DOMAIN.to_owned());
        if domain == LEGACY_DEFAULT_DOMAIN {
            domain = DEFAULT_DOMAIN.to_owned();
        }
        let mut path = self.path;
        if domain == DEFAULT_DOMAIN && !path.contains('/') {
            path = format!("{OFFICIAL_NAMESPACE}/{path}");
        }
        if !is_valid_domain(&domain) {
            return Err(err(ReferenceProblem::Domain(domain)));
        }
        if path.bytes().any(|b| b.is_ascii_uppercase()) {
            return Err(err(ReferenceProblem::Uppercase));
        }
        if let Some(c) = path.split('/').find(|c| !valid_component(c)) {
            return Err(err(ReferenceProblem::PathComponent(c.to_owned())));
        }
        if domain.len() + 1 + path.len() > NAME_TOTAL_LENGTH_MAX {
            return Err(err(ReferenceProblem::NameTooLong));
        }
        Ok(Reference {
            domain,
            path,
            tag: self.tag,
            digest: self.digest,
        })
    }
}

fn split(input: &str) -> Result<Parts, ReferenceError> {
    let err = |problem| ReferenceError {
        input: input.to_owned(),
        problem,
    };
    if input.len() == 64
        && input
            .bytes()
            .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    {
        return Err(err(ReferenceProblem::HexIdentifier));
    }
    let (rest, digest) = match input.split_once('@') {
        Some((_, d)) if d.contains('@') => return Err(err(ReferenceProblem::ExtraAt)),
        Some((r, d)) => {
            let digest =
                Digest::parse(d).map_err(|e| err(ReferenceProblem::Digest(e.reason.into())))?;
            (r, Some(digest))
        }
        None => (input, None),
    };
    let last_slash = rest.rfind('/').map_or(0, |i| i + 1);
    let (name, tag) = match rest[last_slash..].rfind(':') {
        Some(i) => {
            let (n, t) = rest.split_at(last_slash + i);
            let t = &t[1..];
            if !valid_tag(t) {
                return Err(err(ReferenceProblem::Tag(t.to_owned())));
            }
            (n, Some(t.to_owned()))
        }
        None => (rest, None),
    };
    if name.is_empty() {
        return Err(err(ReferenceProblem::Empty));
    }
    let (domain, path) = match name.split_once('/') {
        Some((first, rest)) if is_domain_like(first) => (Some(first.to_owned()), rest),
        _ => (None, name),
    };
    if path.is_empty() {
        return Err(err(ReferenceProblem::Empty));
    }
    Ok(Parts {
        domain,
        path: path.to_owned(),
        tag,
        digest,
    })
}

/// Docker's rule for whether the first component names a registry.
fn is_domain_like(first: &str) -> bool {
    first.contains(['.', ':'])
        || first == "localhost"
        || first.bytes().any(|b| b.is_ascii_uppercase())
}

fn valid_tag(t: &str) -> bool {
    let b = t.as_bytes();
    let word = |c: u8| c.is_ascii_alphanumeric() || c == b'_';
    !b.is_empty()
        && b.len() <= TAG_LENGTH_MAX
        && word(b[0])
        && b[1..].iter().all(|&c| word(c) || c == b'.' || c == b'-')
}

/// Whether `d` is `host[:port]`: dot-separated labels of alphanumerics and
/// inner dashes, or a bracketed IPv6 address; the port is digits.
pub fn is_valid_domain(d: &str) -> bool {
    let (host, port) = match d.strip_prefix('[') {
        Some(rest) => match rest.split_once(']') {
            Some((v6, after)) => {
                let ok = !v6.is_empty() && v6.bytes().all(|b| b.is_ascii_hexdigit() || b == b':');
                match after {
                    "" => return ok,
                    p => match p.strip_prefix(':') {
                        Some(port) => return ok && valid_port(port),
                        None => return false,
                    },
                }
            }
            None => return false,
        },
        None => match d.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (d, None),
        },
    };
    port.is_none_or(valid_port)
        && !host.is_empty()
        && host.split('.').all(|label| {
            let b = label.as_bytes();
            !b.is_empty()
                && b[0].is_ascii_alphanumeric()
                && b[b.len() - 1].is_ascii_alphanumeric()
                && b.iter().all(|&c| c.is_ascii_alphanumeric() || c == b'-')
        })
}

fn valid_port(p: &str) -> bool {
    !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit())
}

/// `[a-z0-9]+` joined by `.`, `_`, `__` or one or more `-`.
fn valid_component(c: &str) -> bool {
    let b = c.as_bytes();
    let alnum = |x: u8| x.is_ascii_lowercase() || x.is_ascii_digit();
    if b.is_empty() || !alnum(b[0]) || !alnum(b[b.len() - 1]) {
        return false;
    }
    let mut i = 0;
    while i < b.len() {
        if alnum(b[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < b.len() && !alnum(b[i]) {
            i += 1;
        }
        let sep = &c[start..i];
        let dashes = sep.bytes().all(|x| x == b'-');
        if !(dashes || sep == "." || sep == "_" || sep == "__") {
            return false;
        }
    }
    true
}

#[cfg(test)]
mod tests;
