//! Unpacking every fixture into a real layer store, and refusing the
//! hostile ones.

use std::collections::HashSet;
use std::io::Read;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use husk_engine::image::digest::Digest;
use husk_engine::image::media::Compression;
use husk_engine::storage::{
    self, ChainId, DevicePolicy, IdMap, StorageError, Store, UnpackOptions, WhiteoutFormat,
};
use husk_tests::fixtures::expected::{self, read_xattr};
use husk_tests::fixtures::hostile::HOSTILE;
use husk_tests::fixtures::layer::{Entry, TarBuilder};

use crate::common::{assert_no_layers_or_leftovers, fixture, require_root, store, tree};

fn unpack_image(name: &str) -> (tempfile::TempDir, Store, Vec<storage::LayerInfo>) {
    let (t, s) = store(None);
    let img = fixture(name);
    img.import(&s);
    let layers = s
        .ensure_image_layers(&img.sources())
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    (t, s, layers)
}

#[test]
fn every_good_fixture_unpacks_with_matching_diff_ids() {
    require_root("every_good_fixture_unpacks_with_matching_diff_ids");
    for name in [
        "busybox",
        "layered",
        "layered-zstd",
        "layered-uncompressed",
        "multiarch",
    ] {
        let (_t, s, layers) = unpack_image(name);
        let img = fixture(name);
        assert_eq!(layers.len(), img.layers.len(), "{name}");
        let ids = ChainId::for_image(&img.config.rootfs.diff_ids);
        for (l, id) in layers.iter().zip(&ids) {
            assert_eq!(&l.chain_id, id, "{name}");
            assert!(s.layers().exists(id));
            assert!(
                s.layers().link_path(id).join(".").is_dir(),
                "{name}: short link must resolve"
            );
        }
        assert!(
            tree(&s.root().join("tmp")).is_empty(),
            "{name}: staging left behind"
        );
        // Unpacked once: asking again changes nothing.
        let again = s.ensure_image_layers(&img.sources()).unwrap();
        assert_eq!(again, layers);
    }
}

#[test]
fn busybox_layer_is_the_expected_tree() {
    require_root("busybox_layer_is_the_expected_tree");
    let (_t, s, layers) = unpack_image("busybox");
    let diff = s.layers().diff_path(&layers[0].chain_id);
    expected::busybox()
        .check(&diff)
        .unwrap_or_else(|e| panic!("{e:#?}"));
    assert!(
        layers[0].disk_size > 500_000,
        "busybox binary counted: {}",
        layers[0].disk_size
    );
}

#[test]
fn mtimes_survive_for_files_dirs_and_links() {
    require_root("mtimes_survive_for_files_dirs_and_links");
    let (_t, s, layers) = unpack_image("layered");
    let want = husk_tests::fixtures::layer::FIXTURE_MTIME as i64;
    let base = s.layers().diff_path(&layers[0].chain_id);
    let l2 = s.layers().diff_path(&layers[2].chain_id);
    for p in [
        base.join("bin/busybox"),
        base.join("bin/sh"),
        base.join("etc"),
        base.join("tmp"),
        l2.join("data"),
        l2.join("data/fifo"),
        l2.join("data/rel-link"),
        l2.join("home/user/private"),
    ] {
        let m = std::fs::symlink_metadata(&p).unwrap();
        assert_eq!(m.mtime(), want, "{}", p.display());
    }
}

#[test]
fn gnu_long_names_and_long_link_targets() {
    require_root("gnu_long_names_and_long_link_targets");
    let long_dir = "d".repeat(120);
    let long_file = format!("{long_dir}/{}", "f".repeat(140));
    let long_target = format!("/{}", "t".repeat(200));
    let mut b = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(tar::EntryType::Regular);
    h.set_mode(0o640);
    h.set_size(3);
    h.set_mtime(1_000_000_000);
    b.append_data(&mut h, &long_file, &b"abc"[..]).unwrap();
    let mut l = tar::Header::new_gnu();
    l.set_entry_type(tar::EntryType::Symlink);
    l.set_size(0);
    b.append_link(&mut l, format!("{long_dir}/link"), &long_target)
        .unwrap();
    let mut hl = tar::Header::new_gnu();
    hl.set_entry_type(tar::EntryType::Link);
    hl.set_size(0);
    b.append_link(&mut hl, "hard", &long_file).unwrap();
    let tar = b.into_inner().unwrap();
    let dir = tempfile::tempdir().unwrap();
    storage::unpack(
        &tar[..],
        dir.path(),
        &Digest::sha256_of(&tar),
        &UnpackOptions::rootful(),
    )
    .unwrap();
    let f = dir.path().join(&long_file);
    assert_eq!(std::fs::read(&f).unwrap(), b"abc");
    let m = std::fs::metadata(&f).unwrap();
    assert_eq!((m.mode() & 0o7777, m.mtime()), (0o640, 1_000_000_000));
    assert_eq!(
        std::fs::read_link(dir.path().join(&long_dir).join("link")).unwrap(),
        Path::new(&long_target)
    );
    assert_eq!(
        std::fs::metadata(dir.path().join("hard")).unwrap().ino(),
        m.ino()
    );
}

#[test]
fn whiteouts_become_overlay_whiteouts_without_wh_files() {
    require_root("whiteouts_become_overlay_whiteouts_without_wh_files");
    let (_t, s, layers) = unpack_image("layered");
    let l2 = s.layers().diff_path(&layers[2].chain_id);
    let wh = std::fs::symlink_metadata(l2.join("etc/husk/remove-me.txt")).unwrap();
    assert!(
        wh.file_type().is_char_device() && wh.rdev() == 0,
        "whiteout must be a 0:0 char device"
    );
    assert_eq!(
        read_xattr(&l2.join("opt/replaced"), storage::TRUSTED_OPAQUE)
            .unwrap()
            .as_deref(),
        Some(&b"y"[..])
    );
    let l4 = s.layers().diff_path(&layers[4].chain_id);
    let gone = std::fs::symlink_metadata(l4.join("opt/gone-dir")).unwrap();
    assert!(gone.file_type().is_char_device() && gone.rdev() == 0);
    for l in &layers {
        let d = s.layers().diff_path(&l.chain_id);
        let wh: Vec<String> = tree(&d)
            .into_iter()
            .filter(|p| p.contains(".wh."))
            .collect();
        assert!(wh.is_empty(), "layer {} keeps {wh:?}", l.chain_id);
        assert_eq!(l.whiteouts, WhiteoutFormat::OverlayTrusted);
    }
}

#[test]
fn oci_whiteout_form_keeps_the_marker_files() {
    require_root("oci_whiteout_form_keeps_the_marker_files");
    let img = fixture("layered");
    let t = tempfile::tempdir().unwrap();
    let opts = UnpackOptions {
        whiteouts: WhiteoutFormat::Oci,
        ..UnpackOptions::rootful()
    };
    let l2 = &img.layers[2];
    let blob = std::fs::File::open(img.blob_path(&l2.digest)).unwrap();
    let tar = storage::decompress(blob, Compression::Gzip).unwrap();
    let sum = storage::unpack(tar, t.path(), &l2.digest, &opts).unwrap();
    assert_eq!(sum.diff_id, img.config.rootfs.diff_ids[2]);
    assert!(t.path().join("etc/husk/.wh.remove-me.txt").is_file());
    assert!(t.path().join("opt/replaced/.wh..wh..opq").is_file());
    assert_eq!(
        read_xattr(&t.path().join("opt/replaced"), storage::TRUSTED_OPAQUE).unwrap(),
        None
    );
}

fn hostile_error(name: &str) -> (tempfile::TempDir, Store, String) {
    let (t, s) = store(None);
    let img = fixture(name);
    img.import(&s);
    let e = s
        .ensure_image_layers(&img.sources())
        .expect_err(&format!("{name} must be refused"));
    let text = e.to_string();
    eprintln!("{name}: {text}");
    assert!(
        text.contains(&img.layers[0].digest.to_string()),
        "{name}: the error must name the layer: {text}"
    );
    assert_no_layers_or_leftovers(&s);
    (t, s, text)
}

#[test]
fn hostile_layers_are_refused_naming_the_entry() {
    require_root("hostile_layers_are_refused_naming_the_entry");
    let cases: &[(&str, &[&str])] = &[
        (
            "hostile-dotdot",
            &["entry `../husk-hostile-dotdot`", "`..` component"],
        ),
        (
            "hostile-hardlink-out",
            &[
                "entry `etc/passwd-rel`",
                "hard link target `../../etc/passwd`",
            ],
        ),
        (
            "hostile-symlink-then-file",
            &[
                "entry `dir/husk-hostile-symlink-then-file`",
                "symbolic link `dir`",
            ],
        ),
        (
            "hostile-devices",
            &["entry `dev/evil-mem`", "character device 1:1 refused"],
        ),
        (
            "hostile-oversize",
            &["corrupt layer stream after entry `big.txt`"],
        ),
        (
            "hostile-truncated",
            &["entry `truncated.bin`", "truncated", "1048576"],
        ),
    ];
    for (name, needles) in cases {
        let (_t, _s, text) = hostile_error(name);
        for n in *needles {
            assert!(text.contains(n), "{name}: error lacks {n:?}: {text}");
        }
        let h = HOSTILE.iter().find(|h| h.name == *name).unwrap();
        for c in h.host_canaries {
            assert!(!Path::new(c).exists(), "{name}: canary {c} on the host");
        }
    }
}

/// The absolute-name and absolute-link cases, unpacked straight into a
/// directory so that relative escapes would show next to it.
#[test]
fn hostile_names_and_links_stay_inside() {
    require_root("hostile_names_and_links_stay_inside");
    for h in HOSTILE {
        let img = fixture(h.name);
        let t = tempfile::tempdir().unwrap();
        let dest = t.path().join("rootfs");
        std::fs::create_dir(&dest).unwrap();
        let blob = std::fs::File::open(img.blob_path(&img.layers[0].digest)).unwrap();
        let tar = storage::decompress(blob, Compression::Gzip).unwrap();
        let r = storage::unpack(tar, &dest, &img.layers[0].digest, &UnpackOptions::rootful());
        for c in h.host_canaries {
            assert!(!Path::new(c).exists(), "{}: canary {c} on the host", h.name);
        }
        for c in h.relative_canaries {
            assert!(
                !t.path().join(c).exists(),
                "{}: {c} next to the rootfs",
                h.name
            );
        }
        if h.name == "hostile-abs-symlink" {
            // Valid tar semantics: the later regular file replaces the link
            // inside the layer; the other link stays a link, never followed.
            r.unwrap();
            let evil = std::fs::symlink_metadata(dest.join("etc/evil")).unwrap();
            assert!(evil.is_file(), "etc/evil must be the regular file now");
            assert_eq!(
                std::fs::read_to_string(dest.join("etc/evil")).unwrap(),
                "pwned through absolute symlink\n"
            );
            assert_eq!(
                std::fs::read_link(dest.join("etc/shadow-link")).unwrap(),
                Path::new("/etc/shadow")
            );
        } else {
            assert!(r.is_err(), "{} unpacked", h.name);
        }
    }
}

#[test]
fn absolute_names_land_inside_the_layer() {
    require_root("absolute_names_land_inside_the_layer");
    let canary = format!("/tmp/husk-storage-abs-name-{}", std::process::id());
    let mut t = TarBuilder::new();
    t.entry(&Entry::file(&canary, 0o644, "inside")).unwrap();
    let tar = t.finish();
    let dir = tempfile::tempdir().unwrap();
    storage::unpack(
        &tar[..],
        dir.path(),
        &Digest::sha256_of(&tar),
        &UnpackOptions::rootful(),
    )
    .unwrap();
    assert!(!Path::new(&canary).exists(), "written on the host");
    let inside = dir.path().join(canary.trim_start_matches('/'));
    assert_eq!(std::fs::read_to_string(inside).unwrap(), "inside");
}

#[test]
fn devices_are_created_only_when_allowed() {
    require_root("devices_are_created_only_when_allowed");
    let img = fixture("hostile-devices");
    let t = tempfile::tempdir().unwrap();
    let blob = std::fs::File::open(img.blob_path(&img.layers[0].digest)).unwrap();
    let opts = UnpackOptions {
        devices: DevicePolicy::Create,
        ..UnpackOptions::rootful()
    };
    storage::unpack(
        storage::decompress(blob, Compression::Gzip).unwrap(),
        t.path(),
        &img.layers[0].digest,
        &opts,
    )
    .unwrap();
    let mem = std::fs::symlink_metadata(t.path().join("dev/evil-mem")).unwrap();
    assert!(mem.file_type().is_char_device());
    assert_eq!(
        (
            libc::major(mem.rdev()),
            libc::minor(mem.rdev()),
            mem.mode() & 0o7777
        ),
        (1, 1, 0o666)
    );
    let sda = std::fs::symlink_metadata(t.path().join("dev/evil-sda")).unwrap();
    assert!(sda.file_type().is_block_device());
}

fn tar_with_owner(uid: u32, gid: u32) -> Vec<u8> {
    let mut t = TarBuilder::new();
    t.entries(&[
        Entry::dir("home", 0o755),
        Entry::file("home/big-id.txt", 0o644, "x").owner(uid, gid),
    ])
    .unwrap();
    t.finish()
}

#[test]
fn owners_outside_the_id_map_are_refused() {
    require_root("owners_outside_the_id_map_are_refused");
    let opts = UnpackOptions::rootless(IdMap::first(65537, 65537));
    for (uid, gid, which) in [(70000, 0, "uid 70000"), (0, 65537, "gid 65537")] {
        let t = tempfile::tempdir().unwrap();
        let tar = tar_with_owner(uid, gid);
        let d = Digest::sha256_of(&tar);
        let e = storage::unpack(&tar[..], t.path(), &d, &opts)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("entry `home/big-id.txt`") && e.contains(which),
            "{e}"
        );
        assert!(e.contains("not enough subordinate ids"), "{e}");
    }
    // 65536, the last subordinate id, fits.
    let t = tempfile::tempdir().unwrap();
    let tar = tar_with_owner(65536, 65536);
    storage::unpack(&tar[..], t.path(), &Digest::sha256_of(&tar), &opts).unwrap();
    let m = std::fs::metadata(t.path().join("home/big-id.txt")).unwrap();
    assert_eq!((m.uid(), m.gid()), (65536, 65536));
}

#[test]
fn a_diff_id_mismatch_discards_the_layer() {
    require_root("a_diff_id_mismatch_discards_the_layer");
    let (_t, s) = store(None);
    let img = fixture("busybox");
    img.import(&s);
    let mut src = img.sources();
    src[0].diff_id = Digest::sha256_of(b"not this layer");
    let e = s.ensure_image_layers(&src).unwrap_err();
    assert!(matches!(e, StorageError::DiffIdMismatch { .. }), "{e}");
    assert!(e.to_string().contains(&img.layers[0].digest.to_string()));
    assert_no_layers_or_leftovers(&s);
}

/// Counts bytes read, to tell which caller unpacked.
struct Counting<R>(R, Arc<AtomicUsize>);
impl<R: Read> Read for Counting<R> {
    fn read(&mut self, b: &mut [u8]) -> std::io::Result<usize> {
        let n = self.0.read(b)?;
        self.1.fetch_add(n, Ordering::SeqCst);
        Ok(n)
    }
}

#[test]
fn concurrent_ensure_unpacks_once() {
    require_root("concurrent_ensure_unpacks_once");
    let (_t, s) = store(None);
    let img = fixture("busybox");
    let src = img.sources().remove(0);
    let counters: Vec<Arc<AtomicUsize>> = (0..4).map(|_| Arc::new(AtomicUsize::new(0))).collect();
    let barrier = Arc::new(std::sync::Barrier::new(4));
    let handles: Vec<_> = counters
        .iter()
        .map(|c| {
            let s = Store::open(s.root(), s.options().clone()).unwrap();
            let (c, barrier, src) = (c.clone(), barrier.clone(), src.clone());
            let path = img.blob_path(&src.blob);
            std::thread::spawn(move || {
                barrier.wait();
                let f = Counting(std::fs::File::open(path).unwrap(), c);
                s.layers()
                    .ensure_from(None, &src.diff_id, Some(&src.blob), src.compression, f)
                    .unwrap()
            })
        })
        .collect();
    let infos: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    assert!(infos.windows(2).all(|w| w[0] == w[1]));
    let readers = counters
        .iter()
        .filter(|c| c.load(Ordering::SeqCst) > 0)
        .count();
    assert_eq!(
        readers, 1,
        "exactly one caller may read and unpack the layer"
    );
    assert!(tree(&s.root().join("tmp")).is_empty());
}

#[test]
fn unreferenced_layers_go_parents_of_kept_ones_stay() {
    require_root("unreferenced_layers_go_parents_of_kept_ones_stay");
    let (_t, s, layered) = unpack_image("layered");
    let img = fixture("multiarch");
    img.import(&s);
    let multi = s.ensure_image_layers(&img.sources()).unwrap();
    // The busybox base is shared.
    assert_eq!(multi[0].chain_id, layered[0].chain_id);
    let e = s.layers().remove(&layered[0].chain_id).unwrap_err();
    assert!(e.to_string().contains("parent of layer"), "{e}");
    // A link left by a process killed before its rename goes with the
    // collection.
    std::os::unix::fs::symlink("../0000/diff", s.root().join("layers/l/dangling")).unwrap();
    let keep: HashSet<ChainId> = [multi[1].chain_id.clone()].into();
    let removed = s.remove_unreferenced_layers(&keep).unwrap();
    assert_eq!(removed.len(), 4, "{removed:?}");
    assert_eq!(removed[0], layered[4].chain_id, "children go first");
    let left: Vec<ChainId> = s
        .layers()
        .list()
        .unwrap()
        .into_iter()
        .map(|l| l.chain_id)
        .collect();
    let mut want = vec![multi[0].chain_id.clone(), multi[1].chain_id.clone()];
    want.sort();
    assert_eq!(left, want);
    assert!(!s.layers().link_path(&layered[4].chain_id).exists());
    assert!(std::fs::symlink_metadata(s.root().join("layers/l/dangling")).is_err());
    assert!(s.layers().link_path(&multi[1].chain_id).join(".").is_dir());
    assert!(tree(&s.root().join("tmp")).is_empty());
    let lineage = s.layers().lineage(&multi[1].chain_id).unwrap();
    assert_eq!(lineage.len(), 2);
    assert!(s.layers().remove(&multi[1].chain_id).unwrap());
    assert!(!s.layers().remove(&multi[1].chain_id).unwrap());
}

#[test]
fn a_shifted_id_map_stores_shifted_owners_and_exports_image_ids() {
    require_root("a_shifted_id_map_stores_shifted_owners_and_exports_image_ids");
    use husk_engine::storage::{ExportOptions, IdRange};
    let range = |len| {
        vec![IdRange {
            container: 0,
            stored: 100_000,
            len,
        }]
    };
    let ids = IdMap {
        uids: range(65536),
        gids: range(65536),
    };
    let opts = UnpackOptions {
        ids: ids.clone(),
        ..UnpackOptions::rootful()
    };
    let img = fixture("layered");
    let t = tempfile::tempdir().unwrap();
    let l2 = &img.layers[2];
    let blob = std::fs::File::open(img.blob_path(&l2.digest)).unwrap();
    storage::unpack(
        storage::decompress(blob, Compression::Gzip).unwrap(),
        t.path(),
        &l2.digest,
        &opts,
    )
    .unwrap();
    let owned = std::fs::metadata(t.path().join("home/user/owned.txt")).unwrap();
    assert_eq!((owned.uid(), owned.gid()), (101_000, 101_000));
    let data = std::fs::metadata(t.path().join("data")).unwrap();
    assert_eq!((data.uid(), data.gid()), (100_000, 100_000));
    let tar = storage::export_tree(
        t.path(),
        Vec::new(),
        &ExportOptions {
            ids,
            ..ExportOptions::default()
        },
    )
    .unwrap();
    let mut ar = tar::Archive::new(&tar[..]);
    for e in ar.entries().unwrap() {
        let e = e.unwrap();
        let name = String::from_utf8_lossy(&e.path_bytes()).into_owned();
        let uid = e.header().uid().unwrap();
        if name == "home/user/owned.txt" {
            assert_eq!(uid, 1000);
        } else if name == "data/" {
            assert_eq!(uid, 0);
        }
    }
}
