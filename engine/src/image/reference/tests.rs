//! The reference grammar: good references and their normal forms, bad ones
//! and the problem each names.

use super::*;

const D: &str = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

#[test]
fn normalises_good_references() {
    let d = D;
    let table: &[(&str, &str, &str)] = &[
        // input, full form, familiar form
        ("busybox", "docker.io/library/busybox", "busybox"),
        (
            "busybox:1.36",
            "docker.io/library/busybox:1.36",
            "busybox:1.36",
        ),
        ("library/busybox", "docker.io/library/busybox", "busybox"),
        ("docker.io/busybox", "docker.io/library/busybox", "busybox"),
        (
            "index.docker.io/busybox",
            "docker.io/library/busybox",
            "busybox",
        ),
        (
            "index.docker.io/team/app:v1",
            "docker.io/team/app:v1",
            "team/app:v1",
        ),
        ("team/app", "docker.io/team/app", "team/app"),
        ("library/a/b", "docker.io/library/a/b", "library/a/b"),
        (
            "quay.io/podman/stable",
            "quay.io/podman/stable",
            "quay.io/podman/stable",
        ),
        ("localhost/app", "localhost/app", "localhost/app"),
        (
            "localhost:5000/app:x",
            "localhost:5000/app:x",
            "localhost:5000/app:x",
        ),
        (
            "127.0.0.1:5000/nope:latest",
            "127.0.0.1:5000/nope:latest",
            "127.0.0.1:5000/nope:latest",
        ),
        ("[::1]:5000/app", "[::1]:5000/app", "[::1]:5000/app"),
        (
            "Registry.Example.com/a",
            "Registry.Example.com/a",
            "Registry.Example.com/a",
        ),
        (
            "localhost:5000",
            "docker.io/library/localhost:5000",
            "localhost:5000",
        ),
        (
            "a-b.c/x__y/z.w/p--q_r:Tag_1.0-x",
            "a-b.c/x__y/z.w/p--q_r:Tag_1.0-x",
            "a-b.c/x__y/z.w/p--q_r:Tag_1.0-x",
        ),
    ];
    for (input, full, familiar) in table {
        let r = Reference::parse(input).unwrap_or_else(|e| panic!("{input}: {e}"));
        assert_eq!(r.to_string(), *full, "{input}");
        assert_eq!(r.familiar(), *familiar, "{input}");
        assert_eq!(Reference::parse(full).unwrap(), r, "{full} round trip");
    }
    let r = Reference::parse(&format!("busybox:1@{d}")).unwrap();
    assert_eq!(r.tag(), Some("1"));
    assert_eq!(r.digest().unwrap().to_string(), d);
    assert_eq!(
        r.tag_or_digest(),
        TagOrDigest::Digest(r.digest().unwrap().clone())
    );
    assert_eq!(r.familiar(), format!("busybox:1@{d}"));
    let r = Reference::parse("quay.io/a/b").unwrap();
    assert_eq!((r.domain(), r.path()), ("quay.io", "a/b"));
    assert_eq!(r.tag_or_digest(), TagOrDigest::Tag("latest".into()));
    assert_eq!(r.or_latest().to_string(), "quay.io/a/b:latest");
}

#[test]
fn refuses_bad_references_naming_the_problem() {
    use ReferenceProblem as P;
    let hex = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
    let long = format!("example.com/{}", "a".repeat(250));
    let table: Vec<(&str, ReferenceProblem)> = vec![
        ("", P::Empty),
        (":tag", P::Empty),
        ("Busybox", P::Uppercase),
        ("docker.io/Team/app", P::Uppercase),
        ("example.com/App", P::Uppercase),
        (hex, P::HexIdentifier),
        (&long, P::NameTooLong),
        ("busybox:", P::Tag(String::new())),
        ("busybox:-x", P::Tag("-x".into())),
        ("busybox:a+b", P::Tag("a+b".into())),
        (
            "busybox@sha256:abc",
            P::Digest("wrong length for the algorithm".into()),
        ),
        (
            "busybox@md5:d41d8cd98f00b204e9800998ecf8427e",
            P::Digest("unsupported algorithm (sha256 and sha512 are)".into()),
        ),
        ("a@b@c", P::ExtraAt),
        ("foo:bar/baz", P::Domain("foo:bar".into())),
        ("exa_mple.com/a", P::Domain("exa_mple.com".into())),
        ("-example.com/a", P::Domain("-example.com".into())),
        ("example.com:/a", P::Domain("example.com:".into())),
        ("example.com/", P::Empty),
        ("a//b", P::PathComponent(String::new())),
        ("a/b_", P::PathComponent("b_".into())),
        ("a/b___c", P::PathComponent("b___c".into())),
        ("a/.b", P::PathComponent(".b".into())),
        ("a/b.-c", P::PathComponent("b.-c".into())),
    ];
    for (input, problem) in table {
        let e = Reference::parse(input).expect_err(input);
        assert_eq!(e.problem, problem, "{input}");
        assert!(
            e.to_string().starts_with("invalid reference format: "),
            "{e}"
        );
    }
    let e = Reference::parse("Busybox").unwrap_err().to_string();
    assert_eq!(
        e,
        "invalid reference format: repository name must be lowercase (in \"Busybox\")"
    );
    let tag = "t".repeat(TAG_LENGTH_MAX);
    assert!(Reference::parse(&format!("a:{tag}")).is_ok());
    assert!(Reference::parse(&format!("a:{tag}t")).is_err());
}

#[test]
fn tells_short_names_from_qualified_ones() {
    for short in [
        "busybox",
        "team/app:1",
        "library/busybox",
        &format!("a@{D}"),
    ] {
        let n = ImageName::parse(short).unwrap();
        assert!(n.is_short(), "{short}");
        assert_eq!(n.to_string(), short);
    }
    for q in [
        "docker.io/busybox",
        "localhost/a",
        "host:5000/a",
        "quay.io/a/b:1",
    ] {
        assert!(!ImageName::parse(q).unwrap().is_short(), "{q}");
    }
    let ImageName::Short(s) = ImageName::parse("busybox:1.36").unwrap() else {
        panic!("not short")
    };
    assert_eq!(s.path(), "busybox");
    assert_eq!(
        s.qualify("quay.io").unwrap().to_string(),
        "quay.io/busybox:1.36"
    );
    assert_eq!(
        s.qualify("docker.io").unwrap().to_string(),
        "docker.io/library/busybox:1.36"
    );
    assert!(ImageName::parse("Busybox").is_err());
    assert_eq!(
        ImageName::parse("team/app")
            .unwrap()
            .docker_default()
            .to_string(),
        "docker.io/team/app"
    );
}

#[test]
fn builds_related_references() {
    let r = Reference::parse("quay.io/a/b:1").unwrap();
    assert_eq!(r.with_tag("2").unwrap().to_string(), "quay.io/a/b:2");
    assert!(r.with_tag("bad tag").is_err());
    let d = Digest::parse(D).unwrap();
    assert_eq!(r.with_digest(d).to_string(), format!("quay.io/a/b:1@{D}"));
    assert_eq!(r.repository().to_string(), "quay.io/a/b");
    assert_eq!(r.name(), "quay.io/a/b");
    let j = serde_json::to_string(&r).unwrap();
    assert_eq!(serde_json::from_str::<Reference>(&j).unwrap(), r);
}
