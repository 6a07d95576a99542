//! The handle lifecycle operations work through: where things live, the
//! open catalog, the storage driver asked for, and husk's own executable
//! (re-executed as the shim and as the exit command).

use std::path::PathBuf;

use crate::catalog::{Catalog, CatalogError};
use crate::paths::Paths;
use crate::storage::{Driver, IdMap, StorageError, Store, StoreOptions};

/// One husk invocation's view of the store.
#[derive(Debug)]
pub struct Engine {
    /// Where things live.
    pub paths: Paths,
    /// The catalog.
    pub catalog: Catalog,
    /// `--storage-driver`, when given.
    pub driver: Option<String>,
    /// husk's executable.
    pub exe: PathBuf,
    /// Global flags to pass on to the husk commands the shim runs (the exit
    /// command), so they find the same store.
    pub global_args: Vec<String>,
    store: Option<Store>,
}

impl Engine {
    /// Opens the catalog at `paths`.
    pub fn open(paths: Paths, driver: Option<String>) -> Result<Engine, CatalogError> {
        let catalog = Catalog::open(&paths.catalog())?;
        let exe = std::fs::read_link("/proc/self/exe")
            .or_else(|_| std::env::current_exe())
            .unwrap_or_else(|_| PathBuf::from("husk"));
        let mut global_args = vec![
            "--root".to_owned(),
            paths.root.display().to_string(),
            "--runroot".to_owned(),
            paths.runroot.display().to_string(),
        ];
        if let Some(d) = &driver {
            global_args.push("--storage-driver".into());
            global_args.push(d.clone());
        }
        Ok(Engine {
            paths,
            catalog,
            driver,
            exe,
            global_args,
            store: None,
        })
    }

    /// The image and container store, opened on first use. Rootless, the
    /// caller must already be in husk's user namespace (the store holds the
    /// ids of that namespace).
    pub fn store(&mut self) -> Result<&Store, StorageError> {
        if self.store.is_none() {
            let mut opts = if self.paths.rootless {
                let ids = IdMap::current_namespace().map_err(|e| StorageError::Io {
                    op: "reading the user namespace's id map",
                    path: "/proc/self/uid_map".into(),
                    source: e,
                })?;
                StoreOptions::rootless(ids)
            } else {
                StoreOptions::rootful()
            };
            // The flag was checked when the command line was read.
            opts.driver = self
                .driver
                .as_deref()
                .and_then(|d| d.parse::<Driver>().ok());
            self.store = Some(Store::open(&self.paths.storage(), opts)?);
        }
        Ok(self.store.as_ref().expect("just opened"))
    }

    /// The runtime's state root, created if missing.
    pub fn runtime_root(&self) -> std::io::Result<husk_runtime::state::StateRoot> {
        let dir = self.paths.runtime_root();
        std::fs::create_dir_all(&dir)?;
        husk_runtime::state::StateRoot::open(dir).map_err(std::io::Error::other)
    }
}
