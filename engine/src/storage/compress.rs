//! Layer (de)compression: streaming readers for gzip (every member of a
//! multi-member file), zstd (every frame) and plain tar, a hashing reader
//! for diff ids, and the gzip compressor for layers husk makes itself.

use std::io::{self, BufRead, BufReader, Read, Write};

use crate::image::digest::{Algorithm, Digest, Digester};
use crate::image::media::Compression;

/// Read buffer between the blob file and the decompressor.
const BUF: usize = 128 * 1024;

/// A reader of the uncompressed tar stream of a layer blob.
pub fn decompress<'a, R: Read + 'a>(
    blob: R,
    compression: Compression,
) -> io::Result<Box<dyn Read + 'a>> {
    let buffered = BufReader::with_capacity(BUF, blob);
    Ok(match compression {
        Compression::None => Box::new(buffered),
        Compression::Gzip => Box::new(flate2::bufread::MultiGzDecoder::new(buffered)),
        Compression::Zstd => Box::new(zstd::stream::read::Decoder::with_buffer(buffered)?),
    })
}

/// The compression a blob's first bytes announce (gzip and zstd magic
/// numbers), for archives whose media types cannot be trusted
/// (docker-archive says "tar" for gzip layers).
pub fn sniff(prefix: &[u8]) -> Compression {
    if prefix.starts_with(&[0x1f, 0x8b]) {
        Compression::Gzip
    } else if prefix.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        Compression::Zstd
    } else {
        Compression::None
    }
}

/// Sniffs a buffered reader without consuming anything.
pub fn sniff_reader<R: BufRead>(r: &mut R) -> io::Result<Compression> {
    Ok(sniff(r.fill_buf()?))
}

/// Passes bytes through while hashing them: the diff id of a layer is the
/// digest of its uncompressed stream, computed while unpacking.
#[derive(Debug)]
pub struct HashingReader<R> {
    inner: R,
    hash: Digester<io::Sink>,
}

impl<R: Read> HashingReader<R> {
    /// Hashes (sha256) everything read from `inner`.
    pub fn new(inner: R) -> Self {
        HashingReader {
            inner,
            hash: Digester::new(io::sink(), Algorithm::Sha256),
        }
    }

    /// Reads what is left (padding after the end-of-archive blocks belongs
    /// to the diff id too), then returns the digest and byte count.
    pub fn finish(mut self) -> io::Result<(Digest, u64)> {
        io::copy(&mut self.inner, &mut self.hash)?;
        let (d, n, _) = self.hash.finish();
        Ok((d, n))
    }
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hash.write_all(&buf[..n])?;
        Ok(n)
    }
}

/// What [`GzipLayerWriter::finish`] reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompressedLayer {
    /// sha256 of the uncompressed tar: the layer's diff id.
    pub diff_id: Digest,
    /// Bytes of uncompressed tar.
    pub tar_size: u64,
    /// sha256 of the gzip stream: the layer blob's digest.
    pub digest: Digest,
    /// Bytes of gzip stream.
    pub size: u64,
}

/// Compresses a tar stream written to it into gzip (no file name, mtime 0,
/// so the same tar always gives the same blob), hashing both sides.
pub struct GzipLayerWriter<W: Write> {
    enc: flate2::write::GzEncoder<Digester<W>>,
    diff: Digester<io::Sink>,
}

impl<W: Write> std::fmt::Debug for GzipLayerWriter<W> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GzipLayerWriter")
            .field("tar_size", &self.diff.written())
            .finish_non_exhaustive()
    }
}

impl<W: Write> GzipLayerWriter<W> {
    /// Compresses into `out` at gzip's default level.
    pub fn new(out: W) -> Self {
        GzipLayerWriter {
            enc: flate2::GzBuilder::new().mtime(0).write(
                Digester::new(out, Algorithm::Sha256),
                flate2::Compression::default(),
            ),
            diff: Digester::new(io::sink(), Algorithm::Sha256),
        }
    }

    /// Ends the gzip stream; returns both digests and `out`.
    pub fn finish(self) -> io::Result<(CompressedLayer, W)> {
        let blob = self.enc.finish()?;
        let (digest, size, out) = blob.finish();
        let (diff_id, tar_size, _) = self.diff.finish();
        Ok((
            CompressedLayer {
                diff_id,
                tar_size,
                digest,
                size,
            },
            out,
        ))
    }
}

impl<W: Write> Write for GzipLayerWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.enc.write(buf)?;
        self.diff.write_all(&buf[..n])?;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.enc.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gz(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    #[test]
    fn reads_every_gzip_member_and_zstd_frame() {
        let mut two = gz(b"hello ");
        two.extend(gz(b"world"));
        let mut out = String::new();
        decompress(&two[..], Compression::Gzip)
            .unwrap()
            .read_to_string(&mut out)
            .unwrap();
        assert_eq!(out, "hello world");

        let mut z = zstd::encode_all(&b"hello "[..], 3).unwrap();
        z.extend(zstd::encode_all(&b"world"[..], 3).unwrap());
        out.clear();
        decompress(&z[..], Compression::Zstd)
            .unwrap()
            .read_to_string(&mut out)
            .unwrap();
        assert_eq!(out, "hello world");
        assert_eq!(sniff(&z), Compression::Zstd);
        assert_eq!(sniff(&two), Compression::Gzip);
        assert_eq!(sniff(b"ustar"), Compression::None);
    }

    #[test]
    fn truncated_gzip_is_an_error() {
        let g = gz(&vec![7u8; 100_000]);
        let mut out = Vec::new();
        let r = decompress(&g[..g.len() / 2], Compression::Gzip)
            .unwrap()
            .read_to_end(&mut out);
        assert!(r.is_err());
    }

    #[test]
    fn gzip_writer_is_deterministic_and_hashes_both_sides() {
        let data: Vec<u8> = (0..50_000u32).map(|i| (i % 13) as u8).collect();
        let run = || {
            let mut w = GzipLayerWriter::new(Vec::new());
            w.write_all(&data).unwrap();
            w.finish().unwrap()
        };
        let (a, blob) = run();
        let (b, _) = run();
        assert_eq!(a, b);
        assert_eq!(a.diff_id, Digest::sha256_of(&data));
        assert_eq!(a.digest, Digest::sha256_of(&blob));
        assert_eq!(a.size, blob.len() as u64);
        let mut h = HashingReader::new(decompress(&blob[..], Compression::Gzip).unwrap());
        io::copy(&mut h, &mut io::sink()).unwrap();
        assert_eq!(h.finish().unwrap(), (a.diff_id, data.len() as u64));
    }
}
