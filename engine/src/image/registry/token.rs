//! Bearer tokens (the distribution token protocol): fetched from the
//! challenge's realm with the credentials (anonymously without), or with
//! an identity token through the OAuth2 refresh grant; cached per
//! (registry, user, scopes) until shortly before they expire.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde::Deserialize;
use ureq::http;

use super::transport::{drain, encode, header, transport_error, url_of, SMALL_BODY_LIMIT};
use super::{Client, Endpoint, RegistryError};
use crate::image::digest::Digest;
use crate::image::registry::error::ErrorBody;

/// Tokens live at least this long (the protocol's default and minimum).
const MIN_LIFETIME: Duration = Duration::from_secs(60);
/// A token is renewed this long before it expires.
const MARGIN: Duration = Duration::from_secs(10);

/// (API host, credentials fingerprint, scopes).
type Key = (String, String, String);

/// Cached tokens and when each stops being used.
#[derive(Debug, Default)]
pub(super) struct Cache {
    tokens: Mutex<HashMap<Key, (String, Instant)>>,
}

#[derive(Debug, Deserialize)]
struct TokenResponse {
    token: Option<String>,
    access_token: Option<String>,
    expires_in: Option<u64>,
}

impl Client {
    /// The `Authorization` value for `scopes` on `ep`: a cached token, or a
    /// new one (always new when `fresh`, after the registry refused one).
    pub(super) fn token(
        &self,
        ep: &Endpoint,
        realm: &str,
        service: Option<&str>,
        scopes: &[String],
        fresh: bool,
    ) -> Result<String, RegistryError> {
        // Tokens are per credentials, not per user name: a wrong password
        // must not be answered from the cache of the right one.
        let who = ep
            .credentials
            .as_ref()
            .map(|c| {
                let secret = format!(
                    "{}\n{}\n{}",
                    c.username,
                    c.password,
                    c.identity_token.as_deref().unwrap_or("")
                );
                Digest::sha256_of(secret.as_bytes()).to_string()
            })
            .unwrap_or_default();
        let key = (ep.api_host.clone(), who, scopes.join(" "));
        if !fresh {
            let tokens = self.inner.tokens.tokens.lock().expect("token lock");
            if let Some((t, until)) = tokens.get(&key) {
                if Instant::now() < *until {
                    return Ok(format!("Bearer {t}"));
                }
            }
        }
        let (token, lifetime) = self.fetch_token(ep, realm, service, scopes)?;
        let until = Instant::now() + lifetime.max(MIN_LIFETIME) - MARGIN;
        self.inner
            .tokens
            .tokens
            .lock()
            .expect("token lock")
            .insert(key, (token.clone(), until));
        Ok(format!("Bearer {token}"))
    }

    fn fetch_token(
        &self,
        ep: &Endpoint,
        realm: &str,
        service: Option<&str>,
        scopes: &[String],
    ) -> Result<(String, Duration), RegistryError> {
        let realm_host = realm
            .split("://")
            .nth(1)
            .and_then(|r| r.split('/').next())
            .unwrap_or("");
        let agent = self.agent(realm_host, ep.insecure)?;
        let creds = ep.credentials.as_ref();
        let identity = creds.and_then(|c| c.identity_token.as_deref());
        let mut params: Vec<(&str, &str)> = Vec::new();
        if let Some(s) = service {
            params.push(("service", s));
        }
        let (method, url, result) = if let Some(refresh) = identity {
            let joined = scopes.join(" ");
            params.extend([
                ("grant_type", "refresh_token"),
                ("refresh_token", refresh),
                ("client_id", "husk"),
            ]);
            if !joined.is_empty() {
                params.push(("scope", &joined));
            }
            let form: Vec<String> = params
                .iter()
                .map(|(k, v)| format!("{k}={}", encode(v)))
                .collect();
            let req = http::Request::post(realm)
                .header("Content-Type", "application/x-www-form-urlencoded")
                .body(form.join("&"));
            ("POST", realm.to_owned(), req.map(|r| agent.run(r)))
        } else {
            params.extend(scopes.iter().map(|s| ("scope", s.as_str())));
            if let Some(c) = creds.filter(|c| !c.username.is_empty()) {
                params.push(("account", &c.username));
            }
            let query: Vec<String> = params
                .iter()
                .map(|(k, v)| format!("{k}={}", encode(v)))
                .collect();
            let sep = if realm.contains('?') { '&' } else { '?' };
            let url = if query.is_empty() {
                realm.to_owned()
            } else {
                format!("{realm}{sep}{}", query.join("&"))
            };
            let mut req = http::Request::get(&url);
            if let Some(c) = creds {
                req = req.header("Authorization", format!("Basic {}", c.encoded()));
            }
            ("GET", url.clone(), req.body(()).map(|r| agent.run(r)))
        };
        let resp = result
            .map_err(|e| RegistryError::Protocol {
                url: url.clone(),
                reason: format!("invalid token realm: {e}"),
                transient: false,
            })?
            .map_err(|e| transport_error(&ep.host, method, &url, e))?;
        let status = resp.status().as_u16();
        if !(200..300).contains(&status) {
            let url = url_of(&resp);
            let retry = header(&resp, "retry-after")
                .and_then(|v| v.trim().parse().ok())
                .map(Duration::from_secs);
            let body = ErrorBody::parse(&drain(resp));
            return Err(if status == 401 || status == 403 {
                RegistryError::Unauthorized {
                    action: "requesting a token for".into(),
                    repository: format!("{} ({})", ep.host, scopes.join(" ")),
                    status,
                    code: body.code(),
                    message: body.message(),
                    had_credentials: creds.is_some(),
                }
            } else {
                RegistryError::Status {
                    method: method.into(),
                    url,
                    status,
                    code: body.code(),
                    message: body.message(),
                    retry_after: retry,
                }
            });
        }
        let bytes = resp
            .into_body()
            .with_config()
            .limit(SMALL_BODY_LIMIT)
            .read_to_vec()
            .map_err(|e| RegistryError::Protocol {
                url: url.clone(),
                reason: format!("reading the token: {e}"),
                transient: true,
            })?;
        let t: TokenResponse =
            serde_json::from_slice(&bytes).map_err(|e| RegistryError::Protocol {
                url: url.clone(),
                reason: format!("the token response is not JSON: {e}"),
                transient: false,
            })?;
        let token = t
            .token
            .or(t.access_token)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| RegistryError::Protocol {
                url,
                reason: "the token response has no token".into(),
                transient: false,
            })?;
        Ok((token, Duration::from_secs(t.expires_in.unwrap_or(60))))
    }
}
