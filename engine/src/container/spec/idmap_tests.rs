//! Tests of `idmap`.

use super::*;

fn ctx() -> IdContext {
    IdContext {
        uid: 1001,
        gid: 1001,
        user_name: "husktest".into(),
        home: "/home/husktest".into(),
        subuids: vec![IdRange {
            start: 100000,
            count: 65536,
        }],
        subgids: vec![IdRange {
            start: 100000,
            count: 65536,
        }],
        ..Default::default()
    }
}

fn s(v: &[&str]) -> Vec<String> {
    v.iter().map(|x| x.to_string()).collect()
}

fn run(
    mode: &str,
    uidmap: &[&str],
    gidmap: &[&str],
    rootless: bool,
    ids: &IdContext,
) -> Result<UserNsPlan> {
    let (u, g) = (s(uidmap), s(gidmap));
    plan(&UserNsInput {
        mode,
        uidmap: &u,
        gidmap: &g,
        rootless,
        ids,
        join: None,
        image_max_ids: (1000, 1000),
    })
}

fn m(container: u32, host: u32, size: u32) -> IdMap {
    IdMap {
        container,
        host,
        size,
    }
}

#[test]
fn default_and_host_share() {
    let c = ctx();
    assert_eq!(run("", &[], &[], true, &c).unwrap().ns, UserNs::Shared);
    assert_eq!(run("host", &[], &[], false, &c).unwrap().ns, UserNs::Shared);
    assert_eq!(
        run("ns:/proc/1/ns/user", &[], &[], false, &c).unwrap().ns,
        UserNs::Join("/proc/1/ns/user".into())
    );
    assert!(run("ns:rel", &[], &[], false, &c).is_err());
    assert!(run("bogus", &[], &[], false, &c)
        .unwrap_err()
        .to_string()
        .contains("expected host"));
}

#[test]
fn keep_id_rootless() {
    let c = ctx();
    let p = run("keep-id", &[], &[], true, &c).unwrap();
    assert_eq!(p.keep_id, Some((1001, 1001)));
    let UserNs::New { uids, gids } = p.ns else {
        panic!()
    };
    assert_eq!(
        uids,
        vec![m(0, 1, 1001), m(1001, 0, 1), m(1002, 1002, 64535)]
    );
    assert_eq!(uids, gids);
    // Every container id maps into husk's namespace (0..=65536), once.
    assert_eq!(to_parent(&uids, 1001), Some(0));
    assert_eq!(to_parent(&uids, 0), Some(1));
    assert_eq!(to_parent(&uids, 65536), Some(65536));
    assert_eq!(to_parent(&uids, 65537), None);
    let p = run("keep-id:uid=0,gid=0", &[], &[], true, &c).unwrap();
    let UserNs::New { uids, .. } = p.ns else {
        panic!()
    };
    assert_eq!(uids, vec![m(0, 0, 1), m(1, 1, 65536)]);
    let p = run("keep-id:uid=200,gid=200,size=1024", &[], &[], true, &c).unwrap();
    let UserNs::New { uids, .. } = p.ns else {
        panic!()
    };
    assert_eq!(uids, vec![m(0, 1, 200), m(200, 0, 1), m(201, 201, 823)]);
    assert!(run("keep-id:foo=1", &[], &[], true, &c).is_err());
    assert!(run("keep-id:uid=x", &[], &[], true, &c).is_err());
}

#[test]
fn keep_id_is_rootless_only() {
    let e = run("keep-id", &[], &[], false, &IdContext::default()).unwrap_err();
    assert!(
        e.to_string()
            .contains("keep-id is only supported in rootless mode"),
        "{e}"
    );
}

#[test]
fn nomap_is_rootless_only() {
    let c = ctx();
    let p = run("nomap", &[], &[], true, &c).unwrap();
    assert_eq!(
        p.ns,
        UserNs::New {
            uids: vec![m(0, 1, 65536)],
            gids: vec![m(0, 1, 65536)]
        }
    );
    let e = run("nomap", &[], &[], false, &c).unwrap_err().to_string();
    assert!(e.contains("only supported in rootless mode"), "{e}");
    let none = IdContext {
        subuids: vec![],
        ..ctx()
    };
    assert!(run("nomap", &[], &[], true, &none).is_err());
}

#[test]
fn auto_picks_free_ranges() {
    let mut c = IdContext {
        subuids: vec![IdRange {
            start: 200000,
            count: 10000,
        }],
        subgids: vec![IdRange {
            start: 300000,
            count: 10000,
        }],
        ..Default::default()
    };
    let p = run("auto", &[], &[], false, &c).unwrap();
    assert_eq!(
        p.auto,
        Some((
            IdRange {
                start: 200000,
                count: 1024
            },
            IdRange {
                start: 300000,
                count: 1024
            }
        ))
    );
    c.auto_uids_in_use = vec![IdRange {
        start: 200000,
        count: 1024,
    }];
    let p = run("auto:size=2000", &[], &[], false, &c).unwrap();
    assert_eq!(
        p.auto.unwrap().0,
        IdRange {
            start: 201024,
            count: 2000
        }
    );
    assert_eq!(
        p.auto.unwrap().1,
        IdRange {
            start: 300000,
            count: 2000
        }
    );
    let e = run("auto:size=20000", &[], &[], false, &c)
        .unwrap_err()
        .to_string();
    assert!(e.contains("no free range of 20000 uids"), "{e}");
    assert!(run("auto", &[], &[], false, &IdContext::default()).is_err());
    // Rootless: inside husk's namespace, never its id 0 (the user).
    let p = run("auto", &[], &[], true, &ctx()).unwrap();
    assert_eq!(
        p.auto.unwrap().0,
        IdRange {
            start: 1,
            count: 1024
        }
    );
    // Sized from the image's highest id.
    let (u, g) = (s(&[]), s(&[]));
    let p = plan(&UserNsInput {
        mode: "auto",
        uidmap: &u,
        gidmap: &g,
        rootless: true,
        ids: &ctx(),
        join: None,
        image_max_ids: (5000, 70000),
    })
    .unwrap();
    assert_eq!(p.auto.unwrap().0.count, AUTO_MAX_SIZE);
}

#[test]
fn pick_free_first_fit() {
    let avail = [
        IdRange {
            start: 10,
            count: 100,
        },
        IdRange {
            start: 1000,
            count: 50,
        },
    ];
    assert_eq!(pick_free(&avail, &[], 10), Some(10));
    let used = [
        IdRange {
            start: 15,
            count: 10,
        },
        IdRange {
            start: 30,
            count: 80,
        },
    ];
    assert_eq!(pick_free(&avail, &used, 5), Some(10));
    let used2 = [
        IdRange {
            start: 10,
            count: 15,
        },
        used[1],
    ];
    assert_eq!(pick_free(&avail, &used2, 5), Some(25));
    assert_eq!(pick_free(&avail, &used, 6), Some(1000));
    assert_eq!(pick_free(&avail, &used, 51), None);
}

#[test]
fn uidmap_parsing_and_validation() {
    let c = ctx();
    let p = run("", &["0:1:1000", "1000:0:1"], &[], true, &c).unwrap();
    let UserNs::New { uids, gids } = p.ns else {
        panic!()
    };
    assert_eq!(uids, vec![m(0, 1, 1000), m(1000, 0, 1)]);
    assert_eq!(gids, uids, "the uid map applies to gids too");
    let p = run("", &["0:100000:10"], &["0:200000:5"], false, &c).unwrap();
    let UserNs::New { uids, gids } = p.ns else {
        panic!()
    };
    assert_eq!((uids[0], gids[0]), (m(0, 100000, 10), m(0, 200000, 5)));
    // podman 5 needs the size; a longer value is several triples.
    let p = run("", &["5:6:1:10:20:2"], &[], false, &c).unwrap();
    assert_eq!(
        p.ns,
        UserNs::New {
            uids: vec![m(5, 6, 1), m(10, 20, 2)],
            gids: vec![m(5, 6, 1), m(10, 20, 2)]
        }
    );
    // Rootless @host ids translate into husk's namespace.
    let p = run("", &["0:@1001:1", "1:@100000:10"], &[], true, &c).unwrap();
    let UserNs::New { uids, .. } = p.ns else {
        panic!()
    };
    assert_eq!(uids, vec![m(0, 0, 1), m(1, 1, 10)]);
    for (map, why) in [
        ("0:1:70000", "outside the 65537 ids"),
        ("0:1:0", "positive"),
        ("a:1:1", "numbers"),
        ("0", "CONTAINER:HOST"),
        ("0:1:1:1", "malformed"),
        ("0:100000", "malformed"),
        ("0:@5:1", "not one of this user's ids"),
    ] {
        let e = run("", &[map], &[], true, &c).unwrap_err().to_string();
        assert!(e.contains("--uidmap") && e.contains(why), "{map}: {e}");
    }
    let e = run("", &["0:1:10", "5:100:10"], &[], true, &c)
        .unwrap_err()
        .to_string();
    assert!(e.contains("container id ranges overlap"), "{e}");
    let e = run("", &["0:1:10", "20:5:10"], &[], true, &c)
        .unwrap_err()
        .to_string();
    assert!(e.contains("host id ranges overlap"), "{e}");
    // Rootful: any host id.
    run("", &["0:4000000000:1000"], &[], false, &c).unwrap();
}

#[test]
fn conflicting_modes() {
    let c = ctx();
    let e = run("keep-id", &["0:1:1"], &[], true, &c)
        .unwrap_err()
        .to_string();
    assert_eq!(
        e,
        "--userns keep-id and --uidmap/--gidmap cannot be used together"
    );
    assert!(run("auto", &[], &["0:1:1"], true, &c).is_err());
    run("private", &["0:1:1"], &[], true, &c).unwrap();
    let (u, g) = (s(&["0:1:1"]), s(&[]));
    let e = plan(&UserNsInput {
        mode: "",
        uidmap: &u,
        gidmap: &g,
        rootless: true,
        ids: &c,
        join: Some(std::path::Path::new("/proc/9/ns/user")),
        image_max_ids: (0, 0),
    })
    .unwrap_err();
    assert!(e.to_string().contains("joining"), "{e}");
}
