//! Per-container layers: `<root>/containers/<id>/` holds `container.json`
//! and either `upper/`, `work/` and `merged/` (overlay) or `rootfs/` (vfs, a
//! full copy of the image). Creation is staged and renamed into place;
//! mount, unmount and removal hold the container's lock.

use std::collections::HashSet;
use std::io;
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use super::chain_id::ChainId;
use super::changes::{self, Change};
use super::driver::Driver;
use super::error::{io_err, Result, StorageError};
use super::layers::{LayerInfo, LayerStore};
use super::lock::{lock_name, Lock, LockMode};
use super::overlay::{self, OverlayMount};
use super::staging::{self, Staging};
use super::sys;
use super::unpack::WhiteoutFormat;
use super::vfs;

const META: &str = "container.json";

/// What the store records about a container's layer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContainerLayer {
    /// The container id.
    pub id: String,
    /// The driver its rootfs was made with.
    pub driver: Driver,
    /// The image layers it sits on, top first (empty for an image without
    /// layers).
    pub layers: Vec<ChainId>,
    /// When it was created (seconds since the epoch).
    pub created: u64,
    /// Its overlay is mounted `volatile` (no syncs): for layers that go with
    /// their container (`--rm`), which a crash makes garbage anyway.
    #[serde(default)]
    pub volatile: bool,
    /// Rootful, a container with a user namespace of its own: the image
    /// layers are mounted idmapped through this mapping (see
    /// [`ContainerStore::set_idmap`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idmap: Option<LayerIdMap>,
}

/// The id mapping an idmapped container layer is seen through: the
/// container's user namespace maps, `(container, host, size)` triples.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LayerIdMap {
    /// uid map lines.
    pub uids: Vec<(u32, u32, u32)>,
    /// gid map lines.
    pub gids: Vec<(u32, u32, u32)>,
}

impl LayerIdMap {
    fn oci(lines: &[(u32, u32, u32)]) -> Vec<oci_spec::runtime::LinuxIdMapping> {
        lines
            .iter()
            .map(|&(c, h, n)| {
                oci_spec::runtime::LinuxIdMappingBuilder::default()
                    .container_id(c)
                    .host_id(h)
                    .size(n)
                    .build()
                    .expect("all fields set")
            })
            .collect()
    }

    /// The host id container id `id` maps to.
    fn host(lines: &[(u32, u32, u32)], id: u32) -> Option<u32> {
        lines.iter().find_map(|&(c, h, n)| {
            let off = id.checked_sub(c)?;
            (off < n).then(|| h + off)
        })
    }
}

/// The container layers under `<root>/containers`.
#[derive(Debug, Clone)]
pub struct ContainerStore {
    dir: PathBuf,
    tmp: PathBuf,
    locks: PathBuf,
    layers: LayerStore,
    rootless: bool,
    sync: bool,
}

/// Idmapped layer mounts attached at `<base>/0..count` for one overlay
/// mount; detached and removed when dropped.
struct StagedLowers {
    base: PathBuf,
    count: usize,
}

impl StagedLowers {
    /// The lower names relative to the container directory (`l/N`, as
    /// [`OverlayMount`] writes them).
    fn names(&self) -> Vec<String> {
        (0..self.count).map(|i| i.to_string()).collect()
    }
}

impl Drop for StagedLowers {
    fn drop(&mut self) {
        clear_staged(&self.base);
    }
}

/// Detaches whatever is attached at `<base>/*` and removes the (then
/// empty) directories, never recursively: a layer still attached there
/// must not be emptied.
fn clear_staged(base: &Path) {
    let Ok(rd) = std::fs::read_dir(base) else {
        return;
    };
    for e in rd.flatten() {
        let at = e.path();
        if let Ok(c) = sys::cpath(&at) {
            // SAFETY: `c` is a valid NUL-terminated path for the call.
            unsafe { libc::umount2(c.as_ptr(), libc::MNT_DETACH) };
        }
        let _ = std::fs::remove_dir(&at);
    }
    let _ = std::fs::remove_dir(base);
}

/// Checks that a container id can name a directory.
pub fn check_id(id: &str) -> Result<()> {
    let ok = !id.is_empty()
        && id.len() <= 128
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
        && !id.starts_with(['.', '-']);
    if ok {
        Ok(())
    } else {
        Err(StorageError::InvalidId(id.to_owned()))
    }
}

impl ContainerStore {
    pub(crate) fn new(
        root: &Path,
        locks: &Path,
        layers: LayerStore,
        rootless: bool,
        sync: bool,
    ) -> Result<Self> {
        let dir = root.join("containers");
        std::fs::create_dir_all(&dir).map_err(io_err("creating", &dir))?;
        Ok(ContainerStore {
            dir,
            tmp: root.join("tmp"),
            locks: locks.to_owned(),
            layers,
            rootless,
            sync,
        })
    }

    /// A container's directory.
    pub fn container_dir(&self, id: &str) -> PathBuf {
        self.dir.join(id)
    }

    /// The directory the container's processes see as `/`: `merged/`
    /// (overlay, once mounted) or `rootfs/` (vfs).
    pub fn rootfs_path(&self, c: &ContainerLayer) -> PathBuf {
        match c.driver {
            Driver::Overlay => self.container_dir(&c.id).join("merged"),
            Driver::Vfs => self.container_dir(&c.id).join("rootfs"),
        }
    }

    /// The directory holding what the container changed (`upper/`), or its
    /// whole tree (vfs `rootfs/`).
    pub fn changes_path(&self, c: &ContainerLayer) -> PathBuf {
        match c.driver {
            Driver::Overlay => self.container_dir(&c.id).join("upper"),
            Driver::Vfs => self.container_dir(&c.id).join("rootfs"),
        }
    }

    /// The record of a container's layer.
    pub fn get(&self, id: &str) -> Result<ContainerLayer> {
        check_id(id)?;
        let p = self.container_dir(id).join(META);
        let bytes = match std::fs::read(&p) {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(StorageError::ContainerNotFound(id.to_owned()))
            }
            Err(e) => return Err(io_err("reading", p)(e)),
        };
        serde_json::from_slice(&bytes).map_err(|e| StorageError::BadMetadata {
            path: p,
            reason: e.to_string(),
        })
    }

    /// Every container layer, sorted by id.
    pub fn list(&self) -> Result<Vec<ContainerLayer>> {
        let mut out = Vec::new();
        for e in std::fs::read_dir(&self.dir).map_err(io_err("listing", &self.dir))? {
            let e = e.map_err(io_err("listing", &self.dir))?;
            let Some(id) = e.file_name().to_str().map(str::to_owned) else {
                continue;
            };
            match self.get(&id) {
                Ok(c) => out.push(c),
                Err(StorageError::ContainerNotFound(_)) | Err(StorageError::InvalidId(_)) => {}
                Err(e) => return Err(e),
            }
        }
        out.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(out)
    }

    /// Every layer some container sits on.
    pub fn referenced_layers(&self) -> Result<HashSet<ChainId>> {
        Ok(self.list()?.into_iter().flat_map(|c| c.layers).collect())
    }

    fn lock(&self, id: &str) -> Result<Lock> {
        Lock::acquire(
            &self.locks,
            &lock_name("container", id),
            LockMode::Exclusive,
            true,
        )
    }

    /// Creates the layer of container `id` on top of the image whose top
    /// layer is `image_top` (None: an image without layers). vfs copies the
    /// image now; overlay only makes empty upper and work directories.
    pub fn create(
        &self,
        id: &str,
        image_top: Option<&ChainId>,
        driver: Driver,
    ) -> Result<ContainerLayer> {
        self.create_with(id, image_top, driver, false)
    }

    /// [`ContainerStore::create`], with `volatile` overlay mounts (see
    /// [`ContainerLayer::volatile`]).
    pub fn create_with(
        &self,
        id: &str,
        image_top: Option<&ChainId>,
        driver: Driver,
        volatile: bool,
    ) -> Result<ContainerLayer> {
        check_id(id)?;
        let _lock = self.lock(id)?;
        if self.container_dir(id).exists() {
            return Err(StorageError::ContainerExists(id.to_owned()));
        }
        let lineage: Vec<LayerInfo> = match image_top {
            Some(top) => self.layers.lineage(top)?,
            None => Vec::new(),
        };
        if driver == Driver::Overlay {
            if let Some(l) = lineage.iter().find(|l| l.whiteouts == WhiteoutFormat::Oci) {
                return Err(StorageError::LayerUnusable {
                    layer: l.chain_id.clone(),
                    reason: "it was unpacked with OCI whiteout files (the kernel could not make \
                             overlay whiteouts then), which overlay cannot read; use the vfs driver \
                             or remove the image and pull it again"
                        .into(),
                });
            }
        }
        let stage = Staging::create(&self.tmp, &format!("container-{id}"), 0o700)?;
        let sp = stage.path().to_owned();
        let err = |op, p: &Path| io_err(op, p.to_owned());
        let mk = |name: &std::ffi::CStr, mode| {
            let p = sp.join(name.to_string_lossy().as_ref());
            sys::mkdirat(stage.fd(), name, mode).map_err(err("creating", &p))?;
            sys::open_dir_at(stage.fd(), name).map_err(err("opening", &p))
        };
        let top_diff = match lineage.first() {
            Some(l) => Some(
                sys::open_dir(&self.layers.diff_path(&l.chain_id))
                    .map_err(err("opening", &self.layers.diff_path(&l.chain_id)))?,
            ),
            None => None,
        };
        match driver {
            Driver::Overlay => {
                let upper = mk(c"upper", 0o755)?;
                // overlay shows the upper root's owner and mode as `/`.
                if let Some(top) = &top_diff {
                    vfs::copy_meta(top.as_fd(), upper.as_fd()).map_err(err(
                        "copying the image root's attributes to",
                        &sp.join("upper"),
                    ))?;
                }
                mk(c"work", 0o700)?;
                mk(c"merged", 0o755)?;
                if lineage.is_empty() {
                    mk(c"empty", 0o755)?;
                }
            }
            Driver::Vfs => {
                let rootfs = mk(c"rootfs", 0o755)?;
                for l in lineage.iter().rev() {
                    let diff = self.layers.diff_path(&l.chain_id);
                    let src = sys::open_dir(&diff).map_err(err("opening", &diff))?;
                    vfs::apply_layer(src.as_fd(), rootfs.as_fd(), l.whiteouts).map_err(
                        |source| StorageError::Io {
                            op: "copying layer into the vfs rootfs",
                            path: diff.clone(),
                            source,
                        },
                    )?;
                }
                if self.sync {
                    sys::syncfs(stage.fd()).map_err(err("syncing", &sp))?;
                }
            }
        }
        let c = ContainerLayer {
            id: id.to_owned(),
            driver,
            layers: lineage.iter().map(|l| l.chain_id.clone()).collect(),
            created: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0),
            volatile,
            idmap: None,
        };
        let json = serde_json::to_vec_pretty(&c).map_err(|e| StorageError::BadMetadata {
            path: sp.join(META),
            reason: e.to_string(),
        })?;
        std::fs::write(sp.join(META), json).map_err(err("writing", &sp.join(META)))?;
        let dir = sys::open_dir(&self.dir).map_err(err("opening", &self.dir))?;
        if !stage.commit(dir.as_fd(), id, &self.container_dir(id))? {
            return Err(StorageError::ContainerExists(id.to_owned()));
        }
        Ok(c)
    }

    /// Makes the container's rootfs available and returns its path: mounts
    /// the overlay (once; a mounted one is returned as is) or, for vfs,
    /// returns the copy. Rootless, the mount lives in the caller's mount
    /// namespace.
    pub fn mount(&self, id: &str) -> Result<PathBuf> {
        let _lock = self.lock(id)?;
        let c = self.get(id)?;
        let target = self.rootfs_path(&c);
        if c.driver == Driver::Vfs || overlay::is_mounted(&target) {
            return Ok(target);
        }
        for l in &c.layers {
            if !self.layers.exists(l) {
                return Err(StorageError::LayerNotFound(l.clone()));
            }
        }
        let cdir = self.container_dir(id);
        let (upper, work) = (cdir.join("upper"), cdir.join("work"));
        // Idmapped lowers are attached under `<cdir>/l/N` for the mount and
        // detached right after it (overlay keeps its own clones).
        let idmapped = match (&c.idmap, c.layers.is_empty()) {
            (Some(map), false) if !self.rootless => Some(self.idmapped_lowers(&c, map)?),
            _ => None,
        };
        let m = OverlayMount {
            layers_dir: if idmapped.is_some() {
                &cdir
            } else {
                self.layers.dir()
            },
            lowers: match &idmapped {
                Some(staged) => staged.names(),
                None => c.layers.iter().map(ChainId::short).collect(),
            },
            extra_lowers: if c.layers.is_empty() {
                vec![cdir.join("empty")]
            } else {
                vec![]
            },
            upper: &upper,
            work: &work,
            target: &target,
            userxattr: self.rootless,
            volatile: c.volatile,
        };
        if c.volatile {
            // A volatile upper that was mounted when the host went down is
            // marked by the kernel and refused; its container is garbage
            // then, and mounting it again for cleanup must still work.
            let _ = std::fs::remove_dir_all(work.join("work").join("incompat"));
        }
        // Kernels before 5.10 have no `volatile`: mount without it there.
        let mounted = match m.mount() {
            Err(_) if m.volatile => OverlayMount {
                volatile: false,
                ..m.clone()
            }
            .mount(),
            other => other,
        };
        mounted.map_err(|(options, source)| StorageError::Mount {
            id: id.to_owned(),
            target: target.clone(),
            options,
            source,
        })?;
        drop(idmapped);
        Ok(target)
    }

    /// Clones each image layer of `c` as a mount idmapped through `map`
    /// and attaches it at `<cdir>/l/<N>`, top first.
    fn idmapped_lowers(&self, c: &ContainerLayer, map: &LayerIdMap) -> Result<StagedLowers> {
        use husk_runtime::rootfs::detached;
        let cdir = self.container_dir(&c.id);
        let fail = |op: &'static str, path: &Path, e: std::io::Error| StorageError::Io {
            op,
            path: path.to_path_buf(),
            source: e,
        };
        let ns = husk_runtime::idmap::userns_fd(
            &LayerIdMap::oci(&map.uids),
            &LayerIdMap::oci(&map.gids),
        )
        .map_err(|e| {
            fail(
                "making a user namespace for the idmapped layers of",
                &cdir,
                io::Error::other(e.to_string()),
            )
        })?;
        let base = cdir.join("l");
        let mut staged = StagedLowers {
            base: base.clone(),
            count: 0,
        };
        clear_staged(&base);
        std::fs::create_dir(&base).map_err(|e| fail("creating", &base, e))?;
        for (i, l) in c.layers.iter().enumerate() {
            let src = self.layers.diff_path(l);
            let at = base.join(i.to_string());
            std::fs::create_dir(&at).map_err(|e| fail("creating", &at, e))?;
            let tree = detached::clone_tree(&src, false)
                .map_err(|e| fail("cloning layer", &src, io::Error::from(e)))?;
            detached::set_idmap(&tree, &ns).map_err(|e| {
                fail(
                    "idmapping (mount_setattr; the filesystem must support idmapped mounts, Linux 5.12+) layer",
                    &src,
                    io::Error::from(e),
                )
            })?;
            detached::attach_at(&tree, &at)
                .map_err(|e| fail("attaching idmapped layer at", &at, io::Error::from(e)))?;
            staged.count = i + 1;
        }
        Ok(staged)
    }

    /// Records that the container's image layers are seen through `map`
    /// (rootful, for a container with a user namespace of its own, so its
    /// root owns the image's files without a chown of the shared layers),
    /// or not (`None`). The upper directory's root is given to the mapped
    /// root, since overlay shows it as `/`. A mounted rootfs is mounted
    /// again so. The upper layer is not idmapped: what the container
    /// writes is stored with its host ids.
    pub fn set_idmap(&self, id: &str, map: Option<LayerIdMap>) -> Result<()> {
        {
            let _lock = self.lock(id)?;
            let mut c = self.get(id)?;
            if c.idmap == map || c.driver != Driver::Overlay || self.rootless {
                return Ok(());
            }
            let cdir = self.container_dir(id);
            let upper = cdir.join("upper");
            if let Some(m) = &map {
                use std::os::unix::fs::MetadataExt;
                let meta = std::fs::symlink_metadata(&upper).map_err(io_err("reading", &upper))?;
                let (u, g) = (
                    LayerIdMap::host(&m.uids, meta.uid()),
                    LayerIdMap::host(&m.gids, meta.gid()),
                );
                if let (Some(u), Some(g)) = (u, g) {
                    std::os::unix::fs::lchown(&upper, Some(u), Some(g))
                        .map_err(io_err("chowning", &upper))?;
                }
            }
            c.idmap = map;
            let p = cdir.join(META);
            let json = serde_json::to_vec_pretty(&c).map_err(|e| StorageError::BadMetadata {
                path: p.clone(),
                reason: e.to_string(),
            })?;
            let tmp = cdir.join(".container.json.tmp");
            std::fs::write(&tmp, json).map_err(io_err("writing", &tmp))?;
            std::fs::rename(&tmp, &p).map_err(io_err("renaming", &p))?;
            let target = self.rootfs_path(&c);
            if overlay::is_mounted(&target) {
                overlay::unmount(&target)
                    .map_err(|source| StorageError::Unmount { target, source })?;
            } else {
                return Ok(());
            }
        }
        self.mount(id).map(drop)
    }

    /// Unmounts an overlay rootfs (lazily when busy); false when it was not
    /// mounted (or is vfs).
    pub fn unmount(&self, id: &str) -> Result<bool> {
        let _lock = self.lock(id)?;
        let c = self.get(id)?;
        if c.driver == Driver::Vfs {
            return Ok(false);
        }
        let target = self.rootfs_path(&c);
        overlay::unmount(&target).map_err(|source| StorageError::Unmount { target, source })
    }

    /// Whether the container's overlay is mounted (in this mount namespace).
    pub fn is_mounted(&self, id: &str) -> Result<bool> {
        let c = self.get(id)?;
        Ok(c.driver == Driver::Overlay && overlay::is_mounted(&self.rootfs_path(&c)))
    }

    /// Unmounts and deletes everything of the container's layer; false if
    /// there was none.
    pub fn remove(&self, id: &str) -> Result<bool> {
        check_id(id)?;
        let _lock = self.lock(id)?;
        // Idmapped layers a crashed mount left attached must be detached
        // before anything below is deleted.
        clear_staged(&self.container_dir(id).join("l"));
        let merged = self.container_dir(id).join("merged");
        if overlay::is_mounted(&merged) {
            overlay::unmount(&merged).map_err(|source| StorageError::Unmount {
                target: merged.clone(),
                source,
            })?;
        }
        let dir = sys::open_dir(&self.dir).map_err(io_err("opening", &self.dir))?;
        staging::remove_dir_atomically(dir.as_fd(), id, &self.tmp, &self.container_dir(id))
    }

    /// Bytes of file data the container itself holds: its upper directory
    /// (overlay) or its whole copy (vfs).
    pub fn size(&self, id: &str) -> Result<u64> {
        let c = self.get(id)?;
        let p = self.changes_path(&c);
        let fd = sys::open_dir(&p).map_err(io_err("opening", &p))?;
        sys::disk_usage(fd.as_fd()).map_err(io_err("measuring", &p))
    }

    /// What the container changed relative to its image, for `husk diff`:
    /// sorted, `A` added, `C` changed, `D` deleted.
    pub fn changes(&self, id: &str) -> Result<Vec<Change>> {
        let c = self.get(id)?;
        let lowers: Vec<(PathBuf, WhiteoutFormat)> = c
            .layers
            .iter()
            .map(|l| {
                self.layers
                    .get(l)
                    .map(|info| (self.layers.diff_path(l), info.whiteouts))
            })
            .collect::<Result<_>>()?;
        let top = self.changes_path(&c);
        let r = match c.driver {
            Driver::Overlay => changes::overlay_changes(&top, &lowers),
            Driver::Vfs => changes::tree_changes(&top, &lowers),
        };
        r.map_err(|source| StorageError::Io {
            op: "comparing with its image",
            path: top,
            source,
        })
    }
}
