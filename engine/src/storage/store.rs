//! The store: one root directory holding blobs, layers and container
//! layers, opened with explicit options (rootless or not, driver, ids,
//! device policy).

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use super::blobs::BlobStore;
use super::chain_id::ChainId;
use super::containers::ContainerStore;
use super::driver::{self, Driver, Probe};
use super::error::{io_err, Result, StorageError};
use super::idmap::IdMap;
use super::layers::{LayerInfo, LayerSource, LayerStore};
use super::lock::{Lock, LockMode};
use super::staging;
use super::unpack::{DevicePolicy, UnpackOptions, WhiteoutFormat};

/// How to open a store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreOptions {
    /// The store is used from a user namespace (rootless): overlay with
    /// `userxattr`, `user.overlay.*` xattrs.
    pub rootless: bool,
    /// A forced driver (`--storage-driver`); None picks overlay where the
    /// probe says it works, else vfs.
    pub driver: Option<Driver>,
    /// The ids the store holds.
    pub ids: IdMap,
    /// What to do with device nodes in layers.
    pub devices: DevicePolicy,
    /// Write data back before renaming objects into place (one fdatasync
    /// per blob, one syncfs per layer or vfs rootfs). Off only for
    /// throwaway stores.
    pub sync: bool,
}

impl StoreOptions {
    /// A rootful store: every id, devices refused, synced.
    pub fn rootful() -> Self {
        StoreOptions {
            rootless: false,
            driver: None,
            ids: IdMap::identity(),
            devices: DevicePolicy::Refuse,
            sync: true,
        }
    }

    /// A rootless store used inside the user namespace whose ids are `ids`.
    pub fn rootless(ids: IdMap) -> Self {
        StoreOptions {
            rootless: true,
            ids,
            ..StoreOptions::rootful()
        }
    }
}

/// An open store.
#[derive(Debug, Clone)]
pub struct Store {
    root: PathBuf,
    opts: StoreOptions,
    probe: Probe,
    driver: Driver,
    blobs: BlobStore,
    layers: LayerStore,
    containers: ContainerStore,
}

impl Store {
    /// Opens (creating if needed) the store at `root`: makes the
    /// directories, removes leftovers of killed processes from the staging
    /// directories, and settles the driver (probing the kernel once per
    /// kernel release; the answer is cached in `<root>/driver.json`).
    pub fn open(root: &Path, opts: StoreOptions) -> Result<Store> {
        if !root.exists() {
            std::fs::create_dir_all(root).map_err(io_err("creating", root))?;
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(root, std::fs::Permissions::from_mode(0o700))
                .map_err(io_err("setting the mode of", root))?;
        }
        let locks = root.join("locks");
        for d in [&locks, &root.join("tmp")] {
            std::fs::create_dir_all(d).map_err(io_err("creating", d))?;
        }
        staging::sweep(&root.join("tmp"))?;
        let probe = driver::probe_cached(root, opts.rootless)?;
        let driver = match opts.driver {
            Some(Driver::Overlay) => {
                if let Some(why) = &probe.overlay_error {
                    return Err(StorageError::OverlayUnavailable(why.clone()));
                }
                Driver::Overlay
            }
            Some(d) => d,
            None => probe.best_driver(),
        };
        let whiteouts = match (probe.whiteouts, opts.rootless) {
            (false, _) => WhiteoutFormat::Oci,
            (true, true) => WhiteoutFormat::OverlayUser,
            (true, false) => WhiteoutFormat::OverlayTrusted,
        };
        let unpack = UnpackOptions {
            whiteouts,
            devices: opts.devices,
            ids: opts.ids.clone(),
        };
        let blobs = BlobStore::new(root, &locks, opts.sync)?;
        staging::sweep(blobs.tmp_dir())?;
        let layers = LayerStore::new(root, &locks, unpack, opts.sync)?;
        let containers =
            ContainerStore::new(root, &locks, layers.clone(), opts.rootless, opts.sync)?;
        Ok(Store {
            root: root.to_owned(),
            opts,
            probe,
            driver,
            blobs,
            layers,
            containers,
        })
    }

    /// The root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The options it was opened with.
    pub fn options(&self) -> &StoreOptions {
        &self.opts
    }

    /// The driver new containers get.
    pub fn driver(&self) -> Driver {
        self.driver
    }

    /// What the driver probe found.
    pub fn probe(&self) -> &Probe {
        &self.probe
    }

    /// The blob store.
    pub fn blobs(&self) -> &BlobStore {
        &self.blobs
    }

    /// The layer store.
    pub fn layers(&self) -> &LayerStore {
        &self.layers
    }

    /// The container layers.
    pub fn containers(&self) -> &ContainerStore {
        &self.containers
    }

    /// Ensures every layer of an image (base first) is unpacked from its
    /// blob; returns their records, base first. The last one's chain id is
    /// what [`ContainerStore::create`] takes.
    pub fn ensure_image_layers(&self, layers: &[LayerSource]) -> Result<Vec<LayerInfo>> {
        let mut out: Vec<LayerInfo> = Vec::with_capacity(layers.len());
        for src in layers {
            let parent = out.last().map(|l| l.chain_id.clone());
            out.push(self.layers.ensure(&self.blobs, parent.as_ref(), src)?);
        }
        Ok(out)
    }

    /// Removes every layer not in `keep` (and not below a kept layer, and
    /// not under a container); returns what was removed. The engine passes
    /// the top layers of the images it still has, holding
    /// [`Store::lock`] exclusively so no pull adds a reference meanwhile.
    pub fn remove_unreferenced_layers(&self, keep: &HashSet<ChainId>) -> Result<Vec<ChainId>> {
        let mut keep = keep.clone();
        keep.extend(self.containers.referenced_layers()?);
        self.layers.remove_unreferenced(&keep)
    }

    /// The store-wide lock (`<root>/locks/store.lock`): the engine holds it
    /// shared while it pulls and records an image, exclusive while it
    /// decides what is unreferenced and removes it. The storage calls do not
    /// take it themselves (flock is not re-entrant across opens).
    pub fn lock(&self, mode: LockMode) -> Result<Lock> {
        Lock::acquire(&self.root.join("locks"), "store.lock", mode, false)
    }

    /// Like [`Store::lock`], but None at once when another process holds
    /// it in a conflicting mode.
    pub fn try_lock(&self, mode: LockMode) -> Result<Option<Lock>> {
        Lock::try_acquire(&self.root.join("locks"), "store.lock", mode, false)
    }

    /// Removes leftovers of killed processes from the staging directories;
    /// returns how many entries went.
    pub fn sweep(&self) -> Result<usize> {
        Ok(staging::sweep(&self.root.join("tmp"))? + staging::sweep(self.blobs.tmp_dir())?)
    }
}
