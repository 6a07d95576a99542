//! Transient failures are retried (a blob cut mid-transfer resumes with
//! Range, 503 and 429 wait, a restarted registry is reached again); a 404
//! and a corrupted blob are not.

use std::sync::mpsc;

use super::proxy::{Fault, Proxy};
use super::*;
use crate::image::platform::PlatformSpec;
use crate::image::reference::TagOrDigest;
use crate::image::registry::{ErrorKind, Progress};

fn latest() -> TagOrDigest {
    TagOrDigest::Tag("latest".into())
}

#[test]
fn resumes_a_blob_cut_mid_transfer() {
    let (reg, _) = registry_with(&["busybox"]);
    let proxy = Proxy::start(reg.addr());
    let c = client();
    let r = repo(&c, &proxy.host(), "busybox", None);
    let layer = r
        .pull_manifest(&latest(), &PlatformSpec::host())
        .unwrap()
        .parsed
        .layers[0]
        .clone();
    assert!(layer.size > 10_000, "the layer is big enough to cut");
    proxy.inject("/blobs/", Fault::CutAfter(10_000));
    let mut sink = Sink::default();
    let mut retries = Vec::new();
    let mut last_done = 0;
    r.fetch_blob(&layer.digest, layer.size, &mut sink, &mut |p| match p {
        Progress::Retrying { attempt, error, .. } => retries.push((attempt, error.to_string())),
        Progress::Bytes { done, total } => {
            assert!(done >= last_done && done <= total);
            last_done = done;
        }
    })
    .unwrap();
    assert_eq!(last_done, layer.size);
    assert_eq!(retries.len(), 1, "{retries:?}");
    assert!(retries[0].1.contains("after 10000 of"), "{retries:?}");
    let gets = proxy.requests("/blobs/");
    assert_eq!(gets.len(), 2, "{gets:?}");
    assert!(!gets[0].contains("range:"));
    assert!(gets[1].contains("range: bytes=10000-"), "{}", gets[1]);
    let want = husk_tests::fixtures::layout::read_blob(
        &husk_tests::fixtures::cached("busybox").layout_dir,
        &layer.digest.to_string(),
    )
    .unwrap();
    assert!(sink.staged == want, "the resumed blob is the blob");
}

#[test]
fn retries_server_errors_and_rate_limits() {
    let (reg, pushed) = registry_with(&["busybox"]);
    let proxy = Proxy::start(reg.addr());
    let c = client();
    let r = repo(&c, &proxy.host(), "busybox", None);
    proxy.inject("/manifests/", Fault::Status(503, vec![]));
    proxy.inject(
        "/manifests/",
        Fault::Status(429, vec![("Retry-After", "1".into())]),
    );
    let mut delays = Vec::new();
    let m = c
        .with_retries(
            &mut |p| {
                if let Progress::Retrying { delay, error, .. } = p {
                    delays.push((delay, error.to_string()));
                }
            },
            |_| r.get_manifest(&latest()),
        )
        .unwrap();
    let busybox = pushed.iter().find(|p| p.repo == "busybox").unwrap();
    assert_eq!(m.digest.to_string(), busybox.digest);
    // The inner call retried both by itself: the outer loop saw nothing.
    assert!(delays.is_empty(), "{delays:?}");
    assert_eq!(proxy.requests("/manifests/").len(), 3);

    // Always failing: the retries run out, and the error says so.
    for _ in 0..5 {
        proxy.inject("/manifests/", Fault::Status(502, vec![]));
    }
    let e = r.get_manifest(&latest()).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::TooManyRetries, "{e}");
    assert!(
        e.to_string()
            .starts_with("giving up after 3 attempts: GET "),
        "{e}"
    );
    assert!(e.to_string().contains("unexpected status 502"), "{e}");
}

#[test]
fn rate_limit_wait_follows_retry_after_up_to_the_cap() {
    let (reg, _) = registry_with(&["busybox"]);
    let proxy = Proxy::start(reg.addr());
    let c = client();
    let r = repo(&c, &proxy.host(), "busybox", None);
    let layer = r
        .pull_manifest(&latest(), &PlatformSpec::host())
        .unwrap()
        .parsed
        .layers[0]
        .clone();
    proxy.inject(
        "/blobs/",
        Fault::Status(429, vec![("Retry-After", "0".into())]),
    );
    proxy.inject(
        "/blobs/",
        Fault::Status(429, vec![("Retry-After", "3600".into())]),
    );
    let mut delays = Vec::new();
    let mut sink = Sink::default();
    r.fetch_blob(&layer.digest, layer.size, &mut sink, &mut |p| {
        if let Progress::Retrying { delay, .. } = p {
            delays.push(delay);
        }
    })
    .unwrap();
    let cap = c.config().retry.max_delay;
    assert_eq!(delays, [Duration::ZERO, cap]);
}

#[test]
fn does_not_retry_a_404_or_a_corrupted_blob() {
    let (reg, _) = registry_with(&["busybox"]);
    let proxy = Proxy::start(reg.addr());
    let c = client();
    let e = repo(&c, &proxy.host(), "busybox", None)
        .get_manifest(&TagOrDigest::Tag("missing".into()))
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::ManifestUnknown);
    assert_eq!(proxy.requests("/manifests/missing").len(), 1);

    let r = repo(&c, &proxy.host(), "busybox", None);
    let layer = r
        .pull_manifest(&latest(), &PlatformSpec::host())
        .unwrap()
        .parsed
        .layers[0]
        .clone();
    proxy.inject("/blobs/", Fault::Corrupt(1234));
    let mut sink = Sink::default();
    let e = sink.fetch(&r, &layer.digest, layer.size).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::DigestMismatch, "{e}");
    let text = e.to_string();
    assert!(
        text.contains(&format!("expected {}, got sha256:", layer.digest)),
        "{text}"
    );
    assert!(
        sink.committed.is_none(),
        "a corrupted blob is never committed"
    );
    assert_eq!(proxy.requests("/blobs/").len(), 1);
}

#[test]
fn reaches_a_restarted_registry() {
    let (mut reg, pushed) = registry_with(&["busybox"]);
    let host = reg.host();
    reg.stop();
    let c = Client::new(ClientConfig {
        retry: RetryPolicy {
            max_retries: 200,
            initial_delay: Duration::from_millis(50),
            max_delay: Duration::from_millis(100),
        },
        certs_dirs: Vec::new(),
        ..ClientConfig::default()
    });
    let (tx, rx) = mpsc::channel();
    let worker = std::thread::spawn(move || {
        let r = repo(&c, &host, "busybox", None);
        let mut told = false;
        c.with_retries(
            &mut |p| {
                if let Progress::Retrying { error, .. } = p {
                    assert_eq!(error.kind(), ErrorKind::Unreachable);
                    if !told {
                        tx.send(()).unwrap();
                        told = true;
                    }
                }
            },
            |_| {
                // One attempt per outer round, so each refusal is reported.
                let quick = Client::new(ClientConfig {
                    retry: fast_retry(0),
                    certs_dirs: Vec::new(),
                    ..ClientConfig::default()
                });
                repo(&quick, r.registry(), r.path(), None).get_manifest(&latest())
            },
        )
    });
    rx.recv().unwrap();
    reg.restart().unwrap();
    let m = worker.join().unwrap().unwrap();
    let busybox = pushed.iter().find(|p| p.repo == "busybox").unwrap();
    assert_eq!(m.digest.to_string(), busybox.digest);
}
