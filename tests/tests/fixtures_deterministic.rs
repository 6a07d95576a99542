//! Fixture images are reproducible and structurally what they claim to be.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use husk_tests::fixtures::compress::Compression;
use husk_tests::fixtures::hostile::{self, HOSTILE};
use husk_tests::fixtures::layout::{sha256_digest, MEDIA_TYPE_INDEX, MEDIA_TYPE_MANIFEST};
use husk_tests::fixtures::{self, expected, BuiltImage, FIXTURES};
use husk_tests::tools;

/// Every file of a directory tree, relative path -> sha256.
fn tree_digests(root: &Path) -> BTreeMap<PathBuf, String> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<PathBuf, String>) {
        for e in fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(root, &p, out);
            } else {
                let rel = p.strip_prefix(root).unwrap().to_owned();
                out.insert(rel, sha256_digest(&fs::read(&p).unwrap()));
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(root, root, &mut out);
    out
}

#[test]
fn two_builds_are_byte_identical() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    let built_a = fixtures::build_all(a.path()).unwrap();
    let built_b = fixtures::build_all(b.path()).unwrap();
    assert_eq!(built_a.len(), FIXTURES.len());
    for (x, y) in built_a.iter().zip(&built_b) {
        assert_eq!((&x.name, &x.digest), (&y.name, &y.digest));
    }
    let ta = tree_digests(a.path());
    let tb = tree_digests(b.path());
    assert!(ta.len() > FIXTURES.len() * 4, "too few files: {}", ta.len());
    assert_eq!(ta, tb, "two builds differ");
    // The shared cache holds the same bytes (it is keyed on the sources).
    assert_eq!(tree_digests(&fixtures::fixtures_dir()), ta);
    // Building one fixture alone gives the same bytes as building all.
    let c = tempfile::tempdir().unwrap();
    let one = fixtures::build_one("layered-zstd", c.path()).unwrap();
    let all = built_a.iter().find(|i| i.name == "layered-zstd").unwrap();
    assert_eq!(one.digest, all.digest);
    assert!(fixtures::build_one("no-such-fixture", c.path()).is_err());
}

#[test]
fn manifests_configs_and_blobs_agree() {
    for built in fixtures::cached_all() {
        let layout = &built.layout_dir;
        let what = &built.name;
        assert_eq!(
            fs::read_to_string(layout.join("oci-layout")).unwrap(),
            r#"{"imageLayoutVersion":"1.0.0"}"#
        );
        let index: serde_json::Value =
            serde_json::from_slice(&fs::read(layout.join("index.json")).unwrap()).unwrap();
        assert_eq!(index["manifests"].as_array().unwrap().len(), 1, "{what}");
        assert_eq!(
            index["manifests"][0]["annotations"]["org.opencontainers.image.ref.name"], "latest",
            "{what}"
        );
        let mut referenced = BTreeSet::new();
        referenced.insert(built.digest.clone());
        for img in common::images(layout) {
            referenced.insert(img.manifest_digest.clone());
            referenced.insert(
                img.manifest["config"]["digest"]
                    .as_str()
                    .unwrap()
                    .to_owned(),
            );
            assert_eq!(img.manifest["mediaType"], MEDIA_TYPE_MANIFEST, "{what}");
            assert_eq!(img.manifest["schemaVersion"], 2, "{what}");
            let diff_ids: Vec<String> = img.config["rootfs"]["diff_ids"]
                .as_array()
                .unwrap()
                .iter()
                .map(|d| d.as_str().unwrap().to_owned())
                .collect();
            assert_eq!(
                diff_ids.len(),
                img.layers.len(),
                "{what}: one diff_id per layer"
            );
            assert_eq!(img.config["rootfs"]["type"], "layers");
            assert_eq!(
                img.config["history"].as_array().unwrap().len(),
                img.layers.len(),
                "{what}: one history entry per layer"
            );
            assert_eq!(img.config["os"], "linux", "{what}");
            assert_eq!(
                img.config["config"]["Env"][0],
                "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
            );
            assert_eq!(img.config["config"]["Cmd"][0], "/bin/sh");
            for ((_, digest, tar), diff_id) in img.layers.iter().zip(&diff_ids) {
                referenced.insert(digest.clone());
                assert_eq!(&sha256_digest(tar), diff_id, "{what}: diff_id of {digest}");
            }
        }
        let on_disk: BTreeSet<String> = fs::read_dir(layout.join("blobs/sha256"))
            .unwrap()
            .map(|e| format!("sha256:{}", e.unwrap().file_name().to_string_lossy()))
            .collect();
        assert_eq!(on_disk, referenced, "{what}: blobs on disk vs referenced");
    }
}

#[test]
fn busybox_fixture_is_a_usable_base() {
    let img = &common::images(&fixtures::cached("busybox").layout_dir)[0];
    assert_eq!(img.config["architecture"], "amd64");
    assert_eq!(img.layers.len(), 1);
    assert_eq!(img.layers[0].0, Compression::Gzip.media_type());
    let mut ar = tar::Archive::new(&img.layers[0].2[..]);
    let mut links = 0;
    let mut names = BTreeSet::new();
    for e in ar.entries().unwrap() {
        let e = e.unwrap();
        let path = e.path().unwrap().to_string_lossy().into_owned();
        assert_eq!(e.header().mtime().unwrap(), 946_684_800, "{path}");
        if e.header().entry_type().is_symlink() {
            links += 1;
            assert_eq!(e.link_name().unwrap().unwrap().to_str(), Some("busybox"));
        }
        names.insert(path);
    }
    let applets = fixtures::images::busybox_applets(&fixtures::busybox_path()).unwrap();
    assert_eq!(links, applets.len());
    for must in [
        "bin/busybox",
        "bin/sh",
        "etc/passwd",
        "etc/group",
        "tmp/",
        "home/user/",
    ] {
        assert!(names.contains(must), "busybox layer lacks {must}");
    }
}

#[test]
fn multiarch_index_has_exactly_amd64_and_arm64() {
    let built = fixtures::cached("multiarch");
    assert_eq!(built.media_type, MEDIA_TYPE_INDEX);
    let images = common::images(&built.layout_dir);
    let mut platforms = BTreeSet::new();
    for img in &images {
        let p = img
            .platform
            .clone()
            .expect("index entries carry a platform");
        let arch = p["architecture"].as_str().unwrap().to_owned();
        assert_eq!(img.config["architecture"], p["architecture"]);
        assert_eq!(p["os"], "linux");
        if arch == "arm64" {
            assert_eq!(p["variant"], "v8");
            assert_eq!(img.config["variant"], "v8");
        }
        // The last layer marks the architecture in /etc/husk-arch.
        let mut ar = tar::Archive::new(&img.layers.last().unwrap().2[..]);
        let mut marker = String::new();
        for e in ar.entries().unwrap() {
            let mut e = e.unwrap();
            if e.path().unwrap().to_str() == Some("etc/husk-arch") {
                std::io::Read::read_to_string(&mut e, &mut marker).unwrap();
            }
        }
        assert_eq!(marker, format!("{arch}\n"));
        platforms.insert(arch);
    }
    assert_eq!(images.len(), 2);
    assert_eq!(
        platforms,
        BTreeSet::from(["amd64".to_owned(), "arm64".to_owned()])
    );
}

fn diff_ids(b: &BuiltImage) -> Vec<serde_json::Value> {
    common::images(&b.layout_dir)[0].config["rootfs"]["diff_ids"]
        .as_array()
        .unwrap()
        .clone()
}

#[test]
fn layered_variants_share_diff_ids_but_not_compression() {
    let layered = fixtures::cached("layered");
    let gzip = fixtures::cached("layered-gzip");
    assert_eq!(layered.digest, gzip.digest, "layered is layered-gzip");
    let base = diff_ids(&gzip);
    assert!(base.len() >= 5, "busybox + 4 layers");
    let mut layer_digests = BTreeSet::new();
    for (name, c) in [
        ("layered-gzip", Compression::Gzip),
        ("layered-zstd", Compression::Zstd),
        ("layered-uncompressed", Compression::None),
    ] {
        let built = fixtures::cached(name);
        assert_eq!(diff_ids(&built), base, "{name}");
        let img = &common::images(&built.layout_dir)[0];
        for (mt, digest, tar) in &img.layers {
            assert_eq!(mt, c.media_type(), "{name}");
            assert!(
                layer_digests.insert(digest.clone()),
                "{name}: digest reused"
            );
            if c == Compression::None {
                assert_eq!(&sha256_digest(tar), digest);
            }
        }
        // One layer is an empty tar: only the two end-of-archive blocks.
        assert!(img.layers.iter().any(|l| l.2 == vec![0u8; 1024]), "{name}");
    }
}

#[test]
fn layered_tars_hold_every_documented_feature() {
    let img = &common::images(&fixtures::cached("layered").layout_dir)[0];
    let mut seen = BTreeSet::new();
    for (_, _, tar) in &img.layers[1..] {
        let mut ar = tar::Archive::new(&tar[..]);
        for e in ar.entries().unwrap() {
            let mut e = e.unwrap();
            let path = e.path().unwrap().to_string_lossy().into_owned();
            let h = e.header().clone();
            let kind = h.entry_type();
            if path.ends_with(".wh..wh..opq") {
                seen.insert("opaque");
            } else if path.contains("/.wh.") {
                seen.insert("whiteout");
            }
            if kind.is_hard_link() {
                seen.insert("hardlink");
            }
            if kind.is_symlink() {
                let target = e
                    .link_name()
                    .unwrap()
                    .unwrap()
                    .to_string_lossy()
                    .into_owned();
                seen.insert(if target.starts_with('/') {
                    "abs-symlink"
                } else {
                    "rel-symlink"
                });
            }
            if h.mode().unwrap() & 0o4000 != 0 {
                seen.insert("setuid");
            }
            if h.uid().unwrap() == 1000 && h.gid().unwrap() == 1000 {
                seen.insert("owned-1000");
            }
            if kind.is_fifo() {
                seen.insert("fifo");
            }
            if path.len() > 100 && path.rsplit('/').next().unwrap().len() > 100 {
                seen.insert("pax-long-path");
            }
            if path.len() > 100 && h.as_ustar().is_some_and(|u| u.prefix[0] != 0) {
                seen.insert("ustar-prefix-path");
            }
            if let Some(exts) = e.pax_extensions().unwrap() {
                for ext in exts {
                    let ext = ext.unwrap();
                    if ext.key().unwrap() == "SCHILY.xattr.user.husk"
                        && ext.value_bytes() == b"fixture"
                    {
                        seen.insert("xattr");
                    }
                }
            }
        }
    }
    let want = [
        "opaque",
        "whiteout",
        "hardlink",
        "abs-symlink",
        "rel-symlink",
        "setuid",
        "owned-1000",
        "fifo",
        "pax-long-path",
        "ustar-prefix-path",
        "xattr",
    ];
    for w in want {
        assert!(seen.contains(w), "layered lacks {w}; saw {seen:?}");
    }
}

fn umoci_unpack(layout: &Path, dest: &Path) -> PathBuf {
    let umoci = tools::require(tools::find_tool("HUSK_UMOCI", "umoci"));
    let out = Command::new(umoci)
        .arg("unpack")
        .arg("--image")
        .arg(format!("{}:latest", layout.display()))
        .arg(dest)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "umoci unpack {}: {}",
        layout.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    dest.join("rootfs")
}

/// umoci, an independent unpacker, turns the layered images into exactly the
/// rootfs `expected::layered` documents (umoci 0.4 has no zstd, so the zstd
/// variant is covered by its shared diff_ids instead).
#[test]
fn umoci_unpacks_layered_to_the_expected_rootfs() {
    let tmp = tempfile::tempdir().unwrap();
    for name in ["layered-gzip", "layered-uncompressed"] {
        let rootfs = umoci_unpack(&fixtures::cached(name).layout_dir, &tmp.path().join(name));
        if let Err(errs) = expected::layered().check(&rootfs) {
            panic!("{name} unpacked wrongly:\n{}", errs.join("\n"));
        }
    }
    let rootfs = umoci_unpack(
        &fixtures::cached("busybox").layout_dir,
        &tmp.path().join("bb"),
    );
    expected::busybox().check(&rootfs).unwrap();
    // The checker is not vacuous: busybox alone fails the layered expectation.
    let errs = expected::layered().check(&rootfs).unwrap_err();
    assert!(
        errs.iter().any(|e| e.contains("data/original.txt")),
        "{errs:?}"
    );
    let out = Command::new(rootfs.join("bin/busybox"))
        .arg("true")
        .status()
        .unwrap();
    assert!(out.success());
}

fn only_layer(name: &str) -> Vec<u8> {
    let imgs = common::images(&fixtures::cached(name).layout_dir);
    assert_eq!(imgs.len(), 1, "{name}");
    assert_eq!(
        imgs[0].layers.len(),
        1,
        "{name}: one layer on top of nothing"
    );
    imgs[0].layers[0].2.clone()
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn hostile_layers_contain_what_they_claim() {
    let hostile_names: Vec<&str> = FIXTURES
        .iter()
        .copied()
        .filter(|n| n.starts_with("hostile-"))
        .collect();
    assert_eq!(hostile_names.len(), HOSTILE.len());
    for h in HOSTILE {
        let tar = only_layer(h.name);
        for needle in h.needles {
            assert!(
                contains(&tar, needle.as_bytes()),
                "{}: lacks {needle}",
                h.name
            );
        }
    }
    let names = |name: &str| -> Vec<(Vec<u8>, u8, Vec<u8>)> {
        common::raw_headers(&only_layer(name))
            .into_iter()
            .map(|r| (r.name, r.typeflag, r.linkname))
            .collect()
    };
    let dotdot = names("hostile-dotdot");
    for bad in [
        &b"../husk-hostile-dotdot"[..],
        b"a/../../husk-hostile-dotdot-nested",
        b"/tmp/husk-hostile-abs-entry",
    ] {
        assert!(
            dotdot.iter().any(|(n, t, _)| n == bad && *t == b'0'),
            "{dotdot:?}"
        );
    }
    let abs = names("hostile-abs-symlink");
    let evil: Vec<_> = abs.iter().filter(|(n, _, _)| n == b"etc/evil").collect();
    assert_eq!(evil.len(), 2);
    assert_eq!(
        (evil[0].1, &evil[0].2[..]),
        (b'2', &b"/tmp/husk-hostile-abs-symlink"[..])
    );
    assert_eq!(evil[1].1, b'0', "a file written through the symlink");
    let hard = names("hostile-hardlink-out");
    assert!(hard.contains(&(
        b"etc/passwd-rel".to_vec(),
        b'1',
        b"../../etc/passwd".to_vec()
    )));
    assert!(hard.contains(&(b"etc/passwd-abs".to_vec(), b'1', b"/etc/passwd".to_vec())));
    let then = names("hostile-symlink-then-file");
    assert_eq!(then[0], (b"dir".to_vec(), b'2', b"/tmp".to_vec()));
    assert_eq!(then[1].0, b"dir/husk-hostile-symlink-then-file");
    assert_eq!(then[2].1, b'2');
    assert_eq!(then[3].0, b"up/husk-hostile-symlink-then-file-rel");

    let dev = common::raw_headers(&only_layer("hostile-devices"));
    let mem = dev.iter().find(|r| r.name == b"dev/evil-mem").unwrap();
    assert_eq!(
        (mem.typeflag, mem.devmajor, mem.devminor, mem.mode),
        (b'3', 1, 1, 0o666)
    );
    let sda = dev.iter().find(|r| r.name == b"dev/evil-sda").unwrap();
    assert_eq!((sda.typeflag, sda.devmajor, sda.devminor), (b'4', 8, 0));

    // Oversize: the header lies, so where the next header should be there is
    // garbage, and a real reader fails.
    let over = only_layer("hostile-oversize");
    let walk = common::raw_headers(&over);
    assert_eq!(walk[0].name, b"big.txt");
    assert_eq!(walk[0].size, hostile::OVERSIZE_CLAIMED);
    assert!(
        !walk[1].checksum_ok,
        "block after big.txt must not be a valid header"
    );
    assert!(contains(&over, b"after.txt"));
    let mut ar = tar::Archive::new(&over[..]);
    let read_all = ar.entries().unwrap().collect::<Result<Vec<_>, _>>();
    assert!(read_all.is_err(), "tar crate must reject hostile-oversize");

    let trunc = only_layer("hostile-truncated");
    let h = common::raw_header(&trunc, 0);
    assert_eq!(
        (h.name.as_slice(), h.size),
        (&b"truncated.bin"[..], hostile::TRUNCATED_CLAIMED)
    );
    assert_eq!(trunc.len(), 512 + hostile::TRUNCATED_PRESENT);
    let mut ar = tar::Archive::new(&trunc[..]);
    let failed = ar.entries().unwrap().any(|e| match e {
        Err(_) => true,
        Ok(mut e) => std::io::copy(&mut e, &mut std::io::sink()).is_err(),
    });
    assert!(failed, "reading hostile-truncated must fail");
}
