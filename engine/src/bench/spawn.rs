//! Timed processes: spawn, reap, and peak RSS through a small launcher.
//!
//! The benchmark is the child subreaper of everything it starts, so the
//! init of a container whose runtime exited after `create` becomes its
//! child: it knows exactly when the container is gone (and reaps it, so the
//! runtime's `delete` sees it stopped) without polling `state`.

use std::collections::HashMap;
use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io::{Read, Seek};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use husk_runtime::trace::{now_ns, TRACE_FILE_ENV};

use super::BenchError;
use crate::trace::{TRACE_ENV, TRACE_T0_ENV};

/// How a process ended, as `waitpid` said.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Exit {
    /// Raw wait status.
    pub status: i32,
    /// CLOCK_MONOTONIC ns when it was reaped.
    pub end_ns: u64,
}

impl Exit {
    /// Exited with status 0.
    pub fn success(&self) -> bool {
        libc::WIFEXITED(self.status) && libc::WEXITSTATUS(self.status) == 0
    }

    /// "exit status N" or "killed by signal N".
    pub fn describe(&self) -> String {
        if libc::WIFEXITED(self.status) {
            format!("exit status {}", libc::WEXITSTATUS(self.status))
        } else if libc::WIFSIGNALED(self.status) {
            format!("killed by signal {}", libc::WTERMSIG(self.status))
        } else {
            format!("wait status {}", self.status)
        }
    }
}

/// Reaps every child of the benchmark, remembering those nobody waited
/// for yet (container inits, podman's conmon).
#[derive(Debug, Default)]
pub struct Reaper {
    exited: HashMap<i32, Exit>,
}

impl Reaper {
    /// Makes this process the child subreaper of its descendants.
    pub fn become_subreaper() -> Result<(), BenchError> {
        // SAFETY: PR_SET_CHILD_SUBREAPER takes an integer flag and touches no
        // memory of ours.
        if unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) } != 0 {
            return Err(BenchError::Sys {
                what: "becoming child subreaper",
                source: std::io::Error::last_os_error(),
            });
        }
        Ok(())
    }

    /// Forgets an old exit of `pid` (the kernel reused the number).
    pub fn spawned(&mut self, pid: i32) {
        self.forget(pid);
    }

    /// Forgets the exit of `pid`, if it was reaped.
    pub fn forget(&mut self, pid: i32) {
        self.exited.remove(&pid);
    }

    /// Waits until `pid` has exited (it may already have been reaped).
    pub fn wait(&mut self, pid: i32) -> Result<Exit, BenchError> {
        loop {
            if let Some(e) = self.exited.remove(&pid) {
                return Ok(e);
            }
            self.reap_one(true)?;
        }
    }

    /// Reaps one child, blocking or not; false when none was ready.
    fn reap_one(&mut self, block: bool) -> Result<bool, BenchError> {
        let mut status = 0;
        let flags = if block { 0 } else { libc::WNOHANG };
        // SAFETY: status is a valid out-pointer; waiting has no other effect.
        let pid = unsafe { libc::waitpid(-1, &mut status, flags) };
        let end_ns = now_ns();
        match pid {
            0 => Ok(false),
            p if p > 0 => {
                self.exited.insert(p, Exit { status, end_ns });
                Ok(true)
            }
            _ => {
                let err = std::io::Error::last_os_error();
                if err.raw_os_error() == Some(libc::EINTR) {
                    return Ok(true);
                }
                Err(BenchError::Sys {
                    what: "waiting for a child",
                    source: err,
                })
            }
        }
    }

    /// Reaps whatever has exited, without blocking, and forgets it.
    pub fn reap_strays(&mut self) {
        while let Ok(true) = self.reap_one(false) {}
        self.exited.clear();
    }
}

/// One command to time: the program, its arguments and extra environment.
#[derive(Debug, Clone)]
pub struct Job {
    /// argv[0] (a path) and the arguments.
    pub argv: Vec<OsString>,
    /// Variables set for this command only.
    pub env: Vec<(OsString, OsString)>,
    /// The trace file husk records to (`$HUSK_TRACE_FILE`), if traced.
    pub trace_file: Option<PathBuf>,
}

impl Job {
    /// A job running `program` with `args`.
    pub fn new<S: AsRef<OsStr>>(program: &Path, args: &[S]) -> Job {
        let mut argv = vec![program.as_os_str().to_owned()];
        argv.extend(args.iter().map(|a| a.as_ref().to_owned()));
        Job {
            argv,
            env: Vec::new(),
            trace_file: None,
        }
    }

    /// Appends arguments.
    pub fn args<S: AsRef<OsStr>>(mut self, args: &[S]) -> Job {
        self.argv.extend(args.iter().map(|a| a.as_ref().to_owned()));
        self
    }

    /// The command line, for messages.
    pub fn display(&self) -> String {
        self.argv
            .iter()
            .map(|a| a.to_string_lossy())
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// A finished job.
#[derive(Debug, Clone)]
pub struct Done {
    /// When it was spawned (CLOCK_MONOTONIC ns, `$HUSK_TRACE_T0`).
    pub start_ns: u64,
    /// How it ended.
    pub exit: Exit,
    /// Its peak RSS in KiB, when run through the launcher.
    pub rss_kib: Option<u64>,
}

impl Done {
    /// Spawn to reap, in milliseconds.
    pub fn ms(&self) -> f64 {
        self.exit.end_ns.saturating_sub(self.start_ns) as f64 / 1e6
    }
}

/// A job that failed: the command, how it ended and what it said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// The command line.
    pub command: String,
    /// How it ended.
    pub status: String,
    /// Its stderr (trimmed, at most a few KiB).
    pub stderr: String,
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "`{}` failed ({})", self.command, self.status)?;
        if !self.stderr.is_empty() {
            write!(f, ": {}", self.stderr)?;
        }
        Ok(())
    }
}

/// Where jobs' stderr goes: one file per concurrent slot, read back only
/// when a job fails (a file, not a pipe: a container may keep it open).
#[derive(Debug)]
pub struct Slots {
    files: Vec<File>,
    dir: PathBuf,
    /// The launcher measuring peak RSS: `husk bench launch`.
    launcher: PathBuf,
}

const STDERR_LIMIT: u64 = 4096;

impl Slots {
    /// `n` stderr files in `dir`; `launcher` is the husk binary.
    pub fn new(dir: &Path, n: usize, launcher: PathBuf) -> Result<Slots, BenchError> {
        let files = (0..n)
            .map(|i| {
                let p = dir.join(format!("stderr-{i}"));
                File::options()
                    .read(true)
                    .append(true)
                    .create(true)
                    .open(&p)
                    .map_err(|source| BenchError::Io { path: p, source })
            })
            .collect::<Result<_, _>>()?;
        Ok(Slots {
            files,
            dir: dir.to_owned(),
            launcher,
        })
    }

    fn stderr_of(&mut self, slot: usize) -> String {
        let f = &mut self.files[slot];
        let mut s = String::new();
        let len = f.metadata().map(|m| m.len()).unwrap_or(0);
        let _ = f.seek(std::io::SeekFrom::Start(len.saturating_sub(STDERR_LIMIT)));
        let _ = f.take(STDERR_LIMIT).read_to_string(&mut s);
        s.trim().to_owned()
    }

    /// Runs `jobs` concurrently (all spawned, then all reaped) and returns
    /// each one's timing, or the first failure with its stderr. With
    /// `rss`, each runs through the launcher and reports its peak RSS
    /// (then its timing includes the launcher and is not a sample).
    pub fn run(
        &mut self,
        reaper: &mut Reaper,
        jobs: &[Job],
        rss: bool,
    ) -> Result<Result<Vec<Done>, Failure>, BenchError> {
        assert!(jobs.len() <= self.files.len(), "more jobs than slots");
        let mut running = Vec::with_capacity(jobs.len());
        for (slot, job) in jobs.iter().enumerate() {
            let f = &self.files[slot];
            f.set_len(0).map_err(|e| BenchError::Sys {
                what: "truncating a stderr file",
                source: e,
            })?;
            let rss_file = rss.then(|| self.dir.join(format!("rss-{slot}")));
            let mut cmd = match &rss_file {
                Some(file) => {
                    let mut c = Command::new(&self.launcher);
                    c.args(["bench", "launch", "--rss-file"])
                        .arg(file)
                        .arg("--");
                    c.args(&job.argv);
                    c
                }
                None => {
                    let mut c = Command::new(&job.argv[0]);
                    c.args(&job.argv[1..]);
                    c
                }
            };
            // Their own process group: a terminal's Ctrl-C reaches only
            // the benchmark, which finishes the command and cleans up
            // (a runtime killed mid-create leaves its cgroups behind).
            cmd.process_group(0)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(f.try_clone().map_err(|e| BenchError::Sys {
                    what: "duplicating a stderr file",
                    source: e,
                })?)
                .env_remove(TRACE_ENV)
                .env_remove(TRACE_FILE_ENV)
                .env_remove(TRACE_T0_ENV);
            for (k, v) in &job.env {
                cmd.env(k, v);
            }
            if let Some(t) = &job.trace_file {
                cmd.env(TRACE_FILE_ENV, t);
            }
            let start_ns = now_ns();
            if job.trace_file.is_some() {
                cmd.env(TRACE_T0_ENV, start_ns.to_string());
            }
            let child = cmd.spawn().map_err(|e| BenchError::Spawn {
                program: PathBuf::from(&job.argv[0]),
                source: e,
            })?;
            let pid = child.id() as i32;
            // The Reaper waits for it; dropping the handle neither kills
            // nor waits.
            drop(child);
            reaper.spawned(pid);
            running.push((pid, start_ns, rss_file));
        }
        let mut done = Vec::with_capacity(jobs.len());
        let mut failure = None;
        for (slot, (pid, start_ns, rss_file)) in running.into_iter().enumerate() {
            let exit = reaper.wait(pid)?;
            let rss_kib = rss_file.and_then(|f| {
                let kib = std::fs::read_to_string(&f).ok()?.trim().parse().ok();
                let _ = std::fs::remove_file(&f);
                kib
            });
            if !exit.success() && failure.is_none() {
                failure = Some(Failure {
                    command: jobs[slot].display(),
                    status: exit.describe(),
                    stderr: self.stderr_of(slot),
                });
            }
            done.push(Done {
                start_ns,
                exit,
                rss_kib,
            });
        }
        Ok(match failure {
            Some(f) => Err(f),
            None => Ok(done),
        })
    }
}

/// `husk bench launch --rss-file FILE -- PROGRAM ARGS…`: runs the program
/// and writes its peak RSS (KiB, the max over it and the children it
/// waited for) to FILE, exiting with its status.
///
/// The kernel keeps a process's pre-exec high-water mark in `ru_maxrss`,
/// so a program forked from the (large) benchmark would report the
/// benchmark's memory. This launcher is a fresh, small process; its child
/// also resets its own high-water mark (`/proc/self/clear_refs`) before
/// exec, so only the pages it copied from the launcher remain as a floor.
pub fn launch(rss_file: &Path, argv: &[OsString]) -> Result<i32, BenchError> {
    use std::os::unix::ffi::OsStrExt;
    let cargs: Vec<std::ffi::CString> = argv
        .iter()
        .map(|a| std::ffi::CString::new(a.as_bytes()))
        .collect::<Result<_, _>>()
        .map_err(|_| BenchError::Usage("a launched argument holds a NUL byte".into()))?;
    if cargs.is_empty() {
        return Err(BenchError::Usage("launch needs a program".into()));
    }
    let mut ptrs: Vec<*const libc::c_char> = cargs.iter().map(|c| c.as_ptr()).collect();
    ptrs.push(std::ptr::null());
    // SAFETY: husk is single-threaded when it launches; the child only
    // makes async-signal-safe calls (open, write, close, execvp, _exit)
    // before exec.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(BenchError::Sys {
            what: "forking the launched program",
            source: std::io::Error::last_os_error(),
        });
    }
    if pid == 0 {
        // SAFETY: a static NUL-terminated path and buffer; errors are
        // ignored (the RSS floor is then the launcher's).
        unsafe {
            let fd = libc::open(c"/proc/self/clear_refs".as_ptr(), libc::O_WRONLY);
            if fd >= 0 {
                libc::write(fd, c"5".as_ptr().cast(), 1);
                libc::close(fd);
            }
            libc::execvp(ptrs[0], ptrs.as_ptr());
            libc::_exit(127);
        }
    }
    let mut status = 0;
    // SAFETY: rusage is plain data; zero is a valid value.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: pid is our child; status and usage are valid out-pointers.
    while unsafe { libc::wait4(pid, &mut status, 0, &mut usage) } < 0 {
        let err = std::io::Error::last_os_error();
        if err.raw_os_error() != Some(libc::EINTR) {
            return Err(BenchError::Sys {
                what: "waiting for the launched program",
                source: err,
            });
        }
    }
    std::fs::write(rss_file, format!("{}\n", usage.ru_maxrss)).map_err(|source| {
        BenchError::Io {
            path: rss_file.to_owned(),
            source,
        }
    })?;
    Ok(if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else {
        128 + libc::WTERMSIG(status)
    })
}
