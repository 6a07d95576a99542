//! Pulling every fixture: manifests, indexes by platform, blobs streamed
//! and verified; unknown names and an unreachable registry.

use husk_tests::fixtures;
use husk_tests::fixtures::layout::read_blob;

use super::*;
use crate::image::digest::Digest;
use crate::image::manifest::{self, ManifestDoc};
use crate::image::platform::PlatformSpec;
use crate::image::reference::TagOrDigest;
use crate::image::registry::ErrorKind;

fn tag(t: &str) -> TagOrDigest {
    TagOrDigest::Tag(t.to_owned())
}

/// Every blob of one image manifest arrives with the bytes of the layout.
fn check_image(r: &Repository, layout: &std::path::Path, bytes: &[u8], media_type: &str) {
    let ManifestDoc::Image(m) = manifest::parse(media_type, bytes).unwrap() else {
        panic!("not an image manifest")
    };
    for d in std::iter::once(&m.config).chain(&m.layers) {
        let mut sink = Sink::default();
        sink.fetch(r, &d.digest, d.size)
            .unwrap_or_else(|e| panic!("{}: {e}", r.name()));
        assert_eq!(
            sink.committed.unwrap(),
            read_blob(layout, &d.digest.to_string()).unwrap(),
            "{} {}",
            r.name(),
            d.digest
        );
    }
}

#[test]
fn fetches_every_fixture_with_its_blobs() {
    let (reg, pushed) = registry_with_fixtures();
    let c = client();
    for p in &pushed {
        let local = fixtures::cached(&p.repo);
        let r = repo(&c, &reg.host(), &p.repo, None);
        let m = r.get_manifest(&tag(fixtures::TAG)).unwrap();
        assert_eq!(m.digest.to_string(), p.digest, "{}", p.repo);
        assert_eq!(m.media_type, local.media_type, "{}", p.repo);
        assert_eq!(m.bytes, read_blob(&local.layout_dir, &p.digest).unwrap());
        let head = r.head_manifest(&tag(fixtures::TAG)).unwrap();
        assert_eq!(head.digest.as_ref(), Some(&m.digest));
        assert_eq!(head.size, Some(m.bytes.len() as u64));
        // By digest, the bytes are checked against it.
        let again = r
            .get_manifest(&TagOrDigest::Digest(m.digest.clone()))
            .unwrap();
        assert_eq!(again, m);
        match manifest::parse(&m.media_type, &m.bytes).unwrap() {
            ManifestDoc::Image(_) => check_image(&r, &local.layout_dir, &m.bytes, &m.media_type),
            ManifestDoc::Index(i) => {
                for e in &i.manifests {
                    let child = r
                        .get_manifest(&TagOrDigest::Digest(e.digest.clone()))
                        .unwrap();
                    check_image(&r, &local.layout_dir, &child.bytes, &child.media_type);
                }
            }
        }
    }
}

#[test]
fn resolves_multiarch_by_platform() {
    let (reg, _) = registry_with(&["multiarch", "busybox"]);
    let c = client();
    let r = repo(&c, &reg.host(), "multiarch", None);
    let index = r.get_manifest(&tag("latest")).unwrap();
    let ManifestDoc::Index(i) = manifest::parse(&index.media_type, &index.bytes).unwrap() else {
        panic!("multiarch is not an index")
    };
    for (platform, arch) in [
        ("linux/amd64", "amd64"),
        ("linux/arm64/v8", "arm64"),
        ("linux/aarch64", "arm64"),
    ] {
        let want = PlatformSpec::parse(platform).unwrap();
        let pulled = r.pull_manifest(&tag("latest"), &want).unwrap();
        let entry = i
            .manifests
            .iter()
            .find(|d| d.platform.as_ref().unwrap().architecture == arch)
            .unwrap();
        assert_eq!(pulled.manifest.digest, entry.digest, "{platform}");
        assert_eq!(pulled.index.as_ref().unwrap().digest, index.digest);
        let config = &pulled.parsed.config;
        let mut sink = Sink::default();
        sink.fetch(&r, &config.digest, config.size).unwrap();
        let cfg: serde_json::Value =
            serde_json::from_slice(sink.committed.as_ref().unwrap()).unwrap();
        assert_eq!(cfg["architecture"], arch, "{platform}");
    }
    let e = r
        .pull_manifest(&tag("latest"), &PlatformSpec::parse("linux/s390x").unwrap())
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NoMatchingPlatform);
    let text = e.to_string();
    assert!(
        text.contains("multiarch:latest")
            && text.contains("available: linux/amd64, linux/arm64/v8"),
        "{text}"
    );
    // A single image is its own answer for any platform.
    let b = repo(&c, &reg.host(), "busybox", None);
    let pulled = b
        .pull_manifest(&tag("latest"), &PlatformSpec::host())
        .unwrap();
    assert!(pulled.index.is_none());
    assert_eq!(pulled.parsed.layers.len(), 1);
}

#[test]
fn refuses_a_wrong_size_and_commits_nothing() {
    let (reg, _) = registry_with(&["busybox"]);
    let c = client();
    let r = repo(&c, &reg.host(), "busybox", None);
    let pulled = r
        .pull_manifest(&tag("latest"), &PlatformSpec::host())
        .unwrap();
    let layer = &pulled.parsed.layers[0];
    for size in [layer.size - 1, layer.size + 1] {
        let mut sink = Sink::default();
        let e = sink.fetch(&r, &layer.digest, size).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::SizeMismatch, "{e}");
        assert!(e.to_string().contains(&layer.digest.to_string()), "{e}");
        assert!(sink.committed.is_none());
        assert!(
            sink.staged.len() as u64 <= size,
            "never more than the expected size"
        );
    }
    // A digest the repository does not have.
    let missing = Digest::sha256_of(b"not a blob here");
    let mut sink = Sink::default();
    let e = sink.fetch(&r, &missing, 15).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::BlobUnknown, "{e}");
    assert!(e.to_string().contains(&missing.to_string()));
    assert!(sink.committed.is_none() && sink.staged.is_empty());
}

#[test]
fn names_unknown_repositories_and_tags() {
    let (reg, _) = registry_with(&["busybox"]);
    let c = client();
    let e = repo(&c, &reg.host(), "nope", None)
        .get_manifest(&tag("latest"))
        .unwrap_err();
    assert!(
        matches!(
            e.kind(),
            ErrorKind::ManifestUnknown | ErrorKind::NameUnknown
        ),
        "{e:?}"
    );
    let text = e.to_string();
    assert!(
        text.starts_with(&format!("reading manifest latest in {}/nope: ", reg.host())),
        "{text}"
    );
    let e = repo(&c, &reg.host(), "busybox", None)
        .get_manifest(&tag("no-such-tag"))
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::ManifestUnknown);
    assert_eq!(
        e.to_string(),
        format!(
            "reading manifest no-such-tag in {}/busybox: manifest unknown",
            reg.host()
        )
    );
    let e = repo(&c, &reg.host(), "busybox", None)
        .head_manifest(&tag("no-such-tag"))
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::ManifestUnknown, "{e}");
}

#[test]
fn reports_a_registry_nobody_listens_on() {
    // Port 1 (tcpmux) is not served here; connect is refused at once.
    let c = client();
    let e = repo(&c, "127.0.0.1:1", "nope", None)
        .get_manifest(&tag("latest"))
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unreachable, "{e:?}");
    let text = e.to_string();
    assert!(
        text.starts_with("cannot reach container registry 127.0.0.1:1: GET http://127.0.0.1:1/v2/nope/manifests/latest: ")
            && text.contains("onnection refused")
            && text.ends_with("(after 3 attempts)"),
        "{text}"
    );
    let e = repo(&c, "no-such-host.invalid", "x", None)
        .get_manifest(&tag("latest"))
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unreachable, "{e:?}");
    assert!(
        !e.to_string().contains("attempts"),
        "DNS failures are not retried: {e}"
    );
}
