//! What pull, push and login share about registries: registries.conf, the
//! credential files, one registry client, and the user's TLS and
//! credential flags.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::auth::{AuthFiles, Credentials};
use super::error::Result;
use super::reference::Reference;
use super::registries::{ConfigPaths, Registries};
use super::registry::{Client, ClientConfig, Repository};

/// Flags every registry command takes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RemoteOptions {
    /// `--tls-verify`: `Some(false)` allows plain HTTP and unverified TLS,
    /// `Some(true)` requires TLS even where registries.conf says insecure.
    pub tls_verify: Option<bool>,
    /// `--authfile`.
    pub authfile: Option<PathBuf>,
    /// `--creds user:password`: used instead of the credential files.
    pub credentials: Option<Credentials>,
    /// `--cert-dir`.
    pub cert_dir: Option<PathBuf>,
    /// `--retry` (default 3).
    pub retry: Option<u32>,
    /// `--retry-delay` (default 0.5 s, doubled per retry).
    pub retry_delay: Option<Duration>,
}

/// Parses `--creds user[:password]`.
pub fn parse_creds(s: &str) -> Result<Credentials> {
    let (u, p) = s.split_once(':').unwrap_or((s, ""));
    if u.is_empty() {
        return Err(super::error::ImageError::Other(
            "credentials must be in the form user:password (the user is empty)".into(),
        ));
    }
    Ok(Credentials::new(u, p))
}

/// registries.conf, credential files and a client, for one command.
#[derive(Debug, Clone)]
pub struct Remote {
    /// registries.conf, merged.
    pub conf: Registries,
    /// The credential files.
    pub auth: AuthFiles,
    /// The client.
    pub client: Client,
    /// The flags.
    pub opts: RemoteOptions,
}

impl Remote {
    /// Reads registries.conf and finds the credential files. `host_uid` is
    /// the user's uid on the host (inside husk's user namespace getuid
    /// says 0, which would pick root's `/run/containers/0/auth.json`).
    pub fn new(opts: &RemoteOptions, host_uid: u32) -> Result<Remote> {
        let conf = Registries::load(&ConfigPaths::discover(None))?;
        let auth = AuthFiles::discover_with(
            opts.authfile.as_deref(),
            |k| std::env::var_os(k).map(PathBuf::from),
            host_uid,
        );
        let mut cfg = ClientConfig {
            cert_dir: opts.cert_dir.clone(),
            ..ClientConfig::default()
        };
        if let Some(n) = opts.retry {
            cfg.retry.max_retries = n;
        }
        if let Some(d) = opts.retry_delay {
            cfg.retry.initial_delay = d;
        }
        Ok(Remote {
            conf,
            auth,
            client: Client::new(cfg),
            opts: opts.clone(),
        })
    }

    /// Whether `registries_insecure` (registries.conf's verdict) holds once
    /// `--tls-verify` is applied.
    pub fn insecure(&self, registries_insecure: bool) -> bool {
        match self.opts.tls_verify {
            Some(v) => !v,
            None => registries_insecure,
        }
    }

    /// The credentials for `r`: `--creds`, else the credential files.
    pub fn credentials(&self, r: &Reference) -> Result<Option<Credentials>> {
        if let Some(c) = &self.opts.credentials {
            return Ok(Some(c.clone()));
        }
        Ok(self.auth.lookup_reference(r)?)
    }

    /// A repository handle for `r`.
    pub fn repository(&self, r: &Reference, registries_insecure: bool) -> Result<Repository> {
        let creds = self.credentials(r)?;
        Ok(self
            .client
            .repository(r, self.insecure(registries_insecure), creds))
    }

    /// The authfile flag as a path, for messages.
    pub fn authfile(&self) -> Option<&Path> {
        self.opts.authfile.as_deref()
    }
}
