//! `husk cp` (both directions, files, directories, stdout as a tar), `husk
//! diff`, `husk stats --no-stream`, and `husk mount` / `unmount` (rootful
//! only), rootful and rootless.

#[macro_use]
mod engine_common;

use std::fs;

use engine_common::*;

flavours!(
    /// cp from and into a running container, files and directories, and
    /// errors.
    fn cp(env) {
        env.pull();
        env.start_detached(
            "c1",
            &[],
            &["sh", "-c", "mkdir -p /data && echo hello > /data/f && echo ready > /tmp/ready; sleep 1000"],
        );
        env.husk.wait_for_state("c1", "running");
        env.check(&[row(&["exec", "c1", "sh", "-c", "while [ ! -e /tmp/ready ]; do sleep 0.1; done"]).prints("")]);
        let host = env.husk.scratch().join("cp");
        fs::create_dir(&host).unwrap();
        fs::write(host.join("h"), "host\n").unwrap();
        fs::create_dir(host.join("dir")).unwrap();
        fs::write(host.join("dir/inner"), "inner\n").unwrap();
        if let Some(u) = env.husk.user() {
            for p in [host.clone(), host.join("h"), host.join("dir"), host.join("dir/inner")] {
                std::os::unix::fs::chown(&p, Some(u.uid), Some(u.gid)).unwrap();
            }
        }
        husk_tests::rootless::make_accessible(&host).unwrap();
        env.vars.set("host", &host.to_string_lossy());
        env.check(&[
            row(&["cp", "c1:/data/f", "{host}/out"]).prints(""),
            row(&["cp", "{host}/h", "c1:/data/"]).prints(""),
            row(&["exec", "c1", "cat", "/data/h"]).prints("host\n"),
            row(&["cp", "{host}/h", "c1:/data/renamed"]).prints(""),
            row(&["exec", "c1", "cat", "/data/renamed"]).prints("host\n"),
            row(&["container", "cp", "{host}/dir", "c1:/data/"]).prints(""),
            row(&["exec", "c1", "cat", "/data/dir/inner"]).prints("inner\n"),
            row(&["cp", "c1:/data", "{host}/datadir"]).prints(""),
            row(&["cp", "c1:/nonexist", "{host}/x"])
                .fails(125, &["\"/nonexist\" could not be found on container c1", "no such file or directory"]),
            row(&["cp", "{host}/nonexist", "c1:/data/"])
                .fails(125, &["could not be found on the host", "no such file or directory"]),
            row(&["cp", "nosuch:/x", "{host}/"]).fails(125, &["nosuch"]),
        ]);
        assert_eq!(fs::read_to_string(host.join("out")).unwrap(), "hello\n");
        for (f, want) in [("f", "hello\n"), ("h", "host\n"), ("renamed", "host\n"), ("dir/inner", "inner\n")] {
            let p = host.join("datadir").join(f);
            assert_eq!(fs::read_to_string(&p).unwrap_or_default(), want, "{}", p.display());
        }
        // Copied-out files belong to the caller.
        let (uid, _) = env.husk.host_ids();
        let owner = std::os::unix::fs::MetadataExt::uid(&fs::metadata(host.join("out")).unwrap());
        assert_eq!(owner, uid, "cp to the host must create files owned by the caller");
        // `-` as the destination writes a tar archive to stdout.
        let o = env.run(&["cp", "c1:/data/f", "-"]);
        assert_eq!(o.code(), 0, "{o}");
        let mut ar = tar::Archive::new(o.stdout.as_bytes());
        let names: Vec<String> = ar
            .entries()
            .expect("cp to - prints a tar archive")
            .map(|e| e.unwrap().path().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["f"], "cp c1:/data/f - archive entries");
        // cp works on a stopped container too.
        env.ok(&["stop", "-t", "0", "c1"]);
        env.check(&[
            row(&["cp", "c1:/data/h", "{host}/after-stop"]).prints(""),
            row(&["cp", "{host}/h", "c1:/data/into-stopped"]).prints(""),
        ]);
        assert_eq!(fs::read_to_string(host.join("after-stop")).unwrap(), "host\n");
    }
);

flavours!(
    /// diff: added (A), changed (C) and deleted (D) paths, text and JSON.
    fn diff(env) {
        env.pull();
        let o = env.run(&[
            "run", "--name", "d", "{img}", "sh", "-c", "mkdir /data; echo hello > /data/f; rm /etc/group",
        ]);
        assert_eq!(o.code(), 0, "{o}");
        env.ok(&["create", "--name", "clean", "{img}", "true"]);
        env.check(&[
            row(&["diff", "d"]).err(Out::Empty).out(line_set(&["A /data", "A /data/f", "C /etc", "D /etc/group"])),
            row(&["container", "diff", "d"]).err(Out::Empty).out(line_set(&["A /data", "A /data/f", "C /etc", "D /etc/group"])),
            row(&["diff", "--format", "json", "d"]).err(Out::Empty).out(json(|v, _| {
                let sorted = |k: &str| {
                    let mut a: Vec<String> = v[k]
                        .as_array()
                        .map(|a| a.iter().filter_map(|x| x.as_str().map(str::to_owned)).collect())
                        .unwrap_or_default();
                    a.sort();
                    a
                };
                let got = (sorted("changed"), sorted("added"), sorted("deleted"));
                let want = (vec!["/etc".to_owned()], vec!["/data".to_owned(), "/data/f".to_owned()], vec!["/etc/group".to_owned()]);
                if got == want {
                    Ok(())
                } else {
                    Err(format!("want changed/added/deleted {want:?}, got {got:?}"))
                }
            })),
            row(&["diff", "clean"]).prints(""),
            row(&["diff", "nosuch"]).fails(125, &["nosuch"]),
        ]);
    }
);

flavours!(
    /// stats --no-stream: podman's table and fields, JSON, templates.
    fn stats(env) {
        env.pull();
        env.start_detached("s", &[], &["sleep", "1000"]);
        if env.rootless_env() && !husk_tests::husk::leftovers::is_unified_host() {
            // Rootless on cgroup v1 or hybrid, there is no cgroup to read.
            env.check(&[row(&["stats", "--no-stream", "s"])
                .fails(125, &["stats is not supported in rootless mode without cgroups v2"])]);
            return;
        }
        env.check(&[
            row(&["stats", "--no-stream", "s"]).err(Out::Empty).out(table_out(
                &["ID", "NAME", "CPU %", "MEM USAGE / LIMIT", "MEM %", "NET IO", "BLOCK IO", "PIDS", "CPU TIME", "AVG CPU %"],
                |t, v| {
                    if t.rows.len() != 1 {
                        return Err(format!("{} rows, want 1", t.rows.len()));
                    }
                    let r = &t.rows[0];
                    let want = |c: &str, pat: &str| engine_common::table::cell_matches(&r[t.col(c)], pat, c);
                    want("ID", &format!("^{}$", v.get("s.short")))?;
                    want("NAME", "^s$")?;
                    want("CPU %", r"^\d+\.\d\d%$")?;
                    want("MEM USAGE / LIMIT", r"^\d+(\.\d+)?[kMGT]?B / \d+(\.\d+)?[kMGT]?B$")?;
                    want("MEM %", r"^\d+\.\d\d%$")?;
                    want("PIDS", "^1$")?;
                    want("AVG CPU %", r"^\d+\.\d\d%$")
                },
            )),
            row(&["container", "stats", "--no-stream", "--format", "{{.Name}} {{.PIDs}}", "s"]).prints("s 1\n"),
            row(&["stats", "--no-stream", "--format", "json", "s"]).err(Out::Empty).out(json(|v, vars| {
                let e = &v[0];
                has_fields(e, &["id", "name", "cpu_time", "cpu_percent", "avg_cpu", "mem_usage", "mem_percent", "net_io", "block_io", "pids"], "stats json")?;
                if e["id"] == vars.get("s.short") && e["name"] == "s" && e["pids"] == "1" {
                    Ok(())
                } else {
                    Err(format!("stats json entry {e}"))
                }
            })),
            row(&["stats", "--no-stream", "nosuch"]).fails(125, &["no container with name or ID \"nosuch\" found"]),
        ]);
    }
);

rootful_only!(
    "podman refuses `mount` rootless outside `podman unshare`, and husk's rootless rootfs lives only in the shim's mount namespace",
    /// mount prints the container's root filesystem path, which holds the
    /// image's files; unmount releases it.
    fn mount_unmount(env) {
        env.pull();
        env.start_detached("m", &[], &["sh", "-c", "echo in-container > /marker; sleep 1000"]);
        env.check(&[row(&["exec", "m", "sh", "-c", "while [ ! -e /marker ]; do sleep 0.1; done"]).prints("")]);
        let o = env.run(&["mount", "m"]);
        assert_eq!(o.code(), 0, "{o}");
        let dir = o.stdout.trim().to_owned();
        assert!(std::path::Path::new(&dir).join("bin/busybox").exists(), "mount printed {dir:?}, which lacks the image's files");
        assert_eq!(fs::read_to_string(std::path::Path::new(&dir).join("marker")).unwrap(), "in-container\n");
        env.vars.set("mnt", &dir);
        env.check(&[
            row(&["mount"]).prints("{m.short}  {mnt}\n"),
            row(&["unmount", "m"]).prints("m\n"),
            row(&["umount", "m"]).prints("m\n"),
            row(&["container", "unmount", "m"]).prints("m\n"),
            row(&["umount", "nosuch"]).fails(125, &["no container with name or ID \"nosuch\" found"]),
            row(&["mount", "nosuch"]).fails(125, &["no container with name or ID \"nosuch\" found"]),
        ]);
    }
);

rootless_only!(
    "shows what rootless mount does: podman says it must run inside `podman unshare`",
    /// Rootless, mount is refused (podman: "cannot run command \"podman
    /// mount\" in rootless mode, must execute `podman unshare` first").
    fn mount_rootless_refused(env) {
        env.pull();
        env.start_detached("m", &[], &["sleep", "1000"]);
        env.check(&[row(&["mount", "m"]).fails(125, &["rootless", "unshare"])]);
    }
);
