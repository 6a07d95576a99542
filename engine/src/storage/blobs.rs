//! The content-addressed blob store: `<root>/blobs/<algorithm>/<hex>` holds
//! manifests, configs and layers exactly as fetched, so push and save can
//! reproduce every digest.

use std::fs::File;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use crate::image::digest::{Algorithm, Digest, Digester};

use super::blob_writer::{BlobWriter, TmpMode};
use super::compress::{CompressedLayer, GzipLayerWriter};
use super::error::{io_err, BoxError, Result, StorageError};
use super::lock::{lock_name, Lock, LockMode};

/// What [`BlobStore::fetch_once`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fetched {
    /// The blob was stored already (possibly by a concurrent fetch we
    /// waited for); the closure did not run.
    Present,
    /// The closure ran and its bytes were committed.
    Written,
}

/// The blob store under `<root>/blobs`.
#[derive(Debug, Clone)]
pub struct BlobStore {
    dir: PathBuf,
    tmp: PathBuf,
    locks: PathBuf,
    tmp_mode: TmpMode,
    sync: bool,
}

impl BlobStore {
    /// The blob store of a store root: `<root>/blobs`, in-flight writes in
    /// `<root>/blobs/tmp`, locks in `<root>/locks`. Creates the directories.
    pub(crate) fn new(root: &Path, locks: &Path, sync: bool) -> Result<BlobStore> {
        let dir = root.join("blobs");
        let tmp = dir.join("tmp");
        for d in [dir.join(Algorithm::Sha256.name()), tmp.clone()] {
            std::fs::create_dir_all(&d).map_err(io_err("creating", &d))?;
        }
        Ok(BlobStore {
            dir,
            tmp,
            locks: locks.to_owned(),
            tmp_mode: TmpMode::Auto,
            sync,
        })
    }

    /// The same store writing named temporary files even where O_TMPFILE
    /// works (the fallback path; for tests).
    #[doc(hidden)]
    pub fn with_named_tmp_files(mut self) -> BlobStore {
        self.tmp_mode = TmpMode::Named;
        self
    }

    /// Where in-flight blobs are written.
    pub fn tmp_dir(&self) -> &Path {
        &self.tmp
    }

    /// The path a blob is (or would be) stored at.
    pub fn path(&self, digest: &Digest) -> PathBuf {
        self.dir.join(digest.algorithm().name()).join(digest.hex())
    }

    /// Whether the blob is stored.
    pub fn has(&self, digest: &Digest) -> bool {
        self.path(digest).is_file()
    }

    /// The stored blob's size in bytes.
    pub fn size(&self, digest: &Digest) -> Result<u64> {
        match std::fs::metadata(self.path(digest)) {
            Ok(m) => Ok(m.len()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                Err(StorageError::BlobNotFound(digest.clone()))
            }
            Err(e) => Err(io_err("reading", self.path(digest))(e)),
        }
    }

    /// Opens a stored blob for reading.
    pub fn open(&self, digest: &Digest) -> Result<File> {
        let p = self.path(digest);
        File::open(&p).map_err(|e| {
            if e.kind() == io::ErrorKind::NotFound {
                StorageError::BlobNotFound(digest.clone())
            } else {
                io_err("opening", p)(e)
            }
        })
    }

    /// Reads a whole (small) blob, a manifest or config, and checks that it
    /// still hashes to its digest.
    pub fn read(&self, digest: &Digest) -> Result<Vec<u8>> {
        let mut f = self.open(digest)?;
        let mut bytes = Vec::new();
        f.read_to_end(&mut bytes)
            .map_err(io_err("reading", self.path(digest)))?;
        let mut d = Digester::new(io::sink(), digest.algorithm());
        d.write_all(&bytes)
            .map_err(io_err("hashing", self.path(digest)))?;
        let (actual, size, _) = d.finish();
        if actual != *digest {
            return Err(StorageError::DigestMismatch {
                expected: digest.clone(),
                actual,
                size,
            });
        }
        Ok(bytes)
    }

    /// Re-hashes a stored blob and fails if it no longer matches its digest
    /// (before a push, or to check a store).
    pub fn verify(&self, digest: &Digest) -> Result<()> {
        let mut f = self.open(digest)?;
        let mut d = Digester::new(io::sink(), digest.algorithm());
        io::copy(&mut f, &mut d).map_err(io_err("reading", self.path(digest)))?;
        let (actual, size, _) = d.finish();
        if actual != *digest {
            return Err(StorageError::DigestMismatch {
                expected: digest.clone(),
                actual,
                size,
            });
        }
        Ok(())
    }

    /// Removes a blob; false if it was not stored.
    pub fn remove(&self, digest: &Digest) -> Result<bool> {
        match std::fs::remove_file(self.path(digest)) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(io_err("removing", self.path(digest))(e)),
        }
    }

    /// Every stored blob, sorted.
    pub fn list(&self) -> Result<Vec<Digest>> {
        let mut out = Vec::new();
        for alg in [Algorithm::Sha256, Algorithm::Sha512] {
            let d = self.dir.join(alg.name());
            let rd = match std::fs::read_dir(&d) {
                Ok(rd) => rd,
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => return Err(io_err("listing", &d)(e)),
            };
            for e in rd {
                let e = e.map_err(io_err("listing", &d))?;
                if let Some(name) = e.file_name().to_str() {
                    if let Ok(digest) = Digest::parse(&format!("{}:{name}", alg.name())) {
                        out.push(digest);
                    }
                }
            }
        }
        out.sort();
        Ok(out)
    }

    /// A writer for the blob `digest` of `size` bytes (when known); the
    /// content is checked against both in [`BlobWriter::commit`], and a write
    /// past `size` fails at once.
    pub fn writer(&self, digest: &Digest, size: Option<u64>) -> Result<BlobWriter> {
        BlobWriter::create(
            &self.tmp,
            &self.dir,
            Some(digest),
            size,
            self.tmp_mode,
            self.sync,
        )
    }

    /// A writer for a blob whose digest is not known yet (an import, a layer
    /// husk compresses): the sha256 of what is written names it on commit.
    pub fn writer_new(&self) -> Result<BlobWriter> {
        BlobWriter::create(&self.tmp, &self.dir, None, None, self.tmp_mode, self.sync)
    }

    /// Stores bytes (a manifest or config husk wrote) under their sha256.
    pub fn put(&self, bytes: &[u8]) -> Result<Digest> {
        let d = Digest::sha256_of(bytes);
        if self.has(&d) {
            return Ok(d);
        }
        let mut w = self.writer(&d, Some(bytes.len() as u64))?;
        w.write_all(bytes)
            .map_err(io_err("writing", self.path(&d)))?;
        w.commit()
    }

    /// Compresses a layer tar husk made (an import, a commit) with gzip into
    /// a new blob; returns its digest, size and diff id.
    pub fn import_layer(&self, mut tar: impl Read) -> Result<CompressedLayer> {
        let w = self.writer_new()?;
        let mut gz = GzipLayerWriter::new(w);
        io::copy(&mut tar, &mut gz).map_err(io_err("compressing a layer into", &self.tmp))?;
        let (layer, w) = gz
            .finish()
            .map_err(io_err("compressing a layer into", &self.tmp))?;
        let digest = w.commit()?;
        debug_assert_eq!(digest, layer.digest);
        Ok(layer)
    }

    /// Stores the blob `digest` unless it is stored already, running
    /// `download` at most once across every process sharing the store: the
    /// first caller takes the blob's lock and downloads; concurrent callers
    /// wait for the lock and find the blob. `download` writes the blob's
    /// bytes into the writer it is given; its error is returned as
    /// [`StorageError::Fetch`] and nothing is stored. A stored blob whose
    /// size differs is replaced when it is damaged; when it is intact the
    /// descriptor is wrong, and that is a [`StorageError::SizeMismatch`].
    pub fn fetch_once<F>(&self, digest: &Digest, size: Option<u64>, download: F) -> Result<Fetched>
    where
        F: FnOnce(&mut dyn Write) -> std::result::Result<(), BoxError>,
    {
        if self.present(digest, size, false)? {
            return Ok(Fetched::Present);
        }
        let key = format!("{}-{}", digest.algorithm().name(), digest.hex());
        let _lock = Lock::acquire(
            &self.locks,
            &lock_name("blob", &key),
            LockMode::Exclusive,
            true,
        )?;
        if self.present(digest, size, true)? {
            return Ok(Fetched::Present);
        }
        let mut w = self.writer(digest, size)?;
        if let Err(source) = download(&mut w) {
            if w.overflowed() {
                return Err(StorageError::SizeMismatch {
                    digest: digest.clone(),
                    expected: size.unwrap_or_default(),
                    actual: w.written() + 1,
                });
            }
            return Err(StorageError::Fetch {
                digest: digest.clone(),
                source,
            });
        }
        w.commit()?;
        Ok(Fetched::Written)
    }

    /// Whether the blob is stored with the size `size` says (any size when
    /// None). Only with the blob's lock held (`locked`) is a stored blob of
    /// another size looked at closer: if it still hashes to its digest the
    /// descriptor is wrong (an error; the blob stays for the images that
    /// have it right), otherwise it is damaged and removed for a refetch.
    fn present(&self, digest: &Digest, size: Option<u64>, locked: bool) -> Result<bool> {
        let have = match std::fs::metadata(self.path(digest)) {
            Ok(m) => m.len(),
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
            Err(e) => return Err(io_err("reading", self.path(digest))(e)),
        };
        match size {
            None => Ok(true),
            Some(want) if want == have => Ok(true),
            Some(_) if !locked => Ok(false),
            Some(want) => match self.verify(digest) {
                Ok(()) => Err(StorageError::SizeMismatch {
                    digest: digest.clone(),
                    expected: want,
                    actual: have,
                }),
                Err(StorageError::DigestMismatch { .. }) => {
                    self.remove(digest)?;
                    Ok(false)
                }
                Err(e) => Err(e),
            },
        }
    }
}
