//! A token issuer for the real registry's token auth: checks one user's
//! Basic credentials and answers with an RS256 JWT granting the scopes asked
//! for, signed by `openssl` with a key whose self-signed certificate the
//! registry trusts (`rootcertbundle`, the token's `x5c`). The registry does
//! all the verifying.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;

/// The `service` tokens are issued for.
pub const SERVICE: &str = "husk-test-registry";
/// The tokens' issuer.
pub const ISSUER: &str = "husk-test-issuer";

/// A running issuer.
#[derive(Debug, Clone)]
pub struct TokenServer {
    /// The realm URL.
    pub realm: String,
    /// The signing certificate (PEM) for the registry.
    pub cert: PathBuf,
    key: PathBuf,
    x5c: String,
    user: String,
    password: String,
    log: Arc<Mutex<Vec<String>>>,
}

fn openssl() -> PathBuf {
    husk_tests::tools::require(husk_tests::tools::find_tool("HUSK_OPENSSL", "openssl"))
}

fn run(args: &[&str], dir: &Path, stdin: &[u8]) -> Vec<u8> {
    let mut child = Command::new(openssl())
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

fn b64url(b: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
}

fn query_values(query: &str, name: &str) -> Vec<String> {
    query
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .filter(|(k, _)| *k == name)
        .map(|(_, v)| decode(v))
        .collect()
}

fn decode(v: &str) -> String {
    let b = v.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            out.push(u8::from_str_radix(&v[i + 1..i + 3], 16).unwrap());
            i += 3;
        } else {
            out.push(if b[i] == b'+' { b' ' } else { b[i] });
            i += 1;
        }
    }
    String::from_utf8(out).unwrap()
}

impl TokenServer {
    /// Makes a key and certificate in `dir` and serves on a free port.
    pub fn start(dir: &Path, user: &str, password: &str) -> TokenServer {
        run(
            &[
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-keyout",
                "token.key",
                "-out",
                "token.crt",
                "-days",
                "2",
                "-subj",
                "/CN=husk token issuer",
            ],
            dir,
            b"",
        );
        let der = run(&["x509", "-in", "token.crt", "-outform", "DER"], dir, b"");
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr: SocketAddr = l.local_addr().unwrap();
        let s = TokenServer {
            realm: format!("http://{addr}/token"),
            cert: dir.join("token.crt"),
            key: dir.join("token.key"),
            x5c: base64::engine::general_purpose::STANDARD.encode(der),
            user: user.to_owned(),
            password: password.to_owned(),
            log: Arc::default(),
        };
        let t = s.clone();
        std::thread::spawn(move || {
            for conn in l.incoming().flatten() {
                let t = t.clone();
                std::thread::spawn(move || t.serve(conn));
            }
        });
        s
    }

    /// The query strings of the token requests so far.
    pub fn requests(&self) -> Vec<String> {
        self.log.lock().unwrap().clone()
    }

    fn serve(&self, mut conn: TcpStream) {
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") {
            match conn.read(&mut byte) {
                Ok(1) => head.push(byte[0]),
                _ => return,
            }
        }
        let text = String::from_utf8_lossy(&head).into_owned();
        let target = text.split(' ').nth(1).unwrap_or("");
        let query = target
            .split_once('?')
            .map(|(_, q)| q)
            .unwrap_or("")
            .to_owned();
        self.log.lock().unwrap().push(query.clone());
        let auth = text.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("authorization")
                .then(|| v.trim().to_owned())
        });
        let want = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD
                .encode(format!("{}:{}", self.user, self.password))
        );
        let (status, body) = if auth.as_deref() == Some(want.as_str()) {
            (
                200,
                serde_json::json!({"token": self.jwt(&query), "expires_in": 300}).to_string(),
            )
        } else {
            (
                401,
                r#"{"errors":[{"code":"UNAUTHORIZED","message":"bad credentials"}]}"#.to_owned(),
            )
        };
        let resp = format!(
            "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        let _ = conn.write_all(resp.as_bytes());
    }

    fn jwt(&self, query: &str) -> String {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let access: Vec<serde_json::Value> = query_values(query, "scope")
            .iter()
            .flat_map(|s| s.split(' ').map(str::to_owned).collect::<Vec<_>>())
            .filter_map(|s| {
                let (kind, rest) = s.split_once(':')?;
                let (name, actions) = rest.rsplit_once(':')?;
                Some(serde_json::json!({"type": kind, "name": name, "actions": actions.split(',').collect::<Vec<_>>()}))
            })
            .collect();
        let header = serde_json::json!({"typ": "JWT", "alg": "RS256", "x5c": [self.x5c]});
        let claims = serde_json::json!({
            "iss": ISSUER, "sub": self.user, "aud": SERVICE,
            "exp": now + 300, "nbf": now - 10, "iat": now, "jti": format!("{now}-{}", query.len()),
            "access": access,
        });
        let signing_input = format!(
            "{}.{}",
            b64url(header.to_string().as_bytes()),
            b64url(claims.to_string().as_bytes())
        );
        let key = self.key.to_string_lossy().into_owned();
        let sig = run(
            &["dgst", "-sha256", "-sign", &key],
            Path::new("/"),
            signing_input.as_bytes(),
        );
        format!("{signing_input}.{}", b64url(&sig))
    }
}
