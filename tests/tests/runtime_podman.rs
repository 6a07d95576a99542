//! A real client drives husk-runtime: Debian's podman with `--runtime`,
//! rootful, with its own storage and state in temp dirs so nothing global is
//! touched. Podman 4.3 asks for nofile/nproc rlimits of 1048576, which no
//! runtime can set on this host (root lacks CAP_SYS_RESOURCE), so the tests
//! pass explicit --ulimit values, as docs/runtime.md tells users to.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use husk_tests::bundle::{runtime_binary, unique};
use husk_tests::fixtures;

const ULIMITS: [&str; 4] = [
    "--ulimit",
    "nofile=4096:4096",
    "--ulimit",
    "nproc=4096:4096",
];

struct Podman {
    dir: tempfile::TempDir,
    runtime: PathBuf,
    image: String,
}

impl Podman {
    /// Podman with private storage, holding the busybox fixture.
    fn new() -> Podman {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = Podman {
            dir,
            runtime: runtime_binary(),
            image: "localhost/husk-fixture/busybox:latest".into(),
        };
        let layout = fixtures::cached("busybox");
        let out = p.run(&[
            "pull",
            "-q",
            &format!("oci:{}:latest", layout.layout_dir.display()),
        ]);
        assert!(out.status.success(), "podman pull: {}", text(&out.stderr));
        let id = text(&out.stdout).trim().to_string();
        let out = p.run(&["tag", &id, &p.image]);
        assert!(out.status.success(), "podman tag: {}", text(&out.stderr));
        p
    }

    fn cmd(&self, args: &[&str]) -> Command {
        let root: &Path = self.dir.path();
        let mut c = Command::new(husk_tests::tools::require(husk_tests::tools::find_tool(
            "HUSK_PODMAN",
            "podman",
        )));
        c.arg("--root")
            .arg(root.join("storage"))
            .arg("--runroot")
            .arg(root.join("run"))
            .arg("--tmpdir")
            .arg(root.join("tmp"))
            .args(["--storage-driver", "vfs", "--cgroup-manager", "cgroupfs"])
            .args(["--events-backend", "file"])
            .arg("--runtime")
            .arg(&self.runtime)
            .args(args);
        c
    }

    fn run(&self, args: &[&str]) -> Output {
        self.cmd(args).output().expect("running podman")
    }
}

impl Drop for Podman {
    fn drop(&mut self) {
        let _ = self.run(&["rm", "-a", "-f", "-t", "0"]);
        // vfs layers may hold read-only dirs; podman removes its own storage.
        let _ = self.run(&["system", "reset", "-f"]);
    }
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn podman_run_rm_prints_output_and_exit_code() {
    let p = Podman::new();
    let mut args = vec!["run", "--rm"];
    args.extend(ULIMITS);
    args.extend([
        &p.image[..],
        "sh",
        "-c",
        "echo hello-from-husk; hostname; exit 3",
    ]);
    let out = p.run(&args);
    assert_eq!(out.status.code(), Some(3), "stderr: {}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.starts_with("hello-from-husk\n"), "stdout: {stdout}");
}

#[test]
fn podman_exec_into_a_running_container() {
    let p = Podman::new();
    let name = unique("podman-exec");
    let mut args = vec!["run", "-d", "--name", &name];
    args.extend(ULIMITS);
    args.extend([&p.image[..], "sleep", "60"]);
    let out = p.run(&args);
    assert!(out.status.success(), "podman run -d: {}", text(&out.stderr));
    // `start` returns once init is released; its execve of sleep follows an
    // instant later (longer on a loaded machine), so look at pid 1 until it
    // is the container's program.
    let mut stdout = String::new();
    for _ in 0..100 {
        let out = p.run(&[
            "exec",
            &name,
            "sh",
            "-c",
            "echo exec-ok; cat /proc/1/cmdline | tr '\\0' ' '",
        ]);
        assert!(out.status.success(), "podman exec: {}", text(&out.stderr));
        stdout = text(&out.stdout);
        assert!(stdout.contains("exec-ok"), "stdout: {stdout}");
        if stdout.contains("sleep 60") {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert!(
        stdout.contains("sleep 60"),
        "pid 1 should be the container's sleep: {stdout}"
    );
    let out = p.run(&["exec", &name, "sh", "-c", "exit 9"]);
    assert_eq!(out.status.code(), Some(9));
    let out = p.run(&["exec", &name, "no-such-program"]);
    assert_eq!(
        out.status.code(),
        Some(127),
        "stderr: {}",
        text(&out.stderr)
    );
    let out = p.run(&["rm", "-f", "-t", "0", &name]);
    assert!(out.status.success(), "podman rm: {}", text(&out.stderr));
}

#[test]
fn podman_run_it_gets_a_terminal() {
    let p = Podman::new();
    // `script` gives podman a terminal of its own; the container's shell
    // reads its commands from it.
    let mut podman = p.cmd(&[]);
    let mut line: Vec<String> = vec![podman.get_program().to_string_lossy().into_owned()];
    line.extend(podman.get_args().map(|a| a.to_string_lossy().into_owned()));
    line.extend(["run", "--rm", "-it"].map(String::from));
    line.extend(ULIMITS.map(String::from));
    line.extend([p.image.clone(), "sh".into()]);
    let quoted: Vec<String> = line.iter().map(|a| format!("'{a}'")).collect();
    podman = Command::new("script");
    podman.args(["-qec", &quoted.join(" "), "/dev/null"]);
    podman.stdin(std::process::Stdio::piped());
    podman.stdout(std::process::Stdio::piped());
    let mut child = podman.spawn().expect("script");
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().unwrap();
        stdin
            .write_all(b"tty; echo interactive-$((6*7)); exit 5\n")
            .unwrap();
    }
    let out = child.wait_with_output().unwrap();
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(5), "stdout: {stdout}");
    assert!(
        stdout.contains("/dev/pts/0"),
        "no pty in the container: {stdout}"
    );
    assert!(stdout.contains("interactive-42"), "stdout: {stdout}");
}

/// Rootless podman runs the runtime as root of its own user namespace (with
/// the user's subuid range mapped); crun 1.8 refuses this on the hybrid host.
#[test]
fn rootless_podman_run_works() {
    let user = husk_tests::rootless::rootless_test("rootless_podman_run_works");
    let runtime = husk_tests::bundle::shared_runtime_binary();
    let layout = fixtures::cached("busybox");
    let dir = tempfile::tempdir().expect("tempdir");
    husk_tests::rootless::make_accessible(dir.path()).expect("accessible");
    let home = dir.path().join("podman");
    std::fs::create_dir(&home).unwrap();
    let chown = Command::new("chown")
        .arg(format!("{}:{}", user.uid, user.gid))
        .arg(&home)
        .status()
        .unwrap();
    assert!(chown.success());
    let podman = |args: &[&str]| -> Output {
        let mut c = user.command("podman");
        c.env("USER", &user.name)
            .arg("--root")
            .arg(home.join("storage"))
            .arg("--runroot")
            .arg(home.join("run"))
            .args(["--storage-driver", "vfs", "--cgroup-manager", "cgroupfs"])
            .args(["--events-backend", "file"])
            .arg("--runtime")
            .arg(&runtime)
            .args(args);
        c.output().expect("running podman as the test user")
    };
    let out = podman(&[
        "pull",
        "-q",
        &format!("oci:{}:latest", layout.layout_dir.display()),
    ]);
    assert!(out.status.success(), "podman pull: {}", text(&out.stderr));
    let image = text(&out.stdout).trim().to_string();
    let mut args = vec!["run", "--rm"];
    args.extend(ULIMITS);
    args.extend([
        &image[..],
        "sh",
        "-c",
        "echo rootless-ok; id -u; cat /proc/self/uid_map; exit 4",
    ]);
    let out = podman(&args);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(4), "stderr: {}", text(&out.stderr));
    assert!(stdout.starts_with("rootless-ok\n0\n"), "stdout: {stdout}");
    let map: Vec<Vec<String>> = stdout
        .lines()
        .skip(2)
        .map(|l| l.split_whitespace().map(String::from).collect())
        .collect();
    assert_eq!(
        map[0],
        ["0", &user.uid.to_string(), "1"],
        "uid_map: {stdout}"
    );
    assert_eq!(
        map.len(),
        2,
        "the subuid range should be mapped too: {stdout}"
    );
    let _ = podman(&["system", "reset", "-f"]);
}
