//! husk-shim's logs end to end: what the container wrote is what the log
//! holds (100 MB of random bytes, by checksum), per-stream order with
//! partial lines, rotation, json-file, none, and the reader (`logs`).

use std::fs;
use std::process::Stdio;
use std::time::Duration;

use husk_tests::bundle::{unique, Bundle, IdMapping};
use husk_tests::rootless::rootless_test;
use husk_tests::shim::{parse_k8s, reassemble, sha256_hex, ShimHost};
use serde_json::Value;

fn run_to_exit(h: &ShimHost, b: &Bundle, id: &str, extra: &[&str]) -> Value {
    h.spawn_ok(b, id, extra);
    h.start(id);
    h.wait_exit(id)
}

fn logs_cmd(h: &ShimHost, id: &str, extra: &[&str]) -> std::process::Output {
    let mut c = h.husk(&["__husk-shim", "logs"]);
    c.arg(h.log(id)).args(extra);
    c.output().expect("running husk __husk-shim logs")
}

#[test]
fn hundred_megabytes_are_logged_identically() {
    let h = ShimHost::new();
    let script = "head -c 104857600 /dev/urandom > /tmp/data && sha256sum /tmp/data > /tmp/sum && cat /tmp/data && rm /tmp/data";
    let b = Bundle::new("busybox", &["sh", "-c", script]);
    let id = unique("big");
    let exit = run_to_exit(&h, &b, &id, &[]);
    assert_eq!(exit["exit_code"], 0, "{exit}");
    let want = fs::read_to_string(b.rootfs().join("tmp/sum")).unwrap();
    let want = want.split_whitespace().next().unwrap().to_owned();
    let log = fs::read(h.log(&id)).unwrap();
    let records = parse_k8s(&log);
    let out = reassemble(&records, "stdout");
    assert_eq!(out.len(), 104_857_600, "bytes of stdout in the log");
    assert_eq!(
        sha256_hex(&out),
        want,
        "the log's stdout differs from what the container wrote"
    );
    assert!(reassemble(&records, "stderr").is_empty());
    // The reader gives the same bytes back.
    let read = logs_cmd(&h, &id, &[]);
    assert!(
        read.status.success(),
        "{}",
        String::from_utf8_lossy(&read.stderr)
    );
    assert_eq!(sha256_hex(&read.stdout), want, "logs reader output differs");
}

fn interleaved_script(n: u32) -> String {
    format!(
        "i=0; while [ $i -lt {n} ]; do echo out$i; echo err$i >&2; printf p$i; printf q$i >&2; printf ' ' ; i=$((i+1)); done; echo end; echo end >&2"
    )
}

fn interleaved_expected(n: u32) -> (Vec<u8>, Vec<u8>) {
    let (mut out, mut err) = (String::new(), String::new());
    for i in 0..n {
        out.push_str(&format!("out{i}\np{i} "));
        err.push_str(&format!("err{i}\nq{i}"));
    }
    out.push_str("end\n");
    err.push_str("end\n");
    (out.into_bytes(), err.into_bytes())
}

#[test]
fn streams_keep_their_order_and_partial_lines_merge() {
    let h = ShimHost::new();
    let b = Bundle::new("busybox", &["sh", "-c", &interleaved_script(3000)]);
    let id = unique("order");
    run_to_exit(&h, &b, &id, &[]);
    let records = parse_k8s(&fs::read(h.log(&id)).unwrap());
    assert!(
        records.iter().any(|r| !r.full),
        "no partial record was written"
    );
    let (out, err) = interleaved_expected(3000);
    assert_eq!(reassemble(&records, "stdout"), out);
    assert_eq!(reassemble(&records, "stderr"), err);
    // Timestamps never go backwards within the file.
    for w in records.windows(2) {
        assert!(w[0].time <= w[1].time, "{} then {}", w[0].time, w[1].time);
    }
    let read = logs_cmd(&h, &id, &[]);
    assert_eq!(read.stdout, out);
    assert_eq!(read.stderr, err);
}

fn numbers(data: &[u8]) -> Vec<u32> {
    String::from_utf8_lossy(data)
        .lines()
        .map(|l| l.parse().unwrap_or_else(|_| panic!("line {l:?}")))
        .collect()
}

#[test]
fn rotation_keeps_the_newest_data() {
    let h = ShimHost::new();
    let b = Bundle::new("busybox", &["seq", "1", "20000"]);
    for files in ["1", "3"] {
        let id = unique("rot");
        run_to_exit(
            &h,
            &b,
            &id,
            &["--log-max-size", "8192", "--log-max-files", files],
        );
        let log = h.log(&id);
        let mut paths = vec![log.clone()];
        for n in 1..files.parse::<u32>().unwrap() {
            paths.insert(0, log.with_extension(format!("log.{n}")));
        }
        let beyond = log.with_extension(format!("log.{files}"));
        assert!(
            !beyond.exists(),
            "{} kept beyond max-files",
            beyond.display()
        );
        let mut all = Vec::new();
        for p in &paths {
            let data = fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            assert!(
                data.len() <= 8192,
                "{} is {} bytes",
                p.display(),
                data.len()
            );
            all.extend(reassemble(&parse_k8s(&data), "stdout"));
        }
        let nums = numbers(&all);
        assert_eq!(nums.last(), Some(&20000), "the newest line is kept");
        let first = nums[0];
        assert!(first > 1, "nothing was rotated away");
        assert_eq!(
            nums,
            (first..=20000).collect::<Vec<_>>(),
            "rotated files are a contiguous suffix"
        );
        let read = logs_cmd(&h, &id, &[]);
        assert_eq!(
            numbers(&read.stdout),
            nums,
            "the reader reads rotated files in order"
        );
        let tail = logs_cmd(&h, &id, &["--tail", "2"]);
        assert_eq!(tail.stdout, b"19999\n20000\n");
    }
}

#[test]
fn json_file_driver_writes_docker_lines() {
    let h = ShimHost::new();
    let b = Bundle::new(
        "busybox",
        &[
            "sh",
            "-c",
            "printf 'a \"q\"\\ttab\\n'; printf 'bad \\377 byte\\n' >&2; printf 'no newline'",
        ],
    );
    let id = unique("json");
    run_to_exit(&h, &b, &id, &["--log-driver", "json-file"]);
    let text = fs::read_to_string(h.log(&id)).expect("json-file log is UTF-8");
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let mut out = String::new();
    let mut err = String::new();
    for l in &lines {
        let t = l["time"].as_str().unwrap();
        assert!(t.ends_with('Z') && t.len() == 30, "time {t:?}");
        match l["stream"].as_str().unwrap() {
            "stdout" => out.push_str(l["log"].as_str().unwrap()),
            "stderr" => err.push_str(l["log"].as_str().unwrap()),
            s => panic!("stream {s}"),
        }
    }
    assert_eq!(out, "a \"q\"\ttab\nno newline");
    assert_eq!(err, "bad \u{fffd} byte\n", "invalid UTF-8 becomes U+FFFD");
    let read = logs_cmd(&h, &id, &["--log-driver", "json-file"]);
    assert_eq!(String::from_utf8_lossy(&read.stdout), out);
}

#[test]
fn none_driver_writes_nothing_and_still_records_the_exit() {
    let h = ShimHost::new();
    let b = Bundle::new("busybox", &["sh", "-c", "echo hidden; exit 4"]);
    let id = unique("none");
    let exit = run_to_exit(&h, &b, &id, &["--log-driver", "none"]);
    assert_eq!(exit["exit_code"], 4);
    assert!(
        !h.log(&id).exists(),
        "a log was written with --log-driver none"
    );
}

#[test]
fn follow_reads_until_the_container_exits() {
    let h = ShimHost::new();
    let b = Bundle::new(
        "busybox",
        &[
            "sh",
            "-c",
            "for i in $(seq 1 30); do echo $i; sleep 0.05; done",
        ],
    );
    let id = unique("follow");
    h.spawn_ok(&b, &id, &[]);
    let mut c = h.husk(&["__husk-shim", "logs", "--follow", "--exit-file"]);
    c.arg(h.exit_file(&id))
        .arg(h.log(&id))
        .stdout(Stdio::piped());
    let child = c.spawn().unwrap();
    std::thread::sleep(Duration::from_millis(100));
    h.start(&id);
    // The follower ends by itself once the exit is recorded.
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    assert_eq!(numbers(&out.stdout), (1..=30).collect::<Vec<_>>());
}

#[test]
fn rootless_logs_are_identical() {
    let user = rootless_test("rootless_logs_are_identical");
    let h = ShimHost::rootless(&user);
    let b = Bundle::rootless(
        &user,
        IdMapping::Single,
        "busybox",
        &["sh", "-c", &interleaved_script(500)],
    );
    let id = unique("rl-logs");
    let exit = run_to_exit(&h, &b, &id, &[]);
    assert_eq!(exit["exit_code"], 0, "{exit}");
    let records = parse_k8s(&fs::read(h.log(&id)).unwrap());
    let (out, err) = interleaved_expected(500);
    assert_eq!(reassemble(&records, "stdout"), out);
    assert_eq!(reassemble(&records, "stderr"), err);
}
