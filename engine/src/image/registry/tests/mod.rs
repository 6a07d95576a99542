//! The client against Debian's real `docker-registry` (started per test by
//! `husk_tests::registry`), fixtures pushed with skopeo.

mod auth;
mod proxy;
mod pull;
mod push;
mod retry;
mod token_server;

use std::io::Write;
use std::time::Duration;

use husk_tests::registry::{PushedImage, Registry, RegistryOptions};

use super::{Client, ClientConfig, Repository, RetryPolicy};
use crate::image::auth::Credentials;
use crate::image::reference::Reference;

/// A registry with every fixture pushed.
fn registry_with_fixtures() -> (Registry, Vec<PushedImage>) {
    let reg = start(RegistryOptions::default());
    let pushed = reg
        .push_fixtures()
        .unwrap_or_else(|e| panic!("pushing fixtures: {e}"));
    (reg, pushed)
}

/// A registry with only these fixtures pushed (each push is a skopeo run).
fn registry_with(names: &[&str]) -> (Registry, Vec<PushedImage>) {
    let reg = start(RegistryOptions::default());
    let pushed = names
        .iter()
        .map(|n| {
            let f = husk_tests::fixtures::cached(n);
            reg.push_layout(&f.layout_dir, &f.tag, n)
                .unwrap_or_else(|e| panic!("pushing {n}: {e}"))
        })
        .collect();
    (reg, pushed)
}

fn start(options: RegistryOptions) -> Registry {
    Registry::start_with(options).unwrap_or_else(|e| panic!("cannot start the test registry: {e}"))
}

/// Retries fast, so failure paths do not take seconds.
fn fast_retry(max_retries: u32) -> RetryPolicy {
    RetryPolicy {
        max_retries,
        initial_delay: Duration::from_millis(20),
        max_delay: Duration::from_millis(200),
    }
}

fn client() -> Client {
    Client::new(ClientConfig {
        retry: fast_retry(2),
        certs_dirs: Vec::new(),
        ..ClientConfig::default()
    })
}

/// `host/repo` on the test registry, insecure (plain HTTP).
fn repo(c: &Client, host: &str, repo: &str, creds: Option<Credentials>) -> Repository {
    c.repository(
        &Reference::parse(&format!("{host}/{repo}")).unwrap(),
        true,
        creds,
    )
}

/// A sink whose content counts only once committed, as the blob store's
/// does: bytes written by a failed fetch never reach `committed`.
#[derive(Default)]
struct Sink {
    staged: Vec<u8>,
    committed: Option<Vec<u8>>,
}

impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.staged.write(buf)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Sink {
    /// Fetches into the sink and commits only on success.
    fn fetch(
        &mut self,
        r: &Repository,
        digest: &crate::image::digest::Digest,
        size: u64,
    ) -> Result<(), super::RegistryError> {
        self.staged.clear();
        r.fetch_blob(digest, size, self, &mut |_| {})?;
        self.committed = Some(std::mem::take(&mut self.staged));
        Ok(())
    }
}
