//! The local image commands end to end: `images`, `history` and `image
//! inspect` byte for byte against Debian's podman on the same images,
//! `tag`/`untag`/`rmi`/`image exists`/`image prune` with podman's output
//! and exit statuses, and `login`/`logout` against a TLS registry with
//! htpasswd.

mod image_common;

use std::path::PathBuf;
use std::process::{Command, Stdio};

use husk_tests::husk::Husk;
use husk_tests::registry::{Auth, Registry, RegistryOptions};
use husk_tests::rootless::rootless_test;
use husk_tests::tools;
use image_common::*;

/// podman with its own storage, removed on drop.
struct Podman {
    bin: PathBuf,
    dir: tempfile::TempDir,
}

impl Podman {
    fn new() -> Podman {
        Podman {
            bin: tools::require(tools::find_tool("HUSK_PODMAN", "podman")),
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn ok(&self, args: &[&str]) -> String {
        let o = Command::new(&self.bin)
            .arg("--root")
            .arg(self.dir.path().join("root"))
            .arg("--runroot")
            .arg(self.dir.path().join("run"))
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
    }
}

impl Drop for Podman {
    fn drop(&mut self) {
        let _ = Command::new(&self.bin)
            .arg("--root")
            .arg(self.dir.path().join("root"))
            .arg("--runroot")
            .arg(self.dir.path().join("run"))
            .args(["system", "reset", "-f"])
            .stdin(Stdio::null())
            .output();
    }
}

#[test]
fn listing_history_and_inspect_match_podman() {
    let user = rootless_test("listing_history_and_inspect_match_podman");
    let (reg, pushed) = registry_with(&["busybox", "layered", "multiarch"]);
    let podman = Podman::new();
    for p in &pushed {
        podman.ok(&["pull", "-q", "--tls-verify=false", &p.reference]);
    }
    let bb = &pushed[0].reference;
    podman.ok(&["tag", bb, "foo/bar:1", "baz"]);
    for h in Husk::both(&user) {
        let h = husk_for(h, &reg);
        for p in &pushed {
            h.ok(&["pull", "-q", &p.reference]);
        }
        h.ok(&["tag", bb, "foo/bar:1", "baz"]);
        for args in [
            vec!["images"],
            vec!["images", "--digests"],
            vec!["images", "--no-trunc"],
            vec!["images", "-q"],
            vec!["images", "--noheading"],
            vec!["images", "--sort", "repository"],
            vec![
                "images",
                "--format",
                "{{.Repository}}:{{.Tag}} {{.ID}} {{.Size}}",
            ],
            vec!["images", "--format", "table {{.ID}} {{.Repository}}"],
            vec!["images", "--filter", "reference=foo/bar"],
            vec!["images", &pushed[1].reference],
            vec!["history", &pushed[1].reference],
            vec!["history", "--no-trunc", bb],
            vec!["history", "-H=false", bb],
            vec!["history", "-q", &pushed[1].reference],
            vec![
                "history",
                "--format",
                "{{.ID}} {{.Size}} {{.CreatedBy}}",
                &pushed[1].reference,
            ],
            vec![
                "image",
                "inspect",
                "--format",
                "{{.Id}} {{.Digest}} {{.RepoTags}} {{.RepoDigests}} {{.Size}}",
                bb,
            ],
            vec![
                "image",
                "inspect",
                "--format",
                "{{.Digest}} {{.RepoDigests}}",
                &pushed[2].reference,
            ],
        ] {
            assert_eq!(
                h.ok(&args),
                podman.ok(&args),
                "[{}] husk {args:?} differs from podman",
                h.flavour()
            );
        }
        // The inspect document, field by field (GraphDriver paths and
        // NamesHistory aside, which are each store's own).
        let ours: serde_json::Value =
            serde_json::from_str(&h.ok(&["image", "inspect", &pushed[1].reference])).unwrap();
        let theirs: serde_json::Value =
            serde_json::from_str(&podman.ok(&["image", "inspect", &pushed[1].reference])).unwrap();
        for key in [
            "Id",
            "Digest",
            "RepoTags",
            "RepoDigests",
            "Parent",
            "Comment",
            "Created",
            "Config",
            "Version",
            "Author",
            "Architecture",
            "Os",
            "Size",
            "VirtualSize",
            "RootFS",
            "Labels",
            "Annotations",
            "ManifestType",
            "User",
            "History",
        ] {
            assert_eq!(
                ours[0][key],
                theirs[0][key],
                "[{}] image inspect .{key}",
                h.flavour()
            );
        }
        assert_eq!(ours[0]["GraphDriver"]["Name"], "overlay");
        // husk inspect finds images too.
        let generic: serde_json::Value = serde_json::from_str(&h.ok(&["inspect", bb])).unwrap();
        assert_eq!(generic[0]["Id"], fixture_id("busybox"));
        h.fails(
            &["image", "inspect", "nope"],
            125,
            &["nope: image not known"],
        );
    }
}

#[test]
fn tag_untag_rmi_exists_and_prune_as_podman() {
    let user = rootless_test("tag_untag_rmi_exists_and_prune_as_podman");
    let (reg, pushed) = registry_with(&["busybox", "layered"]);
    let (bb, layered) = (&pushed[0].reference, &pushed[1].reference);
    let bid = fixture_id("busybox");
    let lid = fixture_id("layered");
    for h in Husk::both(&user) {
        let h = husk_for(h, &reg);
        h.ok(&["pull", "-q", bb]);
        h.ok(&["pull", "-q", layered]);
        h.ok(&["tag", bb, "foo/bar:1", "baz"]);
        h.fails(
            &["tag", bb, "UPPER"],
            125,
            &[
                "normalizing name \"UPPER\"",
                "repository name must be lowercase",
            ],
        );
        h.fails(&["tag", "nope", "x"], 125, &["nope: image not known"]);
        assert_eq!(h.run(&["image", "exists", "baz"]).code(), 0);
        assert_eq!(h.run(&["image", "exists", "nope"]).code(), 1);
        // A name of several: only untagged.
        assert_eq!(h.ok(&["rmi", "baz"]), "Untagged: localhost/baz:latest\n");
        assert_eq!(h.run(&["image", "exists", "baz"]).code(), 1);
        h.fails(&["rmi", "nope"], 1, &["Error: nope: image not known"]);
        h.fails(
            &["rmi", &bid[..12]],
            125,
            &[&format!("unable to delete image \"{bid}\" by ID with more than one tag ([{bb} localhost/foo/bar:1]): please force removal")],
        );
        h.fails(
            &["untag", bb, "b:3"],
            125,
            &["localhost/b:3: tag not known"],
        );
        h.ok(&["untag", bb, "foo/bar:1"]);
        assert_eq!(
            h.ok(&["images", "--format", "{{.Repository}}:{{.Tag}}"]),
            format!("{bb}\n{layered}\n")
        );
        // Untagged with a child (layered sits on busybox's layer): hidden
        // without -a, kept by prune.
        h.ok(&["untag", bb]);
        assert_eq!(h.ok(&["images", "-q"]), format!("{}\n", &lid[..12]));
        assert_eq!(
            h.ok(&["images", "-a", "-q"]),
            format!("{}\n{}\n", &bid[..12], &lid[..12])
        );
        assert_eq!(
            h.ok(&[
                "images",
                "-a",
                "--format",
                "{{.Repository}} {{.Tag}}",
                "--filter",
                "dangling=false"
            ]),
            format!(
                "<none> <none>\n{} latest\n",
                layered.rsplit_once(':').unwrap().0
            )
        );
        assert_eq!(h.ok(&["image", "prune", "-f"]), "");
        // Untag layered too: both dangling now (layered has no child).
        h.ok(&["untag", layered]);
        assert_eq!(
            h.ok(&["images", "--filter", "dangling=true", "-q", "--no-trunc"]),
            format!("sha256:{lid}\n")
        );
        let before = blobs(&h).len();
        assert_eq!(h.ok(&["image", "prune", "-f"]), format!("{lid}\n{bid}\n"));
        assert!(image_ids(&h).is_empty());
        assert!(
            layers(&h).is_empty() && blobs(&h).is_empty(),
            "[{}] collection left {:?} {:?} (had {before} blobs)",
            h.flavour(),
            layers(&h),
            blobs(&h)
        );
        // rmi -f by id deletes every name; rmi -a; prune -a.
        h.ok(&["pull", "-q", bb]);
        h.ok(&["tag", bb, "two"]);
        assert_eq!(
            h.ok(&["rmi", "-f", &bid]),
            format!("Untagged: {bb}\nUntagged: localhost/two:latest\nDeleted: {bid}\n")
        );
        h.ok(&["pull", "-q", bb]);
        h.ok(&["pull", "-q", layered]);
        let out = h.ok(&["rmi", "-a"]);
        assert!(
            out.contains(&format!("Deleted: {bid}")) && out.contains(&format!("Deleted: {lid}")),
            "{out}"
        );
        assert!(layers(&h).is_empty() && blobs(&h).is_empty());
        h.ok(&["pull", "-q", bb]);
        let stdin_closed = h.run(&["image", "prune", "-a"]);
        assert_eq!(
            stdin_closed.code(),
            125,
            "prune without -f asks and fails on EOF: {stdin_closed}"
        );
        assert_eq!(h.ok(&["image", "prune", "-a", "-f"]), format!("{bid}\n"));
        assert!(layers(&h).is_empty() && blobs(&h).is_empty());
        assert_eq!(h.ok(&["rmi", "-i", "nope"]), "");
    }
}

#[test]
fn login_logout_and_credentials_against_htpasswd_over_tls() {
    let user = rootless_test("login_logout_and_credentials_against_htpasswd_over_tls");
    let reg = Registry::start_with(RegistryOptions {
        tls: true,
        auth: Auth::Htpasswd {
            user: "huskuser".into(),
            password: "s3cret".into(),
        },
    })
    .unwrap();
    let f = husk_tests::fixtures::cached("busybox");
    let pushed = reg.push_layout(&f.layout_dir, &f.tag, "busybox").unwrap();
    let host = reg.host();
    for h in Husk::both(&user) {
        // The CA where the test user can read it, as a --cert-dir.
        let certs = h.scratch().join("certs");
        std::fs::create_dir_all(&certs).unwrap();
        std::fs::copy(reg.ca_cert().unwrap(), certs.join("ca.crt")).unwrap();
        husk_tests::rootless::make_accessible(&h.scratch()).unwrap();
        let auth = h.scratch().join("auth.json");
        let (c, a) = (certs.to_str().unwrap(), auth.to_str().unwrap());
        h.fails(
            &["pull", "--cert-dir", c, &pushed.reference],
            125,
            &["authentication required"],
        );
        h.fails(
            &[
                "pull",
                "--cert-dir",
                c,
                "--creds",
                "huskuser:wrong",
                &pushed.reference,
            ],
            125,
            &["authentication required", "the credentials were refused"],
        );
        h.fails(
            &[
                "login",
                "--cert-dir",
                c,
                "--authfile",
                a,
                "-u",
                "huskuser",
                "-p",
                "wrong",
                &host,
            ],
            125,
            &[&format!(
                "Error: logging into \"{host}\": invalid username/password"
            )],
        );
        assert!(!auth.exists(), "a refused login wrote the auth file");
        assert_eq!(
            h.ok(&[
                "login",
                "--cert-dir",
                c,
                "--authfile",
                a,
                "-u",
                "huskuser",
                "-p",
                "s3cret",
                &host
            ]),
            "Login Succeeded!\n"
        );
        assert_eq!(
            h.ok(&["login", "--authfile", a, "--get-login", &host]),
            "huskuser\n"
        );
        let id = h.ok(&[
            "pull",
            "-q",
            "--cert-dir",
            c,
            "--authfile",
            a,
            &pushed.reference,
        ]);
        assert_eq!(id.trim(), fixture_id("busybox"));
        h.ok(&[
            "pull",
            "-q",
            "--cert-dir",
            c,
            "--creds",
            "huskuser:s3cret",
            &pushed.reference,
        ]);
        // Without the CA the certificate is refused; --tls-verify=false skips it.
        h.fails(
            &["pull", "--authfile", a, &pushed.reference],
            125,
            &["TLS with container registry"],
        );
        h.ok(&[
            "pull",
            "-q",
            "--tls-verify=false",
            "--authfile",
            a,
            &pushed.reference,
        ]);
        h.ok(&[
            "push",
            "-q",
            "--cert-dir",
            c,
            "--authfile",
            a,
            &pushed.reference,
            &format!("{host}/pushed:1"),
        ]);
        assert_eq!(
            h.ok(&["logout", "--authfile", a, &host]),
            format!("Removed login credentials for {host}\n")
        );
        h.fails(
            &["logout", "--authfile", a, &host],
            125,
            &[&format!("not logged into {host}")],
        );
        h.fails(
            &["login", "--authfile", a, "--get-login", &host],
            125,
            &[&format!("not logged into {host}")],
        );
        h.ok(&[
            "login",
            "--cert-dir",
            c,
            "--authfile",
            a,
            "-u",
            "huskuser",
            "-p",
            "s3cret",
            &host,
        ]);
        assert_eq!(
            h.ok(&["logout", "--authfile", a, "--all"]),
            "Removed login credentials for all registries\n"
        );
        h.fails(
            &["pull", "--authfile", "/nonexistent.json", &pushed.reference],
            125,
            &["checking authfile"],
        );
    }
}
