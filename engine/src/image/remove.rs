//! Removing images (`rmi`, `image prune`) and collecting what no image uses
//! any more: layers (except those under containers) and blobs (manifests,
//! indexes, configs and layer blobs of the images that remain are kept).
//!
//! Names go first, the row next, the files last. Collection holds the
//! store's exclusive lock, which every pull holds shared from its first
//! blob to its catalog row, so it never removes what a pull is about to
//! record; `rmi` skips collection (leaving it to the next one) when a pull
//! is running, `prune` waits for it.

use std::collections::HashSet;

use crate::catalog::images::ImageRecord;
use crate::engine::Engine;
use crate::image::digest::Digest;
use crate::image::error::{ImageError, Result};
use crate::image::local;
use crate::image::manifest::{self, ManifestDoc};
use crate::storage::{ChainId, LockMode, Store};

/// What was done, in podman's words.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Removed {
    /// `Untagged: NAME` lines.
    pub untagged: Vec<String>,
    /// `Deleted: ID` lines.
    pub deleted: Vec<String>,
}

/// `rmi` options.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct RemoveOptions {
    /// `--force`: remove containers using the image, delete an image with
    /// several names given by id.
    pub force: bool,
    /// `--ignore`: an unknown image is no error.
    pub ignore: bool,
}

/// Whether `child`'s layers continue `parent`'s (podman's parent/child
/// relation between images).
pub fn is_child(parent: &ImageRecord, child: &ImageRecord) -> bool {
    !parent.layers.is_empty()
        && child.layers.len() > parent.layers.len()
        && child.layers.starts_with(&parent.layers)
}

/// Whether `rec` has no names (tags or digest names).
pub fn is_untagged(rec: &ImageRecord) -> bool {
    rec.names.is_empty()
}

/// podman's dangling: no names and no children.
pub fn is_dangling(rec: &ImageRecord, all: &[ImageRecord]) -> bool {
    is_untagged(rec) && !all.iter().any(|o| is_child(rec, o))
}

/// Removes the images `names` name; each failure is returned with the
/// others going on.
pub fn remove_images(
    eng: &mut Engine,
    names: &[String],
    opts: RemoveOptions,
) -> (Removed, Vec<ImageError>) {
    let mut out = Removed::default();
    let mut errors = Vec::new();
    for n in names {
        let rec = match local::lookup(&eng.catalog, n) {
            Ok(Some(r)) => r,
            Ok(None) if opts.ignore => continue,
            Ok(None) => {
                errors.push(ImageError::NotKnown(n.clone()));
                continue;
            }
            Err(e) => {
                errors.push(e.into());
                continue;
            }
        };
        if let Err(e) = remove_one(eng, &rec, Some(n), opts.force, &mut out) {
            errors.push(e);
        }
    }
    if !out.deleted.is_empty() {
        if let Err(e) = collect(eng, false) {
            errors.push(e);
        }
    }
    (out, errors)
}

/// Removes every image (`rmi --all`).
pub fn remove_all(eng: &mut Engine, force: bool) -> (Removed, Vec<ImageError>) {
    let mut out = Removed::default();
    let mut errors = Vec::new();
    match eng.catalog.images() {
        Ok(all) => {
            for rec in all {
                if let Err(e) = remove_one(eng, &rec, None, force, &mut out) {
                    errors.push(e);
                }
            }
        }
        Err(e) => errors.push(e.into()),
    }
    if let Err(e) = collect(eng, false) {
        errors.push(e);
    }
    (out, errors)
}

/// The name `input` means among `rec`'s names, when it is a name (not an
/// id): the untag-only case of `rmi`.
fn named_as(rec: &ImageRecord, input: &str) -> Option<String> {
    let hex = input.strip_prefix("sha256:").unwrap_or(input);
    if rec.id.starts_with(hex) && hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let n = super::pull::found_as(rec, input);
    rec.names.contains(&n).then_some(n)
}

/// Removes one image (or only the name it was given by, when it has
/// others).
fn remove_one(
    eng: &mut Engine,
    rec: &ImageRecord,
    input: Option<&str>,
    force: bool,
    out: &mut Removed,
) -> Result<()> {
    let named = input.and_then(|i| named_as(rec, i));
    if let Some(n) = &named {
        if rec.names.len() > 1 {
            eng.catalog.untag_image(&rec.id, n)?;
            out.untagged.push(n.clone());
            return Ok(());
        }
    } else if input.is_some() && rec.names.len() > 1 && !force {
        return Err(ImageError::MultipleTags {
            id: rec.id.clone(),
            names: super::inspect::names_in_order(rec),
        });
    }
    let users = eng.catalog.containers_of_image(&rec.id)?;
    if let Some(c) = users.first() {
        if !force {
            return Err(ImageError::InUse {
                image: rec.id.clone(),
                container: c.id.clone(),
            });
        }
        for c in &users {
            crate::container::remove::remove(eng, c, true, None)?;
        }
    }
    out.untagged.extend(super::inspect::names_in_order(rec));
    eng.catalog.remove_image(&rec.id)?;
    out.deleted.push(rec.id.clone());
    Ok(())
}

/// `image prune`: removes dangling images (every image no container uses
/// with `all`) that `keep` accepts; returns their ids, then collects.
pub fn prune(
    eng: &mut Engine,
    all: bool,
    keep: &dyn Fn(&ImageRecord) -> bool,
) -> Result<Vec<String>> {
    let mut removed = Vec::new();
    // Removing an image can make its parent dangling: go round until
    // nothing changes, as podman does.
    loop {
        let images = eng.catalog.images()?;
        let used: HashSet<String> = eng
            .catalog
            .containers()?
            .into_iter()
            .map(|c| c.image_id)
            .collect();
        let doomed: Vec<ImageRecord> = images
            .iter()
            .filter(|r| !used.contains(&r.id))
            .filter(|r| all || is_dangling(r, &images))
            .filter(|r| keep(r))
            .cloned()
            .collect();
        if doomed.is_empty() {
            break;
        }
        for r in doomed {
            eng.catalog.remove_image(&r.id)?;
            removed.push(r.id);
        }
    }
    collect(eng, true)?;
    Ok(removed)
}

/// The blobs an image needs: its manifest, index, config and layer blobs.
fn image_blobs(store: &Store, rec: &ImageRecord, keep: &mut HashSet<Digest>) -> Result<()> {
    keep.insert(rec.manifest_digest.clone());
    keep.insert(rec.config_digest());
    if let Some(i) = &rec.index_digest {
        keep.insert(i.clone());
    }
    // A manifest that cannot be read keeps its image's layer blobs only by
    // the layer store's records.
    if let Ok(bytes) = store.blobs().read(&rec.manifest_digest) {
        if let Ok(ManifestDoc::Image(m)) = manifest::parse(&rec.manifest_media_type, &bytes) {
            keep.extend(m.layers.into_iter().map(|l| l.digest));
            return Ok(());
        }
    }
    for hex in &rec.layers {
        if let Ok(id) = ChainId::parse(&format!("sha256:{hex}")) {
            if let Some(b) = store.layers().get(&id).ok().and_then(|l| l.blob) {
                keep.insert(b);
            }
        }
    }
    Ok(())
}

/// Removes layers and blobs no image (and no container) uses. With `wait`
/// it waits for running pulls; otherwise it leaves collection to the next
/// time when one runs.
pub fn collect(eng: &mut Engine, wait: bool) -> Result<()> {
    let store = eng
        .store()
        .map_err(ImageError::storage("opening the store"))?
        .clone();
    let _lock = if wait {
        store.lock(LockMode::Exclusive)
    } else {
        match store.try_lock(LockMode::Exclusive) {
            Ok(Some(l)) => Ok(l),
            Ok(None) => return Ok(()),
            Err(e) => Err(e),
        }
    }
    .map_err(ImageError::storage("locking the store"))?;
    // Read under the lock: a pull that finished meanwhile is seen.
    let images = eng.catalog.images()?;
    let mut tops = HashSet::new();
    let mut blobs = HashSet::new();
    for rec in &images {
        if let Some(top) = rec.layers.last() {
            if let Ok(id) = ChainId::parse(&format!("sha256:{top}")) {
                tops.insert(id);
            }
        }
        image_blobs(&store, rec, &mut blobs)?;
    }
    store
        .remove_unreferenced_layers(&tops)
        .map_err(ImageError::storage("removing unused layers"))?;
    for d in store
        .blobs()
        .list()
        .map_err(ImageError::storage("listing blobs"))?
    {
        if !blobs.contains(&d) {
            store
                .blobs()
                .remove(&d)
                .map_err(ImageError::storage(format!("removing blob {d}")))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::containers::{ContainerRecord, State};
    use crate::paths::Paths;

    fn engine() -> (tempfile::TempDir, Engine) {
        let d = tempfile::tempdir().unwrap();
        let paths = Paths {
            root: d.path().join("root"),
            runroot: d.path().join("run"),
            rootless: false,
            host_uid: 0,
            host_gid: 0,
        };
        (d, Engine::open(paths, Some("vfs".into())).unwrap())
    }

    fn image(eng: &mut Engine, b: u8, names: &[&str], layers: &[&str]) -> ImageRecord {
        let rec = ImageRecord {
            id: hex::encode([b; 32]),
            manifest_digest: Digest::sha256_of(&[b]),
            manifest_media_type: crate::image::media::OCI_MANIFEST.into(),
            index_digest: None,
            arch: "amd64".into(),
            os: "linux".into(),
            created: None,
            added: String::new(),
            size: 0,
            layers: layers.iter().map(|s| s.to_string()).collect(),
            names: vec![],
            digests: vec![],
        };
        let names: Vec<String> = names.iter().map(|s| s.to_string()).collect();
        eng.catalog.put_image(&rec, &names, &[]).unwrap();
        eng.catalog.image(&rec.id).unwrap().unwrap()
    }

    fn container(eng: &mut Engine, image_id: &str) -> ContainerRecord {
        let c = ContainerRecord {
            id: "c".repeat(64),
            name: "user".into(),
            image_id: image_id.into(),
            image_name: String::new(),
            pod_id: None,
            created: "2026-01-01T00:00:00Z".into(),
            options: Default::default(),
            command: vec![],
            state: State::Configured,
            pid: 0,
            shim_pid: 0,
            started_at: None,
            finished_at: None,
            exit_code: None,
            oom_killed: false,
            restart_count: 0,
            extra: serde_json::json!({}),
        };
        eng.catalog.insert_container(&c).unwrap();
        c
    }

    #[test]
    fn an_image_in_use_is_refused_without_force_and_its_containers_go_with_it() {
        let (_d, mut eng) = engine();
        let rec = image(&mut eng, 1, &["localhost/a:latest"], &[]);
        let c = container(&mut eng, &rec.id);
        let (done, errs) = remove_images(&mut eng, &["a".into()], RemoveOptions::default());
        assert!(done.deleted.is_empty());
        assert_eq!(errs.len(), 1);
        assert_eq!(errs[0].exit_status(), 2);
        assert_eq!(
            errs[0].to_string(),
            format!("image used by {}: image is in use by a container: consider listing external containers and force-removing image", c.id)
        );
        assert!(eng.catalog.image(&rec.id).unwrap().is_some());
        let (done, errs) = remove_images(
            &mut eng,
            &["a".into()],
            RemoveOptions {
                force: true,
                ignore: false,
            },
        );
        assert!(errs.is_empty(), "{errs:?}");
        assert_eq!(done.untagged, ["localhost/a:latest"]);
        assert_eq!(done.deleted, std::slice::from_ref(&rec.id));
        assert!(eng.catalog.container(&c.id).unwrap().is_none());
        assert!(eng.catalog.image(&rec.id).unwrap().is_none());
    }

    #[test]
    fn children_decide_dangling() {
        let (_d, mut eng) = engine();
        let parent = image(&mut eng, 1, &[], &["aa"]);
        let child = image(&mut eng, 2, &["localhost/c:latest"], &["aa", "bb"]);
        let lone = image(&mut eng, 3, &[], &["cc"]);
        let all = vec![parent.clone(), child.clone(), lone.clone()];
        assert!(is_child(&parent, &child) && !is_child(&child, &parent));
        assert!(
            !is_dangling(&parent, &all),
            "a parent is intermediate, not dangling"
        );
        assert!(is_dangling(&lone, &all));
        assert!(!is_dangling(&child, &all));
    }
}
