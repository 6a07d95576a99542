//! linux.resources applied by husk-runtime, read back from /sys/fs/cgroup:
//! on this host's v1 controllers (hybrid) and, in the VM lane, on pure
//! cgroup v2. Memory, OOM kills, pids, cpu, cpuset, block I/O throttling,
//! device rules (v1 files / v2 eBPF), and refused input that leaves nothing.

use std::fs;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use husk_tests::bundle::{status_timeout, unique, Bundle, Runtime};
use serde_json::{json, Value};

const ROOT: &str = "/sys/fs/cgroup";

/// Whether the host is pure cgroup v2.
fn v2() -> bool {
    Path::new(ROOT).join("cgroup.controllers").exists()
}

/// The directory holding `ctrl`'s files for cgroupsPath `/rel`.
fn dir(ctrl: &str, rel: &str) -> PathBuf {
    if v2() {
        Path::new(ROOT).join(rel)
    } else {
        Path::new(ROOT).join(ctrl).join(rel)
    }
}

fn read(ctrl: &str, rel: &str, file: &str) -> String {
    let p = dir(ctrl, rel).join(file);
    fs::read_to_string(&p)
        .unwrap_or_else(|e| panic!("reading {}: {e}", p.display()))
        .trim()
        .to_string()
}

/// Every directory a container in cgroupsPath `/rel` could have.
fn all_dirs(rel: &str) -> Vec<PathBuf> {
    if v2() {
        return vec![Path::new(ROOT).join(rel)];
    }
    let mut v = vec![Path::new(ROOT).join("unified").join(rel)];
    for c in [
        "freezer", "memory", "pids", "cpu", "cpuacct", "cpuset", "blkio", "devices",
    ] {
        v.push(Path::new(ROOT).join(c).join(rel));
    }
    v
}

/// A busybox bundle running `args` with `resources` in cgroupsPath `/rel`.
fn bundle(resources: Value, args: &[&str]) -> (Bundle, String) {
    let rel = format!("husk-test/{}", unique("lim"));
    let b = Bundle::new("busybox", args);
    b.edit(|v| {
        v["linux"]["resources"] = resources;
        v["linux"]["cgroupsPath"] = json!(format!("/{rel}"));
    });
    (b, rel)
}

/// Creates (not starts) a container with `resources`; returns what to read.
fn created(rt: &Runtime, resources: Value) -> (String, String) {
    let (b, rel) = bundle(resources, &["sleep", "30"]);
    let id = unique("lim");
    rt.create(&b, &id, &[]).ok();
    (id, rel)
}

fn delete(rt: &Runtime, id: &str, rel: &str) {
    rt.output(&["delete", "--force", id]).ok();
    for d in all_dirs(rel) {
        assert!(!d.exists(), "{} left after delete", d.display());
    }
}

/// The value of `key` in a "key value" file.
fn keyed(text: &str, key: &str) -> Option<u64> {
    text.lines().find_map(|l| {
        let (k, v) = l.split_once(' ')?;
        (k == key).then(|| v.trim().parse().ok()).flatten()
    })
}

/// `create` with `resources` fails naming `needles` and leaves no state
/// directory and no cgroup directory.
fn refused(rt: &Runtime, res: Value, needles: &[&str]) {
    let (b, rel) = bundle(res.clone(), &["true"]);
    let id = unique("bad");
    let out = rt.create(&b, &id, &[]);
    assert_eq!(out.code(), 1, "{res} was accepted: {out}");
    out.fails_with(needles);
    assert!(!rt.state_dir(&id).exists(), "state left for {res}");
    for d in all_dirs(&rel) {
        assert!(!d.exists(), "{} left for {res}", d.display());
    }
}

#[test]
fn memory_limit_reservation_and_swap_are_written() {
    let rt = Runtime::new();
    let swap = v2()
        || Path::new(ROOT)
            .join("memory/memory.memsw.limit_in_bytes")
            .exists();
    let mut mem = json!({"limit": 67108864, "reservation": 33554432});
    if swap {
        mem["swap"] = json!(134217728);
    }
    let (id, rel) = created(&rt, json!({ "memory": mem }));
    if v2() {
        assert_eq!(read("memory", &rel, "memory.max"), "67108864");
        assert_eq!(read("memory", &rel, "memory.low"), "33554432");
        // The spec's swap is memory+swap; v2 limits the swap part.
        assert_eq!(read("memory", &rel, "memory.swap.max"), "67108864");
    } else {
        assert_eq!(read("memory", &rel, "memory.limit_in_bytes"), "67108864");
        assert_eq!(
            read("memory", &rel, "memory.soft_limit_in_bytes"),
            "33554432"
        );
        if swap {
            assert_eq!(
                read("memory", &rel, "memory.memsw.limit_in_bytes"),
                "134217728"
            );
        }
    }
    delete(&rt, &id, &rel);
}

/// 32 MiB, no swap, and a process that fills a 256 MiB buffer.
fn oom_bundle() -> (Bundle, String) {
    bundle(
        json!({"memory": {"limit": 33554432, "swap": 33554432}}),
        &["dd", "if=/dev/zero", "of=/dev/null", "bs=256M", "count=1"],
    )
}

#[test]
fn a_memory_hog_is_oom_killed() {
    let rt = Runtime::new();
    let (b, _) = oom_bundle();
    let out = rt.run(&b, &unique("oom"));
    assert_eq!(out.code(), 137, "not killed by SIGKILL: {out}");

    // Again with create/start, to read the kill count before delete.
    let (b, rel) = oom_bundle();
    let id = unique("oom");
    rt.create(&b, &id, &[]).ok();
    rt.output(&["start", &id]).ok();
    let st = rt.wait_status(&id, "stopped", status_timeout());
    assert_eq!(st.as_deref(), Some("stopped"));
    let kills = if v2() {
        keyed(&read("memory", &rel, "memory.events"), "oom_kill")
    } else {
        keyed(&read("memory", &rel, "memory.oom_control"), "oom_kill")
    };
    assert!(kills.unwrap_or(0) >= 1, "no oom_kill counted: {kills:?}");
    delete(&rt, &id, &rel);
}

#[test]
fn pids_limit_stops_forks() {
    let rt = Runtime::new();
    let (b, _) = bundle(
        json!({"pids": {"limit": 10}}),
        &[
            "sh",
            "-c",
            "for i in $(seq 20); do sleep 2 & done; echo all-forked",
        ],
    );
    let out = rt.run(&b, &unique("pids"));
    assert_ne!(out.code(), 0, "20 forks under pids.max=10 succeeded: {out}");
    assert!(
        out.stderr.contains("fork"),
        "no fork failure reported: {out}"
    );
    assert!(!out.stdout.contains("all-forked"), "{out}");
}

#[test]
fn cpu_cpuset_and_pids_values_are_written() {
    let rt = Runtime::new();
    let (id, rel) = created(
        &rt,
        json!({
            "cpu": {"shares": 512, "quota": 50000, "period": 100000, "cpus": "0", "mems": "0"},
            "pids": {"limit": 10}
        }),
    );
    if v2() {
        assert_eq!(read("cpu", &rel, "cpu.max"), "50000 100000");
        // 1 + (512 - 2) * 9999 / 262142
        assert_eq!(read("cpu", &rel, "cpu.weight"), "20");
    } else {
        assert_eq!(read("cpu", &rel, "cpu.cfs_quota_us"), "50000");
        assert_eq!(read("cpu", &rel, "cpu.cfs_period_us"), "100000");
        assert_eq!(read("cpu", &rel, "cpu.shares"), "512");
    }
    assert_eq!(read("cpuset", &rel, "cpuset.cpus"), "0");
    assert_eq!(read("cpuset", &rel, "cpuset.mems"), "0");
    assert_eq!(read("pids", &rel, "pids.max"), "10");
    delete(&rt, &id, &rel);
}

/// A whole-disk block device of this machine: (path, major, minor).
fn block_device() -> Option<(PathBuf, u64, u64)> {
    ["/dev/nullb0", "/dev/vda", "/dev/sda", "/dev/loop0"]
        .iter()
        .map(PathBuf::from)
        .find_map(|p| {
            let m = fs::metadata(&p).ok()?;
            if !m.file_type().is_block_device() {
                return None;
            }
            let rdev = m.rdev();
            Some((p, libc::major(rdev) as u64, libc::minor(rdev) as u64))
        })
}

#[test]
fn block_io_throttles_are_written() {
    let Some((path, major, minor)) = block_device() else {
        eprintln!("skipped: no block device to throttle");
        return;
    };
    let rt = Runtime::new();
    let dev = |rate: u64| json!([{"major": major, "minor": minor, "rate": rate}]);
    let (id, rel) = created(
        &rt,
        json!({"blockIO": {
            "throttleReadBpsDevice": dev(1048576),
            "throttleWriteIOPSDevice": dev(100)
        }}),
    );
    let mm = format!("{major}:{minor}");
    if v2() {
        let io_max = read("io", &rel, "io.max");
        assert!(
            io_max.contains(&format!("{mm} rbps=1048576 wbps=max riops=max wiops=100")),
            "io.max for {}: {io_max:?}",
            path.display()
        );
    } else {
        let r = read("blkio", &rel, "blkio.throttle.read_bps_device");
        assert!(r.contains(&format!("{mm} 1048576")), "read_bps: {r:?}");
        let w = read("blkio", &rel, "blkio.throttle.write_iops_device");
        assert!(w.contains(&format!("{mm} 100")), "write_iops: {w:?}");
    }
    delete(&rt, &id, &rel);
}

/// In the VM lane (null_blk): 4 MiB of direct reads at 1 MiB/s take ~3 s.
#[test]
fn block_io_read_throttle_slows_direct_reads() {
    let nullb = Path::new("/dev/nullb0");
    let Ok(meta) = fs::metadata(nullb) else {
        eprintln!("skipped: no /dev/nullb0 (the VM lane has one)");
        return;
    };
    let (major, minor) = (libc::major(meta.rdev()), libc::minor(meta.rdev()));
    let rt = Runtime::new();
    let (b, _) = bundle(
        json!({"blockIO": {"throttleReadBpsDevice": [
            {"major": major, "minor": minor, "rate": 1048576}
        ]}}),
        &[
            "dd",
            "if=/dev/nullb0",
            "of=/dev/null",
            "bs=1M",
            "count=4",
            "iflag=direct",
        ],
    );
    b.edit(|v| {
        v["linux"]["devices"] = json!([{
            "path": "/dev/nullb0", "type": "b", "major": major, "minor": minor, "fileMode": 0o660
        }])
    });
    let start = Instant::now();
    rt.run(&b, &unique("io")).ok();
    let took = start.elapsed();
    assert!(
        took >= Duration::from_millis(2500),
        "4 MiB at 1 MiB/s took only {took:?}"
    );
}

/// A node with char number 42:0 ("demo/sample use": no driver claims it), so
/// opening it fails with ENXIO where the device cgroup allows it and EPERM
/// where it does not.
fn device_bundle(extra_rules: &[Value]) -> Bundle {
    let mut rules = vec![
        json!({"allow": false, "access": "rwm"}),
        json!({"allow": true, "type": "c", "major": 1, "minor": 3, "access": "rwm"}),
    ];
    rules.extend_from_slice(extra_rules);
    let (b, _) = bundle(
        json!({ "devices": rules }),
        &[
            "sh",
            "-c",
            "echo x > /dev/null && head -c1 /dev/zero > /dev/null && echo defaults-ok; cat /dev/husk-demo",
        ],
    );
    b.edit(|v| {
        v["linux"]["devices"] = json!([{
            "path": "/dev/husk-demo", "type": "c", "major": 42, "minor": 0, "fileMode": 0o666
        }])
    });
    b
}

#[test]
fn device_rules_deny_unlisted_devices() {
    let rt = Runtime::new();
    // Denied: nothing allows c 42:0. The default devices stay usable.
    let out = rt.run(&device_bundle(&[]), &unique("dev"));
    assert_ne!(out.code(), 0, "{out}");
    assert!(
        out.stdout.contains("defaults-ok"),
        "default devices denied: {out}"
    );
    assert!(
        out.stderr.contains("Operation not permitted"),
        "not denied by the cgroup: {out}"
    );
    // Allowed: the open reaches the (absent) driver.
    let allow = json!({"allow": true, "type": "c", "major": 42, "access": "r"});
    let out = rt.run(&device_bundle(&[allow]), &unique("dev"));
    assert!(out.stdout.contains("defaults-ok"), "{out}");
    assert!(
        out.stderr.contains("No such device or address"),
        "not allowed: {out}"
    );
}

#[test]
fn unified_entries_need_v2_controllers() {
    let rt = Runtime::new();
    let res = json!({"unified": {"memory.high": "50331648"}});
    if v2() {
        let (id, rel) = created(&rt, res);
        assert_eq!(read("memory", &rel, "memory.high"), "50331648");
        delete(&rt, &id, &rel);
    } else {
        refused(
            &rt,
            res,
            &["linux.resources.unified", "memory.high", "cgroup v2"],
        );
    }
}

#[test]
fn hugepage_limits_are_written_or_refused_without_the_controller() {
    let rt = Runtime::new();
    let res = json!({"hugepageLimits": [{"pageSize": "2MB", "limit": 4194304}]});
    let has = if v2() {
        fs::read_to_string(Path::new(ROOT).join("cgroup.controllers"))
            .unwrap_or_default()
            .contains("hugetlb")
    } else {
        Path::new(ROOT).join("hugetlb/cgroup.procs").exists()
    };
    let file = if v2() {
        "hugetlb.2MB.max"
    } else {
        "hugetlb.2MB.limit_in_bytes"
    };
    if has && Path::new("/sys/kernel/mm/hugepages/hugepages-2048kB").exists() {
        let (id, rel) = created(&rt, res);
        assert_eq!(read("hugetlb", &rel, file), "4194304");
        delete(&rt, &id, &rel);
    } else {
        refused(&rt, res, &["linux.resources.hugepageLimits[0]"]);
    }
}

#[test]
fn bad_resources_are_refused_and_leave_nothing() {
    let rt = Runtime::new();
    let cases = [
        (
            json!({"memory": {"limit": -5}}),
            "linux.resources.memory.limit",
        ),
        (json!({"memory": {"limit": 1000}}), "memory.limit"),
        (
            json!({"memory": {"limit": 67108864, "swap": 1000}}),
            "memory.swap",
        ),
        (
            json!({"cpu": {"quota": 50000, "period": 0}}),
            "linux.resources.cpu.period",
        ),
        (
            json!({"cpu": {"period": 5000000}}),
            "linux.resources.cpu.period",
        ),
        (json!({"cpu": {"shares": 0}}), "linux.resources.cpu.shares"),
        (json!({"cpu": {"cpus": "0-"}}), "linux.resources.cpu.cpus"),
        (json!({"cpu": {"mems": "a"}}), "linux.resources.cpu.mems"),
        (json!({"pids": {"limit": -5}}), "linux.resources.pids.limit"),
        (
            json!({"blockIO": {"weight": 5}}),
            "linux.resources.blockIO.weight",
        ),
        (
            json!({"hugepageLimits": [{"pageSize": "3XB", "limit": 1}]}),
            "hugepageLimits[0].pageSize",
        ),
        (
            json!({"devices": [{"allow": true, "type": "c", "access": "rwx"}]}),
            "linux.resources.devices[0].access",
        ),
        (
            json!({"devices": [{"allow": false, "access": "rwm"}, {"allow": true, "type": "p", "access": "r"}]}),
            "linux.resources.devices[1].type",
        ),
        (
            json!({"unified": {"cgroup.procs": "1"}}),
            "linux.resources.unified",
        ),
        // Not bad, but not enforceable here: no net_cls for containers.
        (
            json!({"network": {"classID": 1048577}}),
            "linux.resources.network.classID",
        ),
    ];
    for (res, needle) in cases {
        refused(&rt, res, &[needle]);
    }
}
