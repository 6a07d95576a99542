//! Mounting and unmounting native overlayfs for a container rootfs:
//! rootful with `trusted.*` xattrs, rootless (inside the engine's user and
//! mount namespaces, Linux 5.11+) with `userxattr`.
//!
//! Lower layers are named through their short links (`<root>/layers/l/<26
//! characters>`). When the absolute form does not fit in one page of mount
//! options, the mount is made from a thread with its own working directory
//! (unshare(CLONE_FS), chdir to `<root>/layers`), so the lowers can be
//! given as `l/<short>`: 138 layers fit, more than any registry accepts.

use std::io;
use std::path::{Path, PathBuf};

use super::sys::{cpath, cstr};

/// The most bytes of options mount(2) takes (one page, NUL included).
const MAX_OPTIONS: usize = 4095;

/// What to mount.
#[derive(Debug, Clone)]
pub(crate) struct OverlayMount<'a> {
    /// `<root>/layers`, the directory short links are relative to.
    pub layers_dir: &'a Path,
    /// Short link names of the lower layers, top first.
    pub lowers: Vec<String>,
    /// Absolute lower directories used instead of short links (an empty
    /// lower for images without layers).
    pub extra_lowers: Vec<PathBuf>,
    /// The upper directory.
    pub upper: &'a Path,
    /// The work directory.
    pub work: &'a Path,
    /// The mount point.
    pub target: &'a Path,
    /// Mount with `userxattr` (in a user namespace).
    pub userxattr: bool,
    /// Mount with `volatile`: no sync of the upper filesystem, at unmount or
    /// on fsync (for layers thrown away with their container).
    pub volatile: bool,
}

/// Escapes the characters overlay's option parser treats specially.
fn escape(p: &Path) -> String {
    let mut out = String::new();
    for ch in p.to_string_lossy().chars() {
        if matches!(ch, '\\' | ',' | ':') {
            out.push('\\');
        }
        out.push(ch);
    }
    out
}

impl OverlayMount<'_> {
    /// The option string, with lowers absolute or relative to
    /// `layers_dir`.
    pub(crate) fn options(&self, relative: bool) -> String {
        let mut lowers: Vec<String> = self
            .lowers
            .iter()
            .map(|s| {
                if relative {
                    format!("l/{s}")
                } else {
                    escape(&self.layers_dir.join("l").join(s))
                }
            })
            .collect();
        lowers.extend(self.extra_lowers.iter().map(|p| escape(p)));
        let mut o = format!(
            "lowerdir={},upperdir={},workdir={}",
            lowers.join(":"),
            escape(self.upper),
            escape(self.work)
        );
        if self.userxattr {
            o.push_str(",userxattr");
        }
        // The inodes index ties an upper dir to the exact lower inodes it
        // was made on; layers are shared and may be re-unpacked, so keep it
        // off as podman does (userxattr implies it anyway).
        o.push_str(",index=off");
        if self.volatile {
            o.push_str(",volatile");
        }
        o
    }

    /// Mounts; returns the options used, or them and the kernel's error.
    pub(crate) fn mount(&self) -> Result<String, (String, io::Error)> {
        let abs = self.options(false);
        if abs.len() <= MAX_OPTIONS {
            return mount_overlay(self.target, &abs)
                .map(|()| abs.clone())
                .map_err(|e| (abs, e));
        }
        let rel = self.options(true);
        if rel.len() > MAX_OPTIONS {
            return Err((
                rel,
                io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "too many layers for one overlay mount",
                ),
            ));
        }
        let dir = self.layers_dir.to_owned();
        let target = self.target.to_owned();
        let opts = rel.clone();
        let joined = std::thread::spawn(move || -> io::Result<()> {
            // SAFETY: unshare(CLONE_FS) only gives this thread its own cwd
            // and umask; it takes no pointers.
            if unsafe { libc::unshare(libc::CLONE_FS) } != 0 {
                return Err(io::Error::last_os_error());
            }
            std::env::set_current_dir(&dir)?;
            mount_overlay(&target, &opts)
        })
        .join();
        match joined {
            Ok(Ok(())) => Ok(rel),
            Ok(Err(e)) => Err((rel, e)),
            Err(_) => Err((rel, io::Error::other("the mount thread panicked"))),
        }
    }
}

fn mount_overlay(target: &Path, options: &str) -> io::Result<()> {
    let t = cpath(target)?;
    let o = cstr(options.as_bytes())?;
    // SAFETY: all strings are valid NUL-terminated strings that outlive the
    // call; the data argument is the option string overlay parses.
    let r = unsafe {
        libc::mount(
            c"overlay".as_ptr(),
            t.as_ptr(),
            c"overlay".as_ptr(),
            0,
            o.as_ptr().cast(),
        )
    };
    if r != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Unmounts `target`: a normal unmount, or a lazy detach when it is busy
/// (a process still has a file open in it). Returns false when nothing was
/// mounted there.
pub(crate) fn unmount(target: &Path) -> io::Result<bool> {
    let t = cpath(target)?;
    for flags in [0, libc::MNT_DETACH] {
        // SAFETY: `t` is a valid NUL-terminated string that outlives the call.
        if unsafe { libc::umount2(t.as_ptr(), flags) } == 0 {
            return Ok(true);
        }
        let e = io::Error::last_os_error();
        match e.raw_os_error() {
            Some(libc::EBUSY) if flags == 0 => continue,
            Some(libc::EINVAL) | Some(libc::ENOENT) => return Ok(false),
            _ => return Err(e),
        }
    }
    Ok(false)
}

/// Whether something is mounted on `target` (its device differs from its
/// parent's).
pub(crate) fn is_mounted(target: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    let (Ok(t), Some(Ok(p))) = (
        std::fs::symlink_metadata(target),
        target.parent().map(std::fs::symlink_metadata),
    ) else {
        return false;
    };
    t.dev() != p.dev()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_escape_and_fall_back_to_relative_lowers() {
        let m = OverlayMount {
            layers_dir: Path::new("/var/lib/husk/layers"),
            lowers: vec!["aaaa".into(), "bbbb".into()],
            extra_lowers: vec![],
            upper: Path::new("/var/lib/husk/containers/c,1/upper"),
            work: Path::new("/w"),
            target: Path::new("/m"),
            userxattr: true,
            volatile: false,
        };
        assert_eq!(
            m.options(false),
            "lowerdir=/var/lib/husk/layers/l/aaaa:/var/lib/husk/layers/l/bbbb,\
             upperdir=/var/lib/husk/containers/c\\,1/upper,workdir=/w,userxattr,index=off"
        );
        assert!(m.options(true).starts_with("lowerdir=l/aaaa:l/bbbb,"));
        let v = OverlayMount {
            volatile: true,
            ..m.clone()
        };
        assert!(v.options(false).ends_with(",index=off,volatile"));
        let many = OverlayMount {
            lowers: (0..138).map(|_| "x".repeat(26)).collect(),
            upper: Path::new("/u"),
            ..m
        };
        assert!(many.options(false).len() > MAX_OPTIONS);
        assert!(many.options(true).len() <= MAX_OPTIONS);
    }
}
