//! `husk inspect`: podman's field names and values for a container made
//! with many flags, Go templates, several targets, and errors, rootful and
//! rootless.

#[macro_use]
mod engine_common;

use std::fs;

use engine_common::*;
use husk_tests::husk::leftovers::is_unified_host;
use serde_json::{json, Value};

/// Fails unless `v[key] == want`.
fn eq(v: &Value, path: &str, want: Value) -> Result<(), String> {
    let mut cur = v;
    for k in path.split('.') {
        cur = &cur[k];
    }
    if *cur == want {
        Ok(())
    } else {
        Err(format!(".{path} is {cur}, want {want}"))
    }
}

fn str_array_contains(v: &Value, path: &str, item: &str) -> Result<(), String> {
    let mut cur = v;
    for k in path.split('.') {
        cur = &cur[k];
    }
    let ok = cur
        .as_array()
        .is_some_and(|a| a.iter().any(|x| x.as_str() == Some(item)));
    if ok {
        Ok(())
    } else {
        Err(format!(".{path} is {cur}, want it to contain {item:?}"))
    }
}

flavours!(
    /// The whole JSON of a running container made with many flags.
    fn full_json(env) {
        env.pull();
        let vol = env.husk.scratch().join("vol");
        fs::create_dir(&vol).unwrap();
        husk_tests::rootless::make_accessible(&vol).unwrap();
        env.vars.set("vol", &vol.to_string_lossy());
        let limits = !env.rootless_env() || is_unified_host();
        let mut flags = vec![
            "--hostname", "myhost", "--label", "a=b", "--annotation", "x=y", "--stop-timeout", "7",
            "--cap-add", "NET_ADMIN", "--cap-drop", "CHOWN", "--read-only", "--tmpfs", "/scratch",
            "-v", "{vol}:/vol:ro", "-e", "FOO=bar", "-w", "/tmp", "-u", "1000:1000", "--group-add",
            "65534", "--security-opt", "no-new-privileges", "--network", "none",
        ];
        if limits {
            flags.extend(["--memory", "64m", "--memory-swap", "128m", "--pids-limit", "100", "--cpus", "0.5", "--cpu-shares", "512"]);
        }
        env.start_detached("full", &flags, &["sleep", "1000"]);
        env.check(&[row(&["inspect", "full"]).err(Out::Empty).out(json(move |v, vars| {
            let arr = v.as_array().ok_or("inspect prints a JSON array")?;
            if arr.len() != 1 {
                return Err(format!("{} entries, want 1", arr.len()));
            }
            let c = &arr[0];
            has_fields(
                c,
                &[
                    "Id", "Created", "Path", "Args", "State", "Image", "ImageDigest", "ImageName",
                    "Rootfs", "Pod", "Name", "RestartCount", "Driver", "EffectiveCaps",
                    "BoundingCaps", "ExecIDs", "Mounts", "NetworkSettings", "IsInfra", "Config",
                    "HostConfig",
                ],
                "inspect",
            )?;
            has_fields(
                &c["State"],
                &[
                    "Status", "Running", "Paused", "Restarting", "OOMKilled", "Dead", "Pid",
                    "ExitCode", "Error", "StartedAt", "FinishedAt",
                ],
                ".State",
            )?;
            has_fields(
                &c["Config"],
                &[
                    "Hostname", "User", "Env", "Cmd", "Image", "WorkingDir", "Entrypoint",
                    "Labels", "Annotations", "StopSignal", "StopTimeout", "Tty", "OpenStdin",
                    "CreateCommand",
                ],
                ".Config",
            )?;
            has_fields(
                &c["HostConfig"],
                &[
                    "Binds", "NetworkMode", "RestartPolicy", "AutoRemove", "CapAdd", "CapDrop",
                    "Privileged", "ReadonlyRootfs", "SecurityOpt", "Tmpfs", "Memory", "MemorySwap",
                    "NanoCpus", "CpuShares", "CpuQuota", "CpuPeriod", "PidsLimit", "Ulimits",
                    "GroupAdd", "UsernsMode", "LogConfig",
                ],
                ".HostConfig",
            )?;
            eq(c, "Id", vars.get("full.id").into())?;
            eq(c, "Name", "full".into())?;
            eq(c, "Path", "sleep".into())?;
            eq(c, "Args", json!(["1000"]))?;
            eq(c, "Image", vars.get("imgid").into())?;
            eq(c, "ImageName", vars.get("img").into())?;
            eq(c, "ImageDigest", vars.get("digest").into())?;
            eq(c, "State.Status", "running".into())?;
            eq(c, "State.Running", true.into())?;
            eq(c, "State.Paused", false.into())?;
            eq(c, "State.ExitCode", 0.into())?;
            eq(c, "State.FinishedAt", "0001-01-01T00:00:00Z".into())?;
            if c["State"]["Pid"].as_i64().unwrap_or(0) <= 0 {
                return Err(format!(".State.Pid is {}, want > 0", c["State"]["Pid"]));
            }
            eq(c, "Config.Hostname", "myhost".into())?;
            eq(c, "Config.User", "1000:1000".into())?;
            eq(c, "Config.WorkingDir", "/tmp".into())?;
            eq(c, "Config.Cmd", json!(["sleep", "1000"]))?;
            eq(c, "Config.Image", vars.get("img").into())?;
            eq(c, "Config.Labels", json!({"a": "b"}))?;
            eq(c, "Config.Annotations.x", "y".into())?;
            eq(c, "Config.StopTimeout", 7.into())?;
            eq(c, "Config.Tty", false.into())?;
            eq(c, "Config.OpenStdin", false.into())?;
            str_array_contains(c, "Config.Env", "FOO=bar")?;
            str_array_contains(c, "Config.Env", "HOSTNAME=myhost")?;
            str_array_contains(c, "Config.Env", "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")?;
            eq(c, "HostConfig.CapAdd", json!(["CAP_NET_ADMIN"]))?;
            eq(c, "HostConfig.CapDrop", json!(["CAP_CHOWN"]))?;
            eq(c, "HostConfig.ReadonlyRootfs", true.into())?;
            eq(c, "HostConfig.Privileged", false.into())?;
            eq(c, "HostConfig.AutoRemove", false.into())?;
            eq(c, "HostConfig.NetworkMode", "none".into())?;
            eq(c, "HostConfig.SecurityOpt", json!(["no-new-privileges"]))?;
            eq(c, "HostConfig.GroupAdd", json!(["65534"]))?;
            eq(c, "HostConfig.LogConfig.Type", "k8s-file".into())?;
            eq(c, "HostConfig.Binds", json!([format!("{}:/vol:ro,rprivate,rbind", vars.get("vol"))]))?;
            if c["HostConfig"]["Tmpfs"].get("/scratch").is_none() {
                return Err(format!(".HostConfig.Tmpfs {} lacks /scratch", c["HostConfig"]["Tmpfs"]));
            }
            if limits {
                eq(c, "HostConfig.Memory", 67108864.into())?;
                eq(c, "HostConfig.MemorySwap", 134217728.into())?;
                eq(c, "HostConfig.PidsLimit", 100.into())?;
                eq(c, "HostConfig.NanoCpus", 500000000.into())?;
                eq(c, "HostConfig.CpuShares", 512.into())?;
                eq(c, "HostConfig.CpuQuota", 50000.into())?;
                eq(c, "HostConfig.CpuPeriod", 100000.into())?;
            }
            let m = &c["Mounts"];
            let bind = m
                .as_array()
                .and_then(|a| a.iter().find(|x| x["Destination"] == "/vol"))
                .ok_or_else(|| format!(".Mounts {m} lacks /vol"))?;
            eq(bind, "Type", "bind".into())?;
            eq(bind, "Source", vars.get("vol").into())?;
            eq(bind, "RW", false.into())?;
            eq(bind, "Propagation", "rprivate".into())?;
            Ok(())
        }))]);
    }
);

flavours!(
    /// Go templates over inspect's fields; several targets; errors.
    fn templates_and_errors(env) {
        env.pull();
        env.start_detached("up", &["-e", "A=1", "--entrypoint", "sleep"], &["1000"]);
        let o = env.run(&["run", "--name", "ex", "{img}", "sh", "-c", "exit 3"]);
        assert_eq!(o.code(), 3, "{o}");
        let id = env.husk.id_of("ex");
        env.remember("ex", &id);
        // A time.Time in a template prints as Go's Time.String(); JSON has
        // RFC 3339.
        let ts = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d+)? [+-]\d{4} \S+";
        env.check(&[
            row(&["inspect", "--format", "{{.State.Status}} {{.State.ExitCode}} {{.State.Running}} {{.Name}} {{.ImageName}}", "ex"])
                .prints("exited 3 false ex {img}\n"),
            row(&["inspect", "-f", "{{.State.Status}} {{.State.Running}}", "up"]).prints("running true\n"),
            row(&["inspect", "-f", "{{.Id}}", "up", "ex"]).prints("{up.id}\n{ex.id}\n"),
            row(&["container", "inspect", "-f", "{{.Image}}", "up"]).prints("{imgid}\n"),
            row(&["inspect", "--type", "container", "-f", "{{.Name}}", "{up.short}"]).prints("up\n"),
            row(&["inspect", "-f", "{{json .Config.Cmd}}", "up"]).prints("[\"1000\"]\n"),
            row(&["inspect", "-f", "{{json .Config.Entrypoint}}", "up"])
                .prints("[\"sleep\"]\n")
                .v5("Config.Entrypoint is an array in podman 5 (a string in 4.3)"),
            row(&["inspect", "-f", "{{.Path}} {{json .Args}}", "up"]).prints("sleep [\"1000\"]\n"),
            row(&["inspect", "-f", "{{index .Config.Env 0}}", "up"]).out(re(r"^\S+=.*\n$")).err(Out::Empty),
            row(&["inspect", "-f", "{{range .Config.Env}}{{if eq . \"A=1\"}}found{{end}}{{end}}", "up"])
                .prints("found\n"),
            row(&["inspect", "-f", "{{.State.StartedAt}}", "up"])
                .out(re(&format!("^{ts}\n$")))
                .err(Out::Empty),
            row(&["inspect", "-f", "{{.State.FinishedAt}}", "ex"])
                .out(re(&format!("^{ts}\n$")))
                .err(Out::Empty),
            row(&["inspect", "-f", "{{.Created}}", "ex"]).out(re(&format!("^{ts}\n$"))).err(Out::Empty),
            row(&["inspect", "-f", "{{.State.Pid}}", "ex"]).prints("0\n"),
            row(&["inspect", "-f", "{{.HostConfig.AutoRemove}} {{.HostConfig.Privileged}}", "ex"])
                .prints("false false\n"),
            row(&["inspect", "--format", "json", "ex"]).err(Out::Empty).out(json(|v, vars| {
                eq(&v[0], "Id", vars.get("ex.id").into())?;
                let rfc3339 = regex::Regex::new(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$").unwrap();
                let t = v[0]["Created"].as_str().unwrap_or_default();
                if !rfc3339.is_match(t) {
                    return Err(format!("Created {t:?} is not RFC 3339"));
                }
                let t = v[0]["State"]["FinishedAt"].as_str().unwrap_or_default();
                if rfc3339.is_match(t) {
                    Ok(())
                } else {
                    Err(format!("State.FinishedAt {t:?} is not RFC 3339"))
                }
            })),
            row(&["inspect", "nosuch"])
                .code(125)
                .out(exact("[]\n"))
                .err(error(&["no such object", "\"nosuch\""])),
            row(&["inspect", "-f", "{{.Name}}", "ex", "nosuch"])
                .code(125)
                .out(exact("ex\n"))
                .err(error(&["no such object", "\"nosuch\""])),
            row(&["inspect", "-f", "{{.Bogus}}", "ex"]).fails(125, &["can't evaluate field Bogus"]),
            row(&["inspect", "-f", "{{.Name", "ex"]).fails(125, &["template"]),
        ]);
    }
);
