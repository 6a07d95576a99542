//! Anonymous volumes (the image's `Volumes`, `-v DST`) until husk has
//! volumes: a directory per volume under the container's userdata,
//! `volumes/<escaped destination>`, bind-mounted at the destination. As
//! podman does for a new anonymous volume, what the image has at that path
//! is copied in (modes and owners kept) the first time; later generations
//! (a restart) reuse the directory as it is. It lives and dies with the
//! container's userdata.

use std::os::fd::{AsRawFd, BorrowedFd};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use oci_spec::runtime::{Mount, MountBuilder};

use super::error::{Result, SpecError};
use super::mounts::Undo;

/// The directory name for a volume at `dest`: `/` becomes `_`, `_` becomes
/// `__`, so distinct destinations never share a name.
pub fn dir_name(dest: &Path) -> String {
    let s = dest.to_string_lossy();
    s.trim_start_matches('/')
        .replace('_', "__")
        .replace('/', "_")
}

/// Creates (or reuses) the directory for a volume at `dest` and returns
/// its bind mount. `root` holds the rootfs, to copy the image's content.
/// `owner` maps container ids to host ids for the fresh directory when the
/// image has nothing there.
pub fn prepare(
    userdata: &Path,
    root: BorrowedFd<'_>,
    dest: &Path,
    owner: (u32, u32),
    undo: &mut Undo,
    warnings: &mut Vec<String>,
) -> Result<Mount> {
    let base = userdata.join("volumes");
    let dir = base.join(dir_name(dest));
    if !dir.exists() {
        std::fs::create_dir_all(&base).map_err(|e| SpecError::io("creating", &base, e))?;
        std::fs::create_dir(&dir).map_err(|e| SpecError::io("creating volume", &dir, e))?;
        undo.created(dir.clone());
        copy_up(root, dest, &dir, owner, warnings)?;
    }
    Ok(MountBuilder::default()
        .destination(dest)
        .typ("bind")
        .source(dir)
        .options(["rbind", "rprivate", "rw"].map(String::from).to_vec())
        .build()
        .expect("all fields set"))
}

/// Copies the image's directory at `dest` (resolved inside the root) into
/// `dir`, which takes its mode and owner; without one, `dir` is 0755 and
/// owned by the container's root.
fn copy_up(
    root: BorrowedFd<'_>,
    dest: &Path,
    dir: &Path,
    owner: (u32, u32),
    warnings: &mut Vec<String>,
) -> Result<()> {
    let rel: PathBuf = dest.components().skip(1).collect();
    let src = husk_runtime::rootfs::resolve::openat_in_root(
        root.as_raw_fd(),
        &rel,
        libc::O_PATH | libc::O_DIRECTORY,
        0,
    );
    let Ok(src) = src else {
        std::os::unix::fs::lchown(dir, Some(owner.0), Some(owner.1))
            .map_err(|e| SpecError::io("chowning volume", dir, e))?;
        return Ok(());
    };
    let src_path = PathBuf::from(format!("/proc/self/fd/{}", src.as_raw_fd()));
    copy_tree(&src_path, dir, warnings)
        .map_err(|e| SpecError::io("copying image content into volume", dir, e))
}

/// Copies directory `from` into existing `to` (`to` gets `from`'s mode and
/// owner). Symlinks are copied as links, never followed; device nodes and
/// sockets are skipped with a warning.
fn copy_tree(from: &Path, to: &Path, warnings: &mut Vec<String>) -> std::io::Result<()> {
    let meta = std::fs::metadata(from)?;
    std::os::unix::fs::lchown(to, Some(meta.uid()), Some(meta.gid()))?;
    std::fs::set_permissions(to, std::fs::Permissions::from_mode(meta.mode() & 0o7777))?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let src = entry.path();
        let dst = to.join(entry.file_name());
        let m = std::fs::symlink_metadata(&src)?;
        let ft = m.file_type();
        if ft.is_symlink() {
            std::os::unix::fs::symlink(std::fs::read_link(&src)?, &dst)?;
        } else if ft.is_dir() {
            std::fs::create_dir(&dst)?;
            copy_tree(&src, &dst, warnings)?;
            continue;
        } else if ft.is_file() {
            std::fs::copy(&src, &dst)?;
            std::fs::set_permissions(&dst, std::fs::Permissions::from_mode(m.mode() & 0o7777))?;
        } else {
            warnings.push(format!(
                "volume copy-up skipped the special file {}",
                dst.display()
            ));
            continue;
        }
        std::os::unix::fs::lchown(&dst, Some(m.uid()), Some(m.gid()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsFd;

    #[test]
    fn names_do_not_collide() {
        assert_eq!(dir_name(Path::new("/var/lib/data")), "var_lib_data");
        assert_eq!(dir_name(Path::new("/a_b")), "a__b");
        assert_ne!(dir_name(Path::new("/a_b")), dir_name(Path::new("/a/b")));
    }

    #[test]
    fn copies_image_content_once() {
        let rootfs = tempfile::tempdir().unwrap();
        let data = rootfs.path().join("data");
        std::fs::create_dir_all(data.join("sub")).unwrap();
        std::fs::write(data.join("sub/file"), "hello").unwrap();
        std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o750)).unwrap();
        std::os::unix::fs::symlink("/etc/shadow", data.join("link")).unwrap();
        let userdata = tempfile::tempdir().unwrap();
        let root = crate::container::passwd::open_root(rootfs.path()).unwrap();
        let me = (
            nix::unistd::geteuid().as_raw(),
            nix::unistd::getegid().as_raw(),
        );
        let mut undo = Undo::default();
        let mut w = Vec::new();
        let m = prepare(
            userdata.path(),
            root.as_fd(),
            Path::new("/data"),
            me,
            &mut undo,
            &mut w,
        )
        .unwrap();
        undo.commit();
        let dir = m.source().clone().unwrap();
        assert_eq!(
            std::fs::read_to_string(dir.join("sub/file")).unwrap(),
            "hello"
        );
        assert_eq!(
            std::fs::read_link(dir.join("link")).unwrap(),
            Path::new("/etc/shadow")
        );
        assert_eq!(std::fs::metadata(&dir).unwrap().mode() & 0o7777, 0o750);
        // Reused, not copied again.
        std::fs::write(dir.join("sub/file"), "changed").unwrap();
        prepare(
            userdata.path(),
            root.as_fd(),
            Path::new("/data"),
            me,
            &mut Undo::default(),
            &mut w,
        )
        .unwrap();
        assert_eq!(
            std::fs::read_to_string(dir.join("sub/file")).unwrap(),
            "changed"
        );
        // Nothing in the image: an empty directory.
        let mut undo = Undo::default();
        let m = prepare(
            userdata.path(),
            root.as_fd(),
            Path::new("/empty"),
            me,
            &mut undo,
            &mut w,
        )
        .unwrap();
        undo.commit();
        assert_eq!(
            std::fs::read_dir(m.source().as_ref().unwrap())
                .unwrap()
                .count(),
            0
        );
    }
}
