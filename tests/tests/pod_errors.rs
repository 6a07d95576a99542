//! End-to-end: bad input to pod commands gets a clear error and podman's
//! exit status, and leaves nothing behind: no pod row, no infra container,
//! no cgroup, no state directory, no mount, no process (rootful and
//! rootless).

mod pod_support;

use husk_tests::bundle::{unique, wait_no_processes};
use husk_tests::husk::Husk;
use pod_support::*;

/// `pod create` arguments that make a leftover easy to see: an infra
/// command line that carries `marker`, and rootful a cgroup parent of the
/// test's own.
fn traced(h: &Husk, marker: &str, cgroup: &str) -> Vec<String> {
    let mut a = vec![
        "--infra-command".to_owned(),
        format!("/run/husk-pause {marker}"),
    ];
    if !h.is_rootless() {
        a.extend(["--cgroup-parent".to_owned(), cgroup.to_owned()]);
    }
    a
}

#[track_caller]
fn no_trace(h: &Husk, marker: &str, cgroup: &str) {
    let left = wait_no_processes(marker, husk_tests::bundle::status_timeout());
    assert!(
        left.is_empty(),
        "[{}] infra processes left: {left:?}",
        h.flavour()
    );
    let cg = cgroup_children(cgroup);
    assert!(cg.is_empty(), "[{}] cgroups left: {cg:?}", h.flavour());
}

#[test]
fn joining_a_missing_pod_is_refused() {
    for h in both("joining_a_missing_pod_is_refused") {
        for cmd in ["run", "create"] {
            let mut argv: Vec<String> = [cmd, "--pod", "nope", "--name", "lost"]
                .map(String::from)
                .to_vec();
            argv.extend(member_image(&h));
            argv.push("true".into());
            h.fails(
                &argv,
                125,
                &["no pod with name or ID nope found: no such pod"],
            );
        }
        nothing_left(&h);
    }
}

#[test]
fn names_are_shared_with_containers_and_unique() {
    for h in both("names_are_shared_with_containers_and_unique") {
        let marker = unique("pod-name-conflict");
        let cgroup = TestCgroup::new();
        let cg = cgroup.path().to_owned();
        let mut argv: Vec<String> = ["run", "-d", "--name", "taken"].map(String::from).to_vec();
        argv.extend(member_image(&h));
        argv.extend(SERVICE.map(String::from));
        h.ok(&argv);

        let mut create: Vec<String> = ["pod", "create", "--name", "taken"]
            .map(String::from)
            .to_vec();
        create.extend(traced(&h, &marker, &cg));
        h.fails(
            &create,
            125,
            &["the container name \"taken\" is already in use by"],
        );
        let pods = h.ok(&["pod", "ps", "-q"]);
        assert!(pods.trim().is_empty(), "[{}] {pods}", h.flavour());
        no_trace(&h, &marker, &cg);

        // An infra name taken by a container: the pod goes again.
        let mut create: Vec<String> = ["pod", "create", "--name", "free", "--infra-name", "taken"]
            .map(String::from)
            .to_vec();
        create.extend(traced(&h, &marker, &cg));
        h.fails(
            &create,
            125,
            &["the container name \"taken\" is already in use by"],
        );
        assert!(
            h.ok(&["pod", "ps", "-q"]).trim().is_empty(),
            "[{}]",
            h.flavour()
        );
        assert_eq!(h.run(&["pod", "exists", "free"]).code(), 1);
        no_trace(&h, &marker, &cg);
        h.ok(&["rm", "-f", "-t", "0", "taken"]);

        // A pod's name is taken for pods and containers alike.
        h.ok(&["pod", "create", "--name", "mine"]);
        let id = pod_field(&h, "mine", "{{.Id}}");
        h.fails(
            &["pod", "create", "--name", "mine"],
            125,
            &["the pod name", "is already in use by", &id],
        );
        let mut run: Vec<String> = ["run", "--name", "mine"].map(String::from).to_vec();
        run.extend(member_image(&h));
        run.push("true".into());
        h.fails(&run, 125, &["the pod name", "is already in use by"]);
        // run --pod new: of a taken name makes neither pod nor container.
        let mut run: Vec<String> = ["run", "--name", "c", "--pod", "new:mine"]
            .map(String::from)
            .to_vec();
        run.extend(member_image(&h));
        run.push("true".into());
        h.fails(&run, 125, &["the pod name", "is already in use by"]);
        assert_eq!(
            pod_field(&h, "mine", "{{.NumContainers}}"),
            "1",
            "[{}]",
            h.flavour()
        );
        assert_eq!(h.ok(&["pod", "ps", "-q"]).lines().count(), 1);
        h.ok(&["pod", "rm", "mine"]);
        nothing_left(&h);
    }
}

#[test]
fn removing_a_running_pod_needs_force() {
    for h in both("removing_a_running_pod_needs_force") {
        let id = h.ok(&["pod", "create", "--name", "busy"]).trim().to_owned();
        run_member(&h, "busy", "a", &SERVICE);
        let o = h.fails(
            &["pod", "rm", "busy"],
            2,
            &[&id, "cannot remove container", "running", "without force"],
        );
        assert!(o.stdout.is_empty(), "[{}] {o}", h.flavour());
        assert_eq!(
            pod_field(&h, "busy", "{{.State}}"),
            "Running",
            "[{}] untouched",
            h.flavour()
        );
        assert_eq!(state(&h, "a"), "running");
        // A missing pod is status 1; with a running one too, podman's 125.
        h.fails(
            &["pod", "rm", "absent"],
            1,
            &["no pod with name or ID absent found"],
        );
        h.fails(
            &["pod", "rm", "absent", "busy"],
            125,
            &["absent", "running"],
        );
        h.ok(&["pod", "rm", "-i", "absent"]);
        h.fails(&["pod", "rm", "-t", "0", "busy"], 125, &["--force"]);
        assert_eq!(h.ok(&["pod", "rm", "-f", "-t", "0", "busy"]).trim(), id);
        nothing_left(&h);
    }
}

#[test]
fn sharing_a_namespace_that_does_not_exist_is_refused() {
    for h in both("sharing_a_namespace_that_does_not_exist_is_refused") {
        let marker = unique("pod-bad-share");
        let cgroup = TestCgroup::new();
        let cg = cgroup.path().to_owned();
        for share in ["foo", "net,foo", "+user"] {
            let mut create: Vec<String> = ["pod", "create", "--name", "odd", "--share", share]
                .map(String::from)
                .to_vec();
            create.extend(traced(&h, &marker, &cg));
            let bad = share.rsplit([',', '+']).next().unwrap();
            h.fails(
                &create,
                125,
                &[&format!("invalid kernel namespace to share: {bad}. Options are: cgroup, ipc, net, pid, uts or none")],
            );
        }
        h.fails(
            &["pod", "create", "--infra=false", "--share", "net"],
            125,
            &["cannot share kernel namespaces on the pod level without an infra container"],
        );
        h.fails(
            &["pod", "create", "--infra-image", "k8s.gcr.io/pause"],
            125,
            &["needs no image"],
        );
        no_trace(&h, &marker, &cg);
        nothing_left(&h);
    }
}

#[test]
fn member_flags_podman_refuses_are_refused() {
    for h in both("member_flags_podman_refuses_are_refused") {
        h.ok(&["pod", "create", "--name", "strict"]);
        for (flags, needle) in [
            (
                &["--network", "host"][..],
                "network cannot be configured when it is shared with a pod",
            ),
            (
                &["-h", "mine"][..],
                "cannot set hostname when joining the pod UTS namespace",
            ),
            (
                &["--userns", "keep-id"][..],
                "--userns and --pod cannot be set together",
            ),
        ] {
            let mut argv: Vec<String> = ["run", "--pod", "strict", "--name", "refused"]
                .map(String::from)
                .to_vec();
            argv.extend(flags.iter().map(|s| s.to_string()));
            argv.extend(member_image(&h));
            argv.push("true".into());
            h.fails(&argv, 125, &[needle]);
        }
        assert_eq!(
            pod_field(&h, "strict", "{{.NumContainers}}"),
            "1",
            "[{}]",
            h.flavour()
        );
        let ctrs = h.ok(&["ps", "-a", "--format", "{{.Names}}"]);
        assert!(!ctrs.contains("refused"), "[{}] {ctrs}", h.flavour());
        h.ok(&["pod", "rm", "strict"]);
        nothing_left(&h);
    }
}

#[test]
fn an_infra_that_cannot_be_created_leaves_nothing() {
    for h in both("an_infra_that_cannot_be_created_leaves_nothing") {
        let cgroup = TestCgroup::new();
        let cg = cgroup.path().to_owned();
        let mut create: Vec<String> = [
            "pod",
            "create",
            "--name",
            "broken",
            "--infra-command",
            "no-such-pause",
        ]
        .map(String::from)
        .to_vec();
        if !h.is_rootless() {
            create.extend(["--cgroup-parent".to_owned(), cg.clone()]);
        }
        h.fails(&create, 125, &["no-such-pause", "not found"]);
        assert_eq!(
            h.run(&["pod", "exists", "broken"]).code(),
            1,
            "[{}]",
            h.flavour()
        );
        let left = cgroup_children(&cg);
        assert!(left.is_empty(), "[{}] cgroups left: {left:?}", h.flavour());
        nothing_left(&h);
    }
}
