//! Driving husk-shim end to end: the `husk` binary's internal shim command
//! line (`husk __husk-shim spawn|attach|logs`), a client of the attach
//! protocol written from docs/shim.md (independently of the shim crate),
//! a k8s-file parser, and the attach client run under a real pty.

use std::ffi::OsStr;
use std::fs;
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use sha2::{Digest as _, Sha256};

use crate::bundle::{status_timeout, wait_readable, Bundle, Output, Runtime};
use crate::rootless::TestUser;

pub use crate::husk::{husk_binary, shared_husk_binary, HUSK_BIN};

/// A state root, a work directory for logs, exit files and attach sockets,
/// and the binaries, as root or as the test user.
#[derive(Debug)]
pub struct ShimHost {
    /// The runtime (state root, start, kill, delete).
    pub rt: Runtime,
    user: Option<TestUser>,
    work: tempfile::TempDir,
    husk: PathBuf,
}

impl ShimHost {
    /// Rootful.
    pub fn new() -> ShimHost {
        let rt = Runtime::new();
        fs::create_dir_all(rt.root()).unwrap();
        ShimHost {
            rt,
            user: None,
            work: tempfile::Builder::new()
                .prefix("husk-shim-")
                .tempdir()
                .unwrap(),
            husk: husk_binary(),
        }
    }

    /// As the rootless test user: the state root and work dir are its own.
    pub fn rootless(user: &TestUser) -> ShimHost {
        let rt = Runtime::rootless(user);
        fs::create_dir_all(rt.root()).unwrap();
        std::os::unix::fs::chown(rt.root(), Some(user.uid), Some(user.gid)).unwrap();
        let work = tempfile::Builder::new()
            .prefix("husk-shim-")
            .tempdir()
            .unwrap();
        crate::rootless::make_accessible(work.path()).unwrap();
        std::os::unix::fs::chown(work.path(), Some(user.uid), Some(user.gid)).unwrap();
        ShimHost {
            rt,
            user: Some(user.clone()),
            work,
            husk: shared_husk_binary(),
        }
    }

    /// The work directory (writable by whoever runs the shim).
    pub fn work(&self) -> &Path {
        self.work.path()
    }

    /// `<work>/<id>.log`.
    pub fn log(&self, id: &str) -> PathBuf {
        self.work().join(format!("{id}.log"))
    }

    /// `<work>/<id>.exit`.
    pub fn exit_file(&self, id: &str) -> PathBuf {
        self.work().join(format!("{id}.exit"))
    }

    /// `<work>/<id>.d`, the attach directory (made on first use).
    pub fn attach_dir(&self, id: &str) -> PathBuf {
        let d = self.work().join(format!("{id}.d"));
        if !d.exists() {
            fs::create_dir(&d).unwrap();
            if let Some(u) = &self.user {
                std::os::unix::fs::chown(&d, Some(u.uid), Some(u.gid)).unwrap();
            }
        }
        d
    }

    /// The attach socket of `id`.
    pub fn socket(&self, id: &str) -> PathBuf {
        self.attach_dir(id).join("attach")
    }

    /// `husk ARGS` as root or the test user.
    pub fn husk<S: AsRef<OsStr>>(&self, args: &[S]) -> Command {
        let mut c = match &self.user {
            Some(u) => u.command(&self.husk),
            None => Command::new(&self.husk),
        };
        c.args(args);
        c
    }

    /// The spawn command line for `id` with the default paths plus `extra`.
    pub fn spawn_cmd(&self, bundle: &Bundle, id: &str, extra: &[&str]) -> Command {
        let mut c = self.husk(&["__husk-shim", "spawn", "--id", id]);
        c.arg("--bundle")
            .arg(bundle.path())
            .arg("--root")
            .arg(self.rt.root())
            .arg("--log-path")
            .arg(self.log(id))
            .arg("--exit-file")
            .arg(self.exit_file(id))
            .arg("--attach-dir")
            .arg(self.attach_dir(id))
            .args(extra);
        c
    }

    /// Runs spawn to completion.
    pub fn spawn(&self, bundle: &Bundle, id: &str, extra: &[&str]) -> Output {
        let out = self
            .spawn_cmd(bundle, id, extra)
            .stdin(Stdio::null())
            .output()
            .expect("running husk __husk-shim spawn");
        Output {
            status: out.status,
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// Spawns and checks it worked: `(container pid, shim pid)`.
    #[track_caller]
    pub fn spawn_ok(&self, bundle: &Bundle, id: &str, extra: &[&str]) -> (i32, i32) {
        let out = self.spawn(bundle, id, extra);
        out.ok();
        parse_pids(&out.stdout)
    }

    /// `husk-runtime start ID`.
    #[track_caller]
    pub fn start(&self, id: &str) {
        self.rt.output(&["start", id]).ok();
    }

    /// Waits for the exit record of `id` and returns it parsed.
    #[track_caller]
    pub fn wait_exit(&self, id: &str) -> Value {
        let path = self.exit_file(id);
        let deadline = Instant::now() + status_timeout() * 4;
        while Instant::now() < deadline {
            if let Ok(text) = fs::read_to_string(&path) {
                return serde_json::from_str(&text)
                    .unwrap_or_else(|e| panic!("exit file {text:?}: {e}"));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("no exit file {} for {id}", path.display());
    }
}

impl Default for ShimHost {
    fn default() -> Self {
        ShimHost::new()
    }
}

/// `"CONTAINER_PID SHIM_PID"` as spawn prints it.
pub fn parse_pids(stdout: &str) -> (i32, i32) {
    let mut it = stdout
        .split_whitespace()
        .map(|s| s.parse::<i32>().expect("a pid"));
    (
        it.next().expect("container pid"),
        it.next().expect("shim pid"),
    )
}

/// Waits until `pid` is gone (a zombie counts as gone); true if it went.
pub fn wait_gone(pid: i32, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        let st = fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        let state = st.rfind(')').and_then(|i| st[i + 2..].chars().next());
        if matches!(state, None | Some('Z') | Some('X')) {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// One k8s-file record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// The timestamp as written.
    pub time: String,
    /// `stdout` or `stderr`.
    pub stream: String,
    /// `true` for `F`.
    pub full: bool,
    /// The bytes.
    pub content: Vec<u8>,
}

/// Parses a k8s-file log, checking every record's shape: an RFC 3339
/// timestamp with 9 fraction digits and a numeric offset, a stream, P or F.
#[track_caller]
pub fn parse_k8s(data: &[u8]) -> Vec<Record> {
    let mut out = Vec::new();
    let mut rest = data;
    while !rest.is_empty() {
        let end = rest
            .iter()
            .position(|&c| c == b'\n')
            .expect("last record ends with \\n");
        let line = &rest[..end];
        rest = &rest[end + 1..];
        let mut f = line.splitn(4, |&c| c == b' ');
        let time = String::from_utf8(f.next().unwrap().to_vec()).expect("time is text");
        let b = time.as_bytes();
        assert!(
            time.len() == 35
                && b[10] == b'T'
                && b[19] == b'.'
                && (b[29] == b'+' || b[29] == b'-')
                && b[32] == b':',
            "timestamp {time:?} is not RFC 3339 with nanoseconds and a numeric offset"
        );
        let stream = String::from_utf8(f.next().unwrap().to_vec()).unwrap();
        assert!(
            stream == "stdout" || stream == "stderr",
            "stream {stream:?}"
        );
        let tag = f.next().unwrap();
        assert!(tag == b"F" || tag == b"P", "tag {tag:?}");
        out.push(Record {
            time,
            stream,
            full: tag == b"F",
            content: f.next().unwrap_or_default().to_vec(),
        });
    }
    out
}

/// The bytes one stream wrote, put back together from k8s records.
pub fn reassemble(records: &[Record], stream: &str) -> Vec<u8> {
    let mut out = Vec::new();
    for r in records.iter().filter(|r| r.stream == stream) {
        out.extend_from_slice(&r.content);
        if r.full {
            out.push(b'\n');
        }
    }
    out
}

/// Hex sha256.
pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

/// What an attach connection received.
#[derive(Debug, Default, Clone)]
pub struct Received {
    /// STDOUT frames' bytes.
    pub stdout: Vec<u8>,
    /// STDERR frames' bytes.
    pub stderr: Vec<u8>,
    /// The EXIT frame's code.
    pub exit: Option<i32>,
}

/// A client of the attach protocol (docs/shim.md), frame by frame.
#[derive(Debug)]
pub struct AttachConn {
    sock: UnixStream,
    /// The HELLO flags.
    pub flags: u8,
    buf: Vec<u8>,
    /// Everything received so far.
    pub got: Received,
}

impl AttachConn {
    /// Connects and reads the HELLO frame.
    pub fn connect(path: &Path) -> AttachConn {
        let sock = UnixStream::connect(path)
            .unwrap_or_else(|e| panic!("connecting to {}: {e}", path.display()));
        let mut c = AttachConn {
            sock,
            flags: 0,
            buf: Vec::new(),
            got: Received::default(),
        };
        let mut h = [0u8; 6];
        c.sock.read_exact(&mut h).expect("reading HELLO");
        assert_eq!(&h[..5], &[0x10, 0, 0, 0, 1], "HELLO frame");
        c.flags = h[5];
        c
    }

    fn frame(&mut self, ty: u8, payload: &[u8]) {
        let mut f = vec![ty];
        f.extend_from_slice(&(payload.len() as u32).to_be_bytes());
        f.extend_from_slice(payload);
        self.sock
            .write_all(&f)
            .expect("writing to the attach socket");
    }

    /// Sends bytes for the container's stdin.
    pub fn stdin(&mut self, data: &[u8]) {
        self.frame(0x01, data);
    }

    /// Sends a resize.
    pub fn resize(&mut self, rows: u16, cols: u16) {
        let mut p = rows.to_be_bytes().to_vec();
        p.extend_from_slice(&cols.to_be_bytes());
        self.frame(0x02, &p);
    }

    /// Says the client's stdin ended.
    pub fn close_stdin(&mut self) {
        self.frame(0x03, &[]);
    }

    /// Claims the cleanup after the exit (CLAIM_CLEANUP).
    pub fn claim_cleanup(&mut self) {
        self.frame(0x04, &[]);
    }

    /// Reports the claimed cleanup done (CLEANED).
    pub fn cleaned(&mut self) {
        self.frame(0x05, &[]);
    }

    /// Reads frames until `done(&received)` or the connection ends or
    /// `timeout` passes; returns whether `done` held.
    pub fn read_until(&mut self, timeout: Duration, done: impl Fn(&Received) -> bool) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            while self.buf.len() >= 5 {
                let len = u32::from_be_bytes(self.buf[1..5].try_into().unwrap()) as usize;
                if self.buf.len() < 5 + len {
                    break;
                }
                let payload = self.buf[5..5 + len].to_vec();
                match self.buf[0] {
                    0x11 => self.got.stdout.extend_from_slice(&payload),
                    0x12 => self.got.stderr.extend_from_slice(&payload),
                    0x13 => {
                        self.got.exit = Some(i32::from_be_bytes(payload[..4].try_into().unwrap()))
                    }
                    t => panic!("unexpected frame type {t:#x}"),
                }
                self.buf.drain(..5 + len);
            }
            if done(&self.got) {
                return true;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() || wait_readable(self.sock.as_raw_fd(), left).is_err() {
                return false;
            }
            let mut b = [0u8; 65536];
            match self.sock.read(&mut b) {
                Ok(0) | Err(_) => return done(&self.got),
                Ok(n) => self.buf.extend_from_slice(&b[..n]),
            }
        }
    }

    /// Reads until the EXIT frame; returns what was received.
    #[track_caller]
    pub fn until_exit(&mut self) -> Received {
        assert!(
            self.read_until(status_timeout() * 4, |r| r.exit.is_some()),
            "no EXIT frame; got {:?}",
            self.got
        );
        self.got.clone()
    }
}

/// A pty pair: the master for the test, the slave for a child's stdio.
pub fn openpty(rows: u16, cols: u16) -> (OwnedFd, OwnedFd) {
    let (mut m, mut s) = (0, 0);
    let ws = libc::winsize {
        ws_row: rows,
        ws_col: cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: openpty writes two fds into the valid ints given; the name
    // and termios pointers may be null; ws is a valid winsize.
    let r = unsafe { libc::openpty(&mut m, &mut s, std::ptr::null_mut(), std::ptr::null(), &ws) };
    assert_eq!(r, 0, "openpty: {}", std::io::Error::last_os_error());
    // SAFETY: openpty returned two new fds that nobody else owns.
    unsafe { (OwnedFd::from_raw_fd(m), OwnedFd::from_raw_fd(s)) }
}

/// Sets the size of a pty (through its master).
pub fn set_pty_size(master: &OwnedFd, rows: u16, cols: u16) {
    let ws = libc::winsize {
        ws_row: rows,
        ws_col: cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    assert_eq!(
        // SAFETY: TIOCSWINSZ reads a winsize from the valid pointer given.
        unsafe { libc::ioctl(master.as_raw_fd(), libc::TIOCSWINSZ, &ws) },
        0
    );
}

/// Runs `cmd` with the pty slave as its stdio and controlling terminal (in
/// a new session), as an interactive terminal would.
pub fn spawn_on_pty(mut cmd: Command, slave: &OwnedFd) -> Child {
    let fd = slave.as_raw_fd();
    cmd.stdin(Stdio::from(slave.try_clone().unwrap()))
        .stdout(Stdio::from(slave.try_clone().unwrap()))
        .stderr(Stdio::from(slave.try_clone().unwrap()));
    let _ = fd;
    // SAFETY: setsid and ioctl are async-signal-safe; fd 0 is the slave.
    unsafe {
        cmd.pre_exec(|| {
            if libc::setsid() < 0 || libc::ioctl(0, libc::TIOCSCTTY, 0) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    cmd.spawn().expect("spawning on the pty")
}

/// Writes all of `data` to a raw fd.
pub fn write_fd(fd: &OwnedFd, data: &[u8]) {
    // SAFETY: data is valid for reads of its length; fd is open.
    let n = unsafe { libc::write(fd.as_raw_fd(), data.as_ptr().cast(), data.len()) };
    assert_eq!(n, data.len() as isize, "short write");
}
