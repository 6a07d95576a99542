//! Finding a pod from what a user typed (name, full id or unique id
//! prefix), and reading the typed facts back from its catalog row.

use super::error::{PodError, Result};
use super::options::PodOptions;
use crate::catalog::pods::PodRecord;
use crate::catalog::Catalog;

/// The pod `name_or_id` names.
pub fn find(cat: &Catalog, name_or_id: &str) -> Result<PodRecord> {
    let mut found = cat.find_pods(name_or_id)?;
    // A name wins over an id prefix that happens to match it.
    if let Some(i) = found.iter().position(|p| p.name == name_or_id) {
        return Ok(found.swap_remove(i));
    }
    match found.len() {
        0 => Err(PodError::NotFound(name_or_id.to_owned())),
        1 => Ok(found.pop().expect("one")),
        _ => Err(PodError::Ambiguous(name_or_id.to_owned())),
    }
}

/// The most recently created pod (`--latest`).
pub fn latest(cat: &Catalog) -> Result<PodRecord> {
    cat.pods()?
        .into_iter()
        .next()
        .ok_or_else(|| PodError::Invalid("no pods to act on: no such pod".into()))
}

/// The options a pod was created with (defaults for what a row lacks).
pub fn options(pod: &PodRecord) -> PodOptions {
    serde_json::from_value(pod.options.clone()).unwrap_or_default()
}

/// The pod's cgroup (`CgroupParent` of its containers), when it has one.
pub fn cgroup_parent(pod: &PodRecord) -> Option<String> {
    pod.extra
        .get("cgroup_parent")
        .and_then(|v| v.as_str())
        .map(str::to_owned)
}

/// The pod's hostname: the one given, else its name (as podman).
pub fn hostname(pod: &PodRecord) -> String {
    options(pod)
        .hostname
        .unwrap_or_else(|| default_hostname(&pod.name))
}

/// A pod name as a hostname: at most 64 bytes, as sethostname(2) takes.
pub fn default_hostname(name: &str) -> String {
    let mut h = name.to_owned();
    let mut cut = h.len().min(64);
    while !h.is_char_boundary(cut) {
        cut -= 1;
    }
    h.truncate(cut);
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_by_name_id_and_prefix() {
        let (_d, mut cat) = crate::catalog::testing::temp();
        for (id, name) in [("abc1", "web"), ("abd2", "abc1x"), ("fff3", "db")] {
            cat.insert_pod(&PodRecord {
                id: id.into(),
                name: name.into(),
                created: "2026-01-01T00:00:00Z".into(),
                infra_id: None,
                options: serde_json::json!({}),
                extra: serde_json::json!({}),
            })
            .unwrap();
        }
        assert_eq!(find(&cat, "web").unwrap().id, "abc1");
        assert_eq!(find(&cat, "fff").unwrap().name, "db");
        assert!(matches!(find(&cat, "ab"), Err(PodError::Ambiguous(_))));
        let e = find(&cat, "nope").unwrap_err().to_string();
        assert_eq!(e, "no pod with name or ID nope found: no such pod");
        assert!(options(&find(&cat, "db").unwrap()).infra);
        assert_eq!(hostname(&find(&cat, "db").unwrap()), "db");
        assert_eq!(default_hostname(&"x".repeat(80)).len(), 64);
    }
}
