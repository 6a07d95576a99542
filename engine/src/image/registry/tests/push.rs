//! Pushing: blobs (monolithic and chunked), manifests by tag and digest,
//! cross-repository mounts, tag lists; read back by husk and by skopeo.

use std::fs::File;
use std::io::Cursor;

use husk_tests::fixtures;
use husk_tests::fixtures::layout::{blob_path, read_blob, sha256_digest};

use super::*;
use crate::image::digest::Digest;
use crate::image::manifest::{self, ManifestDoc};
use crate::image::media;
use crate::image::reference::TagOrDigest;
use crate::image::registry::{ErrorKind, PushOutcome};

/// The busybox fixture's manifest bytes and parsed manifest.
fn busybox() -> (
    std::path::PathBuf,
    Vec<u8>,
    crate::image::manifest::Manifest,
) {
    let local = fixtures::cached("busybox");
    let bytes = read_blob(&local.layout_dir, &local.digest).unwrap();
    let ManifestDoc::Image(m) = manifest::parse(media::OCI_MANIFEST, &bytes).unwrap() else {
        panic!("busybox is an image")
    };
    (local.layout_dir, bytes, *m)
}

fn push_all_blobs(
    r: &Repository,
    layout: &std::path::Path,
    m: &crate::image::manifest::Manifest,
) -> Vec<PushOutcome> {
    std::iter::once(&m.config)
        .chain(&m.layers)
        .map(|d| {
            let mut f = File::open(blob_path(layout, &d.digest.to_string())).unwrap();
            r.push_blob(&d.digest, d.size, &mut f, None, &mut |_| {})
                .unwrap()
        })
        .collect()
}

#[test]
fn pushes_an_image_and_reads_it_back() {
    let reg = start(RegistryOptions::default());
    let c = client();
    let (layout, bytes, m) = busybox();
    let r = repo(&c, &reg.host(), "pushed/busybox", None);
    assert_eq!(
        push_all_blobs(&r, &layout, &m),
        [PushOutcome::Uploaded, PushOutcome::Uploaded]
    );
    assert_eq!(
        push_all_blobs(&r, &layout, &m),
        [PushOutcome::Exists, PushOutcome::Exists]
    );
    let digest = r
        .put_manifest(&TagOrDigest::Tag("v1".into()), media::OCI_MANIFEST, &bytes)
        .unwrap();
    assert_eq!(digest, Digest::sha256_of(&bytes));
    // skopeo sees the same manifest under the tag.
    assert_eq!(
        sha256_digest(&reg.inspect_raw("pushed/busybox", "v1").unwrap()),
        digest.to_string()
    );
    let back = r.get_manifest(&TagOrDigest::Tag("v1".into())).unwrap();
    assert_eq!(back.bytes, bytes);
    assert_eq!(back.media_type, media::OCI_MANIFEST);
    let layer = &m.layers[0];
    let mut sink = Sink::default();
    sink.fetch(&r, &layer.digest, layer.size).unwrap();
    assert_eq!(
        sink.committed.unwrap(),
        read_blob(&layout, &layer.digest.to_string()).unwrap()
    );
    // By digest too, and the tag list has the tags.
    r.put_manifest(
        &TagOrDigest::Digest(digest.clone()),
        media::OCI_MANIFEST,
        &bytes,
    )
    .unwrap();
    r.put_manifest(&TagOrDigest::Tag("v2".into()), media::OCI_MANIFEST, &bytes)
        .unwrap();
    let mut tags = r.tags().unwrap();
    tags.sort();
    assert_eq!(tags, ["v1", "v2"]);
    // A manifest whose digest is not the one named is refused before sending.
    let e = r
        .put_manifest(
            &TagOrDigest::Digest(Digest::sha256_of(b"x")),
            media::OCI_MANIFEST,
            &bytes,
        )
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::DigestMismatch);
}

#[test]
fn uploads_large_blobs_in_chunks() {
    let reg = start(RegistryOptions::default());
    let c = Client::new(ClientConfig {
        chunk_size: 100_000,
        retry: fast_retry(1),
        certs_dirs: Vec::new(),
        ..ClientConfig::default()
    });
    let (layout, _, m) = busybox();
    let layer = &m.layers[0];
    assert!(layer.size > 3 * 100_000, "several chunks");
    let r = repo(&c, &reg.host(), "chunked", None);
    let mut f = File::open(blob_path(&layout, &layer.digest.to_string())).unwrap();
    let mut seen = 0;
    let out = r
        .push_blob(&layer.digest, layer.size, &mut f, None, &mut |p| {
            if let crate::image::registry::Progress::Bytes { done, .. } = p {
                seen = done;
            }
        })
        .unwrap();
    assert_eq!(out, PushOutcome::Uploaded);
    assert_eq!(seen, layer.size);
    assert_eq!(r.blob_exists(&layer.digest).unwrap(), Some(layer.size));
    let mut sink = Sink::default();
    sink.fetch(&r, &layer.digest, layer.size).unwrap();
    assert_eq!(
        sink.committed.unwrap(),
        read_blob(&layout, &layer.digest.to_string()).unwrap()
    );
}

#[test]
fn mounts_blobs_from_another_repository() {
    let reg = start(RegistryOptions::default());
    let c = client();
    let (layout, bytes, m) = busybox();
    let a = repo(&c, &reg.host(), "team/a", None);
    push_all_blobs(&a, &layout, &m);
    let b = repo(&c, &reg.host(), "team/b", None);
    for d in std::iter::once(&m.config).chain(&m.layers) {
        assert_eq!(b.blob_exists(&d.digest).unwrap(), None);
        let mut empty = Cursor::new(Vec::new());
        let out = b
            .push_blob(&d.digest, d.size, &mut empty, Some("team/a"), &mut |_| {})
            .unwrap();
        assert_eq!(out, PushOutcome::Mounted, "{}", d.digest);
        assert_eq!(b.blob_exists(&d.digest).unwrap(), Some(d.size));
    }
    b.put_manifest(
        &TagOrDigest::Tag("latest".into()),
        media::OCI_MANIFEST,
        &bytes,
    )
    .unwrap();
    assert_eq!(
        sha256_digest(&reg.inspect_raw("team/b", "latest").unwrap()),
        sha256_digest(&bytes)
    );
    // A source that lacks the blob: the registry opens an upload instead.
    let c2 = repo(&c, &reg.host(), "team/c", None);
    let d = &m.config;
    let mut f = File::open(blob_path(&layout, &d.digest.to_string())).unwrap();
    let out = c2
        .push_blob(&d.digest, d.size, &mut f, Some("team/none"), &mut |_| {})
        .unwrap();
    assert_eq!(out, PushOutcome::Uploaded);
}

#[test]
fn refuses_an_upload_whose_digest_is_wrong() {
    let reg = start(RegistryOptions::default());
    let c = client();
    let r = repo(&c, &reg.host(), "bad", None);
    let wrong = Digest::sha256_of(b"something else");
    let mut data = Cursor::new(b"these bytes".to_vec());
    let e = r
        .push_blob(&wrong, 11, &mut data, None, &mut |_| {})
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Protocol, "{e}");
    assert!(e.to_string().contains("DIGEST_INVALID"), "{e}");
    assert_eq!(r.blob_exists(&wrong).unwrap(), None);
}
