//! maskedPaths and readonlyPaths, applied after pivot_root so every path is
//! resolved inside the container's own root.

use std::path::Path;

use nix::errno::Errno;
use nix::mount::{mount, MsFlags};

use super::mounts::remount_bind;
use crate::error::{Result, RuntimeError};

/// Hides each path: /dev/null over files, an empty read-only tmpfs over
/// directories. Missing paths are skipped.
pub fn mask(paths: &[String]) -> Result<()> {
    for p in paths {
        let path = Path::new(p);
        let meta = match path.symlink_metadata() {
            Ok(m) => m,
            Err(_) => continue,
        };
        let res = if meta.is_dir() {
            mount(
                Some("tmpfs"),
                path,
                Some("tmpfs"),
                MsFlags::MS_RDONLY,
                Some("size=0k"),
            )
        } else {
            mount(
                Some("/dev/null"),
                path,
                None::<&str>,
                MsFlags::MS_BIND,
                None::<&str>,
            )
        };
        match res {
            Ok(()) | Err(Errno::ENOENT) => {}
            Err(e) => return Err(RuntimeError::sys(format!("masking {p}"), e)),
        }
    }
    Ok(())
}

/// Makes each path read-only with a recursive bind onto itself and a
/// read-only remount. Missing paths are skipped.
pub fn make_readonly(paths: &[String]) -> Result<()> {
    for p in paths {
        let path = Path::new(p);
        if path.symlink_metadata().is_err() {
            continue;
        }
        let res = mount(
            Some(path),
            path,
            None::<&str>,
            MsFlags::MS_BIND | MsFlags::MS_REC,
            None::<&str>,
        )
        .and_then(|()| remount_bind(path, MsFlags::MS_RDONLY));
        match res {
            Ok(()) | Err(Errno::ENOENT) => {}
            Err(e) => return Err(RuntimeError::sys(format!("making {p} read-only"), e)),
        }
    }
    Ok(())
}
