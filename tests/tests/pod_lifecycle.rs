//! End-to-end: the pod lifecycle commands change every member's state as
//! podman's do; inspect, ps and top show the members and the shared
//! namespaces; removal takes the members and leaves nothing (rootful and
//! rootless).

mod pod_support;

use husk_tests::husk::Husk;
use pod_support::*;
use serde_json::Value;

/// Every container of the pod and its state, from `pod inspect`.
fn states(h: &Husk, pod: &str) -> Vec<(String, String)> {
    let doc: Value = serde_json::from_str(&h.ok(&["pod", "inspect", pod])).unwrap();
    doc[0]["Containers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["Name"].as_str().unwrap().to_owned(),
                c["State"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[track_caller]
fn all_in(h: &Husk, pod: &str, want: &str, pod_state: &str) {
    let got = states(h, pod);
    assert_eq!(
        got.len(),
        3,
        "[{}] infra and two members: {got:?}",
        h.flavour()
    );
    for (name, s) in &got {
        assert_eq!(s, want, "[{}] {name} in {got:?}", h.flavour());
    }
    assert_eq!(
        pod_field(h, pod, "{{.State}}"),
        pod_state,
        "[{}]",
        h.flavour()
    );
    let ps = h.ok(&[
        "pod",
        "ps",
        "--filter",
        &format!("name=^{pod}$"),
        "--format",
        "{{.Status}}",
    ]);
    assert_eq!(ps.trim(), pod_state, "[{}]", h.flavour());
}

#[test]
fn lifecycle_commands_change_every_member() {
    for h in both("lifecycle_commands_change_every_member") {
        let id = h.ok(&["pod", "create", "--name", "life"]).trim().to_owned();
        assert_eq!(id.len(), 64, "[{}] {id}", h.flavour());
        assert_eq!(pod_field(&h, "life", "{{.State}}"), "Created");
        run_member(&h, "life", "a", &SERVICE);
        run_member(&h, "life", "b", &SERVICE);
        all_in(&h, "life", "running", "Running");

        assert_eq!(
            h.ok(&["pod", "stop", "life"]).trim(),
            id,
            "[{}]",
            h.flavour()
        );
        all_in(&h, "life", "exited", "Exited");

        h.ok(&["pod", "start", "life"]);
        all_in(&h, "life", "running", "Running");
        // The members joined the infra of now, not the one before the stop.
        let infra = infra_name(&h, "life");
        assert_eq!(
            ns_of(pid(&h, "a"), "net"),
            ns_of(pid(&h, &infra), "net"),
            "[{}]",
            h.flavour()
        );

        let before = pid(&h, "a");
        h.ok(&["pod", "restart", "life"]);
        all_in(&h, "life", "running", "Running");
        assert_ne!(
            pid(&h, "a"),
            before,
            "[{}] restart made new processes",
            h.flavour()
        );
        assert_eq!(
            ns_of(pid(&h, "b"), "ipc"),
            ns_of(pid(&h, &infra), "ipc"),
            "[{}]",
            h.flavour()
        );

        if h.is_rootless() {
            // No delegated cgroup on this host: no freezer, and husk says so.
            h.fails(&["pod", "pause", "life"], 125, &["freezer"]);
            all_in(&h, "life", "running", "Running");
        } else {
            h.ok(&["pod", "pause", "life"]);
            all_in(&h, "life", "paused", "Paused");
            h.ok(&["pod", "unpause", "life"]);
            all_in(&h, "life", "running", "Running");
        }

        h.ok(&["pod", "kill", "life"]);
        assert!(
            eventually(|| states(&h, "life").iter().all(|(_, s)| s == "exited")),
            "[{}] after kill: {:?}",
            h.flavour(),
            states(&h, "life")
        );
        assert_eq!(pod_field(&h, "life", "{{.State}}"), "Exited");
        h.fails(&["pod", "kill", "life"], 125, &["no running containers"]);

        // A member started alone brings its infra up first.
        h.ok(&["start", "a"]);
        assert_eq!(state(&h, "a"), "running", "[{}]", h.flavour());
        assert_eq!(state(&h, &infra), "running", "[{}]", h.flavour());
        assert_eq!(pod_field(&h, "life", "{{.State}}"), "Degraded");
        assert_eq!(
            ns_of(pid(&h, "a"), "uts"),
            ns_of(pid(&h, &infra), "uts"),
            "[{}]",
            h.flavour()
        );

        assert_eq!(h.ok(&["pod", "rm", "-f", "life"]).trim(), id);
        nothing_left(&h);
        let cg = cgroup_dirs(&format!("/husk/pod-{id}"));
        assert!(
            cg.is_empty(),
            "[{}] the pod's cgroup is left: {cg:?}",
            h.flavour()
        );
    }
}

#[test]
fn inspect_ps_and_top_show_members_and_namespaces() {
    for h in both("inspect_ps_and_top_show_members_and_namespaces") {
        let id = h
            .ok(&[
                "pod",
                "create",
                "--name",
                "shown",
                "--label",
                "tier=web",
                "--hostname",
                "shown-host",
            ])
            .trim()
            .to_owned();
        run_member(&h, "shown", "a", &SERVICE);
        run_member(&h, "shown", "b", &["sh", "-c", "exec sleep 1000"]);
        let doc: Value = serde_json::from_str(&h.ok(&["pod", "inspect", "shown"])).unwrap();
        let d = &doc[0];
        assert_eq!(d["Id"], id.as_str());
        assert_eq!(d["Name"], "shown");
        assert_eq!(d["State"], "Running");
        assert_eq!(d["Hostname"], "shown-host");
        assert_eq!(d["Labels"]["tier"], "web");
        assert_eq!(d["CreateInfra"], true);
        assert_eq!(
            d["SharedNamespaces"],
            serde_json::json!(["ipc", "net", "uts"])
        );
        assert_eq!(d["NumContainers"], 3);
        let infra = d["InfraContainerID"].as_str().unwrap();
        let names: Vec<&str> = d["Containers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["Name"].as_str().unwrap())
            .collect();
        assert_eq!(
            names,
            [format!("{}-infra", &id[..12]).as_str(), "a", "b"],
            "[{}]",
            h.flavour()
        );
        assert_eq!(d["Containers"][0]["Id"], infra);
        if h.is_rootless() {
            assert_eq!(d["CgroupPath"], "", "[{}]", h.flavour());
        } else {
            assert_eq!(d["CgroupPath"], format!("/husk/pod-{id}").as_str());
            // The pod's cgroup holds its containers.
            let cg = std::fs::read_to_string(format!("/proc/{}/cgroup", pid(&h, "a"))).unwrap();
            assert!(cg.contains(&format!("/husk/pod-{id}/")), "{cg}");
        }

        let table = h.ok(&["pod", "ps"]);
        let header = table.lines().next().unwrap();
        for col in [
            "POD ID",
            "NAME",
            "STATUS",
            "CREATED",
            "INFRA ID",
            "# OF CONTAINERS",
        ] {
            assert!(header.contains(col), "[{}] {header}", h.flavour());
        }
        assert!(
            table.contains(&id[..12]) && table.contains(&infra[..12]),
            "[{}] {table}",
            h.flavour()
        );
        let names = h.ok(&[
            "pod",
            "ps",
            "--ctr-names",
            "--format",
            "{{.Name}} {{.ContainerNames}} {{.NumberOfContainers}}",
        ]);
        assert_eq!(
            names.trim(),
            format!("shown {}-infra,a,b 3", &id[..12]),
            "[{}]",
            h.flavour()
        );
        assert_eq!(h.ok(&["pod", "ps", "-q", "--no-trunc"]).trim(), id);
        assert_eq!(
            h.ok(&["pod", "ps", "-q", "--filter", "label=tier=web"])
                .trim(),
            &id[..12]
        );
        assert_eq!(
            h.ok(&["pod", "ps", "-q", "--filter", "ctr-names=b"]).trim(),
            &id[..12]
        );
        assert!(h
            .ok(&["pod", "ps", "-q", "--filter", "status=exited"])
            .trim()
            .is_empty());
        let json: Value = serde_json::from_str(&h.ok(&["pod", "ps", "--format", "json"])).unwrap();
        assert_eq!(
            json[0]["Containers"].as_array().unwrap().len(),
            3,
            "[{}] {json}",
            h.flavour()
        );

        let ps = h.ok(&[
            "ps",
            "--pod",
            "--format",
            "{{.Names}} {{.PodName}} {{.IsInfra}}",
        ]);
        assert!(
            ps.contains("a shown false") && ps.contains("-infra shown true"),
            "[{}] {ps}",
            h.flavour()
        );
        let table = h.ok(&["ps", "--pod"]);
        assert!(
            table.lines().next().unwrap().contains("PODNAME"),
            "[{}] {table}",
            h.flavour()
        );

        let top = h.ok(&["pod", "top", "shown"]);
        for want in ["/run/husk-pause", "sleep 1000", "while :"] {
            assert!(
                top.contains(want),
                "[{}] pod top lacks {want:?}:\n{top}",
                h.flavour()
            );
        }
        assert_eq!(h.run(&["pod", "exists", "shown"]).code(), 0);
        assert_eq!(h.run(&["pod", "exists", "absent"]).code(), 1);
    }
}

#[test]
fn members_come_and_go_but_the_infra_goes_with_its_pod() {
    for h in both("members_come_and_go_but_the_infra_goes_with_its_pod") {
        h.ok(&["pod", "create", "--name", "keep"]);
        run_member(&h, "keep", "a", &SERVICE);
        run_member(&h, "keep", "b", &SERVICE);
        // A member may be removed on its own; the pod and the rest stay.
        h.ok(&["rm", "-f", "-t", "0", "a"]);
        assert_eq!(pod_field(&h, "keep", "{{.NumContainers}}"), "2");
        assert_eq!(state(&h, "b"), "running");
        let infra = infra_name(&h, "keep");
        h.fails(
            &["rm", "-f", &infra],
            125,
            &[
                "is the infra container of pod",
                "cannot be removed without removing the pod",
            ],
        );
        assert_eq!(state(&h, &infra), "running", "[{}]", h.flavour());
        h.ok(&["pod", "stop", "keep"]);
        // container prune leaves the infra to its pod.
        h.ok(&["container", "prune", "-f"]);
        assert_eq!(
            pod_field(&h, "keep", "{{.NumContainers}}"),
            "1",
            "[{}]",
            h.flavour()
        );
        assert_eq!(state(&h, &infra), "exited");
        // A stopped pod goes without -f, its infra with it.
        h.ok(&["pod", "rm", "keep"]);
        nothing_left(&h);
    }
}

#[test]
fn run_pod_new_and_prune() {
    for h in both("run_pod_new_and_prune") {
        let mut argv: Vec<String> = ["run", "-d", "--name", "solo", "--pod", "new:fresh"]
            .map(String::from)
            .to_vec();
        argv.extend(member_image(&h));
        argv.extend(SERVICE.map(String::from));
        h.ok(&argv);
        assert_eq!(
            pod_field(&h, "fresh", "{{.State}}"),
            "Running",
            "[{}]",
            h.flavour()
        );
        assert_eq!(pod_field(&h, "fresh", "{{.NumContainers}}"), "2");
        let hostname = h.ok(&["exec", "solo", "hostname"]);
        assert_eq!(hostname, "fresh\n", "[{}]", h.flavour());

        h.ok(&["pod", "create", "--name", "idle"]);
        h.ok(&["pod", "create", "--name", "done"]);
        run_member(&h, "done", "d", &SERVICE);
        h.ok(&["pod", "stop", "done"]);
        let pruned = h.ok(&["pod", "prune", "-f"]);
        assert_eq!(
            pruned.lines().count(),
            1,
            "[{}] only the stopped pod: {pruned}",
            h.flavour()
        );
        let left = h.ok(&["pod", "ps", "--format", "{{.Name}}", "--sort", "name"]);
        assert_eq!(left, "fresh\nidle\n", "[{}]", h.flavour());
        h.ok(&["pod", "rm", "-f", "-a"]);
        nothing_left(&h);
    }
}

#[test]
fn a_pod_without_infra_groups_members_only() {
    for h in both("a_pod_without_infra_groups_members_only") {
        h.ok(&["pod", "create", "--name", "bare", "--infra=false"]);
        assert_eq!(pod_field(&h, "bare", "{{.InfraContainerID}}"), "");
        assert_eq!(pod_field(&h, "bare", "{{.NumContainers}}"), "0");
        run_member(&h, "bare", "a", &SERVICE);
        run_member(&h, "bare", "b", &SERVICE);
        assert_ne!(ns_of(pid(&h, "a"), "net"), ns_of(pid(&h, "b"), "net"));
        assert_eq!(pod_field(&h, "bare", "{{.State}}"), "Running");
        h.ok(&["pod", "stop", "-t", "0", "bare"]);
        assert_eq!(pod_field(&h, "bare", "{{.State}}"), "Exited");
        h.ok(&["pod", "rm", "bare"]);
        nothing_left(&h);
    }
}
