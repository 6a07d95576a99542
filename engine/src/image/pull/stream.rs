//! Unpacking a layer while it downloads. The download thread writes each
//! chunk into the blob writer and, through a bounded channel, to the
//! unpacker; the unpacker's stream ends only when the download has checked
//! the blob's digest, so a corrupt or short blob fails the unpack and the
//! layer is discarded. When the channel is not read in time (the unpacker
//! is still on an earlier layer) or the blob was stored already, the
//! unpacker reads the stored blob instead, from where the channel left
//! off: memory stays bounded and no byte is read twice from the network.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TryRecvError, TrySendError};
use std::sync::{Arc, Condvar, Mutex};

use crate::image::digest::Digest;
use crate::storage::BlobStore;

/// Chunks in flight per layer (each at most the client's 256 KiB read).
const IN_FLIGHT: usize = 64;

enum Msg {
    Data(Vec<u8>),
    /// The download finished and the digest matched.
    Verified,
}

/// How the download ended: Ok once the blob is stored (or was already).
#[derive(Default)]
struct Outcome {
    result: Mutex<Option<Result<(), String>>>,
    cv: Condvar,
}

impl Outcome {
    fn set(&self, r: Result<(), String>) {
        let mut g = self.result.lock().unwrap_or_else(|p| p.into_inner());
        if g.is_none() {
            *g = Some(r);
        }
        self.cv.notify_all();
    }

    fn wait(&self) -> Result<(), String> {
        let mut g = self.result.lock().unwrap_or_else(|p| p.into_inner());
        while g.is_none() {
            g = self.cv.wait(g).unwrap_or_else(|p| p.into_inner());
        }
        g.clone().expect("set")
    }
}

/// The download side: hands the outcome over even when the thread unwinds.
pub struct Feed {
    tx: Option<SyncSender<Msg>>,
    outcome: Arc<Outcome>,
}

/// The unpack side.
pub struct Stream {
    rx: Receiver<Msg>,
    buf: Vec<u8>,
    pos: usize,
    consumed: u64,
    outcome: Arc<Outcome>,
    blobs: BlobStore,
    digest: Digest,
    file: Option<File>,
    ended: bool,
}

/// A connected feed and stream for blob `digest`.
pub fn channel(blobs: &BlobStore, digest: &Digest) -> (Feed, Stream) {
    let (tx, rx) = sync_channel(IN_FLIGHT);
    let outcome = Arc::new(Outcome::default());
    (
        Feed {
            tx: Some(tx),
            outcome: outcome.clone(),
        },
        Stream {
            rx,
            buf: Vec::new(),
            pos: 0,
            consumed: 0,
            outcome,
            blobs: blobs.clone(),
            digest: digest.clone(),
            file: None,
            ended: false,
        },
    )
}

impl Feed {
    /// A writer that stores into `blob` and feeds the stream.
    pub fn tee<'a>(&'a mut self, blob: &'a mut dyn Write) -> Tee<'a> {
        Tee { blob, feed: self }
    }

    /// The digest was checked: the stream may end.
    pub fn verified(&mut self) {
        if let Some(tx) = self.tx.take() {
            let _ = tx.try_send(Msg::Verified);
        }
    }

    /// Records how the download ended.
    pub fn finish(mut self, r: Result<(), String>) {
        self.tx = None;
        self.outcome.set(r);
    }
}

impl Drop for Feed {
    fn drop(&mut self) {
        self.outcome
            .set(Err("the download of the layer stopped".into()));
    }
}

/// Writes to the blob, then offers the bytes to the stream.
pub struct Tee<'a> {
    blob: &'a mut dyn Write,
    feed: &'a mut Feed,
}

impl Write for Tee<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.blob.write_all(buf)?;
        if let Some(tx) = &self.feed.tx {
            match tx.try_send(Msg::Data(buf.to_vec())) {
                Ok(()) => {}
                // Not read in time, or not wanted: the stream falls back
                // to the stored blob.
                Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => {
                    self.feed.tx = None;
                }
            }
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.blob.flush()
    }
}

impl Stream {
    /// Switches to the stored blob at the offset read so far.
    fn fall_back(&mut self) -> io::Result<()> {
        self.outcome.wait().map_err(io::Error::other)?;
        let mut f = self.blobs.open(&self.digest).map_err(io::Error::other)?;
        f.seek(SeekFrom::Start(self.consumed))?;
        self.file = Some(f);
        Ok(())
    }
}

impl Read for Stream {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        loop {
            if let Some(f) = &mut self.file {
                return f.read(out);
            }
            if self.pos < self.buf.len() {
                let n = out.len().min(self.buf.len() - self.pos);
                out[..n].copy_from_slice(&self.buf[self.pos..self.pos + n]);
                self.pos += n;
                self.consumed += n as u64;
                return Ok(n);
            }
            if self.ended {
                return Ok(0);
            }
            let msg = match self.rx.try_recv() {
                Ok(m) => Some(m),
                Err(TryRecvError::Empty) => self.rx.recv().ok(),
                Err(TryRecvError::Disconnected) => None,
            };
            match msg {
                Some(Msg::Data(d)) => {
                    self.buf = d;
                    self.pos = 0;
                }
                Some(Msg::Verified) => self.ended = true,
                None => self.fall_back()?,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::{Store, StoreOptions};

    fn store() -> (tempfile::TempDir, Store) {
        let d = tempfile::tempdir().unwrap();
        let mut o = StoreOptions::rootful();
        o.sync = false;
        o.driver = Some(crate::storage::Driver::Vfs);
        let s = Store::open(&d.path().join("s"), o).unwrap();
        (d, s)
    }

    /// Downloads `data` as blob `d` through a feed, in `chunks` writes.
    fn download(s: &Store, d: &Digest, data: &[u8], chunk: usize, mut feed: Feed, fail: bool) {
        let r = s.blobs().fetch_once(d, Some(data.len() as u64), |w| {
            {
                let mut tee = feed.tee(w);
                for c in data.chunks(chunk) {
                    tee.write_all(c).unwrap();
                }
            }
            if fail {
                return Err("the registry hung up".into());
            }
            feed.verified();
            Ok(())
        });
        feed.finish(r.map(|_| ()).map_err(|e| e.to_string()));
    }

    #[test]
    fn streams_while_downloading_and_falls_back_to_the_blob() {
        let (_d, s) = store();
        let data: Vec<u8> = (0..(3 << 20)).map(|i| (i % 251) as u8).collect();
        let d = Digest::sha256_of(&data);
        // Read as it arrives.
        let (feed, mut st) = channel(s.blobs(), &d);
        let (s2, d2, data2) = (s.clone(), d.clone(), data.clone());
        let t = std::thread::spawn(move || download(&s2, &d2, &data2, 64 << 10, feed, false));
        let mut got = Vec::new();
        st.read_to_end(&mut got).unwrap();
        t.join().unwrap();
        assert_eq!(got, data);
        // Not read in time (the channel overflows): the rest comes from the
        // stored blob; and a blob stored already is read from the store.
        let data_b: Vec<u8> = data.iter().rev().copied().collect();
        let db = Digest::sha256_of(&data_b);
        let (feed, mut st) = channel(s.blobs(), &db);
        download(&s, &db, &data_b, 16 << 10, feed, false);
        let mut got = Vec::new();
        st.read_to_end(&mut got).unwrap();
        assert_eq!(got, data_b);
        let (feed, mut st) = channel(s.blobs(), &db);
        drop(feed);
        // The feed dropped without an outcome: an error, not a short read.
        assert!(st.read_to_end(&mut Vec::new()).is_err());
    }

    #[test]
    fn a_failed_download_fails_the_stream() {
        let (_d, s) = store();
        let data = vec![7u8; 1 << 20];
        let d = Digest::sha256_of(&data);
        let (feed, mut st) = channel(s.blobs(), &d);
        download(&s, &d, &data, 4096, feed, true);
        let e = st.read_to_end(&mut Vec::new()).unwrap_err();
        assert!(e.to_string().contains("the registry hung up"), "{e}");
        assert!(!s.blobs().has(&d));
    }
}
