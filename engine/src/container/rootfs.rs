//! The container's root filesystem: the boundary between the lifecycle and
//! the layer store.

use std::path::PathBuf;

use super::error::{ContainerError, Result};
use crate::engine::Engine;
use crate::paths::Paths;

/// The directory holding a container's layer (upper, work, merged).
pub fn container_dir(eng: &Engine, id: &str) -> PathBuf {
    dir_of(&eng.paths, id)
}

fn dir_of(paths: &Paths, id: &str) -> PathBuf {
    paths.storage().join("containers").join(id)
}

/// Bytes in the container's writable layer (what it changed); 0 when it
/// cannot be read.
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
    walk(&dir_of(paths, id).join("upper"))
}

/// Unmounts the container's rootfs if it is mounted.
pub fn unmount(eng: &Engine, id: &str) -> Result<()> {
    let merged = container_dir(eng, id).join("merged");
    match nix::mount::umount2(&merged, nix::mount::MntFlags::MNT_DETACH) {
        Ok(()) | Err(nix::errno::Errno::EINVAL) | Err(nix::errno::Errno::ENOENT) => Ok(()),
        Err(e) => Err(ContainerError::io("unmounting", merged, e.into())),
    }
}

/// Removes the container's layer.
pub fn remove(eng: &Engine, id: &str) -> Result<()> {
    unmount(eng, id)?;
    let dir = container_dir(eng, id);
    match std::fs::remove_dir_all(&dir) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(ContainerError::io("removing", dir, e)),
    }
}
