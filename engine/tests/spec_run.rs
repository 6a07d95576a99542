//! Generated specs run by the real husk-runtime, rootful: what a container
//! made with podman's defaults sees from inside, and what the options
//! change. Run as root (scripts/test.sh does).

mod common;

use common::{status_field, Case};
use husk_engine::container::spec::caps;

fn sh(script: &str) -> Case {
    Case::new(&["sh", "-c", script])
}

fn root_only() -> bool {
    assert!(
        husk_tests::bundle::is_root(),
        "the spec run tests need root (scripts/test.sh runs them as root)"
    );
    true
}

/// Like podman: root with the default capabilities, the id's first 12
/// characters as hostname, the files in userdata bind-mounted, limits that
/// could be set, the default mounts.
#[test]
fn default_container_matches_podman() {
    root_only();
    let c = sh(
        "id; hostname; cat /etc/hostname; cat /proc/self/status; echo NOFILE=$(ulimit -n); \
                echo HOSTS; cat /etc/hosts; echo RESOLV; cat /etc/resolv.conf; echo ENV; env; \
                echo CENV; cat /run/.containerenv; echo MOUNTS; cat /proc/self/mountinfo; \
                echo KEYS=$(wc -c < /proc/keys); echo FIRMWARE=$(ls -A /sys/firmware | wc -l); \
                echo x > /proc/sys/kernel/domainname || echo procsys-ro",
    );
    let g = c.write();
    let out = c.run();
    assert_eq!(out.code(), 0, "{out}");
    let o = &out.stdout;
    assert!(o.starts_with("uid=0(root) gid=0(root)"), "{o}");
    let host12 = &c.id[..12];
    assert!(
        o.contains(&format!("\n{host12}\n{host12}\n")),
        "hostname and /etc/hostname: {o}"
    );
    let status = o.split("NOFILE=").next().unwrap();
    assert_eq!(
        status_field(status, "CapEff"),
        Some(format!("{:016x}", caps::DEFAULT.0).as_str())
    );
    assert_eq!(
        status_field(status, "CapBnd"),
        Some(format!("{:016x}", caps::DEFAULT.0).as_str())
    );
    assert_eq!(
        status_field(status, "Seccomp"),
        Some("2"),
        "the default profile is loaded"
    );
    assert_eq!(status_field(status, "NoNewPrivs"), Some("0"));
    let nofile = g
        .spec
        .process()
        .as_ref()
        .unwrap()
        .rlimits()
        .as_ref()
        .unwrap()[0]
        .soft();
    assert!(o.contains(&format!("NOFILE={nofile}\n")), "{o}");
    // The hosts file ends with the container's own name on 127.0.0.1.
    assert!(
        o.contains(&format!("127.0.0.1\t{host12} spec-test\nRESOLV")),
        "{o}"
    );
    assert!(o.contains("RESOLV\n") && o.contains("nameserver "), "{o}");
    for var in [
        "container=podman",
        &format!("HOSTNAME={host12}"),
        "HOME=/root",
        "PATH=/usr/local/sbin:",
    ] {
        assert!(o.contains(var), "{var} missing: {o}");
    }
    assert!(!o.contains("TERM="), "no TERM without -t (podman 5): {o}");
    assert!(o.contains("CENV\nMOUNTS"), "an empty .containerenv: {o}");
    let mounts = o.split("MOUNTS\n").nth(1).unwrap();
    let line = |dest: &str| {
        mounts
            .lines()
            .find(|l| l.split(' ').nth(4) == Some(dest))
            .map(str::to_owned)
    };
    let shm = line("/dev/shm").expect("/dev/shm mounted");
    assert!(
        shm.contains(" - tmpfs ") && shm.contains("size=65536k"),
        "{shm}"
    );
    let sys = line("/sys").expect("/sys mounted");
    assert!(sys.contains(" ro,"), "{sys}");
    for dest in [
        "/proc",
        "/dev",
        "/dev/pts",
        "/dev/mqueue",
        "/sys/fs/cgroup",
        "/etc/hosts",
        "/etc/hostname",
        "/etc/resolv.conf",
        "/run/.containerenv",
    ] {
        assert!(line(dest).is_some(), "{dest} not mounted: {mounts}");
    }
    // Every masked path this host has is covered, every read-only one is
    // mounted read-only (the lists are podman 5's).
    use husk_engine::container::spec::security::{MASKED_PATHS, READONLY_PATHS};
    for p in MASKED_PATHS
        .iter()
        .filter(|p| std::path::Path::new(p).exists())
    {
        assert!(line(p).is_some(), "{p} not masked: {mounts}");
    }
    for p in READONLY_PATHS
        .iter()
        .filter(|p| std::path::Path::new(p).exists())
    {
        let l = line(p).unwrap_or_else(|| panic!("{p} not read-only: {mounts}"));
        assert!(l.contains(" ro,") || l.contains(" ro "), "{l}");
    }
    assert!(o.contains("KEYS=0\n"), "/proc/keys masked: {o}");
    assert!(o.contains("FIRMWARE=0\n"), "/sys/firmware masked: {o}");
    assert!(o.contains("procsys-ro"), "/proc/sys read-only: {o}");
}

#[test]
fn privileged_gets_everything_and_containerenv() {
    root_only();
    let mut c = sh("cat /proc/self/status; echo CENV; cat /run/.containerenv; echo MOUNTS; cat /proc/self/mountinfo");
    c.opts.privileged = true;
    c.write();
    let out = c.run();
    assert_eq!(out.code(), 0, "{out}");
    let o = &out.stdout;
    let bnd = caps::bounding_set();
    assert_eq!(
        status_field(o, "CapEff"),
        Some(format!("{:016x}", bnd.0).as_str()),
        "{o}"
    );
    assert_eq!(
        status_field(o, "Seccomp"),
        Some("0"),
        "no seccomp when privileged"
    );
    let cenv = o
        .split("CENV\n")
        .nth(1)
        .unwrap()
        .split("MOUNTS")
        .next()
        .unwrap();
    assert!(cenv.starts_with("engine=\"husk-"), "{cenv}");
    for want in [
        "name=\"spec-test\"",
        &format!("id=\"{}\"", c.id),
        "image=\"localhost/busybox:latest\"",
        "rootless=0",
    ] {
        assert!(cenv.contains(want), "{want}: {cenv}");
    }
    let mounts = o.split("MOUNTS\n").nth(1).unwrap();
    assert!(
        !mounts.contains(" /proc/kcore "),
        "nothing masked: {mounts}"
    );
    let sys = mounts
        .lines()
        .find(|l| l.split(' ').nth(4) == Some("/sys"))
        .unwrap();
    assert!(sys.contains(" rw,"), "{sys}");
}

#[test]
fn non_root_user_and_cap_drop_all() {
    root_only();
    let mut c = sh("id; echo HOME=$HOME; grep -E '^Cap(Eff|Bnd|Amb)' /proc/self/status");
    c.opts.user = Some("1000:1000".into());
    c.write();
    let out = c.run();
    assert_eq!(out.code(), 0, "{out}");
    assert!(
        out.stdout
            .starts_with("uid=1000(user) gid=1000(user) groups=1000(user)"),
        "{out}"
    );
    assert!(out.stdout.contains("HOME=/home/user"), "{out}");
    assert_eq!(
        status_field(&out.stdout, "CapEff"),
        Some("0000000000000000")
    );
    assert_eq!(
        status_field(&out.stdout, "CapBnd"),
        Some(format!("{:016x}", caps::DEFAULT.0).as_str())
    );

    let mut c =
        sh("grep -E '^Cap(Eff|Bnd)' /proc/self/status; chown 1000 /tmp || echo chown-refused");
    c.opts.cap_drop = vec!["ALL".into()];
    c.write();
    let out = c.run();
    assert_eq!(
        status_field(&out.stdout, "CapEff"),
        Some("0000000000000000"),
        "{out}"
    );
    assert_eq!(
        status_field(&out.stdout, "CapBnd"),
        Some("0000000000000000"),
        "{out}"
    );
    assert!(out.stdout.contains("chown-refused"), "{out}");

    // A user named only in the image's passwd, with a capability added.
    let mut c = sh("id -un; grep CapEff /proc/self/status");
    c.opts.user = Some("user".into());
    c.opts.cap_add = vec!["net_raw".into()];
    c.write();
    let out = c.run();
    assert!(out.stdout.starts_with("user\n"), "{out}");
    assert_eq!(
        status_field(&out.stdout, "CapEff"),
        Some(format!("{:016x}", 1u64 << 13).as_str()),
        "{out}"
    );
}

#[test]
fn unknown_user_is_podmans_error() {
    root_only();
    let mut c = sh("true");
    c.opts.user = Some("nosuchuser".into());
    let e = c.generate().unwrap_err().to_string();
    assert_eq!(
        e,
        "unable to find user nosuchuser: no matching entries in passwd file"
    );
}

#[test]
fn volumes_read_only_rootfs_and_tmpfs() {
    root_only();
    let host = tempfile::tempdir().unwrap();
    std::fs::write(host.path().join("hello"), "from the host\n").unwrap();
    let created = host.path().join("made/by/husk");
    let mut c = sh("cat /data/hello; echo x > /data/new || echo data-ro; echo y > /rw/file && echo rw-ok; \
                    touch /rootfile || echo root-ro; touch /tmp/t /run/r /var/tmp/v && echo tmp-ok; \
                    touch /scratch/s && echo scratch-ok; cat /etc/hosts > /dev/null; echo > /etc/hosts || echo hosts-ro; \
                    grep -E ' /(scratch|data) ' /proc/self/mountinfo");
    c.opts.volumes = vec![
        format!("{}:/data:ro", host.path().display()),
        format!("{}:/rw", created.display()),
    ];
    c.opts.tmpfs = vec!["/scratch".into()];
    c.opts.read_only = true;
    // podman 5 creates no missing -v source.
    assert_eq!(
        c.generate().unwrap_err().to_string(),
        format!("statfs {}: no such file or directory", created.display())
    );
    assert!(!created.exists());
    std::fs::create_dir_all(&created).unwrap();
    c.write();
    let out = c.run();
    assert_eq!(out.code(), 0, "{out}");
    let o = &out.stdout;
    for want in [
        "from the host",
        "data-ro",
        "rw-ok",
        "root-ro",
        "tmp-ok",
        "scratch-ok",
        "hosts-ro",
    ] {
        assert!(o.contains(want), "{want}: {o}");
    }
    assert!(created.join("file").is_file());
    let scratch = o.lines().find(|l| l.contains(" /scratch ")).unwrap();
    assert!(
        scratch.contains("nosuid,nodev") && scratch.contains(" - tmpfs "),
        "{scratch}"
    );
}

#[test]
fn bad_input_leaves_nothing_behind() {
    root_only();
    let host = tempfile::tempdir().unwrap();
    let src = host.path().join("source");
    std::fs::create_dir(&src).unwrap();
    let mut c = sh("true");
    c.opts.volumes = vec![format!("{}:/data", src.display())];
    c.opts.workdir = Some("/does/not/exist".into());
    let e = c.generate().unwrap_err().to_string();
    assert_eq!(
        e,
        format!(
            "workdir \"/does/not/exist\" does not exist on container {}",
            c.id
        )
    );
    assert_eq!(
        std::fs::read_dir(&src).unwrap().count(),
        0,
        "the -v source is left as it was"
    );
    assert_eq!(
        std::fs::read_dir(c.userdata()).unwrap().count(),
        0,
        "no userdata files left"
    );
    // Refused before anything is written at all.
    c.opts.workdir = None;
    c.opts.ulimits = vec!["nofile=a".into()];
    let e = c.generate().unwrap_err().to_string();
    assert!(e.starts_with("invalid --ulimit \"nofile=a\""), "{e}");
    assert_eq!(std::fs::read_dir(&src).unwrap().count(), 0);
    c.opts.ulimits.clear();
    c.opts.volumes = vec!["a:b:c:d".into()];
    assert!(c
        .generate()
        .unwrap_err()
        .to_string()
        .starts_with("invalid -v \"a:b:c:d\""));
}

#[test]
fn ulimits_env_workdir_and_hosts() {
    root_only();
    let mut c = sh("ulimit -n; ulimit -Hn; pwd; echo FOO=$FOO BAR=$BAR; cat /etc/hosts | head -1; cat /etc/resolv.conf");
    c.opts.ulimits = vec!["nofile=100:200".into()];
    c.opts.env = vec!["FOO=1".into(), "BAR=two words".into()];
    c.opts.add_hosts = vec!["db.example:10.1.2.3".into()];
    c.opts.dns = vec!["9.9.9.9".into()];
    c.opts.dns_search = vec!["example.com".into()];
    c.opts.dns_options = vec!["ndots:2".into()];
    c.opts.hostname = Some("myhost".into());
    c.write();
    let out = c.run();
    assert_eq!(out.code(), 0, "{out}");
    assert_eq!(
        out.stdout,
        "100\n200\n/\nFOO=1 BAR=two words\n10.1.2.3\tdb.example\nsearch example.com\nnameserver 9.9.9.9\noptions ndots:2\n"
    );
}

#[test]
fn image_workdir_is_created() {
    root_only();
    let mut c = sh("pwd; ls -ld .");
    c.opts.user = Some("user".into());
    let mut image = common::busybox_config();
    image.config.as_mut().unwrap().working_dir = Some("/srv/app".into());
    // generate with a changed image config.
    let g = husk_engine::container::spec::generate(&husk_engine::container::spec::SpecInput {
        id: &c.id,
        name: "wd",
        opts: &c.opts,
        image: Some(&image),
        rootfs: &c.rootfs(),
        userdata: &c.userdata(),
        rootless: false,
        ids: &c.ids,
        namespaces: &c.joins,
        husk_exe: &c.husk_exe,
        cgroup_parent: None,
        image_name: "x",
        image_id: "y",
        graph_root: None,
    })
    .unwrap();
    c.write_spec(&g.spec);
    let out = c.run();
    assert_eq!(out.code(), 0, "{out}");
    assert!(out.stdout.starts_with("/srv/app\ndrwxr-xr-x"), "{out}");
    assert!(
        out.stdout.contains(" user "),
        "owned by the container's user: {out}"
    );
}

#[test]
fn init_is_pid1_and_passes_the_exit_status() {
    root_only();
    let mut c = sh("tr '\\0' ' ' < /proc/1/cmdline; echo; echo me=$$; exit 42");
    c.with_init();
    c.write();
    let out = c.run();
    assert_eq!(out.code(), 42, "{out}");
    // `/run/husk-init -- sh -c …` for a static husk; a dynamic one (a debug
    // build) starts through its loader, ending in the same words.
    assert!(out.stdout.contains("husk-init -- sh -c "), "{out}");
    assert!(
        !out.stdout.contains("me=1\n"),
        "the command is not pid 1: {out}"
    );

    let mut c = sh("kill -9 $$");
    c.with_init();
    c.write();
    assert_eq!(c.run().code(), 137, "killed by signal 9: 128+9");

    let mut c = Case::new(&["/no/such/program"]);
    c.with_init();
    c.write();
    let out = c.run();
    assert_eq!(out.code(), 127, "{out}");
}

#[test]
fn init_forwards_signals_to_the_command() {
    root_only();
    let mut c = sh("trap 'echo got-term; exit 7' TERM; echo ready; while :; do sleep 0.05; done");
    c.with_init();
    c.write();
    let bg = c.spawn();
    bg.wait_for("ready");
    let out = c.runtime(&["kill", &c.id, "TERM"]).output();
    assert!(out.status.success(), "{out}");
    assert_eq!(bg.wait(), 7, "the trap's exit status passes through init");
}

/// An orphan re-parented to pid 1 is reaped by husk's init; without it
/// (pid 1 a program that never waits) it stays a zombie.
#[test]
fn init_reaps_orphans() {
    root_only();
    // A subshell starts `sleep 0.1` in the background and exits at once:
    // the sleep is re-parented to pid 1. An observer watches it; pid 1 is
    // then either husk's init or (exec) a sleep that never waits.
    let script = "(sh -c 'sleep 0.1' & echo $! > /tmp/orphan); \
        ( p=$(cat /tmp/orphan); i=0; z=0; while [ $i -lt 400 ]; do \
            if [ ! -e /proc/$p ]; then echo reaped; break; fi; \
            if grep -q 'State:.Z' /proc/$p/status 2>/dev/null; then z=$((z+1)); \
              if [ $z -ge 50 ]; then echo zombie; break; fi; fi; \
            sleep 0.02; i=$((i+1)); done ) & exec sleep 30";
    for (init, want) in [(true, "reaped"), (false, "zombie")] {
        let mut c = sh(script);
        if init {
            c.with_init();
        }
        c.write();
        let bg = c.spawn();
        let seen = bg.wait_for("\n");
        let _ = c.runtime(&["kill", &c.id, "KILL"]).output();
        bg.wait();
        assert_eq!(seen.trim(), want, "init={init}");
    }
}

#[test]
fn own_user_namespace_rootful() {
    root_only();
    let mut c = sh("cat /proc/self/uid_map; id; touch /rootfile && echo write-ok");
    c.opts.uidmap = vec!["0:200000:65536".into()];
    let map = [(0, 200000, 65536)];
    common::chown_rootfs(&c, &map, &map);
    c.write();
    let out = c.run();
    assert_eq!(out.code(), 0, "{out}");
    let first: Vec<&str> = out
        .stdout
        .lines()
        .next()
        .unwrap()
        .split_whitespace()
        .collect();
    assert_eq!(first, ["0", "200000", "65536"], "{out}");
    assert!(
        out.stdout.contains("uid=0(root)") && out.stdout.contains("write-ok"),
        "{out}"
    );
}

#[test]
fn memory_pids_and_cpu_limits_rootful() {
    root_only();
    // The host's cgroup tree is visible (cgroupns host on v1): read the
    // container's own files through /proc/self/cgroup.
    let mut c = sh("m=$(sed -n 's/^[0-9]*:memory://p' /proc/self/cgroup); p=$(sed -n 's/^[0-9]*:pids://p' /proc/self/cgroup); \
                    if [ -n \"$m\" ]; then cat /sys/fs/cgroup/memory$m/memory.limit_in_bytes /sys/fs/cgroup/pids$p/pids.max; \
                    else cat /sys/fs/cgroup/memory.max /sys/fs/cgroup/pids.max; fi");
    c.opts.memory = Some(64 << 20);
    c.opts.pids_limit = Some(100);
    c.opts.cpus = Some(0.5);
    let g = c.write();
    let res = g
        .spec
        .linux()
        .as_ref()
        .unwrap()
        .resources()
        .as_ref()
        .unwrap();
    assert_eq!(res.cpu().as_ref().unwrap().quota(), Some(50_000));
    let out = c.run();
    assert_eq!(out.code(), 0, "{out}");
    assert_eq!(out.stdout, format!("{}\n100\n", 64 << 20), "{out}");
}
