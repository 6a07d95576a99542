//! The vfs driver's rootfs: every layer copied, base first, onto one
//! directory, with each layer's whiteouts applied to what the layers below
//! put there. Owners, modes, mtimes, xattrs, hard links (within a layer),
//! symbolic links, fifos and device nodes are kept; file data is copied
//! in the kernel (copy_file_range). Walks go through directory fds and
//! never follow a link.

use std::collections::HashMap;
use std::ffi::{CStr, CString};
use std::fs::File;
use std::io;
use std::os::fd::{AsFd, BorrowedFd};

use super::beneath::{self, Resolve};
use super::sys::{self, cstr, Kind};
use super::unpack::name::{classify, Whiteout};
use super::unpack::WhiteoutFormat;
use super::xattr::{self, Target};

/// Copies the layer tree `src` onto `dest` (both directories), applying
/// whiteouts stored in `format`.
pub(crate) fn apply_layer(
    src: BorrowedFd,
    dest: BorrowedFd,
    format: WhiteoutFormat,
) -> io::Result<()> {
    let mut c = Copier {
        dest_root: dest,
        format,
        links: HashMap::new(),
    };
    c.dir(src, dest, b"")?;
    copy_meta(src, dest)
}

struct Copier<'a> {
    dest_root: BorrowedFd<'a>,
    format: WhiteoutFormat,
    /// (dev, ino) of multiply-linked files copied so far -> path in dest.
    links: HashMap<(u64, u64), Vec<u8>>,
}

fn join(rel: &[u8], name: &[u8]) -> Vec<u8> {
    let mut v = rel.to_vec();
    if !v.is_empty() {
        v.push(b'/');
    }
    v.extend_from_slice(name);
    v
}

/// Whether `dir` of a layer is opaque in `format`.
pub(crate) fn dir_is_opaque(dir: BorrowedFd, format: WhiteoutFormat) -> io::Result<bool> {
    match format {
        WhiteoutFormat::Oci => match sys::lstatat(dir, c".wh..wh..opq") {
            Ok(_) => Ok(true),
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => Ok(false),
            Err(e) => Err(e),
        },
        _ => xattr::is_opaque(dir),
    }
}

/// What a layer's entry means for the tree below it.
pub(crate) enum Role<'a> {
    /// An ordinary entry.
    Entry,
    /// Deletes this name (overlay whiteout device).
    WhiteoutSelf,
    /// Deletes another name (OCI `.wh.<name>`).
    WhiteoutOther(&'a [u8]),
    /// The OCI opaque marker or aufs bookkeeping: no entry of its own.
    Marker,
}

/// Classifies one entry of a layer directory.
pub(crate) fn role<'a>(name: &'a CStr, st: &libc::stat, format: WhiteoutFormat) -> Role<'a> {
    if format == WhiteoutFormat::Oci {
        match classify(name.to_bytes()) {
            Ok(Whiteout::Remove(t)) => return Role::WhiteoutOther(t),
            Ok(Whiteout::Opaque) | Ok(Whiteout::Meta) => return Role::Marker,
            _ => {}
        }
    }
    if sys::is_whiteout(st) {
        Role::WhiteoutSelf
    } else {
        Role::Entry
    }
}

impl Copier<'_> {
    fn dir(&mut self, src: BorrowedFd, dest: BorrowedFd, rel: &[u8]) -> io::Result<()> {
        if dir_is_opaque(src, self.format)? {
            sys::empty_dir(dest)?;
        }
        for name in sys::list_dir(src)? {
            let st = sys::lstatat(src, &name)?;
            match role(&name, &st, self.format) {
                Role::Marker => continue,
                Role::WhiteoutSelf => {
                    sys::remove_all_at(dest, &name)?;
                    continue;
                }
                Role::WhiteoutOther(t) => {
                    sys::remove_all_at(dest, &cstr(t)?)?;
                    continue;
                }
                Role::Entry => {}
            }
            let child_rel = join(rel, name.to_bytes());
            if Kind::of(st.st_mode) == Kind::Dir {
                self.subdir(src, dest, &name, child_rel)?;
            } else {
                sys::remove_all_at(dest, &name)?;
                self.leaf(src, dest, &name, &st, child_rel)?;
            }
        }
        Ok(())
    }

    fn subdir(
        &mut self,
        src: BorrowedFd,
        dest: BorrowedFd,
        name: &CString,
        rel: Vec<u8>,
    ) -> io::Result<()> {
        match sys::lstatat(dest, name) {
            Ok(st) if Kind::of(st.st_mode) == Kind::Dir => {}
            Ok(_) => {
                sys::remove_all_at(dest, name)?;
                sys::mkdirat(dest, name, 0o700)?;
            }
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => sys::mkdirat(dest, name, 0o700)?,
            Err(e) => return Err(e),
        }
        let s = sys::open_dir_at(src, name)?;
        let d = sys::open_dir_at(dest, name)?;
        self.dir(s.as_fd(), d.as_fd(), &rel)?;
        // After the content: creating entries changes a directory's mtime.
        copy_meta(s.as_fd(), d.as_fd())
    }

    fn leaf(
        &mut self,
        src: BorrowedFd,
        dest: BorrowedFd,
        name: &CString,
        st: &libc::stat,
        rel: Vec<u8>,
    ) -> io::Result<()> {
        let kind = Kind::of(st.st_mode);
        if kind != Kind::Dir && st.st_nlink > 1 {
            if let Some(first) = self.links.get(&(st.st_dev, st.st_ino)) {
                let (parent, base) = super::unpack::name::split(first);
                let pd = beneath::open(
                    self.dest_root,
                    parent,
                    libc::O_RDONLY | libc::O_DIRECTORY,
                    Resolve::NoSymlinks,
                )?;
                return sys::linkat(pd.as_fd(), &cstr(base)?, dest, name);
            }
            self.links.insert((st.st_dev, st.st_ino), rel);
        }
        copy_leaf(src, dest, name, st)
    }
}

/// Copies one non-directory entry (which must not exist in `dest`).
pub(crate) fn copy_leaf(
    src: BorrowedFd,
    dest: BorrowedFd,
    name: &CStr,
    st: &libc::stat,
) -> io::Result<()> {
    match Kind::of(st.st_mode) {
        Kind::File => {
            let s = sys::openat(src, name, libc::O_RDONLY | libc::O_NOFOLLOW, 0)?;
            let d = sys::openat(
                dest,
                name,
                libc::O_WRONLY | libc::O_CREAT | libc::O_EXCL | libc::O_NOFOLLOW,
                0o600,
            )?;
            let (mut sf, mut df) = (File::from(s), File::from(d));
            io::copy(&mut sf, &mut df)?;
            file_meta(sf.as_fd(), df.as_fd(), st)
        }
        Kind::Symlink => {
            let t = sys::readlinkat(src, name)?;
            sys::symlinkat(&cstr(&t)?, dest, name)?;
            node_meta(src, dest, name, st, false)
        }
        Kind::Fifo | Kind::Char | Kind::Block => {
            sys::mknodat(dest, name, (st.st_mode & libc::S_IFMT) | 0o600, st.st_rdev)?;
            node_meta(src, dest, name, st, true)
        }
        // Sockets belong to a running process, not to a filesystem image.
        Kind::Socket => Ok(()),
        Kind::Dir => Err(io::Error::from_raw_os_error(libc::EISDIR)),
    }
}

fn mtime(st: &libc::stat) -> libc::timespec {
    sys::timespec(st.st_mtime, st.st_mtime_nsec)
}

/// Copies xattrs (not overlay's own); namespaces the kernel refuses here
/// (`trusted.*` in a user namespace) are skipped like the unpacker does.
fn copy_xattrs(from: Target, to: Target) -> io::Result<()> {
    for (n, v) in xattr::read_all(from)? {
        match xattr::set(to, &n, &v) {
            Ok(()) => {}
            Err(e)
                if !n.to_bytes().starts_with(b"user.")
                    && matches!(e.raw_os_error(), Some(libc::EPERM) | Some(libc::ENOTSUP)) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

fn file_meta(src: BorrowedFd, dest: BorrowedFd, st: &libc::stat) -> io::Result<()> {
    sys::fchown(dest, st.st_uid, st.st_gid)?;
    sys::fchmod(dest, st.st_mode & 0o7777)?;
    copy_xattrs(Target::Fd(src), Target::Fd(dest))?;
    sys::futimens(dest, mtime(st))
}

fn node_meta(
    src: BorrowedFd,
    dest: BorrowedFd,
    name: &CStr,
    st: &libc::stat,
    chmod: bool,
) -> io::Result<()> {
    sys::lchownat(dest, name, st.st_uid, st.st_gid)?;
    if chmod {
        // Just made by mknodat: not a link.
        sys::fchmodat(dest, name, st.st_mode & 0o7777)?;
    }
    copy_xattrs(Target::At(src, name), Target::At(dest, name))?;
    sys::lutimensat(dest, name, mtime(st))
}

/// Copies owner, mode, xattrs and mtime of directory `src` to `dest`.
pub(crate) fn copy_meta(src: BorrowedFd, dest: BorrowedFd) -> io::Result<()> {
    let st = sys::fstat(src)?;
    file_meta(src, dest, &st)
}
