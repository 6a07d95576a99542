//! Sending one API request: the scheme (HTTPS, or HTTP after HTTPS failed
//! on an insecure registry), authentication (a cached token or Basic up
//! front once the registry's challenge is known, a fresh token on 401), the
//! mapping of transport failures to [`RegistryError`], and the retry loop
//! with backoff around whole operations.

use std::io::Read;
use std::time::Duration;

use ureq::http::{self, Response};

use super::challenge::{self, Challenge};
use super::error::{ErrorBody, DNS_CAUSE};
use super::{tls, Client, Endpoint, Progress, RegistryError};

/// Most a non-blob response body is read (manifests are limited to 4 MiB
/// as in containers/image; error bodies are small).
pub(super) const SMALL_BODY_LIMIT: u64 = 4 << 20;

/// What the client learnt about a registry.
#[derive(Debug, Default, Clone)]
pub(super) struct HostState {
    /// `http` or `https`, once a request succeeded (insecure registries).
    scheme: Option<&'static str>,
    /// How it wants to be authenticated.
    challenge: Option<Challenge>,
}

/// A request body.
pub(super) enum Body<'a> {
    /// None.
    Empty,
    /// Bytes, which can be sent again after a 401.
    Bytes(&'a [u8]),
    /// A stream of known length, sent once.
    Reader(&'a mut dyn Read, u64),
}

/// A request: method, path under the registry (or absolute URL), headers
/// and token scopes.
pub(super) struct Call<'a> {
    pub method: http::Method,
    pub url: String,
    pub headers: Vec<(&'static str, String)>,
    pub scopes: &'a [String],
}

impl<'a> Call<'a> {
    /// A GET.
    pub fn get(url: &str, scopes: &'a [String]) -> Call<'a> {
        Call::new(http::Method::GET, url, scopes)
    }

    /// Any method.
    pub fn new(method: http::Method, url: &str, scopes: &'a [String]) -> Call<'a> {
        Call {
            method,
            url: url.to_owned(),
            headers: Vec::new(),
            scopes,
        }
    }

    /// Adds a header.
    pub fn header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }
}

/// The URL a response answered (after redirects).
pub(super) fn url_of(resp: &Response<ureq::Body>) -> String {
    use ureq::ResponseExt;
    resp.get_uri().to_string()
}

/// Reads what is left of a small body, so the connection can be reused.
pub(super) fn drain(resp: Response<ureq::Body>) -> Vec<u8> {
    let mut body = resp.into_body();
    body.with_config()
        .limit(SMALL_BODY_LIMIT)
        .read_to_vec()
        .unwrap_or_default()
}

/// A header's value as text.
pub(super) fn header<'r>(resp: &'r Response<ureq::Body>, name: &str) -> Option<&'r str> {
    resp.headers().get(name).and_then(|v| v.to_str().ok())
}

/// The error for an unexpected status, naming the registry's code.
pub(super) fn status_error(
    ep: &Endpoint,
    repository: &str,
    action: &str,
    status: u16,
    method: &str,
    url: &str,
    body: &[u8],
) -> RegistryError {
    let e = ErrorBody::parse(body);
    if status == 401 || status == 403 {
        return RegistryError::Unauthorized {
            action: action.to_owned(),
            repository: repository.to_owned(),
            status,
            code: e.code(),
            message: e.message(),
            had_credentials: ep.credentials.is_some(),
        };
    }
    RegistryError::Status {
        method: method.to_owned(),
        url: url.to_owned(),
        status,
        code: e.code(),
        message: e.message(),
        retry_after: None,
    }
}

/// Percent-encodes a query value.
pub(super) fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Maps a ureq failure on `url` to a registry error.
pub(super) fn transport_error(
    ep_host: &str,
    method: &str,
    url: &str,
    e: ureq::Error,
) -> RegistryError {
    let unreachable = |cause: String| RegistryError::Unreachable {
        registry: ep_host.to_owned(),
        method: method.to_owned(),
        url: url.to_owned(),
        cause,
        attempts: 1,
    };
    match e {
        ureq::Error::HostNotFound => unreachable(format!("{DNS_CAUSE} (DNS lookup failed)")),
        ureq::Error::Io(io) => {
            if let Some(tls) = io.get_ref().and_then(|e| e.downcast_ref::<rustls::Error>()) {
                return RegistryError::Tls {
                    registry: ep_host.to_owned(),
                    method: method.to_owned(),
                    url: url.to_owned(),
                    cause: tls.to_string(),
                };
            }
            let text = io.to_string();
            // The resolver's failure arrives as plain I/O text.
            if text.contains("lookup address") || text.contains("Name or service not known") {
                return unreachable(format!("{DNS_CAUSE} ({text})"));
            }
            unreachable(text)
        }
        ureq::Error::Timeout(t) => unreachable(format!("timed out ({t})")),
        ureq::Error::ConnectionFailed => unreachable("connection failed".into()),
        e @ (ureq::Error::Tls(_) | ureq::Error::Rustls(_) | ureq::Error::Pem(_)) => {
            RegistryError::Tls {
                registry: ep_host.to_owned(),
                method: method.to_owned(),
                url: url.to_owned(),
                cause: e.to_string(),
            }
        }
        other => RegistryError::Protocol {
            url: url.to_owned(),
            reason: other.to_string(),
            transient: matches!(other, ureq::Error::Protocol(_)),
        },
    }
}

impl Client {
    fn host_state(&self, ep: &Endpoint) -> HostState {
        self.inner
            .hosts
            .lock()
            .expect("host state lock")
            .get(&ep.api_host)
            .cloned()
            .unwrap_or_default()
    }

    fn update_host(&self, ep: &Endpoint, f: impl FnOnce(&mut HostState)) {
        f(self
            .inner
            .hosts
            .lock()
            .expect("host state lock")
            .entry(ep.api_host.clone())
            .or_default());
    }

    /// The agent for `host` with its certificates and `insecure` setting.
    pub(super) fn agent(&self, host: &str, insecure: bool) -> Result<ureq::Agent, RegistryError> {
        let cfg = &self.inner.config;
        let dir = tls::host_dir(cfg.cert_dir.as_deref(), &cfg.certs_dirs, host);
        let key = (dir.clone(), insecure);
        let mut agents = self.inner.agents.lock().expect("agent lock");
        if let Some(a) = agents.get(&key) {
            return Ok(a.clone());
        }
        let tls = tls::tls_config(host, dir.as_deref(), insecure)?;
        let a = tls::agent(tls, &cfg.user_agent, cfg.connect_timeout, cfg.read_timeout);
        agents.insert(key, a.clone());
        Ok(a)
    }

    /// The Authorization header to send up front, if the registry's
    /// challenge is known.
    fn auth_header(
        &self,
        ep: &Endpoint,
        scopes: &[String],
    ) -> Result<Option<String>, RegistryError> {
        match self.host_state(ep).challenge {
            Some(Challenge::Bearer { realm, service, .. }) => self
                .token(ep, &realm, service.as_deref(), scopes, false)
                .map(Some),
            Some(Challenge::Basic { .. }) => Ok(ep.credentials.as_ref().map(basic)),
            None => Ok(None),
        }
    }

    /// Sends `call`, handling scheme fallback and authentication. The
    /// response may have any status; 401 only after authenticating failed.
    pub(super) fn send(
        &self,
        ep: &Endpoint,
        call: &Call,
        mut body: Body,
    ) -> Result<Response<ureq::Body>, RegistryError> {
        let state = self.host_state(ep);
        let mut scheme = state.scheme.unwrap_or("https");
        let mut auth = self.auth_header(ep, call.scopes)?;
        let mut authenticated = false;
        let agent = self.agent(&ep.api_host, ep.insecure)?;
        loop {
            let url = if call.url.starts_with('/') {
                format!("{scheme}://{}{}", ep.api_host, call.url)
            } else {
                call.url.clone()
            };
            let mut req = http::Request::builder()
                .method(call.method.clone())
                .uri(&url);
            for (k, v) in &call.headers {
                req = req.header(*k, v);
            }
            if let Some(a) = &auth {
                req = req.header("Authorization", a);
            }
            let result = match &mut body {
                Body::Empty => agent.run(req.body(()).map_err(|e| bad_request(&url, e))?),
                Body::Bytes(b) => agent.run(req.body(*b).map_err(|e| bad_request(&url, e))?),
                Body::Reader(r, len) => {
                    let req = req.header("Content-Length", len.to_string());
                    agent.run(
                        req.body(ureq::SendBody::from_reader(*r))
                            .map_err(|e| bad_request(&url, e))?,
                    )
                }
            };
            let resp = match result {
                Ok(r) => r,
                Err(e) => {
                    let err = transport_error(&ep.host, call.method.as_str(), &url, e);
                    // An insecure registry may speak plain HTTP: try it once
                    // when HTTPS could not even be spoken.
                    let fallback = ep.insecure
                        && state.scheme.is_none()
                        && scheme == "https"
                        && call.url.starts_with('/')
                        && !matches!(body, Body::Reader(..))
                        && !matches!(&err, RegistryError::Unreachable { cause, .. } if cause.starts_with(DNS_CAUSE));
                    if fallback {
                        scheme = "http";
                        continue;
                    }
                    return Err(err);
                }
            };
            // A 400 may be an HTTPS server refusing plain HTTP: not proof.
            if state.scheme.is_none() && call.url.starts_with('/') && resp.status().as_u16() != 400
            {
                let s = scheme;
                self.update_host(ep, |h| h.scheme = Some(s));
            }
            if resp.status().as_u16() != 401 || authenticated {
                return Ok(resp);
            }
            let challenges = header(&resp, "www-authenticate")
                .map(challenge::parse)
                .unwrap_or_default();
            let bearer = challenges
                .iter()
                .find(|c| matches!(c, Challenge::Bearer { .. }))
                .cloned();
            let chosen = bearer.or_else(|| challenges.into_iter().next());
            let Some(chosen) = chosen else {
                return Ok(resp);
            };
            self.update_host(ep, |h| h.challenge = Some(chosen.clone()));
            auth = match &chosen {
                Challenge::Bearer {
                    realm,
                    service,
                    scope,
                    ..
                } => {
                    let _ = drain(resp);
                    let mut scopes = call.scopes.to_vec();
                    for s in scope.iter().flat_map(|s| s.split(' ')) {
                        if !s.is_empty() && !scopes.iter().any(|x| x == s) {
                            scopes.push(s.to_owned());
                        }
                    }
                    Some(self.token(ep, realm, service.as_deref(), &scopes, true)?)
                }
                Challenge::Basic { .. } => match &ep.credentials {
                    Some(c) => {
                        let _ = drain(resp);
                        Some(basic(c))
                    }
                    None => return Ok(resp),
                },
            };
            authenticated = true;
            if let Body::Reader(..) = body {
                // The stream is spent: the caller's retry starts it again,
                // now with the right credentials.
                return Err(RegistryError::Protocol {
                    url,
                    reason: "the registry asked for authentication during an upload".into(),
                    transient: true,
                });
            }
        }
    }

    /// Runs `op` until it succeeds, fails for good, or the retries are
    /// spent; transient failures wait with exponential backoff (or the
    /// server's Retry-After) and are reported through `progress`.
    pub(super) fn with_retries<T>(
        &self,
        progress: &mut dyn FnMut(Progress),
        mut op: impl FnMut(&mut dyn FnMut(Progress)) -> Result<T, RegistryError>,
    ) -> Result<T, RegistryError> {
        let policy = &self.inner.config.retry;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let err = match op(progress) {
                Ok(v) => return Ok(v),
                Err(e) => e,
            };
            if !err.is_transient() || attempt == 1 && policy.max_retries == 0 {
                return Err(err);
            }
            if attempt > policy.max_retries {
                return Err(match err {
                    RegistryError::Unreachable {
                        registry,
                        method,
                        url,
                        cause,
                        ..
                    } => RegistryError::Unreachable {
                        registry,
                        method,
                        url,
                        cause,
                        attempts: attempt,
                    },
                    last => RegistryError::TooManyRetries {
                        attempts: attempt,
                        last: Box::new(last),
                    },
                });
            }
            let delay = err
                .retry_after()
                .map(|d| d.min(policy.max_delay))
                .unwrap_or_else(|| policy.delay(attempt));
            progress(Progress::Retrying {
                attempt,
                retries: policy.max_retries,
                delay,
                error: &err,
            });
            std::thread::sleep(delay);
        }
    }
}

fn bad_request(url: &str, e: http::Error) -> RegistryError {
    RegistryError::Protocol {
        url: url.to_owned(),
        reason: format!("cannot build the request: {e}"),
        transient: false,
    }
}

fn basic(c: &crate::image::auth::Credentials) -> String {
    format!("Basic {}", c.encoded())
}

/// `Retry-After` in seconds (the HTTP-date form is treated as absent).
pub(super) fn retry_after(resp: &Response<ureq::Body>) -> Option<Duration> {
    header(resp, "retry-after")
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs)
}

/// The error for a response with a status the caller does not expect; it
/// reads (and so frees) the response.
pub(super) fn response_error(
    ep: &Endpoint,
    repository: &str,
    action: &str,
    method: &str,
    resp: Response<ureq::Body>,
) -> RegistryError {
    let url = url_of(&resp);
    let status = resp.status().as_u16();
    let wait = retry_after(&resp);
    let body = drain(resp);
    let mut e = status_error(ep, repository, action, status, method, &url, &body);
    if let RegistryError::Status { retry_after, .. } = &mut e {
        *retry_after = wait;
    }
    e
}
