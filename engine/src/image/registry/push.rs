//! The push side: blob existence (HEAD), uploads (POST then one PUT, or
//! PATCH chunks for blobs over the configured chunk size), cross-repository
//! mounts, manifest PUT by tag or digest, and the tag list.

use std::io::{Read, Seek, SeekFrom};

use serde::Deserialize;
use ureq::http::Method;

use super::transport::{
    drain, encode, header, response_error, url_of, Body, Call, SMALL_BODY_LIMIT,
};
use super::{Progress, RegistryError, Repository};
use crate::image::digest::Digest;
use crate::image::reference::TagOrDigest;

/// What pushing a blob did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PushOutcome {
    /// The repository already had it.
    Exists,
    /// The registry linked it from the other repository.
    Mounted,
    /// Its bytes were sent.
    Uploaded,
}

/// Counts bytes read through it and reports progress.
struct Counting<'a, R: ?Sized> {
    inner: &'a mut R,
    done: u64,
    total: u64,
    progress: &'a mut dyn FnMut(Progress),
}

impl<R: Read + ?Sized> Read for Counting<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.done += n as u64;
        (self.progress)(Progress::Bytes {
            done: self.done,
            total: self.total,
        });
        Ok(n)
    }
}

/// `url` with `param` appended to its query.
fn with_query(url: &str, param: &str) -> String {
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}{param}")
}

impl Repository {
    /// The size of blob `digest` in this repository, or None if it has none.
    pub fn blob_exists(&self, digest: &Digest) -> Result<Option<u64>, RegistryError> {
        let scopes = self.pull_scope();
        let action = format!("checking blob {digest} in");
        self.client.with_retries(&mut |_| {}, |_| {
            let call = Call::new(
                Method::HEAD,
                &format!("/v2/{}/blobs/{digest}", self.path),
                &scopes,
            );
            let resp = self.client.send(&self.endpoint, &call, Body::Empty)?;
            match resp.status().as_u16() {
                200 => Ok(Some(
                    header(&resp, "content-length")
                        .and_then(|l| l.parse().ok())
                        .unwrap_or(0),
                )),
                404 => Ok(None),
                _ => Err(response_error(
                    &self.endpoint,
                    &self.name(),
                    &action,
                    "HEAD",
                    resp,
                )),
            }
        })
    }

    /// Pushes blob `digest` of `size` bytes read from `reader` (from its
    /// start; it is rewound for a retry). With `mount_from` (a repository
    /// path on this registry that has the blob) the registry is first asked
    /// to link it instead.
    pub fn push_blob<R: Read + Seek + ?Sized>(
        &self,
        digest: &Digest,
        size: u64,
        reader: &mut R,
        mount_from: Option<&str>,
        progress: &mut dyn FnMut(Progress),
    ) -> Result<PushOutcome, RegistryError> {
        if self.blob_exists(digest)? == Some(size) {
            return Ok(PushOutcome::Exists);
        }
        let mut scopes = self.push_scope();
        if let Some(from) = mount_from.filter(|f| *f != self.path) {
            scopes.push(format!("repository:{from}:pull"));
        }
        let action = format!("uploading blob {digest} to");
        self.client.with_retries(progress, |progress| {
            let mut start = format!("/v2/{}/blobs/uploads/", self.path);
            if let Some(from) = mount_from.filter(|f| *f != self.path) {
                start = format!(
                    "{start}?mount={}&from={}",
                    encode(&digest.to_string()),
                    encode(from)
                );
            }
            let call = Call::new(Method::POST, &start, &scopes).header("Content-Length", "0");
            let resp = self.client.send(&self.endpoint, &call, Body::Empty)?;
            let mut location = match resp.status().as_u16() {
                201 if mount_from.is_some() => {
                    drain(resp);
                    return Ok(PushOutcome::Mounted);
                }
                202 => {
                    let l = self.location(&resp)?;
                    drain(resp);
                    l
                }
                _ => {
                    return Err(response_error(
                        &self.endpoint,
                        &self.name(),
                        &action,
                        "POST",
                        resp,
                    ))
                }
            };
            reader
                .seek(SeekFrom::Start(0))
                .map_err(|e| read_error(digest, e))?;
            let chunk = self.client.config().chunk_size.max(1);
            let mut counting = Counting {
                inner: &mut *reader,
                done: 0,
                total: size,
                progress,
            };
            if size > chunk {
                let mut offset = 0;
                while offset < size {
                    let len = chunk.min(size - offset);
                    let mut part = (&mut counting).take(len);
                    let call = Call::new(Method::PATCH, &location, &scopes)
                        .header("Content-Type", "application/octet-stream")
                        .header("Content-Range", format!("{offset}-{}", offset + len - 1));
                    let resp =
                        self.client
                            .send(&self.endpoint, &call, Body::Reader(&mut part, len))?;
                    if resp.status().as_u16() != 202 {
                        return Err(response_error(
                            &self.endpoint,
                            &self.name(),
                            &action,
                            "PATCH",
                            resp,
                        ));
                    }
                    location = self.location(&resp)?;
                    drain(resp);
                    offset += len;
                }
                let put = with_query(
                    &location,
                    &format!("digest={}", encode(&digest.to_string())),
                );
                let call = Call::new(Method::PUT, &put, &scopes).header("Content-Length", "0");
                let resp = self.client.send(&self.endpoint, &call, Body::Empty)?;
                return self.finish_upload(digest, &action, resp);
            }
            let put = with_query(
                &location,
                &format!("digest={}", encode(&digest.to_string())),
            );
            let call = Call::new(Method::PUT, &put, &scopes)
                .header("Content-Type", "application/octet-stream");
            let mut body = (&mut counting).take(size);
            let resp = self
                .client
                .send(&self.endpoint, &call, Body::Reader(&mut body, size))?;
            self.finish_upload(digest, &action, resp)
        })
    }

    fn finish_upload(
        &self,
        digest: &Digest,
        action: &str,
        resp: ureq::http::Response<ureq::Body>,
    ) -> Result<PushOutcome, RegistryError> {
        if resp.status().as_u16() != 201 {
            return Err(response_error(
                &self.endpoint,
                &self.name(),
                action,
                "PUT",
                resp,
            ));
        }
        let served = header(&resp, "docker-content-digest").and_then(|d| Digest::parse(d).ok());
        drain(resp);
        if let Some(served) = served.filter(|s| s != digest) {
            return Err(RegistryError::DigestMismatch {
                what: format!("uploaded blob {digest}"),
                repository: self.name(),
                expected: digest.clone(),
                computed: served,
            });
        }
        Ok(PushOutcome::Uploaded)
    }

    /// The upload URL of a 202 answer, made absolute.
    fn location(&self, resp: &ureq::http::Response<ureq::Body>) -> Result<String, RegistryError> {
        let loc = header(resp, "location").ok_or_else(|| RegistryError::Protocol {
            url: url_of(resp),
            reason: "upload answer without Location".into(),
            transient: false,
        })?;
        if loc.starts_with("http://") || loc.starts_with("https://") {
            return Ok(loc.to_owned());
        }
        let base = url_of(resp);
        let origin: String = base.splitn(4, '/').take(3).collect::<Vec<_>>().join("/");
        Ok(if loc.starts_with('/') {
            format!("{origin}{loc}")
        } else {
            format!("{origin}/{loc}")
        })
    }

    /// Stores a manifest under a tag or its digest; returns its digest.
    pub fn put_manifest(
        &self,
        r: &TagOrDigest,
        media_type: &str,
        bytes: &[u8],
    ) -> Result<Digest, RegistryError> {
        let digest = Digest::sha256_of(bytes);
        if let TagOrDigest::Digest(d) = r {
            if *d != digest && d.algorithm() == digest.algorithm() {
                return Err(RegistryError::DigestMismatch {
                    what: format!("manifest to push as {d}"),
                    repository: self.name(),
                    expected: d.clone(),
                    computed: digest,
                });
            }
        }
        let scopes = self.push_scope();
        let action = format!("writing manifest {r} to");
        let path = format!("/v2/{}/manifests/{r}", self.path);
        self.client.with_retries(&mut |_| {}, |_| {
            let call = Call::new(Method::PUT, &path, &scopes).header("Content-Type", media_type);
            let resp = self
                .client
                .send(&self.endpoint, &call, Body::Bytes(bytes))?;
            if resp.status().as_u16() != 201 {
                return Err(response_error(
                    &self.endpoint,
                    &self.name(),
                    &action,
                    "PUT",
                    resp,
                ));
            }
            let served = header(&resp, "docker-content-digest").and_then(|d| Digest::parse(d).ok());
            drain(resp);
            match served {
                Some(s) if s != digest && s.algorithm() == digest.algorithm() => {
                    Err(RegistryError::DigestMismatch {
                        what: format!("pushed manifest {r}"),
                        repository: self.name(),
                        expected: digest.clone(),
                        computed: s,
                    })
                }
                _ => Ok(digest.clone()),
            }
        })
    }

    /// Every tag of the repository, following `Link` pagination.
    pub fn tags(&self) -> Result<Vec<String>, RegistryError> {
        #[derive(Deserialize)]
        struct TagList {
            #[serde(default)]
            tags: Option<Vec<String>>,
        }
        let scopes = self.pull_scope();
        let action = "listing tags of".to_owned();
        let mut next = Some(format!("/v2/{}/tags/list", self.path));
        let mut out = Vec::new();
        while let Some(url) = next.take() {
            let (page, link) = self.client.with_retries(&mut |_| {}, |_| {
                let resp =
                    self.client
                        .send(&self.endpoint, &Call::get(&url, &scopes), Body::Empty)?;
                if !resp.status().is_success() {
                    return Err(response_error(
                        &self.endpoint,
                        &self.name(),
                        &action,
                        "GET",
                        resp,
                    ));
                }
                let link = header(&resp, "link").and_then(next_link);
                let page_url = url_of(&resp);
                let bytes = resp
                    .into_body()
                    .with_config()
                    .limit(SMALL_BODY_LIMIT)
                    .read_to_vec()
                    .map_err(|e| RegistryError::Protocol {
                        url: page_url.clone(),
                        reason: e.to_string(),
                        transient: true,
                    })?;
                let page: TagList =
                    serde_json::from_slice(&bytes).map_err(|e| RegistryError::Protocol {
                        url: page_url,
                        reason: format!("tag list is not JSON: {e}"),
                        transient: false,
                    })?;
                Ok((page.tags.unwrap_or_default(), link))
            })?;
            out.extend(page);
            next = link;
        }
        Ok(out)
    }
}

/// The target of `rel="next"` in a Link header (`</v2/...>; rel="next"`).
fn next_link(v: &str) -> Option<String> {
    v.split(',')
        .find(|l| l.contains("rel=\"next\"") || l.contains("rel=next"))
        .and_then(|l| {
            let start = l.find('<')? + 1;
            let end = l[start..].find('>')? + start;
            Some(l[start..end].to_owned())
        })
}

fn read_error(digest: &Digest, source: std::io::Error) -> RegistryError {
    RegistryError::Io {
        what: format!("reading blob {digest} to upload"),
        source,
    }
}
