//! The effect of each `run`/`create` flag, seen from inside the container
//! (or from the host's cgroup files and `inspect` where the container
//! cannot see it), rootful and rootless.

#[macro_use]
mod engine_common;

use std::fs;

use engine_common::*;
use husk_tests::husk::leftovers::{cgroup_value, is_unified_host};

/// `sh -c SCRIPT` in a throwaway container with `flags`.
fn sh<'a>(flags: &[&'a str], script: &'a str) -> Row {
    let mut args = vec!["run", "--rm"];
    args.extend_from_slice(flags);
    args.extend(["{img}", "sh", "-c", script]);
    row(&args)
}

flavours!(
    /// -e, --env-file, --env-host, -w/--workdir, the default environment.
    fn environment_and_workdir(env) {
        env.pull();
        env.husk.env("HUSK_E2E_FROM_HOST", "host-value");
        let file = env.husk.scratch().join("env");
        fs::write(&file, "A=1\n# a comment\nB=two words\n\nHUSK_E2E_FROM_HOST\n").unwrap();
        husk_tests::rootless::make_accessible(&file).unwrap();
        env.vars.set("envfile", &file.to_string_lossy());
        env.check(&[
            sh(&["-e", "FOO=bar"], "echo $FOO").prints("bar\n"),
            sh(&["--env", "FOO=bar", "-e", "BAZ=a=b"], "echo $FOO $BAZ").prints("bar a=b\n"),
            // NAME alone takes the engine's own value.
            sh(&["-e", "HUSK_E2E_FROM_HOST"], "echo $HUSK_E2E_FROM_HOST").prints("host-value\n"),
            sh(&["--env-file", "{envfile}"], "echo \"$A|$B|$HUSK_E2E_FROM_HOST\"")
                .prints("1|two words|host-value\n"),
            // -e wins over --env-file.
            sh(&["--env-file", "{envfile}", "-e", "A=2"], "echo $A").prints("2\n"),
            sh(&["--env-host"], "echo $HUSK_E2E_FROM_HOST").prints("host-value\n"),
            sh(&[], "echo ${HUSK_E2E_FROM_HOST:-unset}").prints("unset\n"),
            sh(&[], "echo $HOME $PATH").prints(
                "/root /usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n",
            ),
            sh(&["-u", "1000"], "echo $HOME").prints("/home/user\n"),
            sh(&["--hostname", "myhost"], "echo $HOSTNAME").prints("myhost\n"),
            sh(&["-w", "/tmp"], "pwd").prints("/tmp\n"),
            sh(&["--workdir", "/etc"], "pwd").prints("/etc\n"),
            sh(&["-w", "/newdir"], "pwd")
                .fails(126, &["workdir \"/newdir\" does not exist on container"]),
            sh(&["--env-file", "/nonexistent/env"], "true")
                .fails(125, &["/nonexistent/env", "no such file or directory"]),
        ]);
    }
);

flavours!(
    /// -u, --group-add, --hostname, --entrypoint (string, JSON array, and
    /// empty to reset).
    fn user_hostname_entrypoint(env) {
        env.pull();
        env.check(&[
            row(&["run", "--rm", "-u", "1000:1000", "{img}", "id"])
                .prints("uid=1000(user) gid=1000(user) groups=1000(user)\n"),
            row(&["run", "--rm", "--user", "1000", "{img}", "id"])
                .prints("uid=1000(user) gid=1000(user) groups=1000(user)\n"),
            row(&["run", "--rm", "-u", "user", "{img}", "id", "-u"]).prints("1000\n"),
            row(&["run", "--rm", "-u", "1000:65534", "{img}", "id", "-g"]).prints("65534\n"),
            row(&["run", "--rm", "-u", "1000:1000", "--group-add", "65534", "{img}", "id"])
                .prints("uid=1000(user) gid=1000(user) groups=1000(user),65534(nogroup)\n"),
            row(&["run", "--rm", "-u", "1000", "--group-add", "nogroup", "{img}", "id", "-G"])
                .prints("1000 65534\n"),
            row(&["run", "--rm", "-u", "root", "{img}", "id"]).out(re(r"^uid=0\(root\) gid=0\(root\)")),
            row(&["run", "--rm", "{img}", "id", "-u"]).prints("0\n"),
            // An id without a passwd entry gets one (podman's --passwd).
            row(&["run", "--rm", "-u", "2000:3000", "{img}", "id"])
                .prints("uid=2000(2000) gid=3000(3000) groups=3000(3000)\n"),
            row(&["run", "--rm", "-u", "nosuchuser", "{img}", "id"])
                .fails(126, &["nosuchuser"])
                .note("podman: unable to find user nosuchuser: no matching entries in passwd file"),
            row(&["run", "--rm", "--hostname", "myhost", "{img}", "hostname"]).prints("myhost\n"),
            row(&["run", "--rm", "-h", "short-h", "{img}", "hostname"]).prints("short-h\n"),
            row(&["run", "--rm", "--hostname", "etc-h", "{img}", "cat", "/etc/hostname"])
                .out(re(r"^etc-h\n?$"))
                .err(Out::Empty)
                .note("podman 4.3 writes /etc/hostname without a newline"),
            row(&["run", "--rm", "--entrypoint", "echo", "{img}", "hi", "there"])
                .prints("hi there\n"),
            row(&["run", "--rm", "--entrypoint", "[\"sh\",\"-c\"]", "{img}", "echo json-entry"])
                .prints("json-entry\n"),
            row(&["run", "--rm", "--entrypoint", "", "{img}", "echo", "reset"]).prints("reset\n"),
            row(&["run", "--rm", "--entrypoint", "/nonexistent", "{img}"])
                .fails(127, &["/nonexistent"])
                .v5("husk-runtime under podman exits 127 without an error message"),
        ]);
    }
);

flavours!(
    /// --read-only (with and without its tmpfs on /tmp, /run, /var/tmp),
    /// --cap-add, --cap-drop, --privileged, --security-opt.
    fn security(env) {
        env.pull();
        env.check(&[
            sh(&["--read-only"], "touch /x")
                .code(1)
                .out(Out::Empty)
                .err(exact("touch: /x: Read-only file system\n")),
            sh(&["--read-only"], "touch /tmp/x /run/x /var/tmp/x && echo ok").prints("ok\n"),
            sh(&["--read-only", "--read-only-tmpfs=false"], "touch /tmp/x")
                .code(1)
                .err(exact("touch: /tmp/x: Read-only file system\n")),
            sh(&[], "touch /x && echo writable").prints("writable\n"),
            sh(&[], "grep CapEff /proc/self/status")
                .prints(&format!("CapEff:\t{DEFAULT_CAPS}\n"))
                .v5("podman 4.3's defaults add AUDIT_WRITE, MKNOD and NET_RAW (a80425fb)"),
            sh(&["--cap-drop", "ALL"], "grep CapEff /proc/self/status")
                .prints("CapEff:\t0000000000000000\n"),
            sh(&["--cap-drop", "all"], "grep CapPrm /proc/self/status")
                .prints("CapPrm:\t0000000000000000\n"),
            sh(&["--cap-drop", "CHOWN"], "grep CapEff /proc/self/status")
                .prints("CapEff:\t00000000800405fa\n")
                .v5("4.3 defaults differ (see DEFAULT_CAPS)"),
            sh(&["--cap-add", "NET_ADMIN"], "grep CapEff /proc/self/status")
                .prints("CapEff:\t00000000800415fb\n")
                .v5("4.3 defaults differ (see DEFAULT_CAPS)"),
            sh(&["--cap-drop", "ALL", "--cap-add", "CAP_KILL"], "grep CapEff /proc/self/status")
                .prints("CapEff:\t0000000000000020\n"),
            // A non-root user gets no effective capabilities, except those
            // added explicitly (which podman makes ambient).
            sh(&["-u", "1000"], "grep CapEff /proc/self/status")
                .prints("CapEff:\t0000000000000000\n"),
            sh(&["-u", "1000", "--cap-add", "NET_ADMIN"], "grep -E 'CapEff|CapAmb' /proc/self/status")
                .prints("CapEff:\t0000000000001000\nCapAmb:\t0000000000001000\n"),
            sh(&["--privileged"], "grep -E 'CapEff|CapBnd' /proc/self/status").out(check(|t, _| {
                let v: Vec<&str> = t.lines().map(|l| l.split('\t').nth(1).unwrap_or("")).collect();
                let eff = u64::from_str_radix(v.first().copied().unwrap_or(""), 16).map_err(|e| e.to_string())?;
                let bnd = u64::from_str_radix(v.get(1).copied().unwrap_or(""), 16).map_err(|e| e.to_string())?;
                if eff == bnd && eff & (1 << 21) != 0 {
                    Ok(())
                } else {
                    Err(format!("--privileged: CapEff {eff:x} must equal CapBnd {bnd:x} and hold CAP_SYS_ADMIN"))
                }
            })),
            sh(&["--privileged"], "ls /dev | grep -c .").out(check(|t, _| {
                let n: u32 = t.trim().parse().map_err(|_| format!("not a count: {t:?}"))?;
                if n > 20 {
                    Ok(())
                } else {
                    Err(format!("--privileged sees only {n} entries in /dev, want the host's devices"))
                }
            })),
            sh(&[], "grep Seccomp: /proc/self/status").prints("Seccomp:\t2\n"),
            sh(&["--security-opt", "seccomp=unconfined"], "grep Seccomp: /proc/self/status")
                .prints("Seccomp:\t0\n"),
            sh(&["--privileged"], "grep Seccomp: /proc/self/status").prints("Seccomp:\t0\n"),
            sh(&[], "grep NoNewPrivs /proc/self/status").prints("NoNewPrivs:\t0\n"),
            sh(&["--security-opt", "no-new-privileges"], "grep NoNewPrivs /proc/self/status")
                .prints("NoNewPrivs:\t1\n"),
            sh(&["--security-opt", "no-new-privileges=true"], "grep NoNewPrivs /proc/self/status")
                .prints("NoNewPrivs:\t1\n"),
            // No LSM here: label options are accepted and change nothing.
            sh(&["--security-opt", "label=disable"], "echo ok").prints("ok\n"),
            // Masked paths: /sys/firmware is an empty read-only tmpfs by
            // default; unmask= lifts it, mask= adds one.
            sh(&[], "ls /sys/firmware | wc -l").prints("0\n"),
            sh(&["--security-opt", "unmask=/sys/firmware"], "ls /sys/firmware | grep -c .")
                .out(re(r"^[1-9][0-9]*\n$")),
            sh(&["--security-opt", "unmask=ALL"], "ls /sys/firmware | grep -c .")
                .out(re(r"^[1-9][0-9]*\n$")),
            sh(&["--security-opt", "mask=/etc/hostname"], "cat /etc/hostname; echo end").prints("end\n"),
            sh(&["--security-opt", "seccomp=/nonexistent.json"], "true")
                .fails(125, &["seccomp", "/nonexistent.json", "no such file or directory"]),
            sh(&["--security-opt", "bogus"], "true").fails(125, &["--security-opt", "bogus"]),
            sh(&["--cap-add", "BOGUS"], "true").fails(125, &["CAP_BOGUS", "unknown capability"]),
        ]);
    }
);

flavours!(
    /// A seccomp profile from a file: its default action and its rules
    /// apply.
    fn seccomp_profile(env) {
        env.pull();
        let p = env.husk.scratch().join("deny-mkdir.json");
        fs::write(
            &p,
            r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mkdir","mkdirat"],"action":"SCMP_ACT_ERRNO","errnoRet":1}]}"#,
        )
        .unwrap();
        husk_tests::rootless::make_accessible(&p).unwrap();
        env.vars.set("profile", &p.to_string_lossy());
        env.check(&[
            sh(&["--security-opt", "seccomp={profile}"], "mkdir /tmp/d")
                .code(1)
                .out(Out::Empty)
                .err(exact("mkdir: can't create directory '/tmp/d': Operation not permitted\n")),
            sh(&["--security-opt", "seccomp={profile}"], "touch /tmp/f && echo files-ok")
                .prints("files-ok\n"),
        ]);
    }
);

flavours!(
    /// -v (ro, rw, :U, :z/:Z), --mount type=bind|tmpfs, --tmpfs.
    fn mounts(env) {
        env.pull();
        let vol = env.husk.scratch().join("vol");
        fs::create_dir(&vol).unwrap();
        fs::write(vol.join("f"), "data\n").unwrap();
        let (uid, gid) = env.husk.host_ids();
        std::os::unix::fs::chown(&vol, Some(uid), Some(gid)).unwrap();
        std::os::unix::fs::chown(vol.join("f"), Some(uid), Some(gid)).unwrap();
        husk_tests::rootless::make_accessible(&vol).unwrap();
        let u = env.husk.scratch().join("u");
        fs::create_dir(&u).unwrap();
        std::os::unix::fs::chown(&u, Some(uid), Some(gid)).unwrap();
        env.vars.set("vol", &vol.to_string_lossy());
        env.vars.set("u", &u.to_string_lossy());
        env.check(&[
            sh(&["-v", "{vol}:/v"], "cat /v/f; echo new > /v/g").prints("data\n"),
            sh(&["-v", "{vol}:/v:rw"], "cat /v/g").prints("new\n"),
            sh(&["-v", "{vol}:/v:ro"], "cat /v/f; touch /v/x")
                .code(1)
                .out(exact("data\n"))
                .err(exact("touch: /v/x: Read-only file system\n")),
            sh(&["--volume", "{vol}:/v:ro"], "grep ' /v ' /proc/mounts | grep -c ' ro[,\\ ]'")
                .prints("1\n"),
            sh(&["-v", "{vol}:/v:z"], "cat /v/f").prints("data\n"),
            sh(&["-v", "{vol}:/v:Z"], "cat /v/f").prints("data\n"),
            sh(&["-v", "{vol}:/v:ro,z"], "cat /v/f").prints("data\n"),
            // :U chowns the source to the container user.
            sh(&["-u", "1000:1000", "-v", "{u}:/u:U"], "touch /u/mine && stat -c '%u:%g' /u /u/mine")
                .prints("1000:1000\n1000:1000\n"),
            sh(&["--mount", "type=bind,src={vol},dst=/m,ro"], "cat /m/f; touch /m/x")
                .code(1)
                .out(exact("data\n"))
                .err(exact("touch: /m/x: Read-only file system\n")),
            sh(&["--mount", "type=bind,source={vol},target=/m"], "cat /m/f").prints("data\n"),
            sh(&["--mount", "type=tmpfs,dst=/t"], "grep ' /t ' /proc/mounts")
                .out(re(r"^tmpfs /t tmpfs rw,nosuid,nodev,relatime.* 0 0\n$"))
                .err(Out::Empty),
            sh(&["--mount", "type=tmpfs,destination=/t,tmpfs-size=1m"], "grep ' /t ' /proc/mounts")
                .out(re(r"^tmpfs /t tmpfs rw,.*size=1024k.* 0 0\n$"))
                .err(Out::Empty),
            sh(&["--tmpfs", "/t2:size=1m"], "grep ' /t2 ' /proc/mounts")
                .out(re(r"^tmpfs /t2 tmpfs rw,.*size=1024k.* 0 0\n$"))
                .err(Out::Empty),
            sh(&["--tmpfs", "/t3"], "touch /t3/x && echo ok").prints("ok\n"),
            sh(&["-v", "/nonexistent/dir:/x"], "true")
                .fails(125, &["/nonexistent/dir", "no such file or directory"]),
            sh(&["-v", "{vol}:relative"], "true")
                .fails(125, &["invalid container path \"relative\", must be an absolute path"]),
            sh(&["--tmpfs", "relative"], "true")
                .fails(125, &["invalid container path \"relative\", must be an absolute path"]),
            sh(&["--mount", "type=bogus,dst=/x"], "true")
                .fails(125, &["invalid filesystem type \"bogus\""]),
        ]);
        // What the container wrote through the rw bind is on the host.
        assert_eq!(fs::read_to_string(vol.join("g")).unwrap(), "new\n");
        // :U made the host directory the container user's (mapped) owner.
        let owner = std::os::unix::fs::MetadataExt::uid(&fs::metadata(&u).unwrap());
        let want = match env.husk.user() {
            Some(user) => user.subuids[0].start + 999,
            None => 1000,
        };
        assert_eq!(owner, want, "[{}] :U owner of {}", env.husk.flavour(), u.display());
    }
);

flavours!(
    /// --network none and host; the default (husk): a private network
    /// namespace with loopback only.
    fn network(env) {
        env.pull();
        let hostns = fs::read_link("/proc/self/ns/net").unwrap();
        env.vars.set("hostns", &hostns.to_string_lossy());
        env.check(&[
            row(&["run", "--rm", "--network", "none", "{img}", "ls", "/sys/class/net"]).prints("lo\n"),
            row(&["run", "--rm", "--net", "none", "{img}", "ls", "/sys/class/net"]).prints("lo\n"),
            row(&["run", "--rm", "{img}", "ls", "/sys/class/net"])
                .prints("lo\n")
                .v5("husk's default network is a private namespace with loopback only; podman adds eth0 or tap0"),
            row(&["run", "--rm", "--network", "host", "{img}", "readlink", "/proc/self/ns/net"])
                .prints("{hostns}\n")
                .note("the host's own network namespace"),
            row(&["run", "--rm", "{img}", "cat", "/sys/class/net/lo/flags"])
                .prints("0x9\n")
                .note("husk's default: loopback up (IFF_UP|IFF_LOOPBACK)")
                .v5("podman's default network differs"),
            row(&["run", "--rm", "{img}", "readlink", "/proc/self/ns/net"])
                .out(check(|t, v| {
                    if t.trim() != v.get("hostns") && t.starts_with("net:[") {
                        Ok(())
                    } else {
                        Err("want a private network namespace".to_owned())
                    }
                })),
            row(&["run", "--rm", "--network", "bogus", "{img}", "true"]).fails(125, &["bogus"]),
        ]);
    }
);

flavours!(
    /// --label, --annotation, --stop-signal, --stop-timeout, --log-driver,
    /// --log-opt: recorded (inspect) and in effect.
    fn metadata_stop_and_logging(env) {
        env.pull();
        env.start_detached(
            "meta",
            &["--label", "a=b", "-l", "empty", "--annotation", "x=y", "--stop-signal", "SIGINT", "--stop-timeout", "7"],
            &["sh", "-c", "trap 'exit 11' INT; while :; do sleep 0.1; done"],
        );
        let log = env.husk.scratch().join("custom.log");
        env.vars.set("log", &log.to_string_lossy());
        env.check(&[
            row(&["inspect", "--format", "{{index .Config.Labels \"a\"}}|{{index .Config.Labels \"empty\"}}|", "meta"])
                .prints("b||\n"),
            row(&["inspect", "--format", "{{index .Config.Annotations \"x\"}}", "meta"]).prints("y\n"),
            row(&["inspect", "--format", "{{.Config.StopSignal}} {{.Config.StopTimeout}}", "meta"])
                .out(re(r"^(2|SIGINT) 7\n$"))
                .err(Out::Empty)
                .note("podman 4.3 prints the signal number; podman 5 keeps it numeric"),
            row(&["stop", "meta"]).prints("meta\n"),
            row(&["wait", "meta"]).prints("11\n").note("--stop-signal SIGINT ran the INT trap"),
            row(&["run", "--name", "ln", "--log-driver", "none", "{img}", "echo", "hi"])
                .prints("hi\n")
                .note("a foreground run still shows the output"),
            row(&["logs", "ln"]).fails(125, &["'none' log driver"]),
            row(&["run", "--name", "lj", "--log-driver", "json-file", "{img}", "echo", "hi"]).prints("hi\n"),
            row(&["logs", "lj"]).prints("hi\n"),
            row(&["inspect", "--format", "{{.HostConfig.LogConfig.Type}}", "lj"]).prints("json-file\n"),
            row(&["run", "--name", "lp", "--log-driver", "k8s-file", "--log-opt", "path={log}", "{img}", "echo", "custom"])
                .prints("custom\n"),
            row(&["logs", "lp"]).prints("custom\n"),
            row(&["inspect", "--format", "{{.HostConfig.LogConfig.Type}} {{.HostConfig.LogConfig.Path}}", "lp"])
                .prints("k8s-file {log}\n"),
            row(&["run", "--rm", "--log-driver", "bogus", "{img}", "true"])
                .fails(125, &["invalid log driver"]),
            row(&["run", "--rm", "--stop-signal", "BOGUS", "{img}", "true"])
                .fails(125, &["invalid signal: BOGUS"]),
        ]);
        let text = fs::read_to_string(&log).unwrap_or_default();
        assert!(
            regex::Regex::new(r"^\S+ stdout F custom\n$").unwrap().is_match(&text),
            "--log-opt path= file is not k8s-file format: {text:?}"
        );
        // --stop-timeout: a container ignoring its stop signal is killed
        // after the timeout (137), without `stop -t`.
        env.start_detached(
            "stubborn",
            &["--stop-timeout", "1"],
            &["sh", "-c", "trap '' TERM; while :; do sleep 0.1; done"],
        );
        env.check(&[
            row(&["stop", "stubborn"]).out(exact("stubborn\n")),
            row(&["inspect", "--format", "{{.State.ExitCode}}", "stubborn"]).prints("137\n"),
        ]);
    }
);

flavours!(
    /// --init: pid 1 is husk's init, which runs the command as its child
    /// and reaps orphans.
    fn init(env) {
        if podman43() {
            // podman needs catatonit for --init, and this host has none.
            return;
        }
        env.pull();
        env.check(&[
            sh(&["--init"], "echo $$; test \"$(cat /proc/1/comm)\" != sh && echo not-sh")
                .out(re(r"^([2-9]|[1-9][0-9]+)\nnot-sh\n$"))
                .err(Out::Empty)
                .v5("podman needs catatonit, absent here"),
            sh(&["--init"], "exit 7").code(7).out(Out::Empty).v5("no catatonit here"),
            sh(&[], "echo $$").prints("1\n"),
        ]);
        env.start_detached("ini", &["--init"], &["sleep", "1000"]);
        env.check(&[row(&["stop", "-t", "30", "ini"]).prints("ini\n")
            .note("husk's init forwards SIGTERM: sleep dies at once")]);
        env.check(&[row(&["inspect", "--format", "{{.State.ExitCode}}", "ini"])
            .out(re(r"^(0|143)\n$"))
            .note("TERM forwarded, not KILL after the timeout")]);
    }
);

flavours!(
    /// --memory, --memory-swap, --pids-limit, --cpus, --cpu-shares,
    /// --ulimit: recorded in inspect and written to the container's cgroup
    /// (read from the host). Rootless without a delegated cgroup (cgroup v1
    /// and hybrid hosts) podman ignores the limits with a warning.
    fn resources(env) {
        env.pull();
        env.check(&[
            sh(&["--ulimit", "nofile=1024:2048"], "ulimit -n; ulimit -Hn")
                .prints("1024\n2048\n")
                .v5("podman 4.3 then also asks for nproc=1048576, beyond this host's root"),
            sh(&["--ulimit", "nproc=500:600", "--ulimit", "nofile=512"], "ulimit -u; ulimit -n")
                .prints("500\n512\n"),
        ]);
        let limits = [
            "--memory", "64m", "--memory-swap", "128m", "--pids-limit", "100", "--cpus", "0.5",
            "--cpu-shares", "512",
        ];
        let out = {
            let mut args = vec!["run", "-d", "--name", "lim"];
            args.extend_from_slice(&limits);
            args.extend(["{img}", "sleep", "1000"]);
            env.run(&args)
        };
        assert_eq!(out.code(), 0, "[{}] run with limits: {out}", env.husk.flavour());
        env.husk.wait_for_state("lim", "running");
        let applied = !env.rootless_env() || is_unified_host();
        if !applied {
            assert!(
                out.stderr.contains("not supported"),
                "[rootless] limits without a delegated cgroup must be reported: {out}"
            );
            env.check(&[row(&["inspect", "--format", "{{.HostConfig.Memory}}", "lim"]).prints("0\n")]);
            return;
        }
        env.check(&[row(&[
            "inspect",
            "--format",
            "{{.HostConfig.Memory}} {{.HostConfig.MemorySwap}} {{.HostConfig.PidsLimit}} {{.HostConfig.NanoCpus}} {{.HostConfig.CpuShares}} {{.HostConfig.CpuQuota}} {{.HostConfig.CpuPeriod}}",
            "lim",
        ])
        .prints("67108864 134217728 100 500000000 512 50000 100000\n")]);
        let pid = env.husk.pid_of("lim").expect("lim runs");
        let v = |ctrl: &str, file: &str| cgroup_value(pid, ctrl, file).unwrap_or_else(|| format!("<no {ctrl}/{file}>"));
        if is_unified_host() {
            assert_eq!(v("memory", "memory.max"), "67108864");
            assert_eq!(v("memory", "memory.swap.max"), "67108864");
            assert_eq!(v("pids", "pids.max"), "100");
            assert_eq!(v("cpu", "cpu.max"), "50000 100000");
            assert_eq!(v("cpu", "cpu.weight"), "20");
        } else {
            assert_eq!(v("memory", "memory.limit_in_bytes"), "67108864");
            if std::path::Path::new("/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes").exists() {
                assert_eq!(v("memory", "memory.memsw.limit_in_bytes"), "134217728");
            }
            assert_eq!(v("pids", "pids.max"), "100");
            assert_eq!(v("cpu", "cpu.cfs_quota_us"), "50000");
            assert_eq!(v("cpu", "cpu.cfs_period_us"), "100000");
            assert_eq!(v("cpu", "cpu.shares"), "512");
        }
    }
);

flavours!(
    /// --userns host|keep-id|auto|nomap, --uidmap/--gidmap, as podman: the
    /// rootless-only modes are refused rootful.
    fn user_namespaces(env) {
        env.pull();
        if let Some(u) = env.husk.user().cloned() {
            let sub = u.subuids[0];
            env.vars.set("subcount", &sub.count.to_string());
            env.check(&[
                row(&["run", "--rm", "{img}", "cat", "/proc/self/uid_map"]).out(check(move |t, _| {
                    let want_a = format!("{}{}", map_line(0, u.uid.into(), 1), map_line(1, sub.start.into(), sub.count.into()));
                    if t == want_a {
                        Ok(())
                    } else {
                        Err(format!("want the user's own uid as 0 and the subuid range from 1: {want_a:?}"))
                    }
                })),
                row(&["run", "--rm", "--userns", "keep-id", "{img}", "sh", "-c", "id -u; id -g"])
                    .prints("{uid}\n{gid}\n"),
                row(&["run", "--rm", "--userns", "keep-id", "{img}", "sh", "-c", "id -un"])
                    .prints(&format!("{}\n", u.name))
                    .note("keep-id adds the user to the container's /etc/passwd"),
                row(&["run", "--rm", "--userns", "host", "{img}", "id", "-u"]).prints("0\n"),
                // nomap: the user's own uid is not mapped; only the range.
                row(&["run", "--rm", "--userns", "nomap", "{img}", "cat", "/proc/self/uid_map"])
                    .out(re(&format!(r"^\s+0\s+\d+\s+{}\n$", sub.count)))
                    .err(Out::Empty),
                row(&["run", "--rm", "--userns", "auto", "{img}", "cat", "/proc/self/uid_map"])
                    .out(re(r"^\s+0\s+\d+\s+\d+\n$"))
                    .err(Out::Empty),
                // --uidmap is relative to the user's namespace (0 = the
                // user, 1.. = the subordinate range).
                row(&["run", "--rm", "--uidmap", "0:1:1000", "--gidmap", "0:1:1000", "{img}", "cat", "/proc/self/uid_map"])
                    .out(re(r"^\s+0\s+(1|{subuid})\s+1000\n$"))
                    .err(Out::Empty),
            ]);
        } else {
            env.check(&[
                row(&["run", "--rm", "{img}", "cat", "/proc/self/uid_map"])
                    .prints(&map_line(0, 0, 4294967295)),
                row(&["run", "--rm", "--userns", "host", "{img}", "cat", "/proc/self/uid_map"])
                    .prints(&map_line(0, 0, 4294967295)),
                row(&["run", "--rm", "--uidmap", "0:100000:65536", "--gidmap", "0:100000:65536", "{img}", "cat", "/proc/self/uid_map", "/proc/self/gid_map"])
                    .prints(&format!("{}{}", map_line(0, 100000, 65536), map_line(0, 100000, 65536))),
                row(&["run", "--rm", "--uidmap", "0:100000:65536", "--gidmap", "0:100000:65536", "{img}", "sh", "-c", "touch /tmp/x; stat -c %u:%g /tmp/x /etc/passwd"])
                    .prints("0:0\n0:0\n")
                    .note("image files show as the mapped root (idmapped or chowned layers)"),
                row(&["run", "--rm", "--userns", "keep-id", "{img}", "true"])
                    .fails(125, &["keep-id is only supported in rootless mode"]),
                row(&["run", "--rm", "--userns", "nomap", "{img}", "true"])
                    .fails(125, &["nomap is only supported in rootless mode"]),
            ]);
            let has_containers = fs::read_to_string("/etc/subuid")
                .unwrap_or_default()
                .lines()
                .any(|l| l.starts_with("containers:"));
            if has_containers {
                env.check(&[row(&["run", "--rm", "--userns", "auto", "{img}", "cat", "/proc/self/uid_map"])
                    .out(re(r"^\s+0\s+[1-9]\d*\s+\d+\n$"))]);
            } else {
                env.check(&[row(&["run", "--rm", "--userns", "auto", "{img}", "true"])
                    .code(125)
                    .err(error(&["containers"]))
                    .note("rootful auto takes ids from the `containers` user's /etc/subuid range, which this host lacks")]);
            }
        }
        env.check(&[
            row(&["run", "--rm", "--uidmap", "bad", "{img}", "true"]).fails(125, &["malformed", "bad"]),
            row(&["run", "--rm", "--uidmap", "0:100000", "{img}", "true"])
                .fails(125, &["malformed", "0:100000"]),
            row(&["run", "--rm", "--userns", "bogus", "{img}", "true"]).fails(125, &["bogus"]),
        ]);
    }
);
