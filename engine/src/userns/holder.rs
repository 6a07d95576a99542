//! The process that keeps husk's rootless user namespace between commands
//! (podman calls its own the pause process).
//!
//! Making the namespace costs a fork and two setuid helper execs
//! (newuidmap, newgidmap): 3 to 5 ms of every rootless command. So the
//! first command that needs it leaves a holder behind, a husk re-executed
//! as `husk-userns` that only waits for SIGTERM, and records its pid in
//! `husk-userns.pid` of the user's runtime directory. Later commands join
//! its namespace with one setns(2).
//!
//! A recorded pid is trusted only when the process there is still a holder
//! of this user with the maps husk would write now: its name is
//! `husk-userns`, its namespace is owned by this uid, and its uid_map and
//! gid_map are the ones [`super::uid_map`] and [`super::gid_map`] give. A
//! dead holder, a reused pid or changed /etc/subuid ranges therefore all
//! lead to a fresh holder, never to a wrong namespace. Killing the holder
//! is always safe: running containers keep their namespace through their
//! shims, and the next command makes a new one.

use std::fs::File;
use std::io::Write;
use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use nix::sched::CloneFlags;
use nix::unistd::{fork, ForkResult, Pid};
use oci_spec::runtime::LinuxIdMapping;

use super::{sys, IdContext, UsernsError};

/// The argv[0] file name that selects holder mode in `main`, and the
/// holder's process name.
pub const HOLDER_ARGV0: &str = "husk-userns";

/// [`HOLDER_ARGV0`] for system calls.
const HOLDER_ARGV0_C: &std::ffi::CStr = c"husk-userns";

/// The pid file's name in the runtime directory.
pub const PID_FILE: &str = "husk-userns.pid";

/// Whether argv[0] asks for the holder.
pub fn is_holder_argv0(argv0: &std::ffi::OsStr) -> bool {
    Path::new(argv0)
        .file_name()
        .is_some_and(|n| n == HOLDER_ARGV0)
}

/// The holder's life: named `husk-userns` (the exec through
/// /proc/self/exe named it `exe`), then waiting for SIGTERM or SIGINT as a
/// pod's pause does.
///
/// Once named, it tells the husk that made it through [`READY_FD`], so
/// that no command sees the pid before the name.
pub fn holder_main() -> std::process::ExitCode {
    // SAFETY: PR_SET_NAME reads a NUL-terminated string of at most 16 bytes.
    unsafe { libc::prctl(libc::PR_SET_NAME, HOLDER_ARGV0_C.as_ptr()) };
    // SAFETY: fstat fills the local struct; write and close act on fd 3
    // only when it is a pipe, which the spawning husk left there.
    unsafe {
        let mut st: libc::stat = std::mem::zeroed();
        if libc::fstat(READY_FD, &mut st) == 0 && st.st_mode & libc::S_IFMT == libc::S_IFIFO {
            libc::write(READY_FD, [1u8].as_ptr().cast(), 1);
            libc::close(READY_FD);
        }
    }
    crate::pod::pause::pause_main()
}

/// The fd on which a new holder reports that it is up (a pipe).
const READY_FD: i32 = 3;

/// The directory of the holder's pid file for host user `uid`:
/// `$XDG_RUNTIME_DIR`, else `/tmp/husk-UID` (made 0700 here). `None` when
/// it is not a directory of this user's, so no one else can plant a pid.
pub fn runtime_dir(uid: u32) -> Option<PathBuf> {
    let dir = match std::env::var_os("XDG_RUNTIME_DIR").filter(|v| !v.is_empty()) {
        Some(d) => PathBuf::from(d),
        None => {
            let d = PathBuf::from(format!("/tmp/husk-{uid}"));
            let _ = std::fs::DirBuilder::new().mode(0o700).create(&d);
            d
        }
    };
    let meta = std::fs::symlink_metadata(&dir).ok()?;
    (meta.is_dir() && meta.uid() == uid && meta.permissions().mode() & 0o022 == 0).then_some(dir)
}

/// The maps of a namespace as /proc shows them: (inside, outside, count).
type Map = Vec<(u32, u32, u32)>;

fn wanted(maps: &[LinuxIdMapping]) -> Map {
    maps.iter()
        .map(|m| (m.container_id(), m.host_id(), m.size()))
        .collect()
}

fn read_map(path: &str) -> Option<Map> {
    let text = std::fs::read_to_string(path).ok()?;
    text.lines()
        .map(|l| {
            let mut f = l.split_whitespace().map(|x| x.parse::<u32>());
            match (f.next(), f.next(), f.next()) {
                (Some(Ok(a)), Some(Ok(b)), Some(Ok(c))) => Some((a, b, c)),
                _ => None,
            }
        })
        .collect()
}

/// ioctl(2) request: the uid that owns a user namespace (linux/nsfs.h).
const NS_GET_OWNER_UID: libc::c_ulong = 0xb704;

fn owner_uid(ns: &File) -> Option<u32> {
    let mut uid: libc::uid_t = 0;
    // SAFETY: NS_GET_OWNER_UID writes one uid_t through the pointer, which
    // points at a live local.
    let r = unsafe { libc::ioctl(ns.as_raw_fd(), NS_GET_OWNER_UID, &mut uid) };
    (r == 0).then_some(uid)
}

/// The user namespace of holder `pid`, if it is one this user may join
/// for `ids` (see the module's rules).
fn holder_ns(pid: i32, ids: &IdContext) -> Option<File> {
    let ns = File::open(format!("/proc/{pid}/ns/user")).ok()?;
    let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).ok()?;
    if comm.trim_end() != HOLDER_ARGV0 || owner_uid(&ns) != Some(ids.uid) || !alive(pid) {
        return None;
    }
    if read_map(&format!("/proc/{pid}/uid_map"))? != wanted(&super::uid_map(ids))
        || read_map(&format!("/proc/{pid}/gid_map"))? != wanted(&super::gid_map(ids))
    {
        return None;
    }
    // The checks above read /proc/PID; the pid must still be the process
    // whose namespace was opened.
    let now = std::fs::metadata(format!("/proc/{pid}/ns/user")).ok()?;
    let opened = ns.metadata().ok()?;
    (now.ino() == opened.ino() && now.dev() == opened.dev()).then_some(ns)
}

/// Whether `pid` is running, not a zombie left unreaped (a killed holder
/// whose parent has not waited for it yet).
fn alive(pid: i32) -> bool {
    husk_runtime::state::proc_stat(pid).is_some_and(|(state, _)| !matches!(state, 'Z' | 'X'))
}

fn recorded(file: &Path, ids: &IdContext) -> Option<File> {
    let text = std::fs::read_to_string(file).ok()?;
    holder_ns(text.trim().parse().ok()?, ids)
}

/// Joins the user namespace `ns`, becoming its root.
fn join_ns(ns: &File) -> Result<(), UsernsError> {
    nix::sched::setns(ns.as_fd(), CloneFlags::CLONE_NEWUSER)
        .map_err(sys("joining husk's user namespace"))?;
    super::become_root()
}

/// Joins the recorded holder's namespace, or makes a holder and joins its
/// namespace; with no usable runtime directory the holder lives only as
/// long as this call.
pub fn join_or_make(ids: &IdContext, dir: Option<&Path>) -> Result<(), UsernsError> {
    let Some(dir) = dir else {
        let (pid, ns) = spawn(ids)?;
        join_ns(&ns)?;
        // This process now keeps the namespace itself.
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL);
        let _ = nix::sys::wait::waitpid(pid, None);
        return Ok(());
    };
    let file = dir.join(PID_FILE);
    if let Some(ns) = recorded(&file, ids) {
        return join_ns(&ns);
    }
    // Only one command makes the holder: the others wait here, then find
    // and join the winner's.
    let _locked = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .mode(0o600)
        .open(dir.join("husk-userns.lock"))
        .ok()
        .and_then(|f| nix::fcntl::Flock::lock(f, nix::fcntl::FlockArg::LockExclusive).ok());
    if let Some(ns) = recorded(&file, ids) {
        return join_ns(&ns);
    }
    let (pid, ns) = spawn(ids)?;
    record(&file, pid);
    join_ns(&ns)
}

/// Writes the pid file whole (a temporary file renamed over it), so a
/// reader never sees half a pid. A failure only costs later commands
/// their shortcut.
fn record(file: &Path, pid: Pid) {
    let tmp = file.with_extension(format!("pid.{}", std::process::id()));
    let ok = File::options()
        .create(true)
        .truncate(true)
        .write(true)
        .mode(0o644)
        .open(&tmp)
        .and_then(|mut f| writeln!(f, "{pid}"))
        .and_then(|()| std::fs::rename(&tmp, file));
    if ok.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
}

/// Forks the holder: the child makes a new user namespace, waits for the
/// maps this process writes (newuidmap/newgidmap), then re-executes husk
/// as `husk-userns` in a session of its own, with no environment and no
/// open files but /dev/null and the pipe on which it reports that it is
/// up. Returns its pid and its namespace once it is. Call it
/// single-threaded.
fn spawn(ids: &IdContext) -> Result<(Pid, File), UsernsError> {
    let pipe = || nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(sys("creating a pipe"));
    let (unshared_r, unshared_w) = pipe()?;
    let (go_r, go_w) = pipe()?;
    let (up_r, up_w) = pipe()?;
    let fds = ChildFds {
        unshared: unshared_w.as_raw_fd(),
        go: go_r.as_raw_fd(),
        up: up_w.as_raw_fd(),
        parents: [unshared_r.as_raw_fd(), go_w.as_raw_fd(), up_r.as_raw_fd()],
    };
    // SAFETY: the caller is single-threaded; the child only makes system
    // calls and then execs or exits.
    match unsafe { fork() }.map_err(sys("forking husk's user namespace holder"))? {
        ForkResult::Child => child(&fds),
        ForkResult::Parent { child } => {
            drop((unshared_w, go_r, up_w));
            let made = parent(child, ids, &unshared_r, go_w, &up_r);
            if made.is_err() {
                let _ = nix::sys::signal::kill(child, nix::sys::signal::Signal::SIGKILL);
                let _ = nix::sys::wait::waitpid(child, None);
            }
            made.map(|ns| (child, ns))
        }
    }
}

/// The child's ends of the set-up pipes.
struct ChildFds {
    unshared: RawFd,
    go: RawFd,
    up: RawFd,
    /// The parent's ends, closed first (a `go` write end left open here
    /// would keep the child waiting if the parent fails).
    parents: [RawFd; 3],
}

fn child(fds: &ChildFds) -> ! {
    // SAFETY: plain system calls on fds this process owns and on static
    // strings; execve replaces the process or fails, and
    // _exit ends it without running anything else.
    unsafe {
        for fd in fds.parents {
            libc::close(fd);
        }
        libc::setsid();
        let ok = libc::unshare(libc::CLONE_NEWUSER) == 0;
        libc::write(fds.unshared, [u8::from(ok)].as_ptr().cast(), 1);
        let mut b = 0u8;
        if !ok || libc::read(fds.go, (&mut b as *mut u8).cast(), 1) != 1 || b != 1 {
            libc::_exit(1);
        }
        let null = libc::open(c"/dev/null".as_ptr(), libc::O_RDWR);
        // Above the fds it replaces, then onto READY_FD without CLOEXEC.
        let up = libc::fcntl(fds.up, libc::F_DUPFD_CLOEXEC, 10);
        for fd in 0..3 {
            libc::dup2(null, fd);
        }
        libc::dup2(up, READY_FD);
        libc::syscall(
            libc::SYS_close_range,
            READY_FD as u32 + 1,
            u32::MAX,
            libc::CLOSE_RANGE_CLOEXEC,
        );
        let argv = [HOLDER_ARGV0_C.as_ptr(), std::ptr::null()];
        let envp: [*const libc::c_char; 1] = [std::ptr::null()];
        libc::execve(c"/proc/self/exe".as_ptr(), argv.as_ptr(), envp.as_ptr());
        libc::_exit(127)
    }
}

fn read_byte(fd: &OwnedFd) -> Option<u8> {
    let mut b = [0u8; 1];
    matches!(nix::unistd::read(fd.as_raw_fd(), &mut b), Ok(1)).then_some(b[0])
}

fn parent(
    child: Pid,
    ids: &IdContext,
    unshared: &OwnedFd,
    go: OwnedFd,
    up: &OwnedFd,
) -> Result<File, UsernsError> {
    if read_byte(unshared) != Some(1) {
        return Err(UsernsError::Sys {
            what: "creating the rootless user namespace (unshare)",
            source: nix::errno::Errno::EPERM,
        });
    }
    let ns = super::open_ns(child.as_raw(), "opening the new user namespace")?;
    husk_runtime::idmap::write_maps(child, &super::uid_map(ids), &super::gid_map(ids))?;
    nix::unistd::write(&go, &[1]).map_err(sys("starting the namespace holder"))?;
    drop(go);
    // End of file instead of the byte: the exec failed.
    if read_byte(up) != Some(1) {
        return Err(UsernsError::Sys {
            what: "starting the namespace holder (husk-userns)",
            source: nix::errno::Errno::ENOEXEC,
        });
    }
    Ok(ns)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_proc_maps() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("uid_map");
        std::fs::write(
            &p,
            "         0       1001          1\n         1     100000      65536\n",
        )
        .unwrap();
        assert_eq!(
            read_map(p.to_str().unwrap()),
            Some(vec![(0, 1001, 1), (1, 100000, 65536)])
        );
        std::fs::write(&p, "0 x 1\n").unwrap();
        assert_eq!(read_map(p.to_str().unwrap()), None);
    }

    #[test]
    fn holder_argv0() {
        assert!(is_holder_argv0("husk-userns".as_ref()));
        assert!(is_holder_argv0("/x/husk-userns".as_ref()));
        assert!(!is_holder_argv0("husk".as_ref()));
    }

    #[test]
    fn a_process_that_is_no_holder_is_not_joined() {
        let ids = super::super::load_ids(nix::unistd::getuid().as_raw(), 0);
        assert!(holder_ns(std::process::id() as i32, &ids).is_none());
        assert!(holder_ns(i32::MAX, &ids).is_none());
    }
}
