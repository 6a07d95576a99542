//! The shared layer store: `<root>/layers/<chain-id hex>/` holds one
//! unpacked layer (`diff/`, in overlay's form) and its metadata
//! (`layer.json`); `<root>/layers/l/<short>` links to each `diff/` so that
//! overlay's lowerdir option stays short.
//!
//! A layer is unpacked exactly once: [`LayerStore::ensure_from`] takes the
//! layer's lock, unpacks into a staging directory under `<root>/tmp` and
//! renames it into place, so a layer directory is complete or absent.
//! Concurrent callers for one layer wait on the lock and reuse the result;
//! a caller killed midway leaves an unlocked staging directory that the next
//! sweep removes.

use std::collections::{HashMap, HashSet};
use std::io::{self, Read, Write};
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::image::digest::Digest;
use crate::image::media::Compression;

use super::blobs::BlobStore;
use super::chain_id::ChainId;
use super::compress::decompress;
use super::error::{io_err, Result, StorageError};
use super::lock::{lock_name, Lock, LockMode};
use super::staging::{self, Staging};
use super::sys::{self, cstr};
use super::unpack::{self, UnpackOptions, WhiteoutFormat};

/// Name of a layer's metadata file.
const META: &str = "layer.json";
/// Name of the directory holding a layer's content.
const DIFF: &str = "diff";
/// Name of the short-link directory inside `<root>/layers`.
const LINKS: &str = "l";

/// What the store knows about one layer (`layer.json`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LayerInfo {
    /// The layer's chain id (its directory name).
    pub chain_id: ChainId,
    /// sha256 of the uncompressed tar, checked against the image config.
    pub diff_id: Digest,
    /// The layer below, if any.
    pub parent: Option<ChainId>,
    /// The blob it was unpacked from, when known.
    pub blob: Option<Digest>,
    /// Bytes of uncompressed tar.
    pub tar_size: u64,
    /// Bytes of regular file data on disk (hard links once).
    pub disk_size: u64,
    /// Tar entries.
    pub entries: u64,
    /// How its whiteouts are stored.
    pub whiteouts: WhiteoutFormat,
    /// When it was unpacked (seconds since the epoch).
    pub created: u64,
}

/// One layer of an image to ensure: the blob it comes from and its diff id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerSource {
    /// The (compressed) layer blob in the blob store.
    pub blob: Digest,
    /// Its compression.
    pub compression: Compression,
    /// The diff id the image config gives for it.
    pub diff_id: Digest,
}

/// The layer store under `<root>/layers`.
#[derive(Debug, Clone)]
pub struct LayerStore {
    dir: PathBuf,
    links: PathBuf,
    tmp: PathBuf,
    locks: PathBuf,
    opts: UnpackOptions,
    sync: bool,
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

impl LayerStore {
    /// The layer store of a root; creates its directories.
    pub(crate) fn new(
        root: &Path,
        locks: &Path,
        opts: UnpackOptions,
        sync: bool,
    ) -> Result<LayerStore> {
        let dir = root.join("layers");
        let links = dir.join(LINKS);
        let tmp = root.join("tmp");
        for d in [&links, &tmp] {
            std::fs::create_dir_all(d).map_err(io_err("creating", d))?;
        }
        Ok(LayerStore {
            dir,
            links,
            tmp,
            locks: locks.to_owned(),
            opts,
            sync,
        })
    }

    /// How this store unpacks layers.
    pub fn unpack_options(&self) -> &UnpackOptions {
        &self.opts
    }

    /// `<root>/layers`.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// A layer's directory.
    pub fn layer_dir(&self, id: &ChainId) -> PathBuf {
        self.dir.join(id.hex())
    }

    /// A layer's content (overlay's lowerdir).
    pub fn diff_path(&self, id: &ChainId) -> PathBuf {
        self.layer_dir(id).join(DIFF)
    }

    /// A layer's short link, `<root>/layers/l/<short>` (links to its
    /// `diff`).
    pub fn link_path(&self, id: &ChainId) -> PathBuf {
        self.links.join(id.short())
    }

    /// Whether the layer is stored.
    pub fn exists(&self, id: &ChainId) -> bool {
        self.layer_dir(id).join(META).is_file()
    }

    /// The layer's metadata.
    pub fn get(&self, id: &ChainId) -> Result<LayerInfo> {
        let p = self.layer_dir(id).join(META);
        let bytes = match std::fs::read(&p) {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(StorageError::LayerNotFound(id.clone()))
            }
            Err(e) => return Err(io_err("reading", p)(e)),
        };
        serde_json::from_slice(&bytes).map_err(|e| StorageError::BadMetadata {
            path: p,
            reason: e.to_string(),
        })
    }

    /// A layer and everything below it, top first.
    pub fn lineage(&self, top: &ChainId) -> Result<Vec<LayerInfo>> {
        let mut out = vec![self.get(top)?];
        while let Some(p) = out.last().and_then(|l| l.parent.clone()) {
            out.push(self.get(&p)?);
        }
        Ok(out)
    }

    /// Every stored layer, sorted by chain id.
    pub fn list(&self) -> Result<Vec<LayerInfo>> {
        let mut out = Vec::new();
        let rd = std::fs::read_dir(&self.dir).map_err(io_err("listing", &self.dir))?;
        for e in rd {
            let e = e.map_err(io_err("listing", &self.dir))?;
            let name = e.file_name();
            let Some(hex) = name.to_str() else { continue };
            let Ok(id) = ChainId::parse(&format!("sha256:{hex}")) else {
                continue;
            };
            match self.get(&id) {
                Ok(l) => out.push(l),
                // Removed by someone else since the listing.
                Err(StorageError::LayerNotFound(_)) => {}
                Err(e) => return Err(e),
            }
        }
        out.sort_by(|a, b| a.chain_id.cmp(&b.chain_id));
        Ok(out)
    }

    /// Ensures the layer `src` on top of `parent` is unpacked, reading its
    /// blob from `blobs`.
    pub fn ensure(
        &self,
        blobs: &BlobStore,
        parent: Option<&ChainId>,
        src: &LayerSource,
    ) -> Result<LayerInfo> {
        let id = ChainId::of(parent, &src.diff_id);
        if let Some(l) = self.existing(&id)? {
            return Ok(l);
        }
        let file = blobs.open(&src.blob)?;
        self.ensure_from(parent, &src.diff_id, Some(&src.blob), src.compression, file)
    }

    /// Ensures the layer with diff id `diff_id` on top of `parent` is
    /// unpacked, reading the (compressed) layer from `blob_stream` if it is
    /// not stored yet. `blob` names the blob in the metadata and in errors.
    /// The diff id is checked while unpacking; on a mismatch the layer is
    /// discarded. Unpacking can run while the blob is still downloading
    /// (pass a reader of the download).
    pub fn ensure_from(
        &self,
        parent: Option<&ChainId>,
        diff_id: &Digest,
        blob: Option<&Digest>,
        compression: Compression,
        blob_stream: impl Read,
    ) -> Result<LayerInfo> {
        let id = ChainId::of(parent, diff_id);
        if let Some(p) = parent {
            if !self.exists(p) {
                return Err(StorageError::ParentMissing {
                    layer: id,
                    parent: p.clone(),
                });
            }
        }
        if let Some(l) = self.existing(&id)? {
            return Ok(l);
        }
        let _lock = Lock::acquire(
            &self.locks,
            &lock_name("layer", id.hex()),
            LockMode::Exclusive,
            true,
        )?;
        if let Some(l) = self.existing(&id)? {
            return Ok(l);
        }
        // Whatever a killed caller left (of this layer or another) goes
        // before we add our own staging directory.
        staging::sweep(&self.tmp)?;
        let label = blob.unwrap_or(diff_id);
        let stage = Staging::create(&self.tmp, &format!("layer-{}", &id.hex()[..16]), 0o700)?;
        let diff_path = stage.path().join(DIFF);
        sys::mkdirat(stage.fd(), c"diff", 0o755).map_err(io_err("creating", &diff_path))?;
        let diff = sys::open_dir_at(stage.fd(), c"diff").map_err(io_err("opening", &diff_path))?;
        if let Some((uid, gid)) = self.opts.ids.shifted_root() {
            sys::fchown(diff.as_fd(), uid, gid)
                .map_err(io_err("setting the owner of", &diff_path))?;
        }
        let stream =
            decompress(blob_stream, compression).map_err(|source| StorageError::CorruptTar {
                layer: label.clone(),
                after: None,
                source,
            })?;
        let summary = unpack::unpack_at(stream, diff.as_fd(), label, &self.opts)?;
        if summary.diff_id != *diff_id {
            return Err(StorageError::DiffIdMismatch {
                layer: label.clone(),
                expected: diff_id.clone(),
                actual: summary.diff_id,
            });
        }
        let info = LayerInfo {
            chain_id: id.clone(),
            diff_id: diff_id.clone(),
            parent: parent.cloned(),
            blob: blob.cloned(),
            tar_size: summary.tar_size,
            disk_size: summary.disk_size,
            entries: summary.entries,
            whiteouts: self.opts.whiteouts,
            created: now(),
        };
        let meta_path = stage.path().join(META);
        let json = serde_json::to_vec_pretty(&info).map_err(|e| StorageError::BadMetadata {
            path: meta_path.clone(),
            reason: e.to_string(),
        })?;
        write_new(&meta_path, &json)?;
        if self.sync {
            // One writeback for the whole layer instead of an fsync per
            // file: the rename below must not outlive its content in a crash.
            sys::syncfs(stage.fd()).map_err(io_err("syncing", stage.path()))?;
        }
        self.make_link(&id)?;
        let dir = sys::open_dir(&self.dir).map_err(io_err("opening", &self.dir))?;
        stage.commit(dir.as_fd(), id.hex(), &self.layer_dir(&id))?;
        self.get(&id)
    }

    /// The layer if it is stored (making sure its short link is there).
    fn existing(&self, id: &ChainId) -> Result<Option<LayerInfo>> {
        match self.get(id) {
            Ok(l) => {
                self.make_link(id)?;
                Ok(Some(l))
            }
            Err(StorageError::LayerNotFound(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Creates `l/<short> -> ../<hex>/diff` unless it is there.
    fn make_link(&self, id: &ChainId) -> Result<()> {
        let link = self.link_path(id);
        let target = format!("../{}/{DIFF}", id.hex());
        let err = |op| io_err(op, link.clone());
        let dir = sys::open_dir(&self.links).map_err(io_err("opening", &self.links))?;
        let name = cstr(id.short().as_bytes()).map_err(err("creating"))?;
        let t = cstr(target.as_bytes()).map_err(err("creating"))?;
        match sys::symlinkat(&t, dir.as_fd(), &name) {
            Ok(()) => Ok(()),
            Err(e) if e.raw_os_error() == Some(libc::EEXIST) => {
                let have = sys::readlinkat(dir.as_fd(), &name).map_err(err("reading"))?;
                if have == target.as_bytes() {
                    return Ok(());
                }
                // Not ours (or damaged): replace it.
                sys::unlinkat(dir.as_fd(), &name, false).map_err(err("replacing"))?;
                sys::symlinkat(&t, dir.as_fd(), &name).map_err(err("creating"))
            }
            Err(e) => Err(err("creating")(e)),
        }
    }

    /// Removes a layer (its directory and short link); false if it was not
    /// stored. A layer that is the parent of another stored layer is kept
    /// and the call fails: remove the children first.
    pub fn remove(&self, id: &ChainId) -> Result<bool> {
        if let Some(child) = self
            .list()?
            .into_iter()
            .find(|l| l.parent.as_ref() == Some(id))
        {
            return Err(StorageError::LayerUnusable {
                layer: id.clone(),
                reason: format!(
                    "it is the parent of layer {}; remove that first",
                    child.chain_id
                ),
            });
        }
        self.remove_unchecked(id)
    }

    fn remove_unchecked(&self, id: &ChainId) -> Result<bool> {
        let _lock = Lock::acquire(
            &self.locks,
            &lock_name("layer", id.hex()),
            LockMode::Exclusive,
            true,
        )?;
        let dir = sys::open_dir(&self.dir).map_err(io_err("opening", &self.dir))?;
        let removed =
            staging::remove_dir_atomically(dir.as_fd(), id.hex(), &self.tmp, &self.layer_dir(id))?;
        let links = sys::open_dir(&self.links).map_err(io_err("opening", &self.links))?;
        let name = cstr(id.short().as_bytes()).map_err(io_err("removing", self.link_path(id)))?;
        match sys::unlinkat(links.as_fd(), &name, false) {
            Err(e) if e.raw_os_error() != Some(libc::ENOENT) => {
                Err(io_err("removing", self.link_path(id))(e))
            }
            _ => Ok(removed),
        }
    }

    /// Removes every layer that is neither in `keep` nor below a layer in
    /// `keep`; returns the removed chain ids (children before parents).
    pub fn remove_unreferenced(&self, keep: &HashSet<ChainId>) -> Result<Vec<ChainId>> {
        let all = self.list()?;
        let parents: HashMap<ChainId, Option<ChainId>> = all
            .iter()
            .map(|l| (l.chain_id.clone(), l.parent.clone()))
            .collect();
        let mut kept: HashSet<ChainId> = HashSet::new();
        for k in keep {
            let mut cur = Some(k.clone());
            while let Some(c) = cur {
                if !kept.insert(c.clone()) {
                    break;
                }
                cur = parents.get(&c).cloned().flatten();
            }
        }
        // Depth from the base decides the order: children go first.
        let depth = |id: &ChainId| {
            let mut n = 0;
            let mut cur = parents.get(id).cloned().flatten();
            while let Some(c) = cur {
                n += 1;
                cur = parents.get(&c).cloned().flatten();
            }
            n
        };
        let mut doomed: Vec<(usize, ChainId)> = all
            .into_iter()
            .filter(|l| !kept.contains(&l.chain_id))
            .map(|l| (depth(&l.chain_id), l.chain_id))
            .collect();
        doomed.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
        let mut removed = Vec::new();
        for (_, id) in doomed {
            if self.remove_unchecked(&id)? {
                removed.push(id);
            }
        }
        self.remove_dangling_links()?;
        Ok(removed)
    }

    /// Removes short links whose layer is gone (a process killed between
    /// making the link and renaming its layer into place leaves one).
    fn remove_dangling_links(&self) -> Result<()> {
        let dir = sys::open_dir(&self.links).map_err(io_err("opening", &self.links))?;
        for name in sys::list_dir(dir.as_fd()).map_err(io_err("listing", &self.links))? {
            let Ok(target) = sys::readlinkat(dir.as_fd(), &name) else {
                continue;
            };
            // `../<hex>/diff`: is `<root>/layers/<hex>` there?
            let hex = target
                .strip_prefix(b"../")
                .and_then(|t| t.strip_suffix(b"/diff"))
                .map(|h| String::from_utf8_lossy(h).into_owned());
            let alive = hex.is_some_and(|h| self.dir.join(h).join(META).is_file());
            if !alive {
                let _ = sys::unlinkat(dir.as_fd(), &name, false);
            }
        }
        Ok(())
    }
}

/// Writes a new file (in a staging directory the caller owns).
fn write_new(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(io_err("creating", path))?;
    f.write_all(bytes).map_err(io_err("writing", path))
}
