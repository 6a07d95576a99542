//! Container logs: the writer the monitor feeds ([`writer`]) and the reader
//! `husk logs` is built on ([`reader`]), for the k8s-file and json-file
//! formats.
//!
//! k8s-file, as podman and conmon write it, one record per line:
//! `2024-03-01T10:00:00.123456789+00:00 stdout F hello` where `F` marks a
//! full line (its newline ends the record) and `P` a partial one (the
//! container's line goes on in the next record of the same stream). The
//! bytes are written as they came, so the format is binary-safe: only `\n`
//! ends a record, and the container's `\n` is what ends a full line.
//!
//! json-file, as docker writes it:
//! `{"log":"hello\n","stream":"stdout","time":"2024-03-01T10:00:00.123456789Z"}`;
//! a record whose `log` does not end in `\n` is partial. JSON strings hold
//! text only: bytes that are not valid UTF-8 are written as U+FFFD (as
//! docker does), so use k8s-file for binary output.

pub mod json;
pub mod reader;
pub mod writer;

pub use reader::{LogEntry, LogOptions, LogReader};
pub use writer::LogWriter;

/// Which output stream of the container.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Stream {
    /// Standard output (all output when the container has a terminal).
    Stdout,
    /// Standard error.
    Stderr,
}

impl Stream {
    /// The stream's name in both log formats.
    pub fn name(self) -> &'static str {
        match self {
            Stream::Stdout => "stdout",
            Stream::Stderr => "stderr",
        }
    }

    fn index(self) -> usize {
        match self {
            Stream::Stdout => 0,
            Stream::Stderr => 1,
        }
    }
}

/// The path of rotated file `n` (1 is the newest) of the log at `path`.
pub fn rotated_path(path: &std::path::Path, n: u32) -> std::path::PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(format!(".{n}"));
    s.into()
}
