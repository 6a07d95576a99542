//! Authentication against the real registry: Basic (htpasswd) over TLS
//! with the CA given through a certs.d directory, and bearer tokens from an
//! issuer whose JWTs the registry verifies.

use husk_tests::fixtures;
use husk_tests::registry::Auth;

use super::token_server::{TokenServer, ISSUER, SERVICE};
use super::*;
use crate::image::platform::PlatformSpec;
use crate::image::reference::TagOrDigest;
use crate::image::registry::{ErrorKind, PushOutcome};

fn latest() -> TagOrDigest {
    TagOrDigest::Tag("latest".into())
}

fn push_busybox(reg: &Registry) {
    let b = fixtures::cached("busybox");
    reg.push_layout(&b.layout_dir, fixtures::TAG, "busybox")
        .unwrap_or_else(|e| panic!("pushing busybox: {e}"));
}

#[test]
fn basic_auth_over_tls_with_a_private_ca() {
    let reg = start(RegistryOptions {
        tls: true,
        auth: Auth::Htpasswd {
            user: "husk".into(),
            password: "s3cret:pass".into(),
        },
    });
    push_busybox(&reg);
    let trusting = Client::new(ClientConfig {
        certs_dirs: vec![reg.certs_dir().unwrap()],
        retry: fast_retry(1),
        ..ClientConfig::default()
    });
    let name = Reference::parse(&format!("{}/busybox", reg.host())).unwrap();
    let good = Credentials::new("husk", "s3cret:pass");
    let bad = Credentials::new("husk", "wrong");

    // Verified TLS, good credentials.
    let r = trusting.repository(&name, false, Some(good.clone()));
    let pulled = r.pull_manifest(&latest(), &PlatformSpec::host()).unwrap();
    let layer = &pulled.parsed.layers[0];
    let mut sink = Sink::default();
    sink.fetch(&r, &layer.digest, layer.size).unwrap();
    trusting.check_login(&reg.host(), false, &good).unwrap();

    // Bad and missing credentials, named as such.
    let e = trusting.check_login(&reg.host(), false, &bad).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unauthorized, "{e}");
    assert!(
        e.to_string().contains("credentials were refused") && e.to_string().contains(&reg.host()),
        "{e}"
    );
    let e = trusting
        .repository(&name, false, Some(bad))
        .get_manifest(&latest())
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unauthorized, "{e}");
    let e = trusting
        .repository(&name, false, None)
        .get_manifest(&latest())
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unauthorized, "{e}");
    let text = e.to_string();
    assert!(
        text.contains("UNAUTHORIZED") && text.contains("no credentials: use husk login"),
        "{text}"
    );

    // Without the CA the certificate is refused, and the error says where
    // the CA would go; insecure skips verification.
    let plain = client();
    let e = plain
        .repository(&name, false, Some(good.clone()))
        .get_manifest(&latest())
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Tls, "{e:?}");
    assert!(
        e.to_string()
            .contains(&format!("/etc/containers/certs.d/{}/ca.crt", reg.host())),
        "{e}"
    );
    let m = plain
        .repository(&name, true, Some(good))
        .get_manifest(&latest())
        .unwrap();
    assert_eq!(m.digest, pulled.manifest.digest);
}

#[test]
fn bearer_tokens_from_an_issuer_the_registry_trusts() {
    let dir = tempfile::tempdir().unwrap();
    let issuer = TokenServer::start(dir.path(), "husk", "t0ken");
    let reg = start(RegistryOptions {
        tls: false,
        auth: Auth::Token {
            realm: issuer.realm.clone(),
            service: SERVICE.into(),
            issuer: ISSUER.into(),
            root_cert_bundle: issuer.cert.clone(),
            credentials: Some(("husk".into(), "t0ken".into())),
        },
    });
    push_busybox(&reg);
    let c = client();
    let good = Credentials::new("husk", "t0ken");
    let r = repo(&c, &reg.host(), "busybox", Some(good.clone()));
    let before = issuer.requests().len();
    let pulled = r.pull_manifest(&latest(), &PlatformSpec::host()).unwrap();
    let got = issuer.requests()[before..].to_vec();
    assert_eq!(got.len(), 1, "one token for the repository: {got:?}");
    assert!(
        got[0].contains(&format!("service={SERVICE}"))
            && got[0].contains("scope=repository%3Abusybox%3Apull"),
        "{got:?}"
    );
    assert!(got[0].contains("account=husk"), "{got:?}");
    // The cached token serves every later request of the same scope,
    // from several threads at once.
    std::thread::scope(|s| {
        for d in std::iter::once(&pulled.parsed.config).chain(&pulled.parsed.layers) {
            let r = r.clone();
            s.spawn(move || {
                let mut sink = Sink::default();
                sink.fetch(&r, &d.digest, d.size).unwrap();
            });
        }
    });
    assert_eq!(issuer.requests().len(), before + 1);

    // Pushing asks for a pull,push token on the target and pull on the
    // mount source.
    let mine = repo(&c, &reg.host(), "mine", Some(good.clone()));
    let cfg = &pulled.parsed.config;
    let mut empty = std::io::Cursor::new(Vec::new());
    let out = mine
        .push_blob(
            &cfg.digest,
            cfg.size,
            &mut empty,
            Some("busybox"),
            &mut |_| {},
        )
        .unwrap();
    assert_eq!(out, PushOutcome::Mounted);
    let last = issuer.requests().last().unwrap().clone();
    assert!(
        last.contains("scope=repository%3Amine%3Apull%2Cpush")
            && last.contains("scope=repository%3Abusybox%3Apull"),
        "{last}"
    );

    // Anonymous and wrong credentials are refused by the issuer.
    let e = repo(&c, &reg.host(), "busybox", None)
        .get_manifest(&latest())
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unauthorized, "{e}");
    assert!(e.to_string().contains("requesting a token for"), "{e}");
    let bad = Credentials::new("husk", "nope");
    let e = repo(&c, &reg.host(), "busybox", Some(bad.clone()))
        .get_manifest(&latest())
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unauthorized, "{e}");
    assert!(e.to_string().contains("credentials were refused"), "{e}");
    c.check_login(&reg.host(), true, &good).unwrap();
    assert_eq!(
        c.check_login(&reg.host(), true, &bad).unwrap_err().kind(),
        ErrorKind::Unauthorized
    );
}
