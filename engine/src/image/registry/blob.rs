//! Blob downloads, streamed into the caller's writer while their digest and
//! size are checked. A transfer cut short is retried from where it stopped
//! (`Range`); a server that ignores the range sends the whole blob again
//! and the part already written is skipped. Never more than the expected
//! size reaches the writer; the caller commits what it wrote only when
//! this returns Ok.

use std::io::{Read, Write};

use super::transport::{header, response_error, url_of, Body, Call};
use super::{Progress, RegistryError, Repository};
use crate::image::digest::{Digest, Digester};

/// Bytes read from the network per write to the sink.
const CHUNK: usize = 256 << 10;

impl Repository {
    /// Streams blob `digest` of `size` bytes into `sink`, calling
    /// `progress` as bytes arrive and before each retry. Fails with
    /// [`RegistryError::DigestMismatch`] or [`RegistryError::SizeMismatch`]
    /// when the content is not what was asked for.
    pub fn fetch_blob<W: Write + ?Sized>(
        &self,
        digest: &Digest,
        size: u64,
        sink: &mut W,
        progress: &mut dyn FnMut(Progress),
    ) -> Result<(), RegistryError> {
        let scopes = self.pull_scope();
        let path = format!("/v2/{}/blobs/{digest}", self.path);
        let action = format!("fetching blob {digest} from");
        let mut hasher = Digester::new(sink, digest.algorithm());
        let mut buf = vec![0u8; CHUNK];
        self.client.with_retries(progress, |progress| {
            let done = hasher.written();
            if done == size && done > 0 {
                // Everything arrived before the failure that led here.
                return Ok(());
            }
            let mut call = Call::get(&path, &scopes);
            if done > 0 {
                call = call.header("Range", format!("bytes={done}-"));
            }
            let resp = self.client.send(&self.endpoint, &call, Body::Empty)?;
            let status = resp.status().as_u16();
            let url = url_of(&resp);
            // Bytes of this response already written by an earlier attempt.
            let mut skip = match status {
                200 => done,
                206 => {
                    let start = header(&resp, "content-range")
                        .and_then(|v| v.trim().strip_prefix("bytes "))
                        .and_then(|v| v.split('-').next())
                        .and_then(|v| v.parse::<u64>().ok());
                    if start != Some(done) {
                        return Err(RegistryError::Protocol {
                            url,
                            reason: format!(
                                "asked for bytes from {done}, got Content-Range {start:?}"
                            ),
                            transient: false,
                        });
                    }
                    0
                }
                404 => {
                    super::transport::drain(resp);
                    return Err(RegistryError::BlobUnknown {
                        repository: self.name(),
                        digest: digest.clone(),
                    });
                }
                _ => {
                    return Err(response_error(
                        &self.endpoint,
                        &self.name(),
                        &action,
                        "GET",
                        resp,
                    ))
                }
            };
            let expected_here = size - done + skip;
            if let Some(len) = header(&resp, "content-length").and_then(|l| l.parse::<u64>().ok()) {
                if len != expected_here {
                    return Err(RegistryError::SizeMismatch {
                        what: format!("blob {digest}"),
                        repository: self.name(),
                        expected: size,
                        got: (len + done - skip).to_string(),
                    });
                }
            }
            let mut body = resp.into_body().into_reader();
            loop {
                let n = match body.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => n,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                    Err(e) => {
                        return Err(RegistryError::Protocol {
                            url,
                            reason: format!(
                                "reading blob {digest} after {} of {size} bytes: {e}",
                                hasher.written()
                            ),
                            transient: true,
                        })
                    }
                };
                let mut chunk = &buf[..n];
                let skipped = (skip.min(n as u64)) as usize;
                chunk = &chunk[skipped..];
                skip -= skipped as u64;
                let room = size - hasher.written();
                if chunk.len() as u64 > room {
                    hasher
                        .write_all(&chunk[..room as usize])
                        .map_err(|e| sink_error(digest, e))?;
                    return Err(RegistryError::SizeMismatch {
                        what: format!("blob {digest}"),
                        repository: self.name(),
                        expected: size,
                        got: format!("more than {size}"),
                    });
                }
                hasher.write_all(chunk).map_err(|e| sink_error(digest, e))?;
                progress(Progress::Bytes {
                    done: hasher.written(),
                    total: size,
                });
            }
            if hasher.written() < size {
                return Err(RegistryError::Protocol {
                    url,
                    reason: format!(
                        "blob {digest} ended after {} of {size} bytes",
                        hasher.written()
                    ),
                    transient: true,
                });
            }
            Ok(())
        })?;
        let (computed, _, sink) = hasher.finish();
        sink.flush().map_err(|e| sink_error(digest, e))?;
        if computed != *digest {
            return Err(RegistryError::DigestMismatch {
                what: format!("blob {digest}"),
                repository: self.name(),
                expected: digest.clone(),
                computed,
            });
        }
        Ok(())
    }
}

fn sink_error(digest: &Digest, source: std::io::Error) -> RegistryError {
    RegistryError::Io {
        what: format!("writing blob {digest}"),
        source,
    }
}
