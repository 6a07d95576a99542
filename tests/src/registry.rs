//! A real local registry for end-to-end tests: Debian's `docker-registry`
//! (distribution 2.x) on a free loopback port with filesystem storage in a
//! temporary directory, plus `skopeo` helpers to push and pull. Every
//! [`Registry`] is independent, so parallel tests can each start their own;
//! dropping one kills and reaps the server and deletes its storage.
//!
//! [`Registry::start_with`] adds TLS (a CA and server certificate made with
//! `openssl` for 127.0.0.1, the CA offered as a containers-certs.d
//! directory) and authentication: htpasswd (Basic, with a bcrypt file made
//! by `htpasswd`) or token auth against an issuer the test runs.

use std::fs;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

mod certs;

pub use certs::make_certificates;
use certs::write_htpasswd;

use crate::fixtures::{self, layout::sha256_digest, FixtureError};
use crate::tools::{self, MissingTool};

/// How long a registry may take to answer `GET /v2/`.
const READY_TIMEOUT: Duration = Duration::from_secs(30);
/// How many ports to try when another process grabs ours first.
const PORT_ATTEMPTS: usize = 8;
/// The response header each instance is configured to send, so a readiness
/// probe can tell our server from another one that took the port.
const INSTANCE_HEADER: &str = "X-Husk-Instance";

/// Why a registry operation failed.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// `docker-registry` or `skopeo` is not installed.
    #[error(transparent)]
    MissingTool(#[from] MissingTool),
    /// A file operation failed.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// A program could not be started.
    #[error("cannot start {program}: {source}")]
    Spawn {
        /// The program.
        program: PathBuf,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// The registry exited before it answered.
    #[error("registry on {addr} exited with {status} before answering GET /v2/; its log:\n{log}")]
    Exited {
        /// The address it was to listen on.
        addr: SocketAddr,
        /// Its exit status.
        status: ExitStatus,
        /// Its stdout and stderr.
        log: String,
    },
    /// The registry did not answer in time.
    #[error("registry on {addr} did not answer GET /v2/ within {waited:?}; its log:\n{log}")]
    Timeout {
        /// The address it listens on.
        addr: SocketAddr,
        /// How long we waited.
        waited: Duration,
        /// Its stdout and stderr.
        log: String,
    },
    /// A skopeo command failed.
    #[error("`skopeo {args}` failed ({status}): {stderr}")]
    Skopeo {
        /// Its arguments.
        args: String,
        /// Its exit status.
        status: ExitStatus,
        /// Its stderr.
        stderr: String,
    },
    /// A fixture could not be built or read.
    #[error(transparent)]
    Fixture(#[from] FixtureError),
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> RegistryError + '_ {
    move |source| RegistryError::Io {
        path: path.to_owned(),
        source,
    }
}

/// How a [`Registry`] authenticates clients.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Auth {
    /// Anyone may pull and push.
    #[default]
    None,
    /// Basic auth with one user (distribution wants TLS with it).
    Htpasswd {
        /// The user.
        user: String,
        /// The password.
        password: String,
    },
    /// Bearer tokens from an issuer the test runs, whose signing
    /// certificate is `root_cert_bundle`. `credentials` are what skopeo
    /// sends to it when the harness pushes.
    Token {
        /// The token endpoint URL.
        realm: String,
        /// The `service` the tokens are for.
        service: String,
        /// The tokens' `iss`.
        issuer: String,
        /// PEM certificate(s) the token signatures verify against.
        root_cert_bundle: PathBuf,
        /// `user:password` for skopeo, if the issuer wants any.
        credentials: Option<(String, String)>,
    },
}

/// How to start a [`Registry`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RegistryOptions {
    /// Serve HTTPS with a certificate from a CA made for this instance.
    pub tls: bool,
    /// Authentication.
    pub auth: Auth,
}

/// An image pushed to a [`Registry`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushedImage {
    /// Repository name (for fixtures, the fixture name).
    pub repo: String,
    /// `127.0.0.1:<port>/<repo>:<tag>`.
    pub reference: String,
    /// Digest of the manifest or index the registry serves for the tag.
    pub digest: String,
}

/// A running `docker-registry serve` process and its storage.
#[derive(Debug)]
pub struct Registry {
    child: Option<Child>,
    pid: u32,
    addr: SocketAddr,
    dir: tempfile::TempDir,
    skopeo: PathBuf,
    server: PathBuf,
    options: RegistryOptions,
}

impl Registry {
    /// Starts a registry on a free loopback port and waits until it answers.
    pub fn start() -> Result<Registry, RegistryError> {
        Registry::start_with(RegistryOptions::default())
    }

    /// Starts a registry with TLS and/or authentication.
    pub fn start_with(options: RegistryOptions) -> Result<Registry, RegistryError> {
        let server = tools::registry_server()?;
        let skopeo = tools::skopeo()?;
        let dir = tempfile::Builder::new()
            .prefix("husk-registry-")
            .tempdir()
            .map_err(io_err(&std::env::temp_dir()))?;
        let storage = dir.path().join("storage");
        fs::create_dir(&storage).map_err(io_err(&storage))?;
        if options.tls {
            make_certificates(&dir.path().join("tls"))?;
        }
        if let Auth::Htpasswd { user, password } = &options.auth {
            write_htpasswd(&dir.path().join("htpasswd"), user, password)?;
        }
        let mut last = None;
        for _ in 0..PORT_ATTEMPTS {
            let addr = free_port()?;
            match spawn_ready(&server, dir.path(), &storage, addr, &options) {
                Ok(child) => {
                    if options.tls {
                        let host_dir = dir.path().join("certs.d").join(addr.to_string());
                        fs::create_dir_all(&host_dir).map_err(io_err(&host_dir))?;
                        let ca = dir.path().join("tls/ca.crt");
                        fs::copy(&ca, host_dir.join("ca.crt")).map_err(io_err(&ca))?;
                    }
                    return Ok(Registry {
                        pid: child.id(),
                        child: Some(child),
                        addr,
                        dir,
                        skopeo,
                        server,
                        options,
                    });
                }
                Err(e @ RegistryError::Exited { .. }) if e.to_string().contains("in use") => {
                    last = Some(e)
                }
                Err(e) => return Err(e),
            }
        }
        Err(last.unwrap_or_else(|| RegistryError::Io {
            path: dir.path().to_owned(),
            source: std::io::Error::other("no free port"),
        }))
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `127.0.0.1:<port>`, the registry part of image references.
    pub fn host(&self) -> String {
        self.addr.to_string()
    }

    /// The temporary directory holding the config, log and storage; removed
    /// on drop.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// Whether the server process is still running.
    pub fn is_running(&mut self) -> bool {
        match &mut self.child {
            Some(c) => matches!(c.try_wait(), Ok(None)),
            None => false,
        }
    }

    /// The server's log so far.
    pub fn log(&self) -> String {
        read_log(self.dir.path())
    }

    /// `127.0.0.1:<port>/<repo>:<tag>`.
    pub fn reference(&self, repo: &str, tag: &str) -> String {
        format!("{}/{repo}:{tag}", self.addr)
    }

    /// `https` with TLS, else `http`.
    pub fn scheme(&self) -> &'static str {
        if self.options.tls {
            "https"
        } else {
            "http"
        }
    }

    /// A containers-certs.d directory trusting this registry's CA
    /// (`<dir>/127.0.0.1:<port>/ca.crt`), when it serves TLS.
    pub fn certs_dir(&self) -> Option<PathBuf> {
        self.options.tls.then(|| self.dir.path().join("certs.d"))
    }

    /// The CA certificate (PEM) that signed the server's, with TLS.
    pub fn ca_cert(&self) -> Option<PathBuf> {
        self.options.tls.then(|| self.dir.path().join("tls/ca.crt"))
    }

    /// Starts the server again on the same port with the same storage
    /// (after [`Registry::stop`], or to simulate a restart).
    pub fn restart(&mut self) -> Result<(), RegistryError> {
        self.stop();
        let storage = self.dir.path().join("storage");
        let child = spawn_ready(
            &self.server,
            self.dir.path(),
            &storage,
            self.addr,
            &self.options,
        )?;
        self.pid = child.id();
        self.child = Some(child);
        Ok(())
    }

    /// skopeo's credential flag for this registry's auth, if it has any.
    fn creds(&self, flag: &str) -> Vec<String> {
        let pair = match &self.options.auth {
            Auth::None => None,
            Auth::Htpasswd { user, password } => Some((user.clone(), password.clone())),
            Auth::Token { credentials, .. } => credentials.clone(),
        };
        pair.map(|(u, p)| vec![flag.to_owned(), format!("{u}:{p}")])
            .unwrap_or_default()
    }

    /// Kills and reaps the server (idempotent). Later pushes fail to connect.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Pushes an OCI layout's `tag` to `<repo>:<tag>` with every manifest of
    /// an index, keeping digests, and returns the digest the registry serves.
    pub fn push_layout(
        &self,
        layout: &Path,
        tag: &str,
        repo: &str,
    ) -> Result<PushedImage, RegistryError> {
        let reference = self.reference(repo, tag);
        let src = format!("oci:{}:{tag}", layout.display());
        let dest = format!("docker://{reference}");
        let creds = self.creds("--dest-creds");
        let mut args = vec![
            "copy",
            "--all",
            "--preserve-digests",
            "--dest-tls-verify=false",
        ];
        args.extend(creds.iter().map(String::as_str));
        args.extend([src.as_str(), dest.as_str()]);
        self.skopeo(&args)?;
        let digest = sha256_digest(&self.inspect_raw(repo, tag)?);
        Ok(PushedImage {
            repo: repo.to_owned(),
            reference,
            digest,
        })
    }

    /// Pushes every fixture (from [`fixtures::fixtures_dir`]) to a repository
    /// named after it, tag [`fixtures::TAG`].
    pub fn push_fixtures(&self) -> Result<Vec<PushedImage>, RegistryError> {
        let dir = fixtures::try_fixtures_dir()?;
        fixtures::FIXTURES
            .iter()
            .map(|name| {
                let built = fixtures::read_layout(&dir.join(name))?;
                self.push_layout(&built.layout_dir, &built.tag, name)
            })
            .collect()
    }

    /// The manifest or index bytes the registry serves for `<repo>:<tag>`
    /// (`skopeo inspect --raw`).
    pub fn inspect_raw(&self, repo: &str, tag: &str) -> Result<Vec<u8>, RegistryError> {
        let src = format!("docker://{}", self.reference(repo, tag));
        let creds = self.creds("--creds");
        let mut args = vec!["inspect", "--raw", "--tls-verify=false"];
        args.extend(creds.iter().map(String::as_str));
        args.push(&src);
        self.skopeo(&args)
    }

    /// Pulls `<repo>:<tag>` with every manifest into the OCI layout `dest`
    /// (tagged `tag`), keeping digests and layer compression.
    pub fn pull_layout(&self, repo: &str, tag: &str, dest: &Path) -> Result<(), RegistryError> {
        let src = format!("docker://{}", self.reference(repo, tag));
        let dst = format!("oci:{}:{tag}", dest.display());
        let creds = self.creds("--src-creds");
        let mut args = vec![
            "copy",
            "--all",
            "--preserve-digests",
            "--src-tls-verify=false",
            "--dest-oci-accept-uncompressed-layers",
        ];
        args.extend(creds.iter().map(String::as_str));
        args.extend([src.as_str(), dst.as_str()]);
        self.skopeo(&args).map(drop)
    }

    /// Runs `skopeo --insecure-policy ARGS` and returns its stdout.
    pub fn skopeo(&self, args: &[&str]) -> Result<Vec<u8>, RegistryError> {
        run_skopeo(&self.skopeo, args)
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Runs `skopeo --insecure-policy ARGS` (no signature policy file needed)
/// and returns its stdout, or its stderr in the error.
pub fn run_skopeo(skopeo: &Path, args: &[&str]) -> Result<Vec<u8>, RegistryError> {
    let out = Command::new(skopeo)
        .arg("--insecure-policy")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|source| RegistryError::Spawn {
            program: skopeo.to_owned(),
            source,
        })?;
    if !out.status.success() {
        return Err(RegistryError::Skopeo {
            args: args.join(" "),
            status: out.status,
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
        });
    }
    Ok(out.stdout)
}

fn free_port() -> Result<SocketAddr, RegistryError> {
    let l = TcpListener::bind("127.0.0.1:0").map_err(io_err(Path::new("127.0.0.1:0")))?;
    l.local_addr().map_err(io_err(Path::new("127.0.0.1:0")))
}

fn read_log(dir: &Path) -> String {
    fs::read_to_string(dir.join("registry.log")).unwrap_or_default()
}

fn instance_token() -> String {
    static SEQ: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!(
        "{}-{}-{nanos}",
        std::process::id(),
        SEQ.fetch_add(1, Ordering::Relaxed)
    )
}

/// Writes the config for `addr`, starts the server and waits until it (and
/// not some other process on the port) answers `GET /v2/`; with TLS or auth,
/// until its log says it listens on `addr` and the port accepts.
fn spawn_ready(
    server: &Path,
    dir: &Path,
    storage: &Path,
    addr: SocketAddr,
    options: &RegistryOptions,
) -> Result<Child, RegistryError> {
    let token = instance_token();
    let config = dir.join("config.yml");
    let mut yaml = format!(
        "version: 0.1\n\
         log:\n  level: info\n  accesslog:\n    disabled: true\n\
         storage:\n  filesystem:\n    rootdirectory: {storage}\n  delete:\n    enabled: true\n\
         http:\n  addr: {addr}\n  headers:\n    {INSTANCE_HEADER}: [\"{token}\"]\n",
        storage = storage.display(),
    );
    if options.tls {
        let tls = dir.join("tls");
        yaml.push_str(&format!(
            "  tls:\n    certificate: {}\n    key: {}\n",
            tls.join("server.crt").display(),
            tls.join("server.key").display()
        ));
    }
    match &options.auth {
        Auth::None => {}
        Auth::Htpasswd { .. } => yaml.push_str(&format!(
            "auth:\n  htpasswd:\n    realm: husk-test\n    path: {}\n",
            dir.join("htpasswd").display()
        )),
        Auth::Token {
            realm,
            service,
            issuer,
            root_cert_bundle,
            ..
        } => yaml.push_str(&format!(
            "auth:\n  token:\n    realm: {realm}\n    service: {service}\n    issuer: {issuer}\n    \
             rootcertbundle: {}\n",
            root_cert_bundle.display()
        )),
    }
    fs::write(&config, yaml).map_err(io_err(&config))?;
    let log_path = dir.join("registry.log");
    let log = fs::File::create(&log_path).map_err(io_err(&log_path))?;
    let log2 = log.try_clone().map_err(io_err(&log_path))?;
    let mut child = Command::new(server)
        .arg("serve")
        .arg(&config)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(log2)
        .spawn()
        .map_err(|source| RegistryError::Spawn {
            program: server.to_owned(),
            source,
        })?;
    let started = Instant::now();
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return Err(RegistryError::Exited {
                addr,
                status,
                log: read_log(dir),
            });
        }
        let ready = if *options == RegistryOptions::default() {
            probe(addr, &token)
        } else {
            read_log(dir).contains(&format!("listening on {addr}"))
                && TcpStream::connect_timeout(&addr, Duration::from_millis(500)).is_ok()
        };
        if ready {
            return Ok(child);
        }
        if started.elapsed() > READY_TIMEOUT {
            let _ = child.kill();
            let _ = child.wait();
            return Err(RegistryError::Timeout {
                addr,
                waited: READY_TIMEOUT,
                log: read_log(dir),
            });
        }
        std::thread::sleep(Duration::from_millis(25));
    }
}

/// True if `GET /v2/` on `addr` answers 200 with our instance header.
fn probe(addr: SocketAddr, token: &str) -> bool {
    let Ok(mut s) = TcpStream::connect_timeout(&addr, Duration::from_millis(500)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    let req = format!("GET /v2/ HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    if s.write_all(req.as_bytes()).is_err() {
        return false;
    }
    let mut resp = Vec::new();
    let _ = s.take(64 * 1024).read_to_end(&mut resp);
    let text = String::from_utf8_lossy(&resp);
    let head = text.split("\r\n\r\n").next().unwrap_or("");
    let mut lines = head.lines();
    let ok = lines
        .next()
        .is_some_and(|l| l.starts_with("HTTP/1.") && l.split(' ').nth(1) == Some("200"));
    let ours = lines.any(|l| {
        l.split_once(':').is_some_and(|(k, v)| {
            k.trim().eq_ignore_ascii_case(INSTANCE_HEADER) && v.trim() == token
        })
    });
    ok && ours
}
