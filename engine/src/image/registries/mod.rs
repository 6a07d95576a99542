//! registries.conf (containers-registries.conf(5), version 2): search
//! registries for short names, short-name aliases, and per-prefix
//! `[[registry]]` tables that block, mark insecure, relocate or mirror a
//! namespace. Which files are read, and how drop-ins merge, is in [`load`];
//! prefix matching and short-name resolution in [`resolve`].
//!
//! husk resolves short names without prompting: an alias if one matches,
//! else every search registry in order (see `docs/registries.md`).

mod file;
pub mod load;
pub mod resolve;

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::image::reference::{Reference, ReferenceError};

pub use load::ConfigPaths;
pub use resolve::{Candidate, CandidateOrigin, Location};

/// The search registries used when no file sets
/// `unqualified-search-registries`: Docker Hub, as docker users expect.
pub const DEFAULT_SEARCH_REGISTRIES: &[&str] = &["docker.io"];

/// Why registry configuration could not be used.
#[derive(Debug, thiserror::Error)]
pub enum RegistriesError {
    /// A file could not be read.
    #[error("reading registries configuration {path}: {source}")]
    Read {
        /// The file or directory.
        path: PathBuf,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// A file is not valid TOML or breaks a rule of the format.
    #[error("invalid registries configuration {path}: {reason}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The reference matches a `blocked = true` table.
    #[error("registry {registry} is blocked in {file} (prefix {prefix:?}): refusing to pull {reference}")]
    Blocked {
        /// The reference refused.
        reference: String,
        /// Its registry.
        registry: String,
        /// The matching table's prefix.
        prefix: String,
        /// The file that blocks it.
        file: PathBuf,
    },
    /// A short name with no alias and no search registry to try.
    #[error("short-name {name:?} did not resolve to an alias and no unqualified-search registries are defined in {origin:?}")]
    NoSearchRegistries {
        /// The short name.
        name: String,
        /// The file that emptied the list.
        origin: PathBuf,
    },
    /// Rewriting a reference for a location or mirror gave an invalid one.
    #[error("rewriting {reference} for {location:?} (prefix {prefix:?}): {source}")]
    Rewrite {
        /// The reference.
        reference: String,
        /// The location or mirror.
        location: String,
        /// The prefix it replaced.
        prefix: String,
        /// Why the result is not a reference.
        #[source]
        source: Box<ReferenceError>,
    },
}

/// `short-name-mode`. husk never prompts; see the module docs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ShortNameMode {
    /// Prompt when ambiguous, fail without a terminal (podman).
    Enforcing,
    /// Prompt when ambiguous, try all without a terminal (the default).
    #[default]
    Permissive,
    /// Try all search registries.
    Disabled,
}

/// When a mirror is used (`pull-from-mirror`, or `mirror-by-digest-only`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MirrorUse {
    /// For every pull.
    All,
    /// Only for references with a digest.
    DigestOnly,
    /// Only for references without a digest.
    TagOnly,
}

/// A `[[registry.mirror]]` table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mirror {
    /// Where the mirror lives (`host[:port][/path]`).
    pub location: String,
    /// Plain HTTP or unverified TLS allowed.
    pub insecure: bool,
    /// When it is used.
    pub pull_from: MirrorUse,
}

/// A `[[registry]]` table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistryEntry {
    /// What it applies to: `host[:port][/path][:tag|@digest]` or `*.domain`.
    pub prefix: String,
    /// Where the namespace really lives (the prefix when not set; empty for
    /// a wildcard prefix, which keeps the reference).
    pub location: String,
    /// Plain HTTP or unverified TLS allowed.
    pub insecure: bool,
    /// Pulls are refused.
    pub blocked: bool,
    /// Mirrors, tried in order before the location.
    pub mirrors: Vec<Mirror>,
    /// The file that defined it.
    pub file: PathBuf,
}

/// A short-name alias and where it was defined.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alias {
    /// The fully qualified repository.
    pub target: Reference,
    /// The file that defined it.
    pub file: PathBuf,
}

/// The merged registry configuration.
#[derive(Debug, Clone, Default)]
pub struct Registries {
    search: Option<(Vec<String>, PathBuf)>,
    short_name_mode: ShortNameMode,
    entries: Vec<RegistryEntry>,
    aliases: BTreeMap<String, Alias>,
    credential_helpers: Option<Vec<String>>,
    files: Vec<PathBuf>,
}

impl Registries {
    /// The search registries for short names, in order, and the file that
    /// set them (`None`: no file did, husk's default applies).
    pub fn search_registries(&self) -> (Vec<String>, Option<&PathBuf>) {
        match &self.search {
            Some((list, origin)) => (list.clone(), Some(origin)),
            None => (
                DEFAULT_SEARCH_REGISTRIES
                    .iter()
                    .map(|s| s.to_string())
                    .collect(),
                None,
            ),
        }
    }

    /// The configured `short-name-mode`.
    pub fn short_name_mode(&self) -> ShortNameMode {
        self.short_name_mode
    }

    /// Every `[[registry]]` table after merging, sorted by prefix.
    pub fn entries(&self) -> &[RegistryEntry] {
        &self.entries
    }

    /// The alias of a short name (without tag or digest), if any.
    pub fn alias(&self, name: &str) -> Option<&Alias> {
        self.aliases.get(name)
    }

    /// `credential-helpers` as configured (husk reads auth files only; see
    /// [`crate::image::auth`]).
    pub fn credential_helpers(&self) -> Option<&[String]> {
        self.credential_helpers.as_deref()
    }

    /// The files read, in the order they were merged.
    pub fn files(&self) -> &[PathBuf] {
        &self.files
    }

    /// Merges one more file's settings over these.
    fn merge(&mut self, path: PathBuf, f: file::FileConfig) {
        if let Some(search) = f.search {
            self.search = Some((search, path.clone()));
        }
        if let Some(mode) = f.short_name_mode {
            self.short_name_mode = mode;
        }
        if let Some(h) = f.credential_helpers {
            self.credential_helpers = Some(h);
        }
        for e in f.registries {
            self.entries.retain(|old| old.prefix != e.prefix);
            self.entries.push(e);
        }
        self.entries.sort_by(|a, b| a.prefix.cmp(&b.prefix));
        for (name, target) in f.aliases {
            match target {
                Some(target) => {
                    let file = path.clone();
                    self.aliases.insert(name, Alias { target, file });
                }
                None => {
                    self.aliases.remove(&name);
                }
            }
        }
        self.files.push(path);
    }

    /// Parses one file's text as if it were the only file (for tests and
    /// for `--registries-conf` content checks).
    pub fn parse_file(text: &str, path: &std::path::Path) -> Result<Registries, RegistriesError> {
        let mut r = Registries::default();
        r.merge(path.to_owned(), file::parse(text, path)?);
        Ok(r)
    }

    /// Merges `text` (as file `path`) over this configuration, as a drop-in
    /// would be.
    pub fn merge_str(&mut self, text: &str, path: &std::path::Path) -> Result<(), RegistriesError> {
        let f = file::parse(text, path)?;
        self.merge(path.to_owned(), f);
        Ok(())
    }
}
