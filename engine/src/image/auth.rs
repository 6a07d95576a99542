//! Registry credentials in containers-auth.json(5) files
//! (`{"auths": {"registry[/namespace[/repo]]": {"auth": base64("user:pass")}}}`),
//! found where podman looks, looked up most specific key first, and written
//! atomically for `husk login` and `husk logout`.
//!
//! Files, as podman chooses them: `--authfile`, else `$REGISTRY_AUTH_FILE`
//! (either one alone, read and written); otherwise
//! `$XDG_RUNTIME_DIR/containers/auth.json` (`/run/containers/$UID/auth.json`
//! without it), which login writes, then read-only fallbacks
//! `$XDG_CONFIG_HOME/containers/auth.json`, Docker's
//! `$DOCKER_CONFIG/config.json` (`~/.docker/config.json`) and
//! `~/.dockercfg`. Credential helpers (`credHelpers`, `credsStore`) are not
//! run: credentials kept by one are reported as such.

use std::collections::BTreeMap;
use std::fmt;
use std::fs;
use std::io::{ErrorKind, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use base64::Engine as _;

use super::reference::{self, Reference, DEFAULT_DOMAIN};

/// Why credentials could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// A file is not an auth file.
    #[error("invalid auth file {path}: {reason}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The registry's credentials are kept by a credential helper.
    #[error("credentials for {registry} are kept by credential helper {helper:?} ({path}); husk does not run credential helpers: use husk login --authfile, or REGISTRY_AUTH_FILE")]
    CredentialHelper {
        /// The registry key.
        registry: String,
        /// The helper's name (docker-credential-NAME).
        helper: String,
        /// The file that names it.
        path: PathBuf,
    },
    /// `logout` of a key with no credentials in the writable file.
    #[error("not logged into {key}{}", elsewhere_hint(.elsewhere))]
    NotLoggedIn {
        /// The key.
        key: String,
        /// A read-only file that has credentials for it.
        elsewhere: Option<PathBuf>,
    },
    /// A login key that is not `registry[/namespace[/repo]]`.
    #[error(
        "invalid registry {0:?}: expected host[:port][/namespace[/repo]] without tag or digest"
    )]
    InvalidKey(String),
}

fn elsewhere_hint(p: &Option<PathBuf>) -> String {
    match p {
        Some(p) => format!(
            " with husk; existing credentials were written to {} by another tool: log out with it",
            p.display()
        ),
        None => String::new(),
    }
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> AuthError + '_ {
    move |source| AuthError::Io {
        path: path.to_owned(),
        source,
    }
}

/// A user name and password (or an identity token for OAuth2 refresh).
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// The user name.
    pub username: String,
    /// The password.
    pub password: String,
    /// An identity (refresh) token, used instead of the password with a
    /// token server.
    pub identity_token: Option<String>,
}

impl Credentials {
    /// A user name and password.
    pub fn new(username: &str, password: &str) -> Credentials {
        Credentials {
            username: username.to_owned(),
            password: password.to_owned(),
            identity_token: None,
        }
    }

    /// The `auth` field value: base64 of `user:password`.
    pub fn encoded(&self) -> String {
        base64::engine::general_purpose::STANDARD
            .encode(format!("{}:{}", self.username, self.password))
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .field(
                "identity_token",
                &self.identity_token.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

/// Credentials found, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    /// The credentials.
    pub credentials: Credentials,
    /// The (normalised) key that matched.
    pub key: String,
    /// The file.
    pub path: PathBuf,
}

/// The auth files to read, in order, and the one to write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthFiles {
    read: Vec<PathBuf>,
}

impl AuthFiles {
    /// The files for this process: `explicit` is `--authfile`.
    pub fn discover(explicit: Option<&Path>) -> AuthFiles {
        // SAFETY: getuid has no preconditions and cannot fail.
        let uid = unsafe { libc::getuid() };
        AuthFiles::discover_with(explicit, |k| std::env::var_os(k).map(PathBuf::from), uid)
    }

    /// [`AuthFiles::discover`] with the environment and uid given.
    pub fn discover_with(
        explicit: Option<&Path>,
        env: impl Fn(&str) -> Option<PathBuf>,
        uid: u32,
    ) -> AuthFiles {
        let env = |k: &str| env(k).filter(|p| !p.as_os_str().is_empty());
        if let Some(p) = explicit
            .map(Path::to_path_buf)
            .or_else(|| env("REGISTRY_AUTH_FILE"))
        {
            return AuthFiles { read: vec![p] };
        }
        let primary = match env("XDG_RUNTIME_DIR") {
            Some(d) => d.join("containers/auth.json"),
            None => PathBuf::from(format!("/run/containers/{uid}/auth.json")),
        };
        let home = env("HOME");
        let config_home =
            env("XDG_CONFIG_HOME").or_else(|| home.as_ref().map(|h| h.join(".config")));
        let mut read = vec![primary];
        read.extend(config_home.map(|c| c.join("containers/auth.json")));
        match env("DOCKER_CONFIG") {
            Some(d) => read.push(d.join("config.json")),
            None => read.extend(home.as_ref().map(|h| h.join(".docker/config.json"))),
        }
        read.extend(home.map(|h| h.join(".dockercfg")));
        AuthFiles { read }
    }

    /// Exactly one file, read and written.
    pub fn single(path: &Path) -> AuthFiles {
        AuthFiles {
            read: vec![path.to_owned()],
        }
    }

    /// The file login and logout write.
    pub fn write_path(&self) -> &Path {
        &self.read[0]
    }

    /// The files read, in order.
    pub fn read_paths(&self) -> &[PathBuf] {
        &self.read
    }

    /// The credentials for `registry` (`host[:port]`) and a repository path
    /// in it: the first file with any matching key, and in it the most
    /// specific key (`host/ns/repo`, `host/ns`, `host`).
    pub fn lookup(&self, registry: &str, repository: &str) -> Result<Option<Found>, AuthError> {
        let registry = normalize_key(registry);
        let mut keys = vec![registry.clone()];
        let mut acc = registry.clone();
        for c in repository.split('/').filter(|c| !c.is_empty()) {
            acc = format!("{acc}/{c}");
            keys.push(acc.clone());
        }
        keys.reverse();
        for path in &self.read {
            let Some(file) = AuthFile::read(path)? else {
                continue;
            };
            for key in &keys {
                let Some(entry) = file.auths.get(key) else {
                    continue;
                };
                if let Some(credentials) = entry.credentials(path)? {
                    return Ok(Some(Found {
                        credentials,
                        key: key.clone(),
                        path: path.clone(),
                    }));
                }
                if let Some(helper) = &file.creds_store {
                    return Err(AuthError::CredentialHelper {
                        registry: key.clone(),
                        helper: helper.clone(),
                        path: path.clone(),
                    });
                }
            }
            if let Some(helper) = file.cred_helpers.get(&registry) {
                return Err(AuthError::CredentialHelper {
                    registry,
                    helper: helper.clone(),
                    path: path.clone(),
                });
            }
        }
        Ok(None)
    }

    /// [`AuthFiles::lookup`] for a reference's registry and repository.
    pub fn lookup_reference(&self, r: &Reference) -> Result<Option<Credentials>, AuthError> {
        Ok(self.lookup(r.domain(), r.path())?.map(|f| f.credentials))
    }

    /// Stores `credentials` under `key` (`registry[/namespace[/repo]]`) in
    /// the writable file, keeping every other entry and field.
    pub fn login(&self, key: &str, credentials: &Credentials) -> Result<(), AuthError> {
        let key = login_key(key)?;
        let path = self.write_path();
        let mut doc = read_json(path)?.unwrap_or_else(|| serde_json::json!({}));
        let auths = auths_mut(&mut doc, path)?;
        let mut entry = serde_json::Map::new();
        entry.insert("auth".into(), credentials.encoded().into());
        if let Some(t) = &credentials.identity_token {
            entry.insert("identitytoken".into(), t.clone().into());
        }
        auths.retain(|k, _| normalize_key(k) != key);
        auths.insert(key, entry.into());
        write_atomic(path, &doc)
    }

    /// Removes the credentials of `key` from the writable file.
    pub fn logout(&self, key: &str) -> Result<(), AuthError> {
        let key = login_key(key)?;
        let path = self.write_path();
        let mut doc = read_json(path)?;
        let removed = match doc.as_mut() {
            Some(d) => {
                let auths = auths_mut(d, path)?;
                let before = auths.len();
                auths.retain(|k, _| normalize_key(k) != key);
                before != auths.len()
            }
            None => false,
        };
        if !removed {
            let elsewhere = self.read[1..]
                .iter()
                .find(|p| {
                    AuthFile::read(p)
                        .ok()
                        .flatten()
                        .is_some_and(|f| f.auths.contains_key(&key))
                })
                .cloned();
            return Err(AuthError::NotLoggedIn { key, elsewhere });
        }
        write_atomic(path, doc.as_ref().expect("removed from it"))
    }

    /// Removes every credential from the writable file (other fields stay).
    pub fn logout_all(&self) -> Result<(), AuthError> {
        let path = self.write_path();
        let Some(mut doc) = read_json(path)? else {
            return Ok(());
        };
        auths_mut(&mut doc, path)?.clear();
        write_atomic(path, &doc)
    }
}

/// An auth file key in its canonical form: no URL scheme, no path for a
/// scheme'd legacy key (`https://index.docker.io/v1/`), and Docker Hub's
/// hosts as `docker.io`.
pub fn normalize_key(key: &str) -> String {
    let (stripped, had_scheme) = match key
        .strip_prefix("https://")
        .or_else(|| key.strip_prefix("http://"))
    {
        Some(s) => (s, true),
        None => (key, false),
    };
    let stripped = if had_scheme {
        stripped.split('/').next().unwrap_or("")
    } else {
        stripped.trim_end_matches('/')
    };
    let (host, rest) = match stripped.split_once('/') {
        Some((h, r)) => (h, Some(r)),
        None => (stripped, None),
    };
    let host = match host {
        "index.docker.io" | "registry-1.docker.io" => DEFAULT_DOMAIN,
        h => h,
    };
    match rest {
        Some(r) => format!("{host}/{r}"),
        None => host.to_owned(),
    }
}

fn login_key(key: &str) -> Result<String, AuthError> {
    let k = normalize_key(key);
    let (host, path) = k.split_once('/').unwrap_or((&k, ""));
    let path_ok = path.is_empty()
        || Reference::parse(&format!("{host}/{path}"))
            .is_ok_and(|r| r.tag().is_none() && r.digest().is_none());
    if !reference::is_valid_domain(host) || !path_ok || k.contains('@') {
        return Err(AuthError::InvalidKey(key.to_owned()));
    }
    Ok(k)
}

#[derive(Debug)]
struct Entry {
    auth: Option<String>,
    identity_token: Option<String>,
}

impl Entry {
    fn credentials(&self, path: &Path) -> Result<Option<Credentials>, AuthError> {
        let token = self.identity_token.clone().filter(|t| !t.is_empty());
        let Some(auth) = self.auth.as_deref().filter(|a| !a.is_empty()) else {
            return Ok(token.map(|t| Credentials {
                username: String::new(),
                password: String::new(),
                identity_token: Some(t),
            }));
        };
        let invalid = |reason: &str| AuthError::Invalid {
            path: path.to_owned(),
            reason: reason.to_owned(),
        };
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(auth.trim())
            .map_err(|_| invalid("an \"auth\" value is not base64"))?;
        let text =
            String::from_utf8(bytes).map_err(|_| invalid("an \"auth\" value is not UTF-8"))?;
        let (user, pass) = text
            .split_once(':')
            .ok_or_else(|| invalid("an \"auth\" value is not user:password"))?;
        Ok(Some(Credentials {
            username: user.to_owned(),
            password: pass.to_owned(),
            identity_token: token,
        }))
    }
}

/// An auth file as read: entries by normalised key.
struct AuthFile {
    auths: BTreeMap<String, Entry>,
    creds_store: Option<String>,
    cred_helpers: BTreeMap<String, String>,
}

impl AuthFile {
    fn read(path: &Path) -> Result<Option<AuthFile>, AuthError> {
        let Some(doc) = read_json(path)? else {
            return Ok(None);
        };
        let invalid = |reason: String| AuthError::Invalid {
            path: path.to_owned(),
            reason,
        };
        let obj = doc
            .as_object()
            .ok_or_else(|| invalid("not a JSON object".into()))?;
        // ~/.dockercfg is the bare map of entries.
        let legacy = path.file_name().is_some_and(|n| n == ".dockercfg");
        let auths = if legacy { Some(&doc) } else { obj.get("auths") };
        let mut out = AuthFile {
            auths: BTreeMap::new(),
            creds_store: obj
                .get("credsStore")
                .and_then(|v| v.as_str())
                .map(str::to_owned),
            cred_helpers: BTreeMap::new(),
        };
        if let Some(h) = obj.get("credHelpers").and_then(|v| v.as_object()) {
            for (k, v) in h {
                if let Some(v) = v.as_str() {
                    out.cred_helpers.insert(normalize_key(k), v.to_owned());
                }
            }
        }
        let Some(auths) = auths else {
            return Ok(Some(out));
        };
        let auths = auths
            .as_object()
            .ok_or_else(|| invalid("\"auths\" is not an object".into()))?;
        for (k, v) in auths {
            let field = |name: &str| v.get(name).and_then(|x| x.as_str()).map(str::to_owned);
            let entry = Entry {
                auth: field("auth"),
                identity_token: field("identitytoken"),
            };
            let key = normalize_key(k);
            // An exact key wins over a legacy spelling of the same registry.
            if key == *k || !out.auths.contains_key(&key) {
                out.auths.insert(key, entry);
            }
        }
        Ok(Some(out))
    }
}

fn read_json(path: &Path) -> Result<Option<serde_json::Value>, AuthError> {
    let bytes = match fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io_err(path)(e)),
    };
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(Some(serde_json::json!({})));
    }
    serde_json::from_slice(&bytes)
        .map(Some)
        .map_err(|e| AuthError::Invalid {
            path: path.to_owned(),
            reason: e.to_string(),
        })
}

fn auths_mut<'a>(
    doc: &'a mut serde_json::Value,
    path: &Path,
) -> Result<&'a mut serde_json::Map<String, serde_json::Value>, AuthError> {
    let invalid = |reason: &str| AuthError::Invalid {
        path: path.to_owned(),
        reason: reason.to_owned(),
    };
    let obj = doc
        .as_object_mut()
        .ok_or_else(|| invalid("not a JSON object"))?;
    obj.entry("auths")
        .or_insert_with(|| serde_json::json!({}))
        .as_object_mut()
        .ok_or_else(|| invalid("\"auths\" is not an object"))
}

/// Writes `doc` to `path` through a 0600 temporary file in the same
/// directory, synced and renamed over it: readers see the old file or the
/// new one, never half of one.
fn write_atomic(path: &Path, doc: &serde_json::Value) -> Result<(), AuthError> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(io_err(dir))?;
    let mut text = serde_json::to_vec_pretty(doc).expect("a JSON value serialises");
    text.push(b'\n');
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    let result = (|| {
        let mut f = fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)?;
        f.write_all(&text)?;
        f.sync_all()?;
        fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result.map_err(io_err(path))
}

#[cfg(test)]
mod tests;
