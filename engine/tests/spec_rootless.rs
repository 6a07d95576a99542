//! Generated rootless specs run by husk-runtime the way rootless husk runs
//! them: as the test user, inside a user namespace that maps the user's uid
//! to 0 and its /etc/subuid range to 1.. (set up with newuidmap before the
//! runtime starts), the container sharing that namespace unless `--userns`
//! asks for another.

mod common;

use common::{status_field, Case};
use husk_engine::container::spec::caps;
use husk_tests::rootless::rootless_test;

fn sh(user: &husk_tests::rootless::TestUser, script: &str) -> Case {
    Case::rootless(user, &["sh", "-c", script])
}

#[test]
fn rootless_default_container() {
    let user = rootless_test("rootless_default_container");
    let c = sh(
        &user,
        "id; cat /proc/self/uid_map; hostname; grep -E '^(CapEff|Seccomp)' /proc/self/status; \
         echo NOFILE=$(ulimit -n); cat /etc/hosts | tail -1; echo MOUNTS; cat /proc/self/mountinfo",
    );
    let g = c.write();
    let spec = &g.spec;
    let linux = spec.linux().as_ref().unwrap();
    assert!(linux.resources().is_none(), "no limits rootless by default");
    assert!(linux.cgroups_path().is_none());
    assert!(
        linux.uid_mappings().is_none(),
        "the container shares husk's user namespace"
    );
    let out = c.run();
    assert_eq!(out.code(), 0, "{out}");
    let o = &out.stdout;
    assert!(o.starts_with("uid=0(root) gid=0(root)"), "{o}");
    // husk's namespace, seen from inside: 0 is the user, 1.. its subuids.
    let map: Vec<Vec<&str>> = o
        .lines()
        .skip(1)
        .take(2)
        .map(|l| l.split_whitespace().collect())
        .collect();
    let sub = user.subuids[0];
    assert_eq!(map[0], ["0", &user.uid.to_string(), "1"], "{o}");
    assert_eq!(
        map[1],
        ["1", &sub.start.to_string(), &sub.count.to_string()],
        "{o}"
    );
    assert!(o.contains(&format!("\n{}\n", &c.id[..12])), "{o}");
    assert_eq!(
        status_field(o, "CapEff"),
        Some(format!("{:016x}", caps::DEFAULT.0).as_str())
    );
    assert_eq!(status_field(o, "Seccomp"), Some("2"));
    let nofile = spec.process().as_ref().unwrap().rlimits().as_ref().unwrap()[0].soft();
    assert!(o.contains(&format!("NOFILE={nofile}\n")), "{o}");
    assert!(
        o.contains(&format!("127.0.0.1\t{} spec-test\n", &c.id[..12])),
        "{o}"
    );
    let mounts = o.split("MOUNTS\n").nth(1).unwrap();
    for dest in [
        "/proc",
        "/dev/pts",
        "/dev/shm",
        "/sys",
        "/etc/hosts",
        "/run/.containerenv",
    ] {
        assert!(
            mounts.lines().any(|l| l.split(' ').nth(4) == Some(dest)),
            "{dest}: {mounts}"
        );
    }
}

#[test]
fn rootless_user_volume_and_privileged() {
    let user = rootless_test("rootless_user_volume_and_privileged");
    let host = tempfile::tempdir().unwrap();
    std::fs::write(host.path().join("f"), "hi\n").unwrap();
    husk_tests::rootless::make_accessible(host.path()).unwrap();
    let mut c = sh(&user, "id; cat /data/f; echo x > /data/g || echo data-ro");
    c.opts.user = Some("1000:1000".into());
    c.opts.volumes = vec![format!("{}:/data:ro", host.path().display())];
    c.write();
    let out = c.run();
    assert_eq!(out.code(), 0, "{out}");
    assert!(
        out.stdout.starts_with("uid=1000(user) gid=1000(user)"),
        "{out}"
    );
    assert!(
        out.stdout.contains("hi\n") && out.stdout.contains("data-ro"),
        "{out}"
    );

    let mut c = sh(
        &user,
        "grep -E '^(CapEff|Seccomp)' /proc/self/status; cat /run/.containerenv",
    );
    c.opts.privileged = true;
    c.write();
    let out = c.run();
    assert_eq!(out.code(), 0, "{out}");
    assert_eq!(status_field(&out.stdout, "Seccomp"), Some("0"), "{out}");
    assert!(out.stdout.contains("rootless=1"), "{out}");
}

#[test]
fn rootless_keep_id() {
    let user = rootless_test("rootless_keep_id");
    let mut c = sh(&user, "id; echo HOME=$HOME; cat /proc/self/uid_map");
    c.opts.userns = Some("keep-id".into());
    let g = c.write();
    assert!(g.spec.linux().as_ref().unwrap().uid_mappings().is_some());
    let out = c.run();
    assert_eq!(out.code(), 0, "{out}");
    assert!(
        out.stdout.starts_with(&format!(
            "uid={0}({1}) gid={2}({1})",
            user.uid, user.name, user.gid
        )),
        "the user keeps its id and gets a passwd entry: {out}"
    );
    assert!(
        out.stdout.contains("HOME=/\n"),
        "home is the workdir when the host home is not mounted: {out}"
    );
}

/// Rootless on cgroup v1 podman 5 drops the limits with a warning; on v2
/// a limit needs the controller delegated, else it is refused.
#[test]
fn rootless_limits_are_dropped_or_refused_where_they_cannot_apply() {
    let user = rootless_test("rootless_limits_are_dropped_or_refused_where_they_cannot_apply");
    let mut c = sh(&user, "true");
    c.opts.memory = Some(64 << 20);
    let host = husk_engine::container::spec::resources::CgroupHost::probe();
    match c.generate() {
        Err(e) => {
            let e = e.to_string();
            assert!(host.v2, "cgroup v1 drops the limits: {e}");
            assert!(
                e.starts_with("cannot set --memory: running rootless"),
                "{e}"
            );
            assert_eq!(std::fs::read_dir(c.userdata()).unwrap().count(), 0);
        }
        Ok(g) if !host.v2 => {
            assert!(
                g.warnings.iter().any(|w| w
                    == "Resource limits are not supported and ignored on cgroups V1 rootless systems"),
                "{:?}",
                g.warnings
            );
            let mem = g
                .spec
                .linux()
                .as_ref()
                .and_then(|l| l.resources().as_ref())
                .and_then(|r| r.memory().as_ref())
                .and_then(|m| m.limit());
            assert_eq!(mem, None, "the limit is dropped");
        }
        Ok(_) => {}
    }
}

#[test]
fn rootless_init() {
    let user = rootless_test("rootless_init");
    let mut c = sh(&user, "tr '\\0' ' ' < /proc/1/cmdline; echo; exit 3");
    c.with_init();
    c.write();
    let out = c.run();
    assert_eq!(out.code(), 3, "{out}");
    // `/run/husk-init -- sh -c …` for a static husk; a dynamic one starts
    // through its loader (as spec_run's init test allows).
    assert!(out.stdout.contains("husk-init -- sh -c "), "{out}");
}

/// Rootless with the host's network: /sys cannot be mounted fresh from a
/// user namespace, so it is the host's, bound read-only, with /sys/kernel
/// masked (podman's rule).
#[test]
fn rootless_host_network() {
    let user = rootless_test("rootless_host_network");
    let mut c = sh(
        &user,
        "hostname; ls /sys/kernel | wc -l; grep -E ' /sys(/kernel)? ' /proc/self/mountinfo",
    );
    c.opts.network = Some("host".into());
    c.write();
    let out = c.run();
    assert_eq!(out.code(), 0, "{out}");
    let host_name = nix::unistd::gethostname()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    let mut lines = out.stdout.lines();
    assert_eq!(lines.next(), Some(host_name.as_str()));
    assert_eq!(lines.next(), Some("0"), "/sys/kernel masked: {out}");
    let sys = out
        .stdout
        .lines()
        .find(|l| l.split(' ').nth(4) == Some("/sys"))
        .unwrap();
    // The mount is read-only; after " - " a bind shows the host
    // superblock's options (rw), a fresh read-only sysfs would show ro.
    assert!(
        sys.contains(" /sys ro,") && sys.ends_with(" - sysfs sysfs rw"),
        "{sys}"
    );
}
