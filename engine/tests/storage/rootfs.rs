//! Container root filesystems on the real kernel: overlay and vfs give the
//! image's merged view; changes and export.

use std::path::{Path, PathBuf};

use husk_engine::storage::{self, Change, ChangeKind, Driver, ExportOptions, Store, UnpackOptions};
use husk_tests::fixtures::expected;

use crate::common::{fixture, require_root, store, tree};

/// A store with `image` unpacked and a container `c1` on it.
fn container(image: &str, driver: Driver) -> (tempfile::TempDir, Store, PathBuf) {
    let (t, s) = store(Some(driver));
    let img = fixture(image);
    img.import(&s);
    let layers = s.ensure_image_layers(&img.sources()).unwrap();
    let top = layers.last().map(|l| l.chain_id.clone());
    let c = s.containers().create("c1", top.as_ref(), driver).unwrap();
    assert_eq!(c.layers.len(), layers.len());
    let rootfs = s.containers().mount("c1").unwrap();
    (t, s, rootfs)
}

fn cleanup(s: &Store) {
    assert!(s.containers().remove("c1").unwrap());
    assert!(!s.containers().container_dir("c1").exists());
    assert!(
        tree(&s.root().join("tmp")).is_empty(),
        "{:?}",
        tree(&s.root().join("tmp"))
    );
    assert!(!s.containers().remove("c1").unwrap());
}

#[test]
fn overlay_shows_the_layered_image() {
    require_root("overlay_shows_the_layered_image");
    for image in ["layered", "layered-zstd", "layered-uncompressed"] {
        let (_t, s, merged) = container(image, Driver::Overlay);
        assert!(s.containers().is_mounted("c1").unwrap());
        expected::layered()
            .check(&merged)
            .unwrap_or_else(|e| panic!("{image}: {e:#?}"));
        // Mounting again is a no-op; unmounting twice is fine.
        assert_eq!(s.containers().mount("c1").unwrap(), merged);
        assert!(s.containers().unmount("c1").unwrap());
        assert!(!s.containers().unmount("c1").unwrap());
        assert!(tree(&merged).is_empty());
        s.containers().mount("c1").unwrap();
        cleanup(&s);
    }
}

#[test]
fn vfs_shows_the_same_view() {
    require_root("vfs_shows_the_same_view");
    let (_t, s, rootfs) = container("layered", Driver::Vfs);
    assert!(rootfs.ends_with("rootfs"));
    expected::layered()
        .check(&rootfs)
        .unwrap_or_else(|e| panic!("{e:#?}"));
    assert!(!s.containers().is_mounted("c1").unwrap());
    assert!(!s.containers().unmount("c1").unwrap());
    cleanup(&s);
}

#[test]
fn overlay_and_vfs_busybox() {
    require_root("overlay_and_vfs_busybox");
    for d in [Driver::Overlay, Driver::Vfs] {
        let (_t, s, rootfs) = container("busybox", d);
        expected::busybox()
            .check(&rootfs)
            .unwrap_or_else(|e| panic!("{d}: {e:#?}"));
        cleanup(&s);
    }
}

#[test]
fn a_container_without_image_layers() {
    require_root("a_container_without_image_layers");
    for d in [Driver::Overlay, Driver::Vfs] {
        let (_t, s) = store(Some(d));
        s.containers().create("c1", None, d).unwrap();
        let root = s.containers().mount("c1").unwrap();
        std::fs::write(root.join("f"), "x").unwrap();
        assert_eq!(
            s.containers().changes("c1").unwrap(),
            vec![Change {
                path: "/f".into(),
                kind: ChangeKind::Added
            }]
        );
        cleanup(&s);
    }
}

#[test]
fn bad_ids_and_duplicates_are_refused() {
    require_root("bad_ids_and_duplicates_are_refused");
    let (_t, s) = store(Some(Driver::Overlay));
    for bad in ["", "../x", "a/b", ".hidden", "-x", &"x".repeat(129)] {
        assert!(
            s.containers().create(bad, None, Driver::Overlay).is_err(),
            "{bad:?}"
        );
    }
    s.containers().create("dup", None, Driver::Overlay).unwrap();
    let e = s
        .containers()
        .create("dup", None, Driver::Overlay)
        .unwrap_err();
    assert!(e.to_string().contains("exists already"), "{e}");
    assert!(s.containers().remove("dup").unwrap());
    let e = s.containers().mount("nope").unwrap_err();
    assert!(e.to_string().contains("no container layer"), "{e}");
}

fn change(kind: ChangeKind, p: &str) -> Change {
    Change {
        path: p.into(),
        kind,
    }
}

/// The same edits in both drivers.
fn edit(root: &Path) {
    std::fs::write(root.join("data/new.txt"), "new").unwrap();
    std::fs::write(root.join("etc/husk/keep.txt"), "kept, then changed\n").unwrap();
    std::fs::remove_file(root.join("etc/passwd")).unwrap();
    std::fs::remove_dir_all(root.join("opt/replaced")).unwrap();
}

#[test]
fn changes_from_overlay_upper() {
    require_root("changes_from_overlay_upper");
    use ChangeKind::*;
    let (_t, s, merged) = container("layered", Driver::Overlay);
    assert!(s.containers().changes("c1").unwrap().is_empty());
    assert_eq!(s.containers().size("c1").unwrap(), 0);
    edit(&merged);
    assert_eq!(
        s.containers().size("c1").unwrap(),
        (3 + "kept, then changed\n".len()) as u64
    );
    // rm -rf + mkdir: overlay makes an opaque directory.
    std::fs::remove_dir_all(merged.join("home/user")).unwrap();
    std::fs::create_dir(merged.join("home/user")).unwrap();
    std::fs::write(merged.join("home/user/fresh"), "").unwrap();
    let got = s.containers().changes("c1").unwrap();
    let want = vec![
        change(Changed, "/data"),
        change(Added, "/data/new.txt"),
        change(Changed, "/etc"),
        change(Changed, "/etc/husk"),
        change(Changed, "/etc/husk/keep.txt"),
        change(Deleted, "/etc/passwd"),
        change(Changed, "/home"),
        change(Changed, "/home/user"),
        change(Added, "/home/user/fresh"),
        change(Deleted, "/home/user/owned.txt"),
        change(Deleted, "/home/user/private"),
        change(Changed, "/opt"),
        change(Deleted, "/opt/replaced"),
    ];
    assert_eq!(got, want, "{got:#?}");
    cleanup(&s);
}

#[test]
fn changes_from_a_vfs_tree() {
    require_root("changes_from_a_vfs_tree");
    use ChangeKind::*;
    let (_t, s, rootfs) = container("layered", Driver::Vfs);
    assert!(
        s.containers().changes("c1").unwrap().is_empty(),
        "a fresh copy has no changes"
    );
    edit(&rootfs);
    let got = s.containers().changes("c1").unwrap();
    // Directories count as changed when their own mtime changed (an entry
    // added or removed), not when a file inside was rewritten.
    let want = vec![
        change(Changed, "/data"),
        change(Added, "/data/new.txt"),
        change(Changed, "/etc"),
        change(Changed, "/etc/husk/keep.txt"),
        change(Deleted, "/etc/passwd"),
        change(Changed, "/opt"),
        change(Deleted, "/opt/replaced"),
    ];
    assert_eq!(got, want, "{got:#?}");
    cleanup(&s);
}

#[test]
fn export_round_trips_and_is_deterministic() {
    require_root("export_round_trips_and_is_deterministic");
    let (t, s, merged) = container("layered", Driver::Overlay);
    let opts = ExportOptions::default();
    let a = storage::export_tree(&merged, Vec::new(), &opts).unwrap();
    let b = storage::export_tree(&merged, Vec::new(), &opts).unwrap();
    assert!(a == b, "two exports of one tree differ");
    let back = t.path().join("back");
    std::fs::create_dir(&back).unwrap();
    let d = husk_engine::image::digest::Digest::sha256_of(&a);
    storage::unpack(&a[..], &back, &d, &UnpackOptions::rootful()).unwrap();
    expected::layered()
        .check(&back)
        .unwrap_or_else(|e| panic!("{e:#?}"));

    // One path, as `husk cp` takes it: links on the way resolve inside.
    let one =
        storage::export_path(&merged, Path::new("/data/abs-link"), Vec::new(), &opts).unwrap();
    let mut ar = tar::Archive::new(&one[..]);
    let names: Vec<String> = ar
        .entries()
        .unwrap()
        .map(|e| String::from_utf8_lossy(&e.unwrap().path_bytes()).into_owned())
        .collect();
    assert_eq!(names, ["abs-link"]);
    let deep = storage::export_path(&merged, Path::new("/opt"), Vec::new(), &opts).unwrap();
    let mut ar = tar::Archive::new(&deep[..]);
    let names: Vec<String> = ar
        .entries()
        .unwrap()
        .map(|e| String::from_utf8_lossy(&e.unwrap().path_bytes()).into_owned())
        .collect();
    assert_eq!(names, ["opt/", "opt/replaced/", "opt/replaced/new.txt"]);
    cleanup(&s);
}

#[test]
fn an_upper_dir_exports_as_a_layer_with_oci_whiteouts() {
    require_root("an_upper_dir_exports_as_a_layer_with_oci_whiteouts");
    let (_t, s, merged) = container("layered", Driver::Overlay);
    edit(&merged);
    let c = s.containers().get("c1").unwrap();
    let opts = ExportOptions {
        layer_diff: true,
        ..ExportOptions::default()
    };
    let tar = storage::export_tree(&s.containers().changes_path(&c), Vec::new(), &opts).unwrap();
    let mut ar = tar::Archive::new(&tar[..]);
    let names: Vec<String> = ar
        .entries()
        .unwrap()
        .map(|e| String::from_utf8_lossy(&e.unwrap().path_bytes()).into_owned())
        .collect();
    for want in [
        "etc/.wh.passwd",
        "opt/.wh.replaced",
        "data/new.txt",
        "etc/husk/keep.txt",
    ] {
        assert!(
            names.iter().any(|n| n == want),
            "{want} missing from {names:?}"
        );
    }
    assert!(!names.iter().any(|n| n.contains("work")));
    cleanup(&s);
}

#[test]
fn a_busy_overlay_is_detached() {
    require_root("a_busy_overlay_is_detached");
    let (_t, s, merged) = container("busybox", Driver::Overlay);
    let held = std::fs::File::open(merged.join("etc/passwd")).unwrap();
    assert!(s.containers().unmount("c1").unwrap());
    assert!(!s.containers().is_mounted("c1").unwrap());
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(
        !mounts.contains(&merged.display().to_string()),
        "still in the mount table"
    );
    drop(held);
    cleanup(&s);
}

#[test]
fn more_layers_than_one_page_of_absolute_lowerdirs() {
    require_root("more_layers_than_one_page_of_absolute_lowerdirs");
    use husk_engine::image::digest::Digest;
    use husk_engine::image::media::Compression;
    use husk_tests::fixtures::layer::{Entry, TarBuilder};
    let (_t, s) = store(Some(Driver::Overlay));
    let mut parent = None;
    let n = 120;
    for i in 0..n {
        let mut tb = TarBuilder::new();
        tb.entries(&[
            Entry::dir("layers", 0o755),
            Entry::file(&format!("layers/{i:03}"), 0o644, format!("{i}\n")),
        ])
        .unwrap();
        let tar = tb.finish();
        let l = s
            .layers()
            .ensure_from(
                parent.as_ref(),
                &Digest::sha256_of(&tar),
                None,
                Compression::None,
                &tar[..],
            )
            .unwrap();
        parent = Some(l.chain_id);
    }
    s.containers()
        .create("c1", parent.as_ref(), Driver::Overlay)
        .unwrap();
    let merged = s.containers().mount("c1").unwrap();
    assert_eq!(std::fs::read_dir(merged.join("layers")).unwrap().count(), n);
    assert_eq!(
        std::fs::read_to_string(merged.join("layers/000")).unwrap(),
        "0\n"
    );
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    let line = mounts
        .lines()
        .find(|l| l.contains(&merged.display().to_string()))
        .unwrap();
    assert!(
        line.contains("lowerdir=l/"),
        "expected relative short lowerdirs: {line}"
    );
    cleanup(&s);
}

#[test]
fn an_upper_dir_becomes_a_layer_again() {
    require_root("an_upper_dir_becomes_a_layer_again");
    let (_t, s, merged) = container("layered", Driver::Overlay);
    edit(&merged);
    let c = s.containers().get("c1").unwrap();
    let opts = ExportOptions {
        layer_diff: true,
        ..ExportOptions::default()
    };
    let tar = storage::export_tree(&s.containers().changes_path(&c), Vec::new(), &opts).unwrap();
    let blob = s.blobs().import_layer(&tar[..]).unwrap();
    assert_eq!(
        blob.diff_id,
        husk_engine::image::digest::Digest::sha256_of(&tar)
    );
    assert_eq!(s.blobs().size(&blob.digest).unwrap(), blob.size);
    let src = storage::LayerSource {
        blob: blob.digest.clone(),
        compression: husk_engine::image::media::Compression::Gzip,
        diff_id: blob.diff_id.clone(),
    };
    let l = s
        .layers()
        .ensure(s.blobs(), Some(&c.layers[0]), &src)
        .unwrap();
    s.containers()
        .create("c2", Some(&l.chain_id), Driver::Overlay)
        .unwrap();
    let m2 = s.containers().mount("c2").unwrap();
    assert_eq!(
        std::fs::read_to_string(m2.join("data/new.txt")).unwrap(),
        "new"
    );
    assert!(!m2.join("etc/passwd").exists());
    assert!(!m2.join("opt/replaced").exists());
    assert!(m2.join("etc/group").exists());
    assert!(s.containers().remove("c2").unwrap());
    cleanup(&s);
}
