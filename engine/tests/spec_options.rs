//! More options run for real (rootful): network and IPC modes, devices and
//! their cgroup rules, sysctls, oom_score_adj and no_new_privs, `U`,
//! `--mount`, image volumes, `--shm-size`.

mod common;

use common::{status_field, Case};

fn sh(script: &str) -> Case {
    assert!(
        husk_tests::bundle::is_root(),
        "the spec run tests need root"
    );
    Case::new(&["sh", "-c", script])
}

#[test]
fn network_host_keeps_the_hosts_name_and_namespace() {
    let mut c = sh("hostname; readlink /proc/self/ns/net; cat /etc/resolv.conf");
    c.opts.network = Some("host".into());
    let g = c.write();
    assert!(
        g.spec.linux().as_ref().unwrap().sysctl().is_none(),
        "no net.* default with --network host"
    );
    let out = c.run();
    assert_eq!(out.code(), 0, "{out}");
    let host_name = nix::unistd::gethostname()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    let host_net = std::fs::read_link("/proc/self/ns/net").unwrap();
    let mut lines = out.stdout.lines();
    assert_eq!(lines.next(), Some(host_name.as_str()));
    assert_eq!(lines.next(), Some(host_net.to_string_lossy().as_ref()));
    let host_resolv = husk_engine::container::spec::files::parse_resolv(
        &std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default(),
    );
    for ns in &host_resolv.nameservers {
        assert!(
            out.stdout.contains(&format!("nameserver {ns}")),
            "the host's servers, unfiltered: {out}"
        );
    }

    // Without --network host: a namespace of its own with only loopback.
    let c = sh("readlink /proc/self/ns/net; ls /sys/class/net");
    c.write();
    let out = c.run();
    assert_eq!(out.code(), 0, "{out}");
    let mut lines = out.stdout.lines();
    assert_ne!(lines.next(), Some(host_net.to_string_lossy().as_ref()));
    assert_eq!(lines.collect::<Vec<_>>(), ["lo"]);
}

#[test]
fn ipc_none_has_no_shm_and_shm_size_applies() {
    let mut c = sh("grep -c ' /dev/shm ' /proc/self/mountinfo || true");
    c.opts.ipc = Some("none".into());
    c.write();
    assert_eq!(c.run().stdout.trim(), "0");
    let mut c = sh("grep ' /dev/shm ' /proc/self/mountinfo");
    c.opts.shm_size = Some(8 << 20);
    c.write();
    let out = c.run();
    assert!(out.stdout.contains("size=8192k"), "{out}");
}

#[test]
fn devices_and_their_cgroup_rules() {
    // A node that is not among the devices every container may use (fuse,
    // tun, loop-control: whichever this host has), so the
    // rule decides: read-only access lets an O_RDONLY open through and
    // refuses O_WRONLY with EPERM; /dev/net/tun is not allowed at all.
    let mut c = sh("ls -ln /dev/mynull /dev/f; echo x > /dev/mynull && echo null-ok; \
                    (exec 3</dev/f) && echo f-read-ok; (exec 3>/dev/f) 2>/dev/null || echo f-write-refused; \
                    mknod /dev/tun c 10 200 2>/dev/null || echo no-mknod");
    let (node, numbers) = [
        ("/dev/fuse", "10, 229"),
        ("/dev/net/tun", "10, 200"),
        ("/dev/loop-control", "10, 237"),
    ]
    .into_iter()
    .find(|(p, _)| std::path::Path::new(p).exists())
    .expect("this host has none of /dev/fuse, /dev/net/tun, /dev/loop-control");
    c.opts.devices = vec!["/dev/null:/dev/mynull".into(), format!("{node}:/dev/f:r")];
    let g = c.write();
    let rules = g
        .spec
        .linux()
        .as_ref()
        .unwrap()
        .resources()
        .as_ref()
        .unwrap()
        .devices()
        .clone()
        .unwrap();
    assert!(!rules[0].allow(), "deny all first, as podman");
    assert_eq!(rules.len(), 3);
    let out = c.run();
    assert_eq!(out.code(), 0, "{out}");
    let o = &out.stdout;
    assert!(
        o.contains("1,   3") && o.contains("/dev/mynull") && o.contains(numbers),
        "{o}"
    );
    for want in ["null-ok", "f-read-ok", "f-write-refused", "no-mknod"] {
        assert!(o.contains(want), "{want}: {o}");
    }
}

#[test]
fn sysctls_oom_score_and_no_new_privileges() {
    let mut c = sh("cat /proc/sys/net/ipv4/ip_forward /proc/sys/net/ipv4/ping_group_range /proc/self/oom_score_adj; \
                    grep NoNewPrivs /proc/self/status");
    c.opts.sysctls = vec!["net.ipv4.ip_forward=1".into()];
    c.opts.oom_score_adj = Some(321);
    c.opts.security_opt = vec!["no-new-privileges".into()];
    c.write();
    let out = c.run();
    assert_eq!(out.code(), 0, "{out}");
    let mut l = out.stdout.lines();
    assert_eq!(l.next(), Some("1"));
    assert_eq!(
        l.next().map(|s| s.split_whitespace().collect::<Vec<_>>()),
        Some(vec!["0", "0"])
    );
    assert_eq!(l.next(), Some("321"));
    assert_eq!(status_field(&out.stdout, "NoNewPrivs"), Some("1"));
}

#[test]
fn chown_option_mount_syntax_and_seccomp_unconfined() {
    use std::os::unix::fs::MetadataExt;
    let host = tempfile::tempdir().unwrap();
    std::fs::create_dir(host.path().join("sub")).unwrap();
    std::fs::write(host.path().join("sub/f"), "x").unwrap();
    let ro = tempfile::tempdir().unwrap();
    std::fs::write(ro.path().join("r"), "read me\n").unwrap();
    let mut c = sh(
        "id -u; touch /data/sub/mine && echo owned; cat /m/r; touch /m/w || echo m-ro; \
                    grep Seccomp: /proc/self/status",
    );
    c.opts.user = Some("1000:1000".into());
    c.opts.volumes = vec![format!("{}:/data:U", host.path().display())];
    c.opts.mounts = vec![format!(
        "type=bind,source={},target=/m,readonly",
        ro.path().display()
    )];
    c.opts.security_opt = vec!["seccomp=unconfined".into()];
    c.write();
    for p in [host.path().to_path_buf(), host.path().join("sub/f")] {
        let m = std::fs::metadata(&p).unwrap();
        assert_eq!(
            (m.uid(), m.gid()),
            (1000, 1000),
            "U chowns the source tree: {}",
            p.display()
        );
    }
    let out = c.run();
    assert_eq!(out.code(), 0, "{out}");
    for want in ["1000", "owned", "read me", "m-ro", "Seccomp:\t0"] {
        assert!(out.stdout.contains(want), "{want}: {out}");
    }
}

#[test]
fn image_volumes_are_writable_directories() {
    let mut image = common::busybox_config();
    let mut vols = std::collections::BTreeMap::new();
    vols.insert("/vol".to_string(), serde_json::json!({}));
    vols.insert("/etc".to_string(), serde_json::json!({}));
    image.config.as_mut().unwrap().volumes = Some(vols);
    let mut c = sh("echo hi > /vol/f && cat /vol/f; grep -c '^user:' /etc/passwd; touch /etc/new && echo etc-rw; touch /x || echo root-ro");
    c.opts.read_only = true;
    let g = husk_engine::container::spec::generate(&husk_engine::container::spec::SpecInput {
        id: &c.id,
        name: "vols",
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
    assert!(c.userdata().join("volumes/vol").is_dir());
    assert!(
        c.userdata().join("volumes/etc/passwd").is_file(),
        "the image's /etc is copied in"
    );
    let out = c.run();
    assert_eq!(out.code(), 0, "{out}");
    for want in ["hi\n", "1\n", "etc-rw", "root-ro"] {
        assert!(out.stdout.contains(want), "{want}: {out}");
    }
}

#[test]
fn umask_no_hosts_and_unsetenv() {
    let mut c = sh(
        "umask; grep -c ' /etc/hosts ' /proc/self/mountinfo; echo container=${container:-unset}",
    );
    c.opts.umask = Some("0077".into());
    c.opts.no_hosts = true;
    c.opts.unsetenv = vec!["container".into()];
    c.write();
    let out = c.run();
    assert_eq!(out.stdout, "0077\n0\ncontainer=unset\n", "{out}");
    let mut c = sh("true");
    c.opts.umask = Some("999".into());
    assert!(c
        .generate()
        .unwrap_err()
        .to_string()
        .starts_with("invalid --umask"));
}
