//! Safe unpacking of a layer tar stream into a directory, in overlay's
//! "diff" form, computing the layer's diff id on the way.
//!
//! Safety rules (see `entry.rs` for how they are enforced):
//! - names are normalised; a `..` component is refused, a leading `/` is
//!   dropped: nothing is ever written outside the layer directory;
//! - no path is ever resolved through a symbolic link, including one an
//!   earlier entry of the same layer planted; such an entry is refused;
//! - hard link targets are resolved inside the layer and must be earlier
//!   entries of it;
//! - device nodes are refused unless [`DevicePolicy::Create`];
//! - owners outside [`UnpackOptions::ids`] are refused ("not enough
//!   subordinate ids").
//!
//! Whiteouts become what overlay reads ([`WhiteoutFormat`]); no `.wh.` file
//! is left behind in the overlay forms.

mod entry;
pub mod name;

use std::ffi::CStr;
use std::io::{BufReader, Read};
use std::os::fd::BorrowedFd;
use std::path::Path;

use crate::image::digest::Digest;

use super::compress::HashingReader;
use super::error::{io_err, EntryError, Result, StorageError};
use super::idmap::IdMap;
use super::sys::{self, cstr};

use entry::{EntryKind, Item, Meta, Unpacker};

/// How whiteouts and opaque directories are stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum WhiteoutFormat {
    /// Privileged overlay: a 0:0 character device per deleted name,
    /// `trusted.overlay.opaque=y` on opaque directories.
    OverlayTrusted,
    /// Overlay mounted with `userxattr` (rootless): 0:0 character devices
    /// (allowed in a user namespace since Linux 5.8) and
    /// `user.overlay.opaque=y`.
    OverlayUser,
    /// The OCI files (`.wh.<name>`, `.wh..wh..opq`) kept as they are: only
    /// the vfs driver reads these, for kernels that cannot make whiteouts.
    Oci,
}

impl WhiteoutFormat {
    /// The opaque-directory attribute, for the overlay forms.
    pub fn opaque_xattr(self) -> Option<&'static CStr> {
        match self {
            WhiteoutFormat::OverlayTrusted => Some(c"trusted.overlay.opaque"),
            WhiteoutFormat::OverlayUser => Some(c"user.overlay.opaque"),
            WhiteoutFormat::Oci => None,
        }
    }
}

/// What to do with device nodes in a layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DevicePolicy {
    /// Refuse the layer (the default): containers get their devices from
    /// the runtime, and a node in an image (a 0666 `/dev/mem`) is an attack
    /// or a mistake.
    Refuse,
    /// Create them (rootful only; a user namespace cannot).
    Create,
}

/// How a layer is unpacked. The caller says what it is; nothing is guessed
/// from the environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnpackOptions {
    /// How whiteouts are stored.
    pub whiteouts: WhiteoutFormat,
    /// Device node policy.
    pub devices: DevicePolicy,
    /// Which ids the store holds and how image ids are stored.
    pub ids: IdMap,
}

impl UnpackOptions {
    /// Rootful: ids as they are, trusted overlay xattrs, devices refused.
    pub fn rootful() -> Self {
        UnpackOptions {
            whiteouts: WhiteoutFormat::OverlayTrusted,
            devices: DevicePolicy::Refuse,
            ids: IdMap::identity(),
        }
    }

    /// Rootless, inside the user namespace whose ids are `ids`: user
    /// overlay xattrs, devices refused.
    pub fn rootless(ids: IdMap) -> Self {
        UnpackOptions {
            whiteouts: WhiteoutFormat::OverlayUser,
            devices: DevicePolicy::Refuse,
            ids,
        }
    }
}

/// What unpacking a layer found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnpackSummary {
    /// sha256 of the uncompressed stream.
    pub diff_id: Digest,
    /// Bytes of uncompressed stream.
    pub tar_size: u64,
    /// Tar entries unpacked.
    pub entries: u64,
    /// Bytes of regular file data written (hard links counted once).
    pub disk_size: u64,
}

/// Unpacks the uncompressed tar stream `tar` into the existing (empty)
/// directory `dest`. `layer` names the layer in errors. On error, `dest`
/// holds a partial tree the caller must discard (the layer store unpacks
/// into a staging directory for that).
pub fn unpack(
    tar: impl Read,
    dest: &Path,
    layer: &Digest,
    opts: &UnpackOptions,
) -> Result<UnpackSummary> {
    let fd = sys::open_dir(dest).map_err(io_err("opening", dest))?;
    unpack_at(tar, std::os::fd::AsFd::as_fd(&fd), layer, opts)
}

/// [`unpack`] into a directory fd.
pub(crate) fn unpack_at(
    tar: impl Read,
    dest: BorrowedFd,
    layer: &Digest,
    opts: &UnpackOptions,
) -> Result<UnpackSummary> {
    let root =
        sys::openat(dest, c".", libc::O_RDONLY | libc::O_DIRECTORY, 0).map_err(|source| {
            StorageError::Io {
                op: "opening the layer directory for",
                path: layer.to_string().into(),
                source,
            }
        })?;
    let mut hashing = HashingReader::new(tar);
    let mut last: Option<String> = None;
    let corrupt = |after: &Option<String>, source| StorageError::CorruptTar {
        layer: layer.clone(),
        after: after.clone(),
        source,
    };
    let mut u = Unpacker::new(root, opts);
    {
        let mut archive = tar::Archive::new(BufReader::with_capacity(64 * 1024, &mut hashing));
        let entries = archive.entries().map_err(|e| corrupt(&None, e))?;
        for entry in entries {
            let mut entry = entry.map_err(|e| corrupt(&last, e))?;
            let shown = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
            one_entry(&mut u, &mut entry).map_err(|kind| StorageError::Entry {
                layer: layer.clone(),
                entry: shown.clone(),
                kind,
            })?;
            last = Some(shown);
        }
    }
    let (entries, disk_size) = (u.entries, u.disk_size);
    u.finish().map_err(|(entry, kind)| StorageError::Entry {
        layer: layer.clone(),
        entry,
        kind,
    })?;
    let (diff_id, tar_size) = hashing.finish().map_err(|e| corrupt(&last, e))?;
    Ok(UnpackSummary {
        diff_id,
        tar_size,
        entries,
        disk_size,
    })
}

fn one_entry<R: Read>(u: &mut Unpacker, entry: &mut tar::Entry<R>) -> Result<(), EntryError> {
    use tar::EntryType as T;
    let header = entry.header();
    let kind = match header.entry_type() {
        T::Regular | T::Continuous => EntryKind::File,
        T::Directory => EntryKind::Dir,
        T::Symlink => EntryKind::Symlink,
        T::Link => EntryKind::Hardlink,
        T::Fifo => EntryKind::Fifo,
        T::Char => EntryKind::Char,
        T::Block => EntryKind::Block,
        // Global PAX headers set defaults husk does not use; nothing else
        // about them (owner, mode) matters.
        T::XGlobalHeader => return Ok(()),
        T::GNUSparse => return Err(EntryError::Unsupported("GNU sparse file".into())),
        other => {
            return Err(EntryError::Unsupported(format!(
                "{:?} ({:?})",
                other,
                other.as_byte() as char
            )))
        }
    };
    let bad_field = |what: &'static str| {
        move |e| EntryError::Io {
            op: what,
            source: e,
        }
    };
    let raw = header.as_bytes();
    let mode = lenient(header.mode().map(u64::from), &raw[100..108])
        .map_err(bad_field("reading the mode"))? as u32
        & 0o7777;
    let uid = lenient(header.uid(), &raw[108..116]).map_err(bad_field("reading the uid"))?;
    let gid = lenient(header.gid(), &raw[116..124]).map_err(bad_field("reading the gid"))?;
    let mtime = lenient(header.mtime(), &raw[136..148]).map_err(bad_field("reading the mtime"))?;
    let mut mtime = sys::timespec(mtime.min(i64::MAX as u64) as i64, 0);
    let device = if matches!(kind, EntryKind::Char | EntryKind::Block) {
        (
            header
                .device_major()
                .map_err(bad_field("reading the device"))?
                .unwrap_or(0),
            header
                .device_minor()
                .map_err(bad_field("reading the device"))?
                .unwrap_or(0),
        )
    } else {
        (0, 0)
    };
    let mut xattrs = Vec::new();
    if let Some(exts) = entry
        .pax_extensions()
        .map_err(bad_field("reading PAX records"))?
    {
        for ext in exts {
            let ext = ext.map_err(bad_field("reading PAX records"))?;
            let key = ext.key_bytes();
            if let Some(name) = key.strip_prefix(b"SCHILY.xattr.") {
                let n = cstr(name).map_err(bad_field("reading an xattr name"))?;
                xattrs.push((n, ext.value_bytes().to_vec()));
            } else if key == b"mtime" {
                if let Some(t) = parse_pax_time(ext.value_bytes()) {
                    mtime = t;
                }
            }
        }
    }
    let (uid, gid) = u.owner(uid, gid)?;
    let meta = Meta {
        mode,
        uid,
        gid,
        mtime,
        xattrs,
    };
    let rel = name::normalize(&entry.path_bytes())?;
    let link = entry.link_name_bytes().map(|l| l.into_owned());
    let size = if kind == EntryKind::File {
        entry.size()
    } else {
        0
    };
    let item = Item {
        rel: &rel,
        kind,
        meta,
        link: link.as_deref(),
        device,
        size,
    };
    u.create(&item, entry)
}

/// A numeric header field, with an empty one (all NUL or spaces, as some
/// writers leave fields they do not use) read as 0 like GNU tar and Go do.
fn lenient(parsed: std::io::Result<u64>, raw: &[u8]) -> std::io::Result<u64> {
    match parsed {
        Ok(v) => Ok(v),
        Err(_) if raw.iter().all(|&b| b == 0 || b == b' ') => Ok(0),
        Err(e) => Err(e),
    }
}

/// A PAX time (`1234567890.5`, `-12.25`) as a timespec.
fn parse_pax_time(v: &[u8]) -> Option<libc::timespec> {
    let s = std::str::from_utf8(v).ok()?;
    let (neg, s) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s),
    };
    let (secs, frac) = s.split_once('.').unwrap_or((s, ""));
    let secs: i64 = secs.parse().ok()?;
    let digits: String = frac.chars().take(9).collect();
    if !digits.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let nsec: i64 = if digits.is_empty() {
        0
    } else {
        format!("{digits:0<9}").parse().ok()?
    };
    Some(if neg && nsec > 0 {
        sys::timespec(-secs - 1, 1_000_000_000 - nsec)
    } else if neg {
        sys::timespec(-secs, 0)
    } else {
        sys::timespec(secs, nsec)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pax_times() {
        let t = parse_pax_time(b"1234567890.5").unwrap();
        assert_eq!((t.tv_sec, t.tv_nsec), (1234567890, 500_000_000));
        let t = parse_pax_time(b"946684800").unwrap();
        assert_eq!((t.tv_sec, t.tv_nsec), (946684800, 0));
        let t = parse_pax_time(b"-1.25").unwrap();
        assert_eq!((t.tv_sec, t.tv_nsec), (-2, 750_000_000));
        assert!(parse_pax_time(b"x").is_none());
    }
}
