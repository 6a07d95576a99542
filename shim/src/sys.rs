//! Thin wrappers over the system calls the shim makes, each returning
//! `io::Result`, so that the rest of the crate has no `unsafe`.

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

fn check(r: libc::c_int) -> io::Result<libc::c_int> {
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r)
    }
}

fn check_size(r: libc::ssize_t) -> io::Result<usize> {
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r as usize)
    }
}

/// Retries `f` while it fails with EINTR.
pub fn retry<T>(mut f: impl FnMut() -> io::Result<T>) -> io::Result<T> {
    loop {
        match f() {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            other => return other,
        }
    }
}

/// A pipe, both ends close-on-exec: `(read, write)`.
pub fn pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0 as RawFd; 2];
    // SAFETY: pipe2 writes two fds into the valid two-element array.
    check(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) })?;
    // SAFETY: pipe2 succeeded; both fds are new and owned by nobody else.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// A connected pair of close-on-exec unix stream sockets.
pub fn socketpair() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0 as RawFd; 2];
    // SAFETY: socketpair writes two fds into the valid two-element array.
    check(unsafe {
        libc::socketpair(
            libc::AF_UNIX,
            libc::SOCK_STREAM | libc::SOCK_CLOEXEC,
            0,
            fds.as_mut_ptr(),
        )
    })?;
    // SAFETY: socketpair succeeded; both fds are new and ours.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// read(2) into `buf`.
pub fn read(fd: BorrowedFd<'_>, buf: &mut [u8]) -> io::Result<usize> {
    // SAFETY: buf is valid for writes of buf.len() bytes.
    check_size(unsafe { libc::read(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) })
}

/// write(2) from `buf`.
pub fn write(fd: BorrowedFd<'_>, buf: &[u8]) -> io::Result<usize> {
    // SAFETY: buf is valid for reads of buf.len() bytes.
    check_size(unsafe { libc::write(fd.as_raw_fd(), buf.as_ptr().cast(), buf.len()) })
}

/// Writes all of `buf` to a blocking fd.
pub fn write_all(fd: BorrowedFd<'_>, mut buf: &[u8]) -> io::Result<()> {
    while !buf.is_empty() {
        match write(fd, buf) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => buf = &buf[n..],
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Reads exactly `buf.len()` bytes from a blocking fd; `Ok(false)` on end of
/// file before the first byte.
pub fn read_exact(fd: BorrowedFd<'_>, buf: &mut [u8]) -> io::Result<bool> {
    let mut got = 0;
    while got < buf.len() {
        match read(fd, &mut buf[got..]) {
            Ok(0) if got == 0 => return Ok(false),
            Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(true)
}

/// Sets or clears O_NONBLOCK.
pub fn set_nonblocking(fd: BorrowedFd<'_>, on: bool) -> io::Result<()> {
    // SAFETY: F_GETFL takes no argument.
    let flags = check(unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_GETFL) })?;
    let flags = if on {
        flags | libc::O_NONBLOCK
    } else {
        flags & !libc::O_NONBLOCK
    };
    // SAFETY: F_SETFL takes an integer argument.
    check(unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_SETFL, flags) })?;
    Ok(())
}

/// dup2(2): makes `target` a copy of `fd` (without close-on-exec).
pub fn dup2(fd: RawFd, target: RawFd) -> io::Result<()> {
    if fd == target {
        // dup2 to itself keeps FD_CLOEXEC; clear it explicitly.
        // SAFETY: F_SETFD takes an integer argument.
        check(unsafe { libc::fcntl(fd, libc::F_SETFD, 0) })?;
        return Ok(());
    }
    // SAFETY: dup2 takes integer arguments only.
    check(unsafe { libc::dup2(fd, target) })?;
    Ok(())
}

/// poll(2) over `fds` for at most `timeout_ms` (-1: no limit); EINTR counts
/// as zero ready fds.
pub fn poll(fds: &mut [libc::pollfd], timeout_ms: i32) -> io::Result<usize> {
    // SAFETY: fds is a valid array of fds.len() pollfd structs.
    match check(unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, timeout_ms) }) {
        Err(e) if e.kind() == io::ErrorKind::Interrupted => Ok(0),
        r => r.map(|n| n as usize),
    }
}

/// The result of [`fork`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fork {
    /// In the parent, with the child's pid.
    Parent(i32),
    /// In the child.
    Child,
}

/// fork(2). Only called while the process has a single thread, so the child
/// may allocate and run arbitrary code.
pub fn fork() -> io::Result<Fork> {
    // SAFETY: the shim is single-threaded whenever it forks, so no lock can
    // be held by another thread in the child.
    match check(unsafe { libc::fork() })? {
        0 => Ok(Fork::Child),
        pid => Ok(Fork::Parent(pid)),
    }
}

/// Ends the process at once, without destructors or atexit handlers (for
/// forked children, whose copies of buffers and files are not theirs).
pub fn exit_now(code: i32) -> ! {
    // SAFETY: _exit takes an integer and does not return.
    unsafe { libc::_exit(code) }
}

/// setsid(2).
pub fn setsid() -> io::Result<()> {
    // SAFETY: setsid takes no arguments.
    check(unsafe { libc::setsid() })?;
    Ok(())
}

/// A pidfd for `pid` (Linux 5.3+).
pub fn pidfd_open(pid: i32) -> io::Result<OwnedFd> {
    // SAFETY: pidfd_open takes a pid and flags; it returns a new fd.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: the syscall returned a new fd that nobody else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

/// How a child ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    /// exit(code).
    Exited(i32),
    /// Killed by this signal.
    Signaled(i32),
}

impl Ended {
    /// The shell's convention: the code, or 128 + signal.
    pub fn code(self) -> i32 {
        match self {
            Ended::Exited(c) => c,
            Ended::Signaled(s) => 128 + s,
        }
    }
}

/// waitpid(pid, WNOHANG): `Some((pid, how))` for a reaped child.
pub fn try_wait(pid: i32) -> io::Result<Option<(i32, Ended)>> {
    let mut status = 0;
    // SAFETY: status is a valid int to write the wait status into.
    let r = retry(|| check(unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) }))?;
    if r == 0 {
        return Ok(None);
    }
    let how = if libc::WIFSIGNALED(status) {
        Ended::Signaled(libc::WTERMSIG(status))
    } else {
        Ended::Exited(libc::WEXITSTATUS(status))
    };
    Ok(Some((r, how)))
}

/// Blocking waitpid(pid).
pub fn wait(pid: i32) -> io::Result<Ended> {
    let mut status = 0;
    // SAFETY: status is a valid int to write the wait status into.
    retry(|| check(unsafe { libc::waitpid(pid, &mut status, 0) }))?;
    Ok(if libc::WIFSIGNALED(status) {
        Ended::Signaled(libc::WTERMSIG(status))
    } else {
        Ended::Exited(libc::WEXITSTATUS(status))
    })
}

/// kill(2); a process that is already gone is not an error.
pub fn kill(pid: i32, sig: i32) -> io::Result<()> {
    // SAFETY: kill takes integer arguments only.
    match check(unsafe { libc::kill(pid, sig) }) {
        Err(e) if e.raw_os_error() == Some(libc::ESRCH) => Ok(()),
        r => r.map(|_| ()),
    }
}

/// Blocks `signals` in this (single) thread and returns a signalfd that
/// reports them, nonblocking and close-on-exec.
pub fn signalfd(signals: &[i32]) -> io::Result<OwnedFd> {
    // SAFETY: sigset_t is plain data; sigemptyset initialises it.
    let mut set: libc::sigset_t = unsafe { std::mem::zeroed() };
    // SAFETY: set is a valid sigset_t.
    unsafe { libc::sigemptyset(&mut set) };
    for &s in signals {
        // SAFETY: set is a valid, initialised sigset_t.
        unsafe { libc::sigaddset(&mut set, s) };
    }
    // SAFETY: set is initialised; the old mask is not wanted.
    check(unsafe { libc::sigprocmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) })?;
    // SAFETY: set is initialised; -1 asks for a new fd.
    let fd = check(unsafe { libc::signalfd(-1, &set, libc::SFD_NONBLOCK | libc::SFD_CLOEXEC) })?;
    // SAFETY: signalfd returned a new fd that nobody else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Unblocks `signals` again (before exec'ing a child that should get them).
pub fn unblock(signals: &[i32]) {
    // SAFETY: as in signalfd: a zeroed then initialised sigset_t.
    let mut set: libc::sigset_t = unsafe { std::mem::zeroed() };
    // SAFETY: set is a valid sigset_t.
    unsafe { libc::sigemptyset(&mut set) };
    for &s in signals {
        // SAFETY: set is a valid, initialised sigset_t.
        unsafe { libc::sigaddset(&mut set, s) };
    }
    // SAFETY: set is initialised; the old mask is not wanted.
    unsafe { libc::sigprocmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut()) };
}

/// Drains a nonblocking signalfd; returns the signal numbers read.
pub fn read_signals(fd: BorrowedFd<'_>, mut each: impl FnMut(i32)) {
    // SAFETY: signalfd_siginfo is plain data.
    let mut info: libc::signalfd_siginfo = unsafe { std::mem::zeroed() };
    let size = std::mem::size_of::<libc::signalfd_siginfo>();
    loop {
        // SAFETY: info is valid for writes of `size` bytes.
        let n = unsafe {
            libc::read(
                fd.as_raw_fd(),
                (&mut info as *mut libc::signalfd_siginfo).cast(),
                size,
            )
        };
        if n != size as isize {
            return;
        }
        each(info.ssi_signo as i32);
    }
}

/// Sets a signal's disposition to ignored.
pub fn ignore_signal(sig: i32) {
    // SAFETY: SIG_IGN is a valid disposition for any catchable signal.
    unsafe { libc::signal(sig, libc::SIG_IGN) };
}

/// Sets a signal's disposition back to the default.
pub fn default_signal(sig: i32) {
    // SAFETY: SIG_DFL is a valid disposition for any signal.
    unsafe { libc::signal(sig, libc::SIG_DFL) };
}

/// The terminal size of `fd`, if it is a terminal.
pub fn get_winsize(fd: RawFd) -> Option<(u16, u16)> {
    // SAFETY: winsize is plain data.
    let mut ws: libc::winsize = unsafe { std::mem::zeroed() };
    // SAFETY: TIOCGWINSZ writes a winsize into the valid pointer given.
    if unsafe { libc::ioctl(fd, libc::TIOCGWINSZ, &mut ws) } < 0 {
        return None;
    }
    Some((ws.ws_row, ws.ws_col))
}

/// Sets the terminal size of `fd` (a pty master): the kernel then signals
/// SIGWINCH to the terminal's foreground process group.
pub fn set_winsize(fd: RawFd, rows: u16, cols: u16) -> io::Result<()> {
    let ws = libc::winsize {
        ws_row: rows,
        ws_col: cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCSWINSZ reads a winsize from the valid pointer given.
    check(unsafe { libc::ioctl(fd, libc::TIOCSWINSZ, &ws) })?;
    Ok(())
}

/// Whether `fd` is a terminal.
pub fn isatty(fd: RawFd) -> bool {
    // SAFETY: isatty takes an integer argument.
    unsafe { libc::isatty(fd) == 1 }
}

/// Receives one message carrying one fd (SCM_RIGHTS) on a unix socket.
pub fn recv_fd(sock: BorrowedFd<'_>) -> io::Result<OwnedFd> {
    let mut data = [0u8; 512];
    let mut iov = libc::iovec {
        iov_base: data.as_mut_ptr().cast(),
        iov_len: data.len(),
    };
    // Room for one int of control data, aligned for cmsghdr.
    let mut control = [0u64; 8];
    // SAFETY: msghdr is plain data; all-zero is a valid value.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.as_mut_ptr().cast();
    msg.msg_controllen = std::mem::size_of_val(&control);
    let n = retry(|| {
        // SAFETY: msg points at the live iovec and control buffer above.
        check_size(unsafe { libc::recvmsg(sock.as_raw_fd(), &mut msg, libc::MSG_CMSG_CLOEXEC) })
    })?;
    let mut found = None;
    // SAFETY: msg was filled in by recvmsg; CMSG_FIRSTHDR reads its fields.
    let mut cmsg = unsafe { libc::CMSG_FIRSTHDR(&msg) };
    while !cmsg.is_null() {
        // SAFETY: a non-null pointer from CMSG_FIRSTHDR/NXTHDR points at a
        // complete cmsghdr inside `control`.
        let hdr = unsafe { &*cmsg };
        if hdr.cmsg_level == libc::SOL_SOCKET && hdr.cmsg_type == libc::SCM_RIGHTS {
            // SAFETY: an SCM_RIGHTS message holds at least one int; it may be
            // unaligned.
            let fd = unsafe { (libc::CMSG_DATA(cmsg) as *const RawFd).read_unaligned() };
            // SAFETY: the kernel installed this fd for us; nobody else owns it.
            let owned = unsafe { OwnedFd::from_raw_fd(fd) };
            found.get_or_insert(owned);
        }
        // SAFETY: msg and cmsg are valid as above.
        cmsg = unsafe { libc::CMSG_NXTHDR(&msg, cmsg) };
    }
    match found {
        Some(fd) => Ok(fd),
        None if n == 0 => Err(io::ErrorKind::UnexpectedEof.into()),
        None => Err(io::Error::other("the message carried no fd")),
    }
}

/// Returns freed heap to the kernel (glibc keeps it otherwise).
pub fn trim_heap() {
    // SAFETY: malloc_trim takes a size and only releases free memory.
    unsafe { libc::malloc_trim(0) };
}

/// The current wall-clock time as (seconds, nanoseconds) since the epoch.
pub fn now() -> (i64, u32) {
    // SAFETY: timespec is plain data.
    let mut ts: libc::timespec = unsafe { std::mem::zeroed() };
    // SAFETY: clock_gettime writes into the valid timespec given.
    unsafe { libc::clock_gettime(libc::CLOCK_REALTIME, &mut ts) };
    (ts.tv_sec, ts.tv_nsec as u32)
}

/// An inotify instance (nonblocking, close-on-exec) watching `dir` for
/// entries deleted from it and for files in it closed after writing.
pub fn watch_dir(dir: &std::path::Path) -> io::Result<OwnedFd> {
    use std::os::unix::ffi::OsStrExt;
    // SAFETY: inotify_init1 takes flags and returns a new fd.
    let fd = check(unsafe { libc::inotify_init1(libc::IN_NONBLOCK | libc::IN_CLOEXEC) })?;
    // SAFETY: the fd is new and ours.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    let mut path = dir.as_os_str().as_bytes().to_vec();
    path.push(0);
    let mask = libc::IN_DELETE | libc::IN_CLOSE_WRITE;
    // SAFETY: path is NUL-terminated and outlives the call.
    check(unsafe { libc::inotify_add_watch(fd.as_raw_fd(), path.as_ptr().cast(), mask) })?;
    Ok(fd)
}

/// Drains an inotify fd; true when any queued event names `name`.
pub fn inotify_saw(fd: BorrowedFd<'_>, name: &[u8]) -> bool {
    // struct inotify_event: i32 wd, u32 mask, u32 cookie, u32 len, name[len].
    const HEADER: usize = 16;
    let mut buf = [0u8; 1024];
    let mut seen = false;
    while let Ok(n) = read(fd, &mut buf) {
        if n == 0 {
            break;
        }
        let mut at = 0;
        while at + HEADER <= n {
            let len = u32::from_ne_bytes([buf[at + 12], buf[at + 13], buf[at + 14], buf[at + 15]])
                as usize;
            let end = (at + HEADER + len).min(n);
            let raw = &buf[at + HEADER..end];
            let nul = raw.iter().position(|&b| b == 0).unwrap_or(raw.len());
            seen |= &raw[..nul] == name;
            at = end;
        }
    }
    seen
}

/// writev(2) of several buffers.
pub fn writev(fd: BorrowedFd<'_>, bufs: &[&[u8]]) -> io::Result<usize> {
    let iov: Vec<libc::iovec> = bufs
        .iter()
        .map(|b| libc::iovec {
            iov_base: b.as_ptr() as *mut libc::c_void,
            iov_len: b.len(),
        })
        .collect();
    // SAFETY: every iovec points at a live buffer of the recorded length,
    // which writev only reads.
    check_size(unsafe { libc::writev(fd.as_raw_fd(), iov.as_ptr(), iov.len() as libc::c_int) })
}

/// Unblocks every signal and sets SIGPIPE back to its default: the state a
/// container's program should start in (the shim blocks SIGCHLD and Rust
/// ignores SIGPIPE; both would survive execve).
pub fn reset_signals() {
    default_signal(libc::SIGPIPE);
    // SAFETY: a zeroed sigset_t is then initialised by sigemptyset.
    let mut set: libc::sigset_t = unsafe { std::mem::zeroed() };
    // SAFETY: set is a valid sigset_t.
    unsafe { libc::sigemptyset(&mut set) };
    // SAFETY: set is initialised; the old mask is not wanted.
    unsafe { libc::sigprocmask(libc::SIG_SETMASK, &set, std::ptr::null_mut()) };
}

/// Closes a raw fd this process owns but holds no `OwnedFd` for (a forked
/// child's copy of its parent's descriptors).
pub fn close_raw(fd: RawFd) {
    // SAFETY: closing an fd number; the caller guarantees nothing in this
    // process uses it afterwards.
    unsafe { libc::close(fd) };
}

/// An anonymous in-memory file (close-on-exec).
pub fn memfd(name: &str) -> io::Result<OwnedFd> {
    let name =
        std::ffi::CString::new(name).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    // SAFETY: name is NUL-terminated and outlives the call.
    let fd = check(unsafe { libc::memfd_create(name.as_ptr(), libc::MFD_CLOEXEC) })?;
    // SAFETY: memfd_create returned a new fd that nobody else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}
