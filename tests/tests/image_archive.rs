//! `husk save`/`load`, `push` and `import` end to end, rootful and
//! rootless: digests kept through archives and registries, archives that
//! Debian's podman loads, what skopeo reads back, imported tarballs.

mod image_common;

use std::fs;
use std::path::Path;
use std::process::{Command, Stdio};

use husk_tests::fixtures::expected;
use husk_tests::husk::Husk;
use husk_tests::rootless::rootless_test;
use husk_tests::tools;
use image_common::*;

fn inspect(h: &Husk, image: &str, field: &str) -> String {
    h.ok(&["image", "inspect", "--format", field, image])
        .trim()
        .to_owned()
}

/// The sha256 of what the registry serves for `repo:tag`.
fn served_digest(reg: &husk_tests::registry::Registry, repo: &str, tag: &str) -> String {
    husk_tests::fixtures::layout::sha256_digest(&reg.inspect_raw(repo, tag).unwrap())
}

#[test]
fn save_then_load_keeps_ids_and_oci_keeps_manifests() {
    let user = rootless_test("save_then_load_keeps_ids_and_oci_keeps_manifests");
    let (reg, pushed) = registry_with(&["layered"]);
    let r = &pushed[0].reference;
    let id = fixture_id("layered");
    for h in Husk::both(&user) {
        let h = husk_for(h, &reg);
        h.ok(&["pull", "-q", r]);
        let digest = inspect(&h, r, "{{.Digest}}");
        for (format, keeps_manifest) in [
            ("docker-archive", false),
            ("oci-archive", true),
            ("oci-dir", true),
            ("docker-dir", true),
        ] {
            let out = h.scratch().join(format!("saved-{format}"));
            let o = h.run(&["save", "--format", format, "-o", out.to_str().unwrap(), r]);
            assert!(o.status.success(), "[{}] save {format}: {o}", h.flavour());
            assert!(
                o.stderr.contains("Copying blob") && o.stderr.contains("Writing manifest"),
                "{o}"
            );
            let fresh = if h.is_rootless() {
                Husk::rootless(&user)
            } else {
                Husk::rootful()
            };
            let loaded = fresh.ok(&["load", "-i", out.to_str().unwrap()]);
            let want = if format == "docker-dir" {
                format!("Loaded image: sha256:{id}\n")
            } else {
                format!("Loaded image: {r}\n")
            };
            assert_eq!(loaded, want, "[{}] load {format}", h.flavour());
            assert_eq!(
                image_ids(&fresh),
                std::slice::from_ref(&id),
                "[{}] {format}: image id",
                h.flavour()
            );
            if keeps_manifest {
                assert_eq!(
                    inspect(&fresh, &id, "{{.Digest}}"),
                    digest,
                    "[{}] {format}: manifest digest",
                    h.flavour()
                );
            }
            check_rootfs(&fresh, &user, &id, &expected::layered());
        }
        // Through stdout and stdin.
        let file = h.scratch().join("piped.tar");
        let st = h
            .cmd(&["save", "-q", r])
            .stdout(fs::File::create(&file).unwrap())
            .status()
            .unwrap();
        assert!(st.success());
        let fresh = if h.is_rootless() {
            Husk::rootless(&user)
        } else {
            Husk::rootful()
        };
        let out = fresh
            .cmd(&["load", "-q"])
            .stdin(fs::File::open(&file).unwrap())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(image_ids(&fresh), std::slice::from_ref(&id));
        // Bad archives.
        let junk = h.scratch().join("junk.tar");
        fs::write(&junk, b"not an archive at all").unwrap();
        h.fails(
            &["load", "-i", junk.to_str().unwrap()],
            125,
            &["not a tar archive"],
        );
        h.fails(
            &["load", "-i", "/nonexistent.tar"],
            125,
            &["stat /nonexistent.tar: no such file or directory"],
        );
        h.fails(
            &["save", "-o", junk.to_str().unwrap(), "nope"],
            125,
            &["nope: image not known"],
        );
        h.fails(
            &[
                "save",
                "--format",
                "oci-archive",
                "-m",
                "-o",
                "/dev/null",
                r,
            ],
            125,
            &["only supported for docker-archive"],
        );
    }
}

#[test]
fn podman_loads_what_husk_saved() {
    let user = rootless_test("podman_loads_what_husk_saved");
    let podman = tools::require(tools::find_tool("HUSK_PODMAN", "podman"));
    let (reg, pushed) = registry_with(&["layered", "busybox"]);
    let id = fixture_id("layered");
    for h in Husk::both(&user) {
        let h = husk_for(h, &reg);
        for p in &pushed {
            h.ok(&["pull", "-q", &p.reference]);
        }
        for format in ["docker-archive", "oci-archive"] {
            let out = h.scratch().join(format!("for-podman-{format}.tar"));
            h.ok(&[
                "save",
                "-q",
                "--format",
                format,
                "-o",
                out.to_str().unwrap(),
                &pushed[0].reference,
            ]);
            let proot = tempfile::tempdir().unwrap();
            let p = |args: &[&str]| {
                let o = Command::new(&podman)
                    .arg("--root")
                    .arg(proot.path().join("root"))
                    .arg("--runroot")
                    .arg(proot.path().join("run"))
                    .args(args)
                    .stdin(Stdio::null())
                    .output()
                    .unwrap();
                assert!(
                    o.status.success(),
                    "podman {args:?}: {}",
                    String::from_utf8_lossy(&o.stderr)
                );
                String::from_utf8_lossy(&o.stdout).into_owned()
            };
            let loaded = p(&["load", "-i", out.to_str().unwrap()]);
            assert!(
                loaded.contains(&format!("Loaded image: {}", pushed[0].reference)),
                "[{}] {format}: {loaded}",
                h.flavour()
            );
            assert_eq!(
                p(&["images", "-q", "--no-trunc"]).trim(),
                format!("sha256:{id}"),
                "[{}] {format}",
                h.flavour()
            );
            let _ = Command::new(&podman)
                .arg("--root")
                .arg(proot.path().join("root"))
                .arg("--runroot")
                .arg(proot.path().join("run"))
                .args(["system", "reset", "-f"])
                .stdin(Stdio::null())
                .output();
        }
        // A multi-image docker-archive.
        let multi = h.scratch().join("multi.tar");
        h.ok(&[
            "save",
            "-q",
            "-m",
            "-o",
            multi.to_str().unwrap(),
            &pushed[0].reference,
            &pushed[1].reference,
        ]);
        let fresh = if h.is_rootless() {
            Husk::rootless(&user)
        } else {
            Husk::rootful()
        };
        let loaded = fresh.ok(&["load", "-q", "-i", multi.to_str().unwrap()]);
        assert_eq!(loaded.lines().count(), 2, "{loaded}");
        let mut ids = image_ids(&fresh);
        ids.sort();
        let mut want = vec![id.clone(), fixture_id("busybox")];
        want.sort();
        assert_eq!(ids, want);
    }
}

#[test]
fn push_then_pull_back_keeps_digests() {
    let user = rootless_test("push_then_pull_back_keeps_digests");
    let (reg, pushed) = registry_with(&["layered"]);
    let r = &pushed[0].reference;
    let skopeo = tools::require(tools::skopeo());
    for (i, h) in Husk::both(&user).into_iter().enumerate() {
        let h = husk_for(h, &reg);
        h.ok(&["pull", "-q", r]);
        let digest = inspect(&h, r, "{{.Digest}}");
        let dest = reg.reference(&format!("copy{i}/layered"), "v1");
        let digestfile = h.scratch().join("digest");
        let o = h.run(&[
            "push",
            "--digestfile",
            digestfile.to_str().unwrap(),
            r,
            &dest,
        ]);
        assert!(o.status.success(), "[{}] push: {o}", h.flavour());
        assert!(
            o.stderr.contains("Copying blob sha256:")
                && o.stderr.contains("Writing manifest to image destination"),
            "{o}"
        );
        assert_eq!(fs::read_to_string(&digestfile).unwrap(), digest);
        assert_eq!(
            served_digest(&reg, &format!("copy{i}/layered"), "v1"),
            digest,
            "[{}] served digest",
            h.flavour()
        );
        let doc = Command::new(&skopeo)
            .args(["inspect", "--tls-verify=false", &format!("docker://{dest}")])
            .output()
            .unwrap();
        assert!(
            doc.status.success(),
            "skopeo inspect: {}",
            String::from_utf8_lossy(&doc.stderr)
        );
        let v: serde_json::Value = serde_json::from_slice(&doc.stdout).unwrap();
        assert_eq!(v["Digest"], digest.as_str());
        assert_eq!(v["Layers"].as_array().unwrap().len(), 5);
        let fresh = husk_for(
            if h.is_rootless() {
                Husk::rootless(&user)
            } else {
                Husk::rootful()
            },
            &reg,
        );
        assert_eq!(
            fresh.ok(&["pull", "-q", &dest]).trim(),
            fixture_id("layered")
        );
        assert_eq!(inspect(&fresh, &dest, "{{.Digest}}"), digest);
        // A second push finds every blob there.
        h.ok(&["push", "-q", r, &dest]);
        h.fails(&["push", "nope"], 125, &["nope: image not known"]);
        h.fails(
            &["push", "--retry", "0", r, "127.0.0.1:1/x:y"],
            125,
            &["cannot reach container registry 127.0.0.1:1"],
        );
    }
}

/// A small rootfs tar: a directory, a file, a file owned by 1000:1000, a
/// symbolic link.
fn rootfs_tar(path: &Path) {
    let mut b = tar::Builder::new(fs::File::create(path).unwrap());
    let mut add =
        |name: &str, kind: tar::EntryType, mode: u32, uid: u64, data: &[u8], link: Option<&str>| {
            let mut h = tar::Header::new_gnu();
            h.set_entry_type(kind);
            h.set_mode(mode);
            h.set_uid(uid);
            h.set_gid(uid);
            h.set_mtime(1_600_000_000);
            h.set_size(data.len() as u64);
            if let Some(l) = link {
                h.set_link_name(l).unwrap();
            }
            b.append_data(&mut h, name, data).unwrap();
        };
    add("etc/", tar::EntryType::Directory, 0o755, 0, b"", None);
    add(
        "etc/hello",
        tar::EntryType::Regular,
        0o644,
        0,
        b"hello from import\n",
        None,
    );
    add("home/", tar::EntryType::Directory, 0o755, 0, b"", None);
    add(
        "home/owned",
        tar::EntryType::Regular,
        0o600,
        1000,
        b"mine\n",
        None,
    );
    add(
        "greeting",
        tar::EntryType::Symlink,
        0o777,
        0,
        b"",
        Some("etc/hello"),
    );
    b.finish().unwrap();
}

#[test]
fn import_makes_a_one_layer_image_with_changes() {
    use std::os::unix::fs::MetadataExt;
    let user = rootless_test("import_makes_a_one_layer_image_with_changes");
    for h in Husk::both(&user) {
        let tarball = h.scratch().join("rootfs.tar");
        rootfs_tar(&tarball);
        let t = tarball.to_str().unwrap();
        let o = h.run(&[
            "import",
            "-c",
            r#"CMD ["/bin/sh"]"#,
            "-c",
            "ENV A=b",
            "-c",
            "LABEL x=y",
            "-c",
            "EXPOSE 80",
            "-c",
            "WORKDIR /w",
            "-c",
            "USER 1",
            "-m",
            "a message",
            t,
            "imported",
        ]);
        assert!(o.status.success(), "[{}] import: {o}", h.flavour());
        let id = o
            .stdout
            .trim()
            .strip_prefix("sha256:")
            .unwrap_or_else(|| panic!("{o}"))
            .to_owned();
        assert_eq!(id.len(), 64);
        assert!(
            o.stderr.contains("Copying blob sha256:")
                && o.stderr.contains("Copying config sha256:"),
            "{o}"
        );
        assert_eq!(
            inspect(&h, "imported", "{{json .Config}}"),
            // podman 4.3 prints exactly this for the same changes.
            r#"{"User":"1","ExposedPorts":{"80/tcp":{}},"Env":["A=b"],"Cmd":["/bin/sh"],"WorkingDir":"/w","Labels":{"x":"y"}}"#
        );
        assert_eq!(
            inspect(&h, "localhost/imported:latest", "{{.Comment}}"),
            "a message"
        );
        let hist = h.ok(&[
            "history",
            "--no-trunc",
            "--format",
            "{{.CreatedBy}}|{{.Comment}}",
            "imported",
        ]);
        assert!(
            hist.starts_with("/bin/sh -c #(nop) ADD file:")
                && hist.trim().ends_with("in /|a message"),
            "{hist}"
        );
        let m = mount_image(&h, "imported");
        assert_eq!(
            fs::read_to_string(m.path().join("etc/hello")).unwrap(),
            "hello from import\n"
        );
        assert_eq!(
            fs::read_link(m.path().join("greeting")).unwrap(),
            Path::new("etc/hello")
        );
        let owned = fs::metadata(m.path().join("home/owned")).unwrap();
        let want = if h.is_rootless() {
            user.subuids[0].start + 999
        } else {
            1000
        };
        assert_eq!(owned.uid(), want, "[{}] owner of home/owned", h.flavour());
        drop(m);
        // From stdin, no name: <none>.
        let out = h
            .cmd(&["import", "-q", "-"])
            .stdin(fs::File::open(&tarball).unwrap())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let listing = h.ok(&["images", "--format", "{{.Repository}}:{{.Tag}}"]);
        assert!(
            listing.contains("<none>:<none>") && listing.contains("localhost/imported:latest"),
            "{listing}"
        );
        h.fails(
            &["import", "-c", "BOGUS x", t],
            125,
            &[r#"invalid change "BOGUS x" - invalid instruction BOGUS"#],
        );
        h.fails(&["import", "/nonexistent.tar"], 125, &["/nonexistent.tar"]);
        assert!(image_ids(&h).contains(&id));
    }
}
