//! The container's root filesystem: the boundary between the lifecycle and
//! the layer store. Rootless, every call runs inside husk's user namespace,
//! and the overlay mount lives in that namespace's mount table (the shim
//! keeps it), never in the host's.

use std::path::PathBuf;

use super::error::{ContainerError, Result};
use crate::catalog::images::ImageRecord;
use crate::engine::Engine;
use crate::paths::Paths;
use crate::storage::{ChainId, StorageError};

fn storage_err(e: StorageError) -> ContainerError {
    ContainerError::Other(e.to_string())
}

/// Creates the container's layer on the image's layers and mounts it;
/// returns the rootfs path. `volatile` (for `--rm` containers): the upper
/// filesystem is never synced for it, which a plain unmount otherwise does
/// for the whole host filesystem.
pub fn prepare(eng: &mut Engine, id: &str, image: &ImageRecord, volatile: bool) -> Result<PathBuf> {
    let top = match image.layers.last() {
        Some(hex) => Some(ChainId::parse(&format!("sha256:{hex}")).map_err(|e| {
            ContainerError::Other(format!("image {}: bad layer id: {e}", image.id))
        })?),
        None => None,
    };
    let store = eng.store().map_err(storage_err)?;
    let driver = store.driver();
    store
        .containers()
        .create_with(id, top.as_ref(), driver, volatile)
        .map_err(storage_err)?;
    store.containers().mount(id).map_err(storage_err)
}

/// Rootful, a container with a user namespace of its own (the spec's
/// `linux.uidMappings`): its image layers are mounted idmapped through the
/// container's maps, so the image's root-owned files are its root's and
/// the shared layers are never chowned. The overlay is mounted again if
/// it was mounted. Rootless and vfs rootfs are left as they are.
pub fn idmap_layers(eng: &mut Engine, id: &str, spec: &oci_spec::runtime::Spec) -> Result<()> {
    if eng.paths.rootless {
        return Ok(());
    }
    let Some(linux) = spec.linux().as_ref() else {
        return Ok(());
    };
    let lines = |m: &Option<Vec<oci_spec::runtime::LinuxIdMapping>>| -> Vec<(u32, u32, u32)> {
        m.iter()
            .flatten()
            .map(|l| (l.container_id(), l.host_id(), l.size()))
            .collect()
    };
    let (uids, gids) = (lines(linux.uid_mappings()), lines(linux.gid_mappings()));
    if uids.is_empty() || gids.is_empty() {
        return Ok(());
    }
    let store = eng.store().map_err(storage_err)?;
    store
        .containers()
        .set_idmap(id, Some(crate::storage::LayerIdMap { uids, gids }))
        .map_err(storage_err)
}

/// Mounts the existing layer of a container that ran before.
pub fn mount_existing(eng: &mut Engine, id: &str) -> Result<PathBuf> {
    let store = eng.store().map_err(storage_err)?;
    store.containers().mount(id).map_err(storage_err)
}

/// Unmounts the container's rootfs if it is mounted.
pub fn unmount(eng: &mut Engine, id: &str) -> Result<()> {
    if eng.paths.rootless && !crate::userns::inside() {
        // Rootless, the overlay lived in the shim's mount namespace, which
        // ended with it: nothing is mounted in this one.
        return Ok(());
    }
    let store = eng.store().map_err(storage_err)?;
    match store.containers().unmount(id) {
        Ok(_) | Err(StorageError::ContainerNotFound(_)) => Ok(()),
        Err(e) => Err(storage_err(e)),
    }
}

/// Removes the container's layer (unmounting it first).
pub fn remove(eng: &mut Engine, id: &str) -> Result<()> {
    let store = eng.store().map_err(storage_err)?;
    match store.containers().remove(id) {
        Ok(_) | Err(StorageError::ContainerNotFound(_)) => Ok(()),
        Err(e) => Err(storage_err(e)),
    }
}

/// Bytes in the container's writable layer (what it changed); 0 when it
/// cannot be read from here.
pub fn upper_size(paths: &Paths, id: &str) -> u64 {
    fn walk(p: &std::path::Path) -> u64 {
        let Ok(rd) = std::fs::read_dir(p) else {
            return 0;
        };
        rd.flatten()
            .map(|e| match e.metadata() {
                Ok(m) if m.is_dir() => walk(&e.path()),
                Ok(m) if m.is_file() => m.len(),
                _ => 0,
            })
            .sum()
    }
    walk(&paths.storage().join("containers").join(id).join("upper"))
}
