//! TLS settings per registry host: Mozilla's roots (built in) unless the
//! host has CA certificates in a certs.d directory
//! (containers-certs.d(5): `<dir>/<host[:port]>/*.crt`, client pairs
//! `*.cert` + `*.key`), which are then trusted together with the system
//! bundle; verification off for insecure registries.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

use ureq::tls::{Certificate, ClientCert, PemItem, PrivateKey, RootCerts, TlsConfig};
use ureq::Agent;

use super::RegistryError;

/// System CA bundles, first found is used with custom CAs.
const SYSTEM_BUNDLES: &[&str] = &[
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/ssl/cert.pem",
];

/// The per-host directories containers/image reads, in order: the user's,
/// then the system's, then Docker's.
pub fn default_certs_dirs() -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    let config_home = std::env::var_os("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")));
    dirs.extend(config_home.map(|c| c.join("containers/certs.d")));
    dirs.push("/etc/containers/certs.d".into());
    dirs.push("/etc/docker/certs.d".into());
    dirs
}

/// Where a host's certificates are: an explicit `--cert-dir`, else the
/// first `<dir>/<host>` that exists.
pub(super) fn host_dir(
    cert_dir: Option<&Path>,
    certs_dirs: &[PathBuf],
    host: &str,
) -> Option<PathBuf> {
    if let Some(d) = cert_dir {
        return Some(d.to_owned());
    }
    certs_dirs.iter().map(|d| d.join(host)).find(|d| d.is_dir())
}

fn tls_error(host: &str, path: &Path, cause: String) -> RegistryError {
    RegistryError::Tls {
        registry: host.to_owned(),
        method: "LOAD".into(),
        url: path.display().to_string(),
        cause,
    }
}

fn read_pem(host: &str, path: &Path) -> Result<Vec<PemItem<'static>>, RegistryError> {
    let bytes = fs::read(path).map_err(|e| tls_error(host, path, e.to_string()))?;
    ureq::tls::parse_pem(&bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| tls_error(host, path, format!("not PEM: {e}")))
}

fn certs_of(items: Vec<PemItem<'static>>) -> Vec<Certificate<'static>> {
    items
        .into_iter()
        .filter_map(|i| match i {
            PemItem::Certificate(c) => Some(c),
            _ => None,
        })
        .collect()
}

/// The TLS configuration for `host` with certificates in `dir` (if any).
pub(super) fn tls_config(
    host: &str,
    dir: Option<&Path>,
    insecure: bool,
) -> Result<TlsConfig, RegistryError> {
    let mut b = TlsConfig::builder().disable_verification(insecure);
    let Some(dir) = dir else {
        return Ok(b.build());
    };
    let mut entries: Vec<PathBuf> = match fs::read_dir(dir) {
        Ok(e) => e.filter_map(Result::ok).map(|e| e.path()).collect(),
        Err(e) => return Err(tls_error(host, dir, e.to_string())),
    };
    entries.sort();
    let ext = |p: &Path, x: &str| p.extension().is_some_and(|e| e == x);
    let mut cas = Vec::new();
    for p in entries.iter().filter(|p| ext(p, "crt")) {
        cas.extend(certs_of(read_pem(host, p)?));
    }
    if !cas.is_empty() {
        if let Some(bundle) = SYSTEM_BUNDLES.iter().map(Path::new).find(|p| p.is_file()) {
            cas.extend(certs_of(read_pem(host, bundle)?));
        }
        b = b.root_certs(RootCerts::new_with_certs(&cas));
    }
    // One client identity per host: the first `*.cert` with its `*.key`.
    if let Some(cert) = entries.iter().find(|p| ext(p, "cert")) {
        let key = cert.with_extension("key");
        if !key.is_file() {
            return Err(tls_error(
                host,
                cert,
                format!("client certificate without its key {}", key.display()),
            ));
        }
        let chain = certs_of(read_pem(host, cert)?);
        let key_bytes = fs::read(&key).map_err(|e| tls_error(host, &key, e.to_string()))?;
        let key = PrivateKey::from_pem(&key_bytes)
            .map_err(|e| tls_error(host, &key, format!("not a PEM private key: {e}")))?;
        b = b.client_cert(Some(ClientCert::new_with_certs(&chain, key)));
    }
    Ok(b.build())
}

/// An HTTP agent (connection pool) with these TLS settings.
pub(super) fn agent(tls: TlsConfig, user_agent: &str, connect: Duration, read: Duration) -> Agent {
    Agent::config_builder()
        .http_status_as_error(false)
        .user_agent(user_agent)
        .timeout_connect(Some(connect))
        .timeout_per_read(Some(read))
        .max_idle_connections(64)
        .max_idle_connections_per_host(16)
        .tls_config(tls)
        .build()
        .into()
}
