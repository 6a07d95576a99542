//! What the container runs and where: podman's rules for merging the
//! image's Entrypoint and Cmd with `--entrypoint` and the command
//! arguments, the working directory, and its creation inside the rootfs.

use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::path::{Component, Path, PathBuf};

use nix::errno::Errno;

use super::error::{Result, SpecError};
use crate::container::init::INIT_PATH;

/// The container's argv, by podman's rules:
///
/// - the entrypoint is `--entrypoint` when given (`Some(vec![])`, from
///   `--entrypoint ""`, resets it), else the image's; an entrypoint of
///   exactly `[""]` counts as none;
/// - the command is the arguments after the image; when there are none and
///   the user did not set a non-empty entrypoint, the image's Cmd;
/// - the result is entrypoint + command, and with `--init`, that behind
///   `/run/husk-init --`.
pub fn command(
    user_entrypoint: Option<&[String]>,
    user_command: &[String],
    image_entrypoint: Option<&[String]>,
    image_cmd: Option<&[String]>,
    init: bool,
) -> Result<Vec<String>> {
    let entrypoint = user_entrypoint.or(image_entrypoint).unwrap_or(&[]);
    let mut argv: Vec<String> = Vec::with_capacity(entrypoint.len() + user_command.len() + 2);
    if init {
        argv.push(INIT_PATH.to_owned());
        argv.push("--".to_owned());
    }
    let first = argv.len();
    if !(entrypoint.len() == 1 && entrypoint[0].is_empty()) {
        argv.extend(entrypoint.iter().cloned());
    }
    let user_set_entrypoint = user_entrypoint.is_some_and(|e| !e.is_empty());
    if !user_command.is_empty() {
        argv.extend(user_command.iter().cloned());
    } else if !user_set_entrypoint {
        argv.extend(image_cmd.unwrap_or(&[]).iter().cloned());
    }
    if argv.len() == first {
        return Err(SpecError::NoCommand);
    }
    Ok(argv)
}

/// The working directory and whether husk may create it: `-w` (which must
/// be absolute and, as in podman, must exist), else the image's
/// `WorkingDir` (created when missing, relative ones taken from `/`), else
/// `/`.
pub fn workdir(user: Option<&str>, image: Option<&str>) -> Result<(PathBuf, bool)> {
    if let Some(w) = user {
        if !w.starts_with('/') {
            return Err(SpecError::invalid(
                "--workdir",
                w,
                "the working directory must be an absolute path",
            ));
        }
        return Ok((clean(w), false));
    }
    match image.filter(|w| !w.is_empty()) {
        Some(w) => Ok((clean(&format!("/{w}")), true)),
        None => Ok((PathBuf::from("/"), false)),
    }
}

/// `path` without `.`, `..` (clamped at `/`) or repeated slashes, absolute.
pub fn clean(path: &str) -> PathBuf {
    let mut out = PathBuf::from("/");
    for c in Path::new(path).components() {
        match c {
            Component::Normal(n) => out.push(n),
            Component::ParentDir => {
                out.pop();
            }
            _ => {}
        }
    }
    out
}

/// Makes sure the working directory exists in the rootfs held by `root`.
/// Every component is resolved inside the root (symlinks included). When
/// missing, it is created (mode 0755, owned by `owner` on the host side) if
/// `create`, else refused with podman's message. A workdir on a mount
/// (`on_mount`) is the runtime's business, as in podman.
pub fn ensure_workdir(
    root: BorrowedFd<'_>,
    dir: &Path,
    create: bool,
    on_mount: bool,
    owner: (u32, u32),
    id: &str,
) -> Result<()> {
    if dir == Path::new("/") || on_mount {
        return Ok(());
    }
    let rel: PathBuf = dir.components().skip(1).collect();
    let open = |p: &Path| {
        husk_runtime::rootfs::resolve::openat_in_root(
            root.as_raw_fd(),
            p,
            libc::O_PATH | libc::O_DIRECTORY,
            0,
        )
    };
    match open(&rel) {
        Ok(_) => return Ok(()),
        Err(Errno::ENOENT) => {}
        Err(Errno::ENOTDIR) => {
            return Err(SpecError::invalid(
                "--workdir",
                &dir.to_string_lossy(),
                "it exists in the image but is not a directory",
            ))
        }
        Err(e) => return Err(SpecError::io("resolving working directory", dir, e.into())),
    }
    if !create {
        return Err(SpecError::NoWorkdir {
            dir: dir.to_string_lossy().into_owned(),
            id: id.to_owned(),
        });
    }
    let resolved = resolve_in_root(root, &rel)
        .map_err(|e| SpecError::io("resolving working directory", dir, e.into()))?;
    let mut prefix = PathBuf::new();
    for comp in resolved.components() {
        let parent_fd: OwnedFd = if prefix.as_os_str().is_empty() {
            open(Path::new(".")).map_err(|e| SpecError::io("opening rootfs", "/", e.into()))?
        } else {
            open(&prefix).map_err(|e| SpecError::io("opening", dir, e.into()))?
        };
        prefix.push(comp);
        match open(&prefix) {
            Ok(_) => continue,
            Err(Errno::ENOENT) => {}
            Err(e) => return Err(SpecError::io("resolving working directory", dir, e.into())),
        }
        let name = comp.as_os_str();
        match nix::sys::stat::mkdirat(
            Some(parent_fd.as_raw_fd()),
            name,
            nix::sys::stat::Mode::from_bits_truncate(0o755),
        ) {
            Ok(()) => {
                chown_at(&parent_fd, name, owner)
                    .map_err(|e| SpecError::io("chowning working directory", dir, e.into()))?;
            }
            Err(e) => return Err(SpecError::io("creating working directory", dir, e.into())),
        }
    }
    Ok(())
}

/// `rel` with every symlink of its existing part replaced by its target,
/// resolved inside the root (`..` stops at it, absolute targets start from
/// it), so that the missing part can be created with mkdirat. At most 40
/// links are followed (ELOOP after).
fn resolve_in_root(root: BorrowedFd<'_>, rel: &Path) -> nix::Result<PathBuf> {
    let mut todo: std::collections::VecDeque<std::ffi::OsString> =
        rel.components().map(|c| c.as_os_str().to_owned()).collect();
    let mut out = PathBuf::new();
    let mut links = 0;
    let mut missing = false;
    while let Some(c) = todo.pop_front() {
        match c.to_str() {
            Some(".") | Some("") => continue,
            Some("..") => {
                out.pop();
                continue;
            }
            _ => {}
        }
        if missing {
            // Below a missing directory nothing can be a link.
            out.push(&c);
            continue;
        }
        let parent = if out.as_os_str().is_empty() {
            Path::new(".")
        } else {
            out.as_path()
        };
        let pfd = husk_runtime::rootfs::resolve::openat_in_root(
            root.as_raw_fd(),
            parent,
            libc::O_PATH | libc::O_DIRECTORY,
            0,
        )?;
        match nix::fcntl::readlinkat(Some(pfd.as_raw_fd()), c.as_os_str()) {
            Ok(target) => {
                links += 1;
                if links > 40 {
                    return Err(Errno::ELOOP);
                }
                let t = PathBuf::from(target);
                if t.is_absolute() {
                    out = PathBuf::new();
                }
                for comp in t.components().rev() {
                    if matches!(comp, Component::Normal(_) | Component::ParentDir) {
                        todo.push_front(comp.as_os_str().to_owned());
                    }
                }
            }
            Err(Errno::EINVAL) => out.push(&c),
            Err(Errno::ENOENT) => {
                missing = true;
                out.push(&c);
            }
            Err(e) => return Err(e),
        }
    }
    Ok(out)
}

fn chown_at(parent: &OwnedFd, name: &std::ffi::OsStr, (uid, gid): (u32, u32)) -> nix::Result<()> {
    if uid == nix::unistd::geteuid().as_raw() && gid == nix::unistd::getegid().as_raw() {
        // mkdir made it ours, which is what was asked for.
        return Ok(());
    }
    let fd = nix::fcntl::openat(
        Some(parent.as_raw_fd()),
        name,
        nix::fcntl::OFlag::O_PATH | nix::fcntl::OFlag::O_NOFOLLOW | nix::fcntl::OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )?;
    // SAFETY: openat just returned this fd; OwnedFd closes it.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    nix::unistd::fchownat(
        Some(fd.as_raw_fd()),
        "",
        Some(nix::unistd::Uid::from_raw(uid)),
        Some(nix::unistd::Gid::from_raw(gid)),
        nix::fcntl::AtFlags::AT_EMPTY_PATH,
    )
}

/// `--oom-score-adj`, checked; rootless, raised to husk's own value when
/// below it (an unprivileged process cannot lower it), with a warning.
pub fn oom_score_adj(
    v: Option<i32>,
    rootless: bool,
    warnings: &mut Vec<String>,
) -> Result<Option<i32>> {
    let Some(v) = v else { return Ok(None) };
    if !(-1000..=1000).contains(&v) {
        return Err(SpecError::invalid(
            "--oom-score-adj",
            &v.to_string(),
            "the value must be between -1000 and 1000",
        ));
    }
    if rootless {
        // podman 5: an unprivileged process cannot go below its own value.
        let own: i32 = std::fs::read_to_string("/proc/self/oom_score_adj")
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(0);
        if v < own {
            warnings.push(format!(
                "--oom-score-adj {v} raised to {own}: rootless, it cannot be below husk's own"
            ));
            return Ok(Some(own));
        }
    }
    Ok(Some(v))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsFd;

    fn v(s: &[&str]) -> Vec<String> {
        s.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn image_entrypoint_and_cmd_merge() {
        let ep = v(&["/entry", "-x"]);
        let cmd = v(&["default", "args"]);
        // Image only: entrypoint + cmd.
        assert_eq!(
            command(None, &[], Some(&ep), Some(&cmd), false).unwrap(),
            v(&["/entry", "-x", "default", "args"])
        );
        // Command args replace the image's cmd, keep its entrypoint.
        assert_eq!(
            command(None, &v(&["mine"]), Some(&ep), Some(&cmd), false).unwrap(),
            v(&["/entry", "-x", "mine"])
        );
        // No entrypoint: cmd alone.
        assert_eq!(
            command(None, &[], None, Some(&cmd), false).unwrap(),
            v(&["default", "args"])
        );
    }

    #[test]
    fn user_entrypoint_drops_image_cmd() {
        let ep = v(&["/entry"]);
        let cmd = v(&["default"]);
        assert_eq!(
            command(
                Some(&v(&["/bin/sh", "-c"])),
                &[],
                Some(&ep),
                Some(&cmd),
                false
            )
            .unwrap(),
            v(&["/bin/sh", "-c"])
        );
        assert_eq!(
            command(
                Some(&v(&["/bin/echo"])),
                &v(&["hi"]),
                Some(&ep),
                Some(&cmd),
                false
            )
            .unwrap(),
            v(&["/bin/echo", "hi"])
        );
    }

    #[test]
    fn empty_entrypoint_resets_and_keeps_cmd() {
        let ep = v(&["/entry"]);
        let cmd = v(&["/bin/sh"]);
        // --entrypoint "" : no entrypoint, the image's cmd runs.
        assert_eq!(
            command(Some(&[]), &[], Some(&ep), Some(&cmd), false).unwrap(),
            v(&["/bin/sh"])
        );
        // An entrypoint of [""] (image or user) is no entrypoint.
        assert_eq!(
            command(None, &[], Some(&v(&[""])), Some(&cmd), false).unwrap(),
            v(&["/bin/sh"])
        );
        assert_eq!(
            command(Some(&v(&[""])), &v(&["ls"]), Some(&ep), None, false).unwrap(),
            v(&["ls"])
        );
    }

    #[test]
    fn nothing_to_run_is_an_error_and_init_prefixes() {
        assert!(matches!(
            command(None, &[], None, None, false),
            Err(SpecError::NoCommand)
        ));
        assert!(matches!(
            command(Some(&[]), &[], None, Some(&[]), true),
            Err(SpecError::NoCommand)
        ));
        assert_eq!(
            command(None, &v(&["sleep", "1"]), None, None, true).unwrap(),
            v(&["/run/husk-init", "--", "sleep", "1"])
        );
    }

    #[test]
    fn workdir_rules() {
        assert_eq!(workdir(None, None).unwrap(), (PathBuf::from("/"), false));
        assert_eq!(
            workdir(None, Some("/app/./x/../y")).unwrap(),
            (PathBuf::from("/app/y"), true)
        );
        assert_eq!(
            workdir(None, Some("rel")).unwrap(),
            (PathBuf::from("/rel"), true)
        );
        assert_eq!(
            workdir(Some("/w"), Some("/app")).unwrap(),
            (PathBuf::from("/w"), false)
        );
        let e = workdir(Some("w"), None).unwrap_err().to_string();
        assert!(e.contains("--workdir") && e.contains("absolute"), "{e}");
        assert_eq!(clean("/../../a//b/"), PathBuf::from("/a/b"));
    }

    #[test]
    fn workdir_created_inside_the_root_only() {
        let d = tempfile::tempdir().unwrap();
        let root = crate::container::passwd::open_root(d.path()).unwrap();
        let me = (
            nix::unistd::geteuid().as_raw(),
            nix::unistd::getegid().as_raw(),
        );
        // A symlink pointing out of the root: creation follows it inside.
        std::fs::create_dir(d.path().join("srv")).unwrap();
        std::os::unix::fs::symlink("/tmp-escape-husk", d.path().join("srv/link")).unwrap();
        ensure_workdir(
            root.as_fd(),
            Path::new("/srv/link/app"),
            true,
            false,
            me,
            "x",
        )
        .unwrap();
        assert!(d.path().join("tmp-escape-husk/app").is_dir());
        assert!(!Path::new("/tmp-escape-husk").exists());
        // Existing: nothing to do; missing and not creatable: podman's error.
        ensure_workdir(root.as_fd(), Path::new("/srv"), false, false, me, "x").unwrap();
        let e = ensure_workdir(root.as_fd(), Path::new("/nope"), false, false, me, "abc")
            .unwrap_err()
            .to_string();
        assert_eq!(e, "workdir \"/nope\" does not exist on container abc");
        // On a mount, the runtime deals with it.
        ensure_workdir(root.as_fd(), Path::new("/nope"), false, true, me, "abc").unwrap();
        std::fs::write(d.path().join("file"), "").unwrap();
        let e = ensure_workdir(root.as_fd(), Path::new("/file"), true, false, me, "x")
            .unwrap_err()
            .to_string();
        assert!(e.contains("not a directory"), "{e}");
    }
}
