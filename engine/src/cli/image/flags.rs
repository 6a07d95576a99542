//! Flags the registry commands share (`pull`, `push`, `login`, `run`'s
//! pull): TLS, credentials, retries.

use std::path::PathBuf;

use clap::Args;

use crate::image::remote::{parse_creds, RemoteOptions};

/// `--tls-verify`, `--authfile`, `--creds`, `--cert-dir`, `--retry`,
/// `--retry-delay`.
#[derive(Debug, Clone, Default, Args)]
pub struct RemoteFlags {
    /// Require HTTPS and verify certificates (`--tls-verify=false` allows
    /// plain HTTP and unverified TLS).
    #[arg(long, value_name = "BOOL", num_args = 0..=1, default_missing_value = "true")]
    pub tls_verify: Option<bool>,
    /// Path of the authentication file.
    #[arg(long, value_name = "PATH")]
    pub authfile: Option<PathBuf>,
    /// Credentials (`USERNAME[:PASSWORD]`) for the registry.
    #[arg(long, value_name = "USER:PASSWORD")]
    pub creds: Option<String>,
    /// Certificates (`*.crt`, `*.cert`, `*.key`) for the registry.
    #[arg(long, value_name = "PATH")]
    pub cert_dir: Option<PathBuf>,
    /// Retries on transient failures (default 3).
    #[arg(long, value_name = "N")]
    pub retry: Option<u32>,
    /// Delay between retries (a Go duration, default 500ms, doubled each time).
    #[arg(long, value_name = "DURATION")]
    pub retry_delay: Option<String>,
}

impl RemoteFlags {
    /// podman's check that an `--authfile` given to pull or push exists.
    pub fn check_authfile(&self) -> anyhow::Result<()> {
        if let Some(a) = &self.authfile {
            if !a.exists() {
                anyhow::bail!(
                    "checking authfile: stat {}: no such file or directory",
                    a.display()
                );
            }
        }
        Ok(())
    }

    /// The library's options.
    pub fn options(&self) -> anyhow::Result<RemoteOptions> {
        let retry_delay = match &self.retry_delay {
            Some(d) => Some(crate::format::duration::parse_seconds_or_duration(d)?),
            None => None,
        };
        Ok(RemoteOptions {
            tls_verify: self.tls_verify,
            authfile: self.authfile.clone(),
            credentials: self.creds.as_deref().map(parse_creds).transpose()?,
            cert_dir: self.cert_dir.clone(),
            retry: self.retry,
            retry_delay,
        })
    }
}
