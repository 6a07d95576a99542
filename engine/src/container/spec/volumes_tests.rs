//! Tests of `volumes`.

use super::*;
use std::path::Path;

fn opts(p: &Planned) -> Vec<&str> {
    p.options.iter().map(String::as_str).collect()
}

#[test]
fn volume_defaults_and_options() {
    let cwd = Path::new("/work/dir");
    let p = parse_volume("/host/a:/data", cwd).unwrap();
    assert_eq!(
        p.kind,
        Kind::Bind {
            source: "/host/a".into(),
            create: true
        }
    );
    assert_eq!(p.dest, Path::new("/data"));
    assert_eq!(opts(&p), ["rw", "rprivate", "rbind"]);
    let p = parse_volume("/h:/d:ro,z,U,rslave,nosuid,bind", cwd).unwrap();
    assert_eq!(opts(&p), ["ro", "rslave", "nosuid", "bind"]);
    assert!(p.chown && p.relabel && p.set_suid && !p.set_exec);
    let p = parse_volume("./rel/../x:/d/./e/", cwd).unwrap();
    assert_eq!(
        p.kind,
        Kind::Bind {
            source: "/work/dir/x".into(),
            create: true
        }
    );
    assert_eq!(p.dest, Path::new("/d/e"));
    assert_eq!(parse_volume("/anon", cwd).unwrap().kind, Kind::Anonymous);
}

#[test]
fn volume_errors() {
    let cwd = Path::new("/");
    for (spec, why) in [
        ("a:b:c:d", "invalid volume spec"),
        (
            "/a:rel",
            "invalid container path \"rel\", must be an absolute path",
        ),
        ("/a:/", "root"),
        ("/a:/b:ro,rw", "only one rw/ro"),
        ("/a:/b:rshared,private", "only one propagation"),
        ("/a:/b:bogus", "unknown option \"bogus\""),
        (":/b", "empty"),
    ] {
        let e = parse_volume(spec, cwd).unwrap_err().to_string();
        assert!(e.starts_with(&format!("invalid -v {spec:?}: ")), "{e}");
        assert!(e.contains(why), "{spec}: {e}");
    }
    let e = parse_volume("data:/var/lib/data", cwd)
        .unwrap_err()
        .to_string();
    assert!(e.contains("named volumes are not supported yet"), "{e}");
    let e = parse_volume("/a:/b:O", cwd).unwrap_err().to_string();
    assert!(e.contains("not supported yet"), "{e}");
}

#[test]
fn tmpfs_defaults_and_validation() {
    let p = parse_tmpfs("/scratch").unwrap();
    assert_eq!(p.kind, Kind::Tmpfs);
    assert_eq!(opts(&p), ["rw", "rprivate", "nosuid", "nodev"]);
    let p = parse_tmpfs("/t:size=64m,mode=1777,noexec,ro,tmpcopyup").unwrap();
    assert_eq!(
        opts(&p),
        [
            "size=64m",
            "mode=1777",
            "noexec",
            "ro",
            "rprivate",
            "nosuid",
            "nodev"
        ]
    );
    for (spec, why) in [
        ("/t:size=abc", "size="),
        ("/t:mode=999", "octal"),
        ("/t:bogus", "unknown option"),
        ("t", "absolute"),
        ("/t:bind", "unknown option"),
    ] {
        let e = parse_tmpfs(spec).unwrap_err().to_string();
        assert!(
            e.starts_with("invalid --tmpfs") && e.contains(why),
            "{spec}: {e}"
        );
    }
}

#[test]
fn mount_syntax() {
    let p = parse_mount("type=bind,source=/h,target=/d,readonly,bind-propagation=rshared").unwrap();
    assert_eq!(
        p.kind,
        Kind::Bind {
            source: "/h".into(),
            create: false
        }
    );
    assert_eq!(opts(&p), ["ro", "rshared", "rbind"]);
    let p =
        parse_mount("type=bind,src=/h,dst=/d,ro=false,bind-nonrecursive,relabel=private,U=true")
            .unwrap();
    assert_eq!(opts(&p), ["rw", "bind", "rprivate"]);
    assert!(p.relabel && p.chown);
    let p = parse_mount("type=tmpfs,dst=/t,tmpfs-size=64m,tmpfs-mode=1770,noexec").unwrap();
    assert_eq!(
        opts(&p),
        [
            "size=67108864",
            "mode=1770",
            "noexec",
            "rw",
            "rprivate",
            "nosuid",
            "nodev"
        ]
    );
    for (spec, why) in [
        ("src=/h,dst=/d", "type= is required"),
        ("type=bind,dst=/d", "needs src="),
        ("type=bind,src=rel,dst=/d", "absolute"),
        ("type=bind,src=/h", "dst="),
        ("type=tmpfs,src=/h,dst=/d", "no source"),
        ("type=bind,src=/h,dst=/d,ro=maybe", "true or false"),
        (
            "type=bind,src=/h,dst=/d,bind-propagation=weird",
            "bind-propagation",
        ),
        ("type=tmpfs,dst=/d,tmpfs-size=lots", "tmpfs-size"),
        ("type=bind,src=/h,dst=/d,tmpfs-size=1m", "unknown option"),
        ("type=foo,dst=/d", "invalid filesystem type \"foo\""),
    ] {
        let e = parse_mount(spec).unwrap_err().to_string();
        assert!(
            e.starts_with("invalid --mount") && e.contains(why),
            "{spec}: {e}"
        );
    }
    let e = parse_mount("type=volume,src=v,dst=/d")
        .unwrap_err()
        .to_string();
    assert!(e.contains("not supported yet"), "{e}");
}

#[test]
fn duplicates_refused() {
    let e = parse_all(&["/a:/d".into()], &[], &["/d".into()], Path::new("/"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("duplicate mount destination"), "{e}");
}

#[test]
fn sizes() {
    assert_eq!(parse_size("64m"), Some(64 << 20));
    assert_eq!(parse_size("1G"), Some(1 << 30));
    assert_eq!(parse_size("512kb"), Some(512 << 10));
    assert_eq!(parse_size("100"), Some(100));
    assert_eq!(parse_size("1.5k"), Some(1536));
    assert_eq!(parse_size("x"), None);
    assert_eq!(parse_size("-1"), None);
}
