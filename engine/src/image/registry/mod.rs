//! The registry client: the distribution API v2 over blocking HTTP(S)
//! (`ureq`, rustls), shared by many threads at once.
//!
//! A [`Client`] holds the connection pools (one per TLS setting), what each
//! registry is known to want (scheme, auth challenge) and the bearer tokens
//! per (registry, scope). A [`Repository`] is a cheap handle on one
//! repository with its credentials; clone it into each download thread.
//!
//! No ping precedes the first request: the first 401 says how to
//! authenticate, later requests on the registry send a token up front.
//! Transient failures (connection errors, 5xx, 429, cut bodies) are retried
//! with backoff, blob downloads resume with `Range`; 4xx answers are not
//! retried.

mod blob;
pub mod challenge;
mod error;
mod manifest;
mod push;
mod tls;
mod token;
mod transport;

#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub use error::{ErrorKind, RegistryError};
pub use manifest::{FetchedManifest, ManifestHead, PulledImage};
pub use push::PushOutcome;
pub use tls::default_certs_dirs;

use crate::image::auth::Credentials;
use crate::image::reference::{Reference, DEFAULT_DOMAIN};

/// Docker Hub's API host: `docker.io` names it in references and auth files.
pub const DOCKER_HUB_API_HOST: &str = "registry-1.docker.io";

/// How transient failures are retried.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Retries after the first attempt (podman's `--retry`, default 3).
    pub max_retries: u32,
    /// The first delay, doubled each retry (podman's `--retry-delay`).
    pub initial_delay: Duration,
    /// The longest delay between attempts, also the cap on `Retry-After`.
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_retries: 3,
            initial_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(30),
        }
    }
}

impl RetryPolicy {
    /// The delay before retry number `n` (1-based).
    pub fn delay(&self, n: u32) -> Duration {
        let factor = 1u32 << (n.saturating_sub(1)).min(16);
        self.initial_delay
            .saturating_mul(factor)
            .min(self.max_delay)
    }
}

/// Client settings.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// The `User-Agent` header.
    pub user_agent: String,
    /// Per-host certificate directories (`<dir>/<host[:port]>/`), first
    /// match wins.
    pub certs_dirs: Vec<PathBuf>,
    /// `--cert-dir`: certificates for every registry, directly in it.
    pub cert_dir: Option<PathBuf>,
    /// Retries.
    pub retry: RetryPolicy,
    /// TCP connect timeout.
    pub connect_timeout: Duration,
    /// The longest wait for any read (a stalled transfer is a transient
    /// failure).
    pub read_timeout: Duration,
    /// Blobs larger than this are uploaded in PATCH chunks of this size.
    pub chunk_size: u64,
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            user_agent: format!("husk/{}", env!("CARGO_PKG_VERSION")),
            certs_dirs: tls::default_certs_dirs(),
            cert_dir: None,
            retry: RetryPolicy::default(),
            connect_timeout: Duration::from_secs(30),
            read_timeout: Duration::from_secs(60),
            chunk_size: 64 << 20,
        }
    }
}

/// Progress of a transfer, reported through the caller's callback.
#[derive(Debug)]
pub enum Progress<'a> {
    /// Bytes moved so far of the total.
    Bytes {
        /// Done.
        done: u64,
        /// Expected.
        total: u64,
    },
    /// A transient failure; the next attempt starts after `delay`.
    Retrying {
        /// The attempt that failed (1-based).
        attempt: u32,
        /// How many retries are allowed.
        retries: u32,
        /// The wait.
        delay: Duration,
        /// The failure.
        error: &'a RegistryError,
    },
}

/// The registry client. Cheap to clone; share one per process.
#[derive(Debug, Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    config: ClientConfig,
    agents: Mutex<HashMap<(Option<PathBuf>, bool), ureq::Agent>>,
    hosts: Mutex<HashMap<String, transport::HostState>>,
    tokens: token::Cache,
}

/// One registry as the client talks to it.
#[derive(Debug, Clone)]
pub(crate) struct Endpoint {
    /// `host[:port]` as references name it.
    host: String,
    /// The host the API is served from.
    api_host: String,
    /// Plain HTTP or unverified TLS allowed.
    insecure: bool,
    credentials: Option<Credentials>,
}

impl Endpoint {
    fn new(host: &str, insecure: bool, credentials: Option<Credentials>) -> Endpoint {
        let api_host = if host == DEFAULT_DOMAIN {
            DOCKER_HUB_API_HOST.to_owned()
        } else {
            host.to_owned()
        };
        Endpoint {
            host: host.to_owned(),
            api_host,
            insecure,
            credentials,
        }
    }
}

/// One repository on one registry, with the credentials to use there.
#[derive(Debug, Clone)]
pub struct Repository {
    client: Client,
    endpoint: Endpoint,
    path: String,
}

impl Client {
    /// A client with `config`.
    pub fn new(config: ClientConfig) -> Client {
        Client {
            inner: Arc::new(Inner {
                config,
                agents: Mutex::new(HashMap::new()),
                hosts: Mutex::new(HashMap::new()),
                tokens: token::Cache::default(),
            }),
        }
    }

    /// The settings.
    pub fn config(&self) -> &ClientConfig {
        &self.inner.config
    }

    /// A handle on the repository of `reference` (its tag and digest are
    /// ignored). `insecure` allows plain HTTP and unverified TLS
    /// (registries.conf `insecure`, or `--tls-verify=false`).
    pub fn repository(
        &self,
        reference: &Reference,
        insecure: bool,
        credentials: Option<Credentials>,
    ) -> Repository {
        Repository {
            client: self.clone(),
            endpoint: Endpoint::new(reference.domain(), insecure, credentials),
            path: reference.path().to_owned(),
        }
    }

    /// `GET /v2/` on `host` with `credentials`, as `husk login` checks them
    /// before storing: Ok when the registry accepts them (or needs none).
    pub fn check_login(
        &self,
        host: &str,
        insecure: bool,
        credentials: &Credentials,
    ) -> Result<(), RegistryError> {
        self.ping(host, insecure, Some(credentials.clone()))
    }

    /// `GET /v2/` on `host`, authenticating if the registry asks.
    pub fn ping(
        &self,
        host: &str,
        insecure: bool,
        credentials: Option<Credentials>,
    ) -> Result<(), RegistryError> {
        let ep = Endpoint::new(host, insecure, credentials);
        self.with_retries(&mut |_| {}, |_| {
            let call = transport::Call::get("/v2/", &[]);
            let resp = self.send(&ep, &call, transport::Body::Empty)?;
            if resp.status().is_success() {
                transport::drain(resp);
                return Ok(());
            }
            Err(transport::response_error(
                &ep, &ep.host, "pinging", "GET", resp,
            ))
        })
    }
}

impl Repository {
    /// `host/path`, as errors name it.
    pub fn name(&self) -> String {
        format!("{}/{}", self.endpoint.host, self.path)
    }

    /// The repository path.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The registry host as references name it.
    pub fn registry(&self) -> &str {
        &self.endpoint.host
    }

    fn pull_scope(&self) -> Vec<String> {
        vec![format!("repository:{}:pull", self.path)]
    }

    fn push_scope(&self) -> Vec<String> {
        vec![format!("repository:{}:pull,push", self.path)]
    }
}
