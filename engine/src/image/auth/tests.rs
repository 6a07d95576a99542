//! Auth file choice, lookup order, and atomic login/logout.

use std::os::unix::fs::PermissionsExt;

use super::*;

fn b64(s: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(s)
}

#[test]
fn chooses_files_like_podman() {
    let env = |vars: &'static [(&'static str, &'static str)]| {
        move |k: &str| {
            vars.iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| PathBuf::from(v))
        }
    };
    let f = AuthFiles::discover_with(None, env(&[("HOME", "/h")]), 1000);
    assert_eq!(
        f.read_paths(),
        [
            PathBuf::from("/run/containers/1000/auth.json"),
            "/h/.config/containers/auth.json".into(),
            "/h/.docker/config.json".into(),
            "/h/.dockercfg".into(),
        ]
    );
    let f = AuthFiles::discover_with(
        None,
        env(&[
            ("HOME", "/h"),
            ("XDG_RUNTIME_DIR", "/run/user/7"),
            ("XDG_CONFIG_HOME", "/c"),
            ("DOCKER_CONFIG", "/d"),
        ]),
        7,
    );
    assert_eq!(
        f.write_path(),
        Path::new("/run/user/7/containers/auth.json")
    );
    assert_eq!(
        f.read_paths()[1..3],
        [
            PathBuf::from("/c/containers/auth.json"),
            "/d/config.json".into()
        ]
    );
    let f = AuthFiles::discover_with(
        None,
        env(&[("HOME", "/h"), ("REGISTRY_AUTH_FILE", "/a.json")]),
        0,
    );
    assert_eq!(f.read_paths(), [PathBuf::from("/a.json")]);
    let f = AuthFiles::discover_with(
        Some(Path::new("/x.json")),
        env(&[("REGISTRY_AUTH_FILE", "/a.json")]),
        0,
    );
    assert_eq!(f.read_paths(), [PathBuf::from("/x.json")]);
}

#[test]
fn looks_up_the_most_specific_key_first() {
    let tmp = tempfile::tempdir().unwrap();
    let primary = tmp.path().join("auth.json");
    let docker = tmp.path().join("config.json");
    fs::write(
        &primary,
        serde_json::json!({"auths": {
            "reg.example:5000": {"auth": b64("host:h")},
            "reg.example:5000/team": {"auth": b64("team:t:with:colons")},
            "reg.example:5000/team/app": {"auth": b64("app:a"), "identitytoken": "tok"},
        }})
        .to_string(),
    )
    .unwrap();
    fs::write(
        &docker,
        serde_json::json!({"auths": {
            "https://index.docker.io/v1/": {"auth": b64("hub:h")},
            "other.example": {"auth": b64("docker:d")},
            "helped.example": {},
        }, "credsStore": "desktop", "credHelpers": {"gcr.example": "gcloud"}})
        .to_string(),
    )
    .unwrap();
    let files = AuthFiles {
        read: vec![
            tmp.path().join("missing.json"),
            primary.clone(),
            docker.clone(),
        ],
    };
    let who = |reg: &str, repo: &str| {
        files
            .lookup(reg, repo)
            .unwrap()
            .map(|f| (f.credentials.username, f.key, f.path))
    };
    assert_eq!(who("reg.example:5000", "team/app").unwrap().0, "app");
    let f = files
        .lookup("reg.example:5000", "team/app")
        .unwrap()
        .unwrap();
    assert_eq!(f.credentials.identity_token.as_deref(), Some("tok"));
    let f = files
        .lookup("reg.example:5000", "team/other")
        .unwrap()
        .unwrap();
    assert_eq!(
        (
            f.credentials.username.as_str(),
            f.credentials.password.as_str()
        ),
        ("team", "t:with:colons")
    );
    assert_eq!(who("reg.example:5000", "solo").unwrap().0, "host");
    assert_eq!(
        who("docker.io", "library/busybox").unwrap(),
        ("hub".into(), "docker.io".into(), docker.clone())
    );
    assert_eq!(who("other.example", "x").unwrap().0, "docker");
    assert!(
        who("reg.example", "x").is_none(),
        "the port is part of the key"
    );
    let e = files.lookup("helped.example", "x").unwrap_err().to_string();
    assert!(
        e.contains("credential helper \"desktop\"") && e.contains("helped.example"),
        "{e}"
    );
    let e = files.lookup("gcr.example", "x").unwrap_err().to_string();
    assert!(e.contains("\"gcloud\""), "{e}");
    let r = Reference::parse("reg.example:5000/team/app:1").unwrap();
    assert_eq!(files.lookup_reference(&r).unwrap().unwrap().username, "app");
    let dbg = format!("{:?}", files.lookup_reference(&r).unwrap().unwrap());
    assert!(!dbg.contains("\"a\"") && dbg.contains("redacted"), "{dbg}");
}

#[test]
fn login_and_logout_rewrite_atomically() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("new/dir/auth.json");
    let docker = tmp.path().join("config.json");
    fs::write(
        &docker,
        serde_json::json!({"auths": {"docker.example": {"auth": b64("d:d")}}}).to_string(),
    )
    .unwrap();
    let files = AuthFiles {
        read: vec![path.clone(), docker],
    };
    files
        .login("https://reg.example:5000", &Credentials::new("u", "p"))
        .unwrap();
    files
        .login("reg.example:5000/team", &Credentials::new("t", "q"))
        .unwrap();
    assert_eq!(
        fs::metadata(&path).unwrap().permissions().mode() & 0o777,
        0o600
    );
    assert_eq!(
        fs::metadata(path.parent().unwrap())
            .unwrap()
            .permissions()
            .mode()
            & 0o777,
        0o700
    );
    // Other fields survive a rewrite.
    let mut doc: serde_json::Value = serde_json::from_slice(&fs::read(&path).unwrap()).unwrap();
    doc["credHelpers"] = serde_json::json!({"x.example": "x"});
    fs::write(&path, doc.to_string()).unwrap();
    files
        .login("reg.example:5000", &Credentials::new("u2", "p2"))
        .unwrap();
    let doc: serde_json::Value = serde_json::from_slice(&fs::read(&path).unwrap()).unwrap();
    assert_eq!(doc["credHelpers"]["x.example"], "x");
    assert_eq!(doc["auths"]["reg.example:5000"]["auth"], b64("u2:p2"));
    assert_eq!(doc["auths"]["reg.example:5000/team"]["auth"], b64("t:q"));
    let names: Vec<_> = fs::read_dir(path.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, ["auth.json"], "no temporary file left");

    files.logout("reg.example:5000").unwrap();
    assert!(files.lookup("reg.example:5000", "").unwrap().is_none());
    assert_eq!(
        files
            .lookup("reg.example:5000", "team/x")
            .unwrap()
            .unwrap()
            .credentials
            .username,
        "t"
    );
    let e = files.logout("reg.example:5000").unwrap_err();
    assert_eq!(e.to_string(), "not logged into reg.example:5000");
    let e = files.logout("docker.example").unwrap_err().to_string();
    assert!(
        e.contains("not logged into docker.example with husk") && e.contains("config.json"),
        "{e}"
    );
    assert!(matches!(
        files.logout("bad key!"),
        Err(AuthError::InvalidKey(_))
    ));
    assert!(matches!(
        files.login("reg.example/a:tag", &Credentials::new("a", "b")),
        Err(AuthError::InvalidKey(_))
    ));
    files.logout_all().unwrap();
    let doc: serde_json::Value = serde_json::from_slice(&fs::read(&path).unwrap()).unwrap();
    assert_eq!(doc["auths"], serde_json::json!({}));
    assert_eq!(doc["credHelpers"]["x.example"], "x");
    let missing = AuthFiles::single(&tmp.path().join("none.json"));
    missing.logout_all().unwrap();
    assert!(matches!(
        missing.logout("a.example"),
        Err(AuthError::NotLoggedIn { .. })
    ));
}

#[test]
fn normalises_keys() {
    for (k, want) in [
        ("https://index.docker.io/v1/", "docker.io"),
        ("registry-1.docker.io", "docker.io"),
        ("http://reg.example:5000/v2/", "reg.example:5000"),
        ("reg.example/ns/repo/", "reg.example/ns/repo"),
        ("docker.io/library/busybox", "docker.io/library/busybox"),
    ] {
        assert_eq!(normalize_key(k), want, "{k}");
    }
}
