//! Tests of `resources`.

use super::*;
use crate::container::options::ContainerOptions;
use crate::container::spec::namespaces::{plan, NamespaceJoins};

fn host() -> CgroupHost {
    CgroupHost::probe()
}

#[test]
fn rootful_defaults() {
    let h = host();
    let r = build(&Limits::default(), vec![], false, &h).unwrap();
    if h.has_controller("pids") {
        assert_eq!(
            r.unwrap().pids().as_ref().unwrap().limit(),
            DEFAULT_PIDS_LIMIT
        );
    }
    // Rootless: nothing by default.
    assert!(build(&Limits::default(), vec![], true, &h)
        .unwrap()
        .is_none());
}

#[test]
fn memory_cpu_pids_values() {
    let h = host();
    let l = Limits {
        memory: Some(64 << 20),
        cpus: Some(1.5),
        pids_limit: Some(100),
        cpu_shares: Some(512),
        cpuset_cpus: Some("0"),
        ..Default::default()
    };
    let r = build(&l, vec![], false, &h).unwrap().unwrap();
    let m = r.memory().as_ref().unwrap();
    assert_eq!(m.limit(), Some(64 << 20));
    if h.has_swap_accounting() {
        assert_eq!(m.swap(), Some(128 << 20));
    }
    let c = r.cpu().as_ref().unwrap();
    assert_eq!(
        (c.quota(), c.period(), c.shares()),
        (Some(150_000), Some(100_000), Some(512))
    );
    assert_eq!(c.cpus().as_deref(), Some("0"));
    assert_eq!(r.pids().as_ref().unwrap().limit(), 100);
}

#[test]
fn bad_values_name_the_flag() {
    let h = host();
    let cases: [(Limits, &str); 8] = [
        (
            Limits {
                memory: Some(1024),
                ..Default::default()
            },
            "invalid --memory",
        ),
        (
            Limits {
                memory_swap: Some(1 << 30),
                ..Default::default()
            },
            "you should always set a memory limit when using a memoryswap limit",
        ),
        (
            Limits {
                memory: Some(64 << 20),
                memory_swap: Some(8 << 20),
                ..Default::default()
            },
            "invalid --memory-swap",
        ),
        (
            Limits {
                memory: Some(64 << 20),
                memory_reservation: Some(128 << 20),
                ..Default::default()
            },
            "invalid --memory-reservation",
        ),
        (
            Limits {
                cpus: Some(0.001),
                ..Default::default()
            },
            "invalid --cpus",
        ),
        (
            Limits {
                cpu_shares: Some(1),
                ..Default::default()
            },
            "invalid --cpu-shares",
        ),
        (
            Limits {
                cpuset_cpus: Some("3-1"),
                ..Default::default()
            },
            "invalid --cpuset-cpus",
        ),
        (
            Limits {
                pids_limit: Some(-5),
                ..Default::default()
            },
            "invalid --pids-limit",
        ),
    ];
    for (l, want) in cases {
        let e = build(&l, vec![], false, &h).unwrap_err().to_string();
        assert!(e.starts_with(want), "{want}: {e}");
    }
}

#[test]
fn rootless_limits_need_delegation() {
    let v1 = CgroupHost { v2: false };
    let l = Limits {
        memory: Some(64 << 20),
        ..Default::default()
    };
    let e = build(&l, vec![], true, &v1).unwrap_err().to_string();
    assert!(
        e.starts_with("cannot set --memory: running rootless"),
        "{e}"
    );
    assert!(e.contains("cgroup v1"), "{e}");
    let l = Limits {
        pids_limit: Some(10),
        ..Default::default()
    };
    let e = build(&l, vec![], true, &v1).unwrap_err().to_string();
    assert!(e.starts_with("cannot set --pids-limit"), "{e}");
    // Unlimited needs nothing.
    let l = Limits {
        pids_limit: Some(-1),
        memory_swap: Some(-1),
        ..Default::default()
    };
    assert!(build(&l, vec![], true, &v1).unwrap().is_none());
}

#[test]
fn cgroup_paths() {
    assert_eq!(
        cgroups_path("abc", None, false).unwrap(),
        Some("/husk/abc".into())
    );
    assert_eq!(cgroups_path("abc", None, true).unwrap(), None);
    assert_eq!(
        cgroups_path("abc", Some("husk/pod1"), false).unwrap(),
        Some("/husk/pod1/abc".into())
    );
    assert_eq!(
        cgroups_path("abc", Some("pod1"), true).unwrap(),
        Some("pod1/abc".into())
    );
    assert!(cgroups_path("abc", Some("../x"), false).is_err());
}

#[test]
fn sysctl_rules() {
    let private = plan(
        &ContainerOptions::default(),
        &NamespaceJoins::default(),
        false,
    )
    .unwrap();
    let s = sysctls(
        &[
            "net.ipv4.ip_forward=1".into(),
            "kernel.shmmax=100".into(),
            "fs.mqueue.msg_max=20".into(),
        ],
        &private,
    )
    .unwrap();
    assert_eq!(s.len(), 4);
    assert_eq!(s["net.ipv4.ping_group_range"], "0 0");
    let host_net = plan(
        &ContainerOptions {
            network: Some("host".into()),
            ipc: Some("host".into()),
            ..Default::default()
        },
        &NamespaceJoins::default(),
        false,
    )
    .unwrap();
    assert!(sysctls(&[], &host_net).unwrap().is_empty());
    let e = sysctls(&["net.ipv4.ip_forward=1".into()], &host_net)
        .unwrap_err()
        .to_string();
    assert!(e.contains("--network host"), "{e}");
    let e = sysctls(&["kernel.sem=1".into()], &host_net)
        .unwrap_err()
        .to_string();
    assert!(e.contains("--ipc host"), "{e}");
    let e = sysctls(&["kernel.hostname=x".into()], &private)
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with("invalid --sysctl") && e.contains("not allowed"),
        "{e}"
    );
    assert!(sysctls(&["net.x".into()], &private).is_err());
}

#[test]
fn cpu_period_and_quota() {
    let h = host();
    let l = Limits {
        cpu_period: Some(50_000),
        cpu_quota: Some(25_000),
        ..Default::default()
    };
    let r = build(&l, vec![], false, &h).unwrap().unwrap();
    let c = r.cpu().as_ref().unwrap();
    assert_eq!((c.period(), c.quota()), (Some(50_000), Some(25_000)));
    let l = Limits {
        cpus: Some(1.0),
        cpu_quota: Some(25_000),
        ..Default::default()
    };
    assert!(build(&l, vec![], false, &h)
        .unwrap_err()
        .to_string()
        .contains("--cpus cannot"));
    let l = Limits {
        cpu_period: Some(10),
        ..Default::default()
    };
    assert!(build(&l, vec![], false, &h)
        .unwrap_err()
        .to_string()
        .starts_with("invalid --cpu-period"));
}
