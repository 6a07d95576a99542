//! Shared test support: reading the fixture OCI layouts, fresh stores, and
//! re-running this test binary as a helper process (for kill -9 and
//! rootless tests).

use std::collections::HashMap;
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;

use husk_engine::image::config::ImageConfig;
use husk_engine::image::digest::Digest;
use husk_engine::image::manifest::{self, Descriptor, ManifestDoc};
use husk_engine::image::media;
use husk_engine::storage::{Driver, LayerSource, Store, StoreOptions};

/// Fails loudly unless the tests run as root (see docs/testing.md).
pub fn require_root(test: &str) {
    // SAFETY: geteuid has no preconditions and cannot fail.
    let euid = unsafe { libc::geteuid() };
    assert_eq!(
        euid, 0,
        "{test}: kernel-level storage tests need root (euid is {euid}); run them as root"
    );
}

/// One image of a fixture layout.
#[derive(Debug, Clone)]
pub struct Image {
    /// The layout directory.
    pub layout: PathBuf,
    /// The config.
    pub config: ImageConfig,
    /// The layer descriptors, base first.
    pub layers: Vec<Descriptor>,
}

impl Image {
    /// The layers as the store takes them.
    pub fn sources(&self) -> Vec<LayerSource> {
        self.layers
            .iter()
            .zip(&self.config.rootfs.diff_ids)
            .map(|(d, diff)| LayerSource {
                blob: d.digest.clone(),
                compression: media::layer_compression(&d.media_type).expect("layer media type"),
                diff_id: diff.clone(),
            })
            .collect()
    }

    /// A layer blob's path in the layout.
    pub fn blob_path(&self, d: &Digest) -> PathBuf {
        self.layout
            .join("blobs")
            .join(d.algorithm().name())
            .join(d.hex())
    }

    /// Copies every layer blob into the store (as a pull would).
    pub fn import(&self, store: &Store) {
        for l in &self.layers {
            let path = self.blob_path(&l.digest);
            store
                .blobs()
                .fetch_once(&l.digest, Some(l.size), |w| {
                    let mut f = File::open(&path)?;
                    std::io::copy(&mut f, w)?;
                    Ok(())
                })
                .unwrap_or_else(|e| panic!("importing {}: {e}", l.digest));
        }
    }
}

fn read_blob(layout: &Path, d: &Digest) -> Vec<u8> {
    let p = layout
        .join("blobs")
        .join(d.algorithm().name())
        .join(d.hex());
    let mut b = Vec::new();
    File::open(&p)
        .and_then(|mut f| f.read_to_end(&mut b))
        .unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    assert_eq!(Digest::sha256_of(&b), *d, "{} is damaged", p.display());
    b
}

/// Reads the tagged image of an OCI layout (the linux/amd64 entry of an
/// index).
pub fn read_layout(layout: &Path) -> Image {
    let index: manifest::Index =
        serde_json::from_slice(&std::fs::read(layout.join("index.json")).unwrap()).unwrap();
    let mut desc = index.manifests[0].clone();
    loop {
        let bytes = read_blob(layout, &desc.digest);
        match manifest::parse(&desc.media_type, &bytes).unwrap() {
            ManifestDoc::Index(i) => {
                desc = i
                    .manifests
                    .into_iter()
                    .find(|m| {
                        m.platform
                            .as_ref()
                            .is_some_and(|p| p.architecture == "amd64")
                    })
                    .expect("an amd64 entry");
            }
            ManifestDoc::Image(m) => {
                let config: ImageConfig =
                    serde_json::from_slice(&read_blob(layout, &m.config.digest)).unwrap();
                assert_eq!(config.rootfs.diff_ids.len(), m.layers.len());
                return Image {
                    layout: layout.to_owned(),
                    config,
                    layers: m.layers,
                };
            }
        }
    }
}

/// A fixture image by name.
pub fn fixture(name: &str) -> Image {
    read_layout(&husk_tests::fixtures::cached(name).layout_dir)
}

/// A fresh rootful store in its own temp dir, driver forced if given.
pub fn store(driver: Option<Driver>) -> (tempfile::TempDir, Store) {
    let t = tempfile::tempdir().unwrap();
    let opts = StoreOptions {
        driver,
        ..StoreOptions::rootful()
    };
    let s = Store::open(&t.path().join("store"), opts).unwrap();
    (t, s)
}

/// Every entry of a directory, recursively, as relative paths (for "is it
/// empty" checks with a useful message).
pub fn tree(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    fn walk(base: &Path, d: &Path, out: &mut Vec<String>) {
        let Ok(rd) = std::fs::read_dir(d) else { return };
        for e in rd.flatten() {
            let p = e.path();
            out.push(p.strip_prefix(base).unwrap().display().to_string());
            if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                walk(base, &p, out);
            }
        }
    }
    walk(dir, dir, &mut out);
    out.sort();
    out
}

/// Asserts that a store holds no layer, no staging leftovers and no blob
/// temporaries.
pub fn assert_no_layers_or_leftovers(store: &Store) {
    let root = store.root();
    assert!(
        store.layers().list().unwrap().is_empty(),
        "layers left: {:?}",
        tree(&root.join("layers"))
    );
    let layers_dir = tree(&root.join("layers"));
    assert_eq!(
        layers_dir,
        vec!["l".to_owned()],
        "layers/ holds more than the link directory"
    );
    assert!(tree(&root.join("layers/l")).is_empty(), "short links left");
    assert!(
        tree(&root.join("tmp")).is_empty(),
        "staging left: {:?}",
        tree(&root.join("tmp"))
    );
    assert!(
        tree(&root.join("blobs/tmp")).is_empty(),
        "blob temporaries left"
    );
}

/// The environment variable that turns this test binary into a helper.
pub const HELPER: &str = "HUSK_STORAGE_TEST_HELPER";

/// A command running this test binary as a helper in `mode`, with `env`.
pub fn helper_command(mode: &str, env: &[(&str, String)]) -> Command {
    let mut c = Command::new(std::env::current_exe().unwrap());
    c.args([
        "--exact",
        "common::helper_entry",
        "--nocapture",
        "--test-threads=1",
    ])
    .env(HELPER, mode);
    for (k, v) in env {
        c.env(k, v);
    }
    c
}

/// Runs in helper processes only: dispatches on the helper mode.
#[test]
fn helper_entry() {
    let Ok(mode) = std::env::var(HELPER) else {
        return;
    };
    let env: HashMap<String, String> = std::env::vars().collect();
    match mode.as_str() {
        "blob-write" => crate::crash::helper_blob_write(&env),
        "ensure-layer" => crate::crash::helper_ensure_layer(&env),
        "rootless" => crate::rootless::helper_rootless(&env),
        "pull" => crate::measure::helper_pull(&env),
        other => panic!("unknown helper mode {other}"),
    }
}
