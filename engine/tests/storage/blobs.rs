//! Blob store behaviour on a real filesystem.

use std::io::Write;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};

use husk_engine::image::digest::Digest;
use husk_engine::storage::{Fetched, StorageError};

use crate::common::{store, tree};

#[test]
fn concurrent_fetch_once_downloads_once() {
    let (_t, s) = store(None);
    let data: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    let d = Digest::sha256_of(&data);
    let runs = Arc::new(AtomicUsize::new(0));
    let n = 6;
    let barrier = Arc::new(Barrier::new(n));
    let handles: Vec<_> = (0..n)
        .map(|_| {
            // Separate opens: the lock must work between open files, as
            // between processes.
            let s = husk_engine::storage::Store::open(s.root(), s.options().clone()).unwrap();
            let (runs, barrier, data, d) = (runs.clone(), barrier.clone(), data.clone(), d.clone());
            std::thread::spawn(move || {
                barrier.wait();
                s.blobs()
                    .fetch_once(&d, Some(data.len() as u64), |w| {
                        runs.fetch_add(1, Ordering::SeqCst);
                        for chunk in data.chunks(10_000) {
                            // Slow enough that every other thread arrives
                            // while this one still downloads.
                            std::thread::sleep(std::time::Duration::from_millis(2));
                            w.write_all(chunk)?;
                        }
                        Ok(())
                    })
                    .unwrap()
            })
        })
        .collect();
    let results: Vec<Fetched> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    assert_eq!(
        runs.load(Ordering::SeqCst),
        1,
        "the download closure ran more than once"
    );
    assert_eq!(
        results.iter().filter(|r| **r == Fetched::Written).count(),
        1
    );
    assert_eq!(s.blobs().read(&d).unwrap(), data);
    assert!(tree(&s.root().join("blobs/tmp")).is_empty());
    assert!(
        tree(&s.root().join("locks")).is_empty(),
        "blob lock files must go with their holder"
    );
}

#[test]
fn wrong_digest_size_or_failed_download_stores_nothing() {
    let (_t, s) = store(None);
    let d = Digest::sha256_of(b"the real content");
    let e = s
        .blobs()
        .fetch_once(&d, None, |w| Ok(w.write_all(b"something else")?))
        .unwrap_err();
    assert!(matches!(e, StorageError::DigestMismatch { .. }), "{e}");
    assert!(e.to_string().contains(&d.to_string()), "{e}");

    let e = s
        .blobs()
        .fetch_once(&d, Some(5), |w| Ok(w.write_all(b"the real content")?))
        .unwrap_err();
    assert!(
        matches!(e, StorageError::SizeMismatch { expected: 5, .. }),
        "{e}"
    );

    let e = s
        .blobs()
        .fetch_once(&d, Some(16), |w| {
            w.write_all(b"the real")?;
            Err("connection reset by registry".into())
        })
        .unwrap_err();
    assert!(
        e.to_string().contains("connection reset by registry"),
        "{e}"
    );
    assert!(e.to_string().contains(&d.to_string()), "{e}");

    assert!(!s.blobs().has(&d));
    assert!(s.blobs().list().unwrap().is_empty());
    assert!(tree(&s.root().join("blobs/tmp")).is_empty());

    // And the right bytes then go in.
    assert_eq!(
        s.blobs()
            .fetch_once(&d, Some(16), |w| Ok(w.write_all(b"the real content")?))
            .unwrap(),
        Fetched::Written
    );
    assert_eq!(
        s.blobs()
            .fetch_once(&d, Some(16), |_| panic!("must not run"))
            .unwrap(),
        Fetched::Present
    );
}

#[test]
fn put_list_size_verify_remove() {
    let (_t, s) = store(None);
    let a = s.blobs().put(b"{\"a\":1}").unwrap();
    let b = s.blobs().put(b"{\"b\":2}").unwrap();
    assert_eq!(s.blobs().put(b"{\"a\":1}").unwrap(), a);
    let mut want = vec![a.clone(), b.clone()];
    want.sort();
    assert_eq!(s.blobs().list().unwrap(), want);
    assert_eq!(s.blobs().size(&a).unwrap(), 7);
    s.blobs().verify(&a).unwrap();
    // Damage shows.
    std::fs::write(s.blobs().path(&b), "tampered").unwrap();
    assert!(matches!(
        s.blobs().verify(&b),
        Err(StorageError::DigestMismatch { .. })
    ));
    assert!(matches!(
        s.blobs().read(&b),
        Err(StorageError::DigestMismatch { .. })
    ));
    assert!(s.blobs().remove(&b).unwrap());
    assert!(!s.blobs().remove(&b).unwrap());
    assert!(matches!(
        s.blobs().open(&b),
        Err(StorageError::BlobNotFound(_))
    ));
    // A descriptor with the wrong size for an intact blob is an error, and
    // the blob stays.
    let e = s
        .blobs()
        .fetch_once(&a, Some(8), |_| panic!("must not run"))
        .unwrap_err();
    assert!(
        matches!(
            e,
            StorageError::SizeMismatch {
                expected: 8,
                actual: 7,
                ..
            }
        ),
        "{e}"
    );
    s.blobs().verify(&a).unwrap();
    // A damaged blob of the wrong size is fetched again.
    std::fs::write(s.blobs().path(&a), "short").unwrap();
    assert_eq!(
        s.blobs()
            .fetch_once(&a, Some(7), |w| Ok(w.write_all(b"{\"a\":1}")?))
            .unwrap(),
        Fetched::Written
    );
    s.blobs().verify(&a).unwrap();
}

#[test]
fn named_temporary_files_are_removed_on_drop_and_swept_when_orphaned() {
    let (_t, s) = store(None);
    let blobs = s.blobs().clone().with_named_tmp_files();
    let d = Digest::sha256_of(b"x");
    {
        let mut w = blobs.writer(&d, Some(1)).unwrap();
        w.write_all(b"x").unwrap();
        assert_eq!(
            tree(blobs.tmp_dir()).len(),
            1,
            "the named file is visible while writing"
        );
    }
    assert!(
        tree(blobs.tmp_dir()).is_empty(),
        "dropping an uncommitted writer removes its file"
    );
    let mut w = blobs.writer(&d, Some(1)).unwrap();
    w.write_all(b"x").unwrap();
    // A live writer's file survives a sweep.
    assert_eq!(s.sweep().unwrap(), 0);
    assert_eq!(w.commit().unwrap(), d);
    assert!(s.blobs().has(&d));
    assert!(tree(blobs.tmp_dir()).is_empty());
    // An orphan (no flock holder) is swept.
    std::fs::write(blobs.tmp_dir().join("blob-123-0-orphan"), "half").unwrap();
    assert_eq!(s.sweep().unwrap(), 1);
    assert!(tree(blobs.tmp_dir()).is_empty());
}
