//! One registries.conf file (version 2 of containers-registries.conf(5)):
//! its TOML shape and the checks containers/image makes on each file before
//! files are merged.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

use super::{Mirror, MirrorUse, RegistriesError, RegistryEntry, ShortNameMode};
use crate::image::reference::{self, ImageName, Reference};

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
struct FileToml {
    unqualified_search_registries: Option<Vec<String>>,
    short_name_mode: Option<String>,
    #[serde(default)]
    registry: Vec<RegistryToml>,
    aliases: Option<BTreeMap<String, String>>,
    credential_helpers: Option<Vec<String>>,
    /// The version 1 tables (`[registries.search]`...), only to refuse them.
    registries: Option<toml::Value>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "kebab-case")]
struct RegistryToml {
    prefix: Option<String>,
    location: Option<String>,
    #[serde(default)]
    insecure: bool,
    #[serde(default)]
    blocked: bool,
    #[serde(default)]
    mirror_by_digest_only: bool,
    #[serde(default)]
    mirror: Vec<MirrorToml>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "kebab-case")]
struct MirrorToml {
    location: String,
    #[serde(default)]
    insecure: bool,
    pull_from_mirror: Option<String>,
}

/// What one file sets; `None` where it says nothing, so that merging keeps
/// the earlier file's value.
#[derive(Debug, Default)]
pub(super) struct FileConfig {
    pub search: Option<Vec<String>>,
    pub short_name_mode: Option<ShortNameMode>,
    pub registries: Vec<RegistryEntry>,
    /// Alias name to fully qualified repository; `None` erases the alias.
    pub aliases: BTreeMap<String, Option<Reference>>,
    pub credential_helpers: Option<Vec<String>>,
}

/// Parses and checks the text of one file.
pub(super) fn parse(text: &str, path: &Path) -> Result<FileConfig, RegistriesError> {
    let invalid = |reason: String| RegistriesError::Invalid {
        path: path.to_owned(),
        reason,
    };
    let raw: FileToml = toml::from_str(text).map_err(|e| invalid(e.to_string()))?;
    if raw.registries.is_some() {
        return Err(invalid(
            "the version 1 format ([registries.search], [registries.insecure], \
             [registries.block]) is not supported; use unqualified-search-registries \
             and [[registry]] tables (containers-registries.conf(5))"
                .into(),
        ));
    }
    let short_name_mode = raw
        .short_name_mode
        .as_deref()
        .filter(|m| !m.is_empty())
        .map(|m| match m {
            "enforcing" => Ok(ShortNameMode::Enforcing),
            "permissive" => Ok(ShortNameMode::Permissive),
            "disabled" => Ok(ShortNameMode::Disabled),
            other => Err(invalid(format!(
                "invalid short-name-mode {other:?} (enforcing, permissive or disabled)"
            ))),
        })
        .transpose()?;
    if let Some(search) = &raw.unqualified_search_registries {
        if let Some(bad) = search.iter().find(|r| !is_host(r)) {
            return Err(invalid(format!(
                "unqualified-search-registries entry {bad:?} is not a host[:port]"
            )));
        }
    }
    let mut registries: Vec<RegistryEntry> = Vec::new();
    for r in raw.registry {
        let entry = registry_entry(r, path).map_err(invalid)?;
        if registries.iter().any(|e| e.prefix == entry.prefix) {
            return Err(invalid(format!(
                "[[registry]] prefix {:?} is defined more than once",
                entry.prefix
            )));
        }
        registries.push(entry);
    }
    let mut aliases = BTreeMap::new();
    for (name, value) in raw.aliases.unwrap_or_default() {
        let target = alias(&name, &value).map_err(invalid)?;
        aliases.insert(name, target);
    }
    Ok(FileConfig {
        search: raw.unqualified_search_registries,
        short_name_mode,
        registries,
        aliases,
        credential_helpers: raw.credential_helpers,
    })
}

fn is_host(s: &str) -> bool {
    reference::is_valid_domain(s)
}

/// A prefix or location: `host[:port][/path][(:tag|@digest)]`.
fn check_location(what: &str, s: &str) -> Result<(), String> {
    if s.contains("://") {
        return Err(format!("{what} {s:?} must not have a URL scheme"));
    }
    let host = s.split(['/', '@']).next().unwrap_or("");
    let whole = if s.contains('/') {
        s.to_owned()
    } else {
        format!("{s}/x")
    };
    if !is_host(host) || Reference::parse(&whole).is_err() {
        return Err(format!("{what} {s:?} is not host[:port][/namespace...]"));
    }
    Ok(())
}

fn registry_entry(r: RegistryToml, path: &Path) -> Result<RegistryEntry, String> {
    let trim = |s: String| s.trim_end_matches('/').to_owned();
    let location = r.location.map(trim).filter(|l| !l.is_empty());
    let prefix = match (r.prefix.map(trim).filter(|p| !p.is_empty()), &location) {
        (Some(p), _) => p,
        (None, Some(l)) => l.clone(),
        (None, None) => return Err("a [[registry]] table needs a prefix or a location".into()),
    };
    let wildcard = prefix.starts_with("*.");
    if wildcard {
        let rest = &prefix[2..];
        if rest.is_empty() || rest.contains(['/', ':', '@', '*']) || !is_host(rest) {
            return Err(format!(
                "wildcard prefix {prefix:?} must be *.domain (no port, path, tag or digest)"
            ));
        }
        if location.is_some() {
            return Err(format!(
                "prefix {prefix:?} is a wildcard and cannot have a location"
            ));
        }
    } else {
        check_location("prefix", &prefix)?;
    }
    if let Some(l) = &location {
        check_location("location", l)?;
    }
    let mut mirrors = Vec::new();
    for m in r.mirror {
        let loc = trim(m.location);
        check_location("mirror location", &loc)?;
        let pull_from = match m.pull_from_mirror.as_deref() {
            None | Some("") | Some("all") => MirrorUse::All,
            Some("digest-only") => MirrorUse::DigestOnly,
            Some("tag-only") => MirrorUse::TagOnly,
            Some(other) => {
                return Err(format!(
                "mirror {loc:?}: invalid pull-from-mirror {other:?} (all, digest-only or tag-only)"
            ))
            }
        };
        if r.mirror_by_digest_only && pull_from != MirrorUse::All {
            return Err(format!(
                "prefix {prefix:?}: mirror-by-digest-only cannot be combined with pull-from-mirror"
            ));
        }
        let pull_from = if r.mirror_by_digest_only {
            MirrorUse::DigestOnly
        } else {
            pull_from
        };
        mirrors.push(Mirror {
            location: loc,
            insecure: m.insecure,
            pull_from,
        });
    }
    Ok(RegistryEntry {
        location: location.unwrap_or_else(|| {
            if wildcard {
                String::new()
            } else {
                prefix.clone()
            }
        }),
        prefix,
        insecure: r.insecure,
        blocked: r.blocked,
        mirrors,
        file: path.to_owned(),
    })
}

/// `name` must be a short name without tag or digest; `value` a fully
/// qualified repository without tag or digest, or empty to erase.
fn alias(name: &str, value: &str) -> Result<Option<Reference>, String> {
    match ImageName::parse(name) {
        Ok(ImageName::Short(s)) if s.tag().is_none() && s.digest().is_none() => {}
        _ => {
            return Err(format!(
                "alias {name:?} must be a short name without registry, tag or digest"
            ))
        }
    }
    if value.is_empty() {
        return Ok(None);
    }
    match ImageName::parse(value) {
        Ok(ImageName::Qualified(r)) if r.tag().is_none() && r.digest().is_none() => Ok(Some(r)),
        _ => Err(format!(
            "alias {name:?}: value {value:?} must be a fully qualified repository \
             (registry.example.com/namespace/image) without tag or digest"
        )),
    }
}
