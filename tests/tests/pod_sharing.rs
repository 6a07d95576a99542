//! End-to-end: what the members of a pod share (hostname, System V and
//! POSIX shared memory, localhost) and what they keep apart (mount
//! namespaces), rootful and rootless, on the real kernel.

mod pod_support;

use pod_support::*;

#[test]
fn members_share_the_pods_hostname() {
    for h in both("members_share_the_pods_hostname") {
        h.ok(&["pod", "create", "--name", "web"]);
        run_member(&h, "web", "a", &SERVICE);
        let one = h.ok(&["exec", "a", "hostname"]);
        let two = in_member(&h, "web", "hostname");
        assert_eq!(
            one.trim(),
            "web",
            "[{}] the pod's name by default",
            h.flavour()
        );
        assert_eq!(one, two, "[{}]", h.flavour());
        assert_eq!(
            ns_of(pid(&h, "a"), "uts"),
            ns_of(pid(&h, &infra_name(&h, "web")), "uts"),
            "[{}] a is in the infra's UTS namespace",
            h.flavour()
        );

        h.ok(&["pod", "create", "--name", "named", "--hostname", "pod-host"]);
        let got = in_member(&h, "named", "hostname; cat /proc/sys/kernel/hostname");
        assert_eq!(got, "pod-host\npod-host\n", "[{}]", h.flavour());
    }
}

/// Creates a System V shared memory segment with `key` in the IPC
/// namespace of process `pid`. setns(CLONE_NEWIPC) only moves the calling
/// thread, so a thread of its own does it.
fn shm_in(pid: i32, key: i32) -> i32 {
    std::thread::spawn(move || {
        let f = std::fs::File::open(format!("/proc/{pid}/ns/ipc")).unwrap();
        use std::os::fd::AsRawFd;
        // SAFETY: setns with a namespace fd we own; it affects this thread only.
        assert_eq!(unsafe { libc::setns(f.as_raw_fd(), libc::CLONE_NEWIPC) }, 0);
        // SAFETY: plain integers; the kernel makes the segment.
        let id = unsafe { libc::shmget(key, 4096, libc::IPC_CREAT | 0o666) };
        assert!(id >= 0, "shmget: {}", std::io::Error::last_os_error());
        id
    })
    .join()
    .unwrap()
}

#[test]
fn members_see_each_others_shared_memory() {
    for h in both("members_see_each_others_shared_memory") {
        h.ok(&["pod", "create", "--name", "ipc"]);
        run_member(&h, "ipc", "a", &SERVICE);
        run_member(&h, "ipc", "b", &SERVICE);
        let (pa, pb) = (pid(&h, "a"), pid(&h, "b"));
        assert_eq!(ns_of(pa, "ipc"), ns_of(pb, "ipc"), "[{}]", h.flavour());
        let key = 0x6875_736b; // "husk"
        let id = shm_in(pa, key);
        // /proc/sysvipc/shm lists keys in decimal.
        let listed = h.ok(&["exec", "b", "cat", "/proc/sysvipc/shm"]);
        assert!(
            listed.lines().skip(1).any(|l| {
                let f: Vec<&str> = l.split_whitespace().collect();
                f.first() == Some(&key.to_string().as_str())
                    && f.get(1) == Some(&id.to_string().as_str())
            }),
            "[{}] segment {key}/{id} made in a's IPC namespace is not listed in b's:\n{listed}",
            h.flavour()
        );
        // POSIX shared memory lives in /dev/shm, shared with the IPC namespace.
        h.ok(&["exec", "a", "sh", "-c", "echo from-a > /dev/shm/seg"]);
        let got = h.ok(&["exec", "b", "cat", "/dev/shm/seg"]);
        assert_eq!(got, "from-a\n", "[{}]", h.flavour());
        // A container outside the pod sees neither.
        let mut argv: Vec<String> = vec!["run".into(), "--rm".into()];
        argv.extend(member_image(&h));
        argv.extend(["cat".into(), "/proc/sysvipc/shm".into()]);
        let outside = h.ok(&argv);
        assert!(
            !outside
                .lines()
                .any(|l| l.split_whitespace().next() == Some(key.to_string().as_str())),
            "[{}] a container outside the pod sees the segment:\n{outside}",
            h.flavour()
        );
    }
}

#[test]
fn members_reach_each_other_on_localhost() {
    for h in both("members_reach_each_other_on_localhost") {
        h.ok(&["pod", "create", "--name", "net"]);
        run_member(
            &h,
            "net",
            "server",
            &[
                "sh",
                "-c",
                "while :; do echo hello-from-server | nc -l -p 7777; done",
            ],
        );
        // The server may not listen yet: retry a while (no timing asserted).
        let got = in_member(
            &h,
            "net",
            "for i in $(seq 100); do out=$(nc 127.0.0.1 7777 </dev/null) && [ -n \"$out\" ] && { echo \"$out\"; exit 0; }; sleep 0.1; done; exit 1",
        );
        assert_eq!(got, "hello-from-server\n", "[{}]", h.flavour());
        assert_eq!(
            ns_of(pid(&h, "server"), "net"),
            ns_of(pid(&h, &infra_name(&h, "net")), "net"),
            "[{}] the server is in the infra's network namespace",
            h.flavour()
        );
    }
}

#[test]
fn members_keep_their_own_mount_namespaces() {
    for h in both("members_keep_their_own_mount_namespaces") {
        h.ok(&["pod", "create", "--name", "mnt"]);
        run_member(&h, "mnt", "a", &SERVICE);
        run_member(&h, "mnt", "b", &SERVICE);
        let (pa, pb) = (pid(&h, "a"), pid(&h, "b"));
        assert_ne!(ns_of(pa, "mnt"), ns_of(pb, "mnt"), "[{}]", h.flavour());
        assert_eq!(ns_of(pa, "net"), ns_of(pb, "net"), "[{}]", h.flavour());
        h.ok(&["exec", "a", "sh", "-c", "echo mine > /tmp/only-in-a"]);
        let o = h.run(&["exec", "b", "cat", "/tmp/only-in-a"]);
        assert_ne!(o.code(), 0, "[{}] b sees a's /tmp: {o}", h.flavour());
        let seen = h.ok(&["exec", "a", "cat", "/tmp/only-in-a"]);
        assert_eq!(seen, "mine\n", "[{}]", h.flavour());
    }
}

#[test]
fn a_shared_pid_namespace_has_the_pause_as_pid_1() {
    for h in both("a_shared_pid_namespace_has_the_pause_as_pid_1") {
        h.ok(&["pod", "create", "--name", "pids", "--share", "+pid"]);
        run_member(&h, "pids", "a", &SERVICE);
        let init = h.ok(&["exec", "a", "cat", "/proc/1/cmdline"]);
        assert_eq!(init, "/run/husk-pause\0", "[{}]", h.flavour());
        // Members see each other's processes.
        run_member(&h, "pids", "b", &["sh", "-c", "exec sleep 1000"]);
        let ps = h.ok(&["exec", "a", "ps", "-o", "args"]);
        assert!(ps.contains("sleep 1000"), "[{}] {ps}", h.flavour());
        let shared = pod_field(&h, "pids", "{{.SharedNamespaces}}");
        assert_eq!(shared, "[ipc net pid uts]", "[{}]", h.flavour());
    }
}

#[test]
fn a_pod_that_shares_nothing_keeps_members_apart() {
    for h in both("a_pod_that_shares_nothing_keeps_members_apart") {
        h.ok(&["pod", "create", "--name", "apart", "--share", "none"]);
        run_member(&h, "apart", "a", &SERVICE);
        run_member(&h, "apart", "b", &SERVICE);
        let (pa, pb) = (pid(&h, "a"), pid(&h, "b"));
        for kind in ["net", "ipc", "uts"] {
            assert_ne!(ns_of(pa, kind), ns_of(pb, kind), "[{}] {kind}", h.flavour());
        }
        // A member may name itself then.
        let mut argv: Vec<String> = ["run", "--rm", "--pod", "apart", "-h", "me"]
            .map(String::from)
            .to_vec();
        argv.extend(member_image(&h));
        argv.push("hostname".into());
        assert_eq!(h.ok(&argv), "me\n", "[{}]", h.flavour());
    }
}

#[test]
fn members_join_the_pods_user_namespace() {
    for h in both("members_join_the_pods_user_namespace") {
        // keep-id is rootless only (podman: "keep-id is only supported in
        // rootless mode"); as root, auto gives the pod a range of its own.
        let mode = if h.is_rootless() { "keep-id" } else { "auto" };
        h.ok(&["pod", "create", "--name", "users", "--userns", mode]);
        let infra = pid(&h, &infra_name(&h, "users"));
        // The member's root must belong to the pod's root: rootful, that is
        // the first host id of the range auto picked.
        let map = |p: i32, f: &str| std::fs::read_to_string(format!("/proc/{p}/{f}")).unwrap();
        let first_host =
            |text: String| -> u32 { text.split_whitespace().nth(1).unwrap().parse().unwrap() };
        let ids = if h.is_rootless() {
            None
        } else {
            Some((
                first_host(map(infra, "uid_map")),
                first_host(map(infra, "gid_map")),
            ))
        };
        let mut argv: Vec<String> = ["run", "-d", "--pod", "users", "--name", "a"]
            .map(String::from)
            .to_vec();
        argv.extend(member_image_owned_by(
            &h,
            ids.or_else(|| owner_of_scratch(&h)),
        ));
        argv.extend(SERVICE.iter().map(|s| s.to_string()));
        h.ok(&argv);
        let a = pid(&h, "a");
        assert_eq!(ns_of(a, "user"), ns_of(infra, "user"), "[{}]", h.flavour());
        // A user namespace of the pod's own, not the one husk runs in.
        assert_ne!(ns_of(a, "user"), ns_of(std::process::id() as i32, "user"));
        assert_eq!(
            map(a, "uid_map"),
            map(infra, "uid_map"),
            "[{}]",
            h.flavour()
        );
        assert_eq!(ns_of(a, "net"), ns_of(infra, "net"), "[{}]", h.flavour());
        assert_eq!(pod_field(&h, "users", "{{.InfraConfig.userns}}"), mode);
        // Its processes run as ids other than the user's own: removal must
        // still reach them.
        h.ok(&["pod", "rm", "-f", "-t", "0", "users"]);
        assert!(
            eventually(
                || !husk_tests::bundle::pid_alive(infra) && !husk_tests::bundle::pid_alive(a)
            ),
            "[{}] the pod's processes outlived pod rm",
            h.flavour()
        );
        nothing_left(&h);
    }
}
