//! Helpers shared by the `image_*` end-to-end tests: fixtures pushed to a
//! real registry, a read-only overlay of an image's stored layers (taken
//! from `husk image inspect`'s GraphDriver) to check files against
//! `expected::*`, and views of the store on disk.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

use husk_tests::fixtures::expected::{CheckOptions, ExpectedRootfs, OwnerCheck};
use husk_tests::fixtures::{self};
use husk_tests::husk::Husk;
use husk_tests::registry::{PushedImage, Registry};
use husk_tests::rootless::TestUser;

/// A registry with the named fixtures pushed (each to a repository of its
/// name, tag `latest`).
pub fn registry_with(names: &[&str]) -> (Registry, Vec<PushedImage>) {
    let reg = Registry::start().unwrap_or_else(|e| panic!("starting the registry: {e}"));
    let pushed = names
        .iter()
        .map(|n| {
            let f = fixtures::cached(n);
            reg.push_layout(&f.layout_dir, &f.tag, n)
                .unwrap_or_else(|e| panic!("pushing {n}: {e}"))
        })
        .collect();
    (reg, pushed)
}

/// The config digest (image id) of a fixture for this host's platform.
pub fn fixture_id(name: &str) -> String {
    let f = fixtures::cached(name);
    let layout = &f.layout_dir;
    let read = |d: &str| -> serde_json::Value {
        let hex = d.strip_prefix("sha256:").unwrap();
        serde_json::from_slice(&std::fs::read(layout.join("blobs/sha256").join(hex)).unwrap())
            .unwrap()
    };
    let mut top = read(&f.digest);
    if top["manifests"].is_array() {
        let amd = top["manifests"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["platform"]["architecture"] == "amd64")
            .unwrap()
            .clone();
        top = read(amd["digest"].as_str().unwrap());
    }
    top["config"]["digest"]
        .as_str()
        .unwrap()
        .trim_start_matches("sha256:")
        .to_owned()
}

/// A read-only overlay of an image's layers, unmounted on drop.
pub struct Mounted {
    dir: tempfile::TempDir,
}

impl Mounted {
    /// Where the merged view is.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Mounted {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(self.dir.path()).status();
    }
}

/// Mounts the layers `husk image inspect` reports for `image` (the upper
/// layer on top of the lower ones), with `userxattr` for a rootless store.
pub fn mount_image(h: &Husk, image: &str) -> Mounted {
    let out = h.ok(&[
        "image",
        "inspect",
        "--format",
        "{{index .GraphDriver.Data \"UpperDir\"}}|{{index .GraphDriver.Data \"LowerDir\"}}",
        image,
    ]);
    let (upper, lower) = out.trim().split_once('|').unwrap();
    let mut lowers = vec![upper.to_owned()];
    if !lower.is_empty() && lower != "<no value>" {
        lowers.extend(lower.split(':').map(str::to_owned));
    }
    for l in &lowers {
        assert!(Path::new(l).is_dir(), "layer dir {l} of {image} missing");
    }
    let dir = tempfile::tempdir().unwrap();
    let mut opts = String::new();
    if h.is_rootless() {
        opts.push_str("userxattr,");
    }
    if lowers.len() == 1 {
        // overlay needs two lowers without an upper: bind the one layer.
        let st = Command::new("mount")
            .args(["--bind", "-o", "ro", &lowers[0]])
            .arg(dir.path())
            .status()
            .unwrap();
        assert!(st.success(), "bind-mounting {}", lowers[0]);
        return Mounted { dir };
    }
    opts.push_str(&format!("lowerdir={}", lowers.join(":")));
    let st = Command::new("mount")
        .args(["-t", "overlay", "overlay", "-o", &opts])
        .arg(dir.path())
        .status()
        .unwrap();
    assert!(st.success(), "mounting the overlay of {image} ({opts})");
    Mounted { dir }
}

/// How to compare owners for `h`: exact rootful, through the test user's
/// map rootless.
pub fn owner_check(h: &Husk, user: &TestUser) -> CheckOptions {
    CheckOptions {
        owners: if h.is_rootless() {
            OwnerCheck::Mapped {
                uid_map: user.uid_map(),
                gid_map: user.gid_map(),
            }
        } else {
            OwnerCheck::Exact
        },
        xattrs: true,
    }
}

/// Checks `image`'s merged view against `expected`.
#[track_caller]
pub fn check_rootfs(h: &Husk, user: &TestUser, image: &str, expected: &ExpectedRootfs) {
    let m = mount_image(h, image);
    if let Err(errs) = expected.check_with(m.path(), &owner_check(h, user)) {
        panic!(
            "[{}] {image}: rootfs differs from the fixture:\n{}",
            h.flavour(),
            errs.join("\n")
        );
    }
}

/// The storage root of `h`.
pub fn storage(h: &Husk) -> PathBuf {
    h.root().join("storage")
}

/// Layer directories in the store (the short-link dir aside).
pub fn layers(h: &Husk) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(storage(h).join("layers"))
        .map(|rd| {
            rd.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n != "l")
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// Blobs in the store.
pub fn blobs(h: &Husk) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(storage(h).join("blobs/sha256"))
        .map(|rd| {
            rd.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// Entries left in the store's staging directories.
pub fn staging(h: &Husk) -> Vec<String> {
    let mut v = Vec::new();
    for d in ["tmp", "blobs/tmp"] {
        if let Ok(rd) = std::fs::read_dir(storage(h).join(d)) {
            v.extend(
                rd.flatten()
                    .map(|e| format!("{d}/{}", e.file_name().to_string_lossy())),
            );
        }
    }
    v
}

/// Every image id (`images -a -q --no-trunc`), without `sha256:`.
pub fn image_ids(h: &Husk) -> Vec<String> {
    h.ok(&["images", "-a", "-q", "--no-trunc"])
        .lines()
        .map(|l| l.trim_start_matches("sha256:").to_owned())
        .collect()
}

/// A husk flavour pointed at `reg` for short names.
pub fn husk_for(flavour: Husk, reg: &Registry) -> Husk {
    let mut h = flavour;
    h.use_registry(reg);
    h
}
