//! Writes container output to the log in the configured format, rotating by
//! size. Output is formatted into one bounded buffer and written with one
//! write(2) per buffer, so records of a chunk never interleave with others.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use super::json::{self, Carry};
use super::{rotated_path, Stream};
use crate::config::{LogDriver, ShimConfig};
use crate::error::{Result, ShimError};
use crate::timestamp;

/// The formatted output is written out once it reaches this size.
const FLUSH_AT: usize = 16 * 1024;

/// The log of one container.
#[derive(Debug)]
pub struct LogWriter {
    driver: LogDriver,
    path: PathBuf,
    file: Option<File>,
    size: u64,
    max_size: u64,
    max_files: u32,
    out: Vec<u8>,
    /// Per stream, a UTF-8 character cut by a read boundary (json-file).
    carry: [Carry; 2],
    /// Whether a write to the log failed (records are dropped then).
    failed: bool,
}

fn open_append(path: &Path) -> std::io::Result<File> {
    OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o640)
        .custom_flags(libc::O_CLOEXEC)
        .open(path)
}

impl LogWriter {
    /// Opens (creating, appending to) the log `cfg` names.
    pub fn open(cfg: &ShimConfig) -> Result<LogWriter> {
        let file = match cfg.log_driver {
            LogDriver::None => None,
            _ => Some(
                open_append(&cfg.log_path)
                    .map_err(|e| ShimError::path("opening log file", &cfg.log_path, e))?,
            ),
        };
        let size = match &file {
            Some(f) => f.metadata().map(|m| m.len()).unwrap_or(0),
            None => 0,
        };
        Ok(LogWriter {
            driver: cfg.log_driver,
            path: cfg.log_path.clone(),
            file,
            size,
            max_size: cfg.log_max_size,
            max_files: cfg.log_files(),
            out: Vec::new(),
            carry: [Carry::default(); 2],
            failed: false,
        })
    }

    /// Whether anything is written at all.
    pub fn enabled(&self) -> bool {
        self.file.is_some()
    }

    /// The most content bytes one record may carry, so that every record
    /// fits in an empty file (json-file escapes may grow a byte to six).
    fn piece_max(&self) -> usize {
        match (self.max_size, self.driver) {
            (0, _) => usize::MAX,
            (m, LogDriver::JsonFile) => (m / 8) as usize,
            (m, _) => (m / 2) as usize,
        }
    }

    /// Logs one chunk of output read at `now` from `stream`.
    pub fn write(&mut self, stream: Stream, data: &[u8], now: (i64, u32)) {
        if self.file.is_none() || data.is_empty() {
            return;
        }
        let mut ts_buf = [0u8; timestamp::LEN_OFFSET];
        let ts = timestamp::format(
            now.0,
            now.1,
            self.driver == LogDriver::JsonFile,
            &mut ts_buf,
        );
        let max = self.piece_max();
        let mut rest = data;
        while !rest.is_empty() {
            let (line, full) = match rest.iter().position(|&c| c == b'\n') {
                Some(i) if i < max => (&rest[..i], true),
                _ if rest.len() <= max => (rest, false),
                _ => (&rest[..max], false),
            };
            rest = &rest[line.len() + usize::from(full)..];
            let last = rest.is_empty();
            self.record(stream, ts, line, full, last);
        }
        self.flush();
    }

    fn record(&mut self, stream: Stream, ts: &[u8], line: &[u8], full: bool, last: bool) {
        let start = self.out.len();
        match self.driver {
            LogDriver::JsonFile => {
                self.out.extend_from_slice(b"{\"log\":\"");
                let carry = &mut self.carry[stream.index()];
                json::escape(line, carry, last && !full, &mut self.out);
                if full {
                    self.out.extend_from_slice(b"\\n");
                }
                self.out.extend_from_slice(b"\",\"stream\":\"");
                self.out.extend_from_slice(stream.name().as_bytes());
                self.out.extend_from_slice(b"\",\"time\":\"");
                self.out.extend_from_slice(ts);
                self.out.extend_from_slice(b"\"}\n");
            }
            _ => {
                self.out.extend_from_slice(ts);
                self.out.push(b' ');
                self.out.extend_from_slice(stream.name().as_bytes());
                self.out
                    .extend_from_slice(if full { b" F " } else { b" P " });
                self.out.extend_from_slice(line);
                self.out.push(b'\n');
            }
        }
        let len = (self.out.len() - start) as u64;
        if self.max_size > 0 && self.size + len > self.max_size && self.size > 0 {
            // The record goes to the next file: write what precedes it.
            let record = self.out.split_off(start);
            self.flush();
            self.rotate();
            self.out = record;
        }
        self.size += len;
        if self.out.len() >= FLUSH_AT {
            self.flush();
        }
    }

    /// Writes the buffered records out. A failing log (disk full) drops
    /// records instead of stopping the container's output.
    pub fn flush(&mut self) {
        if let (Some(f), false) = (&mut self.file, self.out.is_empty()) {
            if f.write_all(&self.out).is_err() && !self.failed {
                self.failed = true;
            }
        }
        self.out.clear();
        if self.out.capacity() > 4 * FLUSH_AT {
            self.out.shrink_to(FLUSH_AT);
        }
    }

    /// Starts a new file: the older ones move up one number (`log` ->
    /// `log.1` -> `log.2` ...) and the oldest beyond `max_files` goes; with
    /// one file, the old content is dropped. A new file is renamed into
    /// place, so a follower sees a new inode rather than a truncation.
    fn rotate(&mut self) {
        if self.max_files > 1 {
            for n in (1..self.max_files - 1).rev() {
                let _ =
                    std::fs::rename(rotated_path(&self.path, n), rotated_path(&self.path, n + 1));
            }
            let _ = std::fs::rename(&self.path, rotated_path(&self.path, 1));
        }
        let mut tmp = self.path.as_os_str().to_owned();
        tmp.push(".new");
        let tmp = PathBuf::from(tmp);
        if let Ok(f) = open_append(&tmp) {
            if std::fs::rename(&tmp, &self.path).is_ok() {
                self.file = Some(f);
                self.size = 0;
                return;
            }
            let _ = std::fs::remove_file(&tmp);
        }
        // Could not start a new file: keep writing to the old one.
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(dir: &Path, driver: LogDriver, max: u64, files: u32) -> ShimConfig {
        ShimConfig {
            log_driver: driver,
            log_path: dir.join("log"),
            log_max_size: max,
            log_max_files: files,
            ..ShimConfig::default()
        }
    }

    #[test]
    fn k8s_records_mark_partial_and_full_lines() {
        let d = tempfile::tempdir().unwrap();
        let mut w = LogWriter::open(&cfg(d.path(), LogDriver::K8sFile, 0, 1)).unwrap();
        w.write(Stream::Stdout, b"a\nbc", (0, 1));
        w.write(Stream::Stderr, b"e\n", (0, 2));
        w.write(Stream::Stdout, b"d\n\n", (0, 3));
        let text = std::fs::read_to_string(d.path().join("log")).unwrap();
        assert_eq!(
            text,
            "1970-01-01T00:00:00.000000001+00:00 stdout F a\n\
             1970-01-01T00:00:00.000000001+00:00 stdout P bc\n\
             1970-01-01T00:00:00.000000002+00:00 stderr F e\n\
             1970-01-01T00:00:00.000000003+00:00 stdout F d\n\
             1970-01-01T00:00:00.000000003+00:00 stdout F \n"
        );
    }

    #[test]
    fn json_records_escape_and_end_full_lines_with_newline() {
        let d = tempfile::tempdir().unwrap();
        let mut w = LogWriter::open(&cfg(d.path(), LogDriver::JsonFile, 0, 1)).unwrap();
        w.write(Stream::Stderr, b"x\"y\nz", (0, 0));
        let text = std::fs::read_to_string(d.path().join("log")).unwrap();
        assert_eq!(
            text,
            "{\"log\":\"x\\\"y\\n\",\"stream\":\"stderr\",\"time\":\"1970-01-01T00:00:00.000000000Z\"}\n\
             {\"log\":\"z\",\"stream\":\"stderr\",\"time\":\"1970-01-01T00:00:00.000000000Z\"}\n"
        );
    }

    #[test]
    fn rotation_keeps_the_newest_files_within_the_size() {
        let d = tempfile::tempdir().unwrap();
        let mut w = LogWriter::open(&cfg(d.path(), LogDriver::K8sFile, 4096, 3)).unwrap();
        for i in 0..1000 {
            w.write(Stream::Stdout, format!("line {i}\n").as_bytes(), (0, 0));
        }
        let live = std::fs::read_to_string(d.path().join("log")).unwrap();
        assert!(live.ends_with("line 999\n"), "{live}");
        for p in [
            d.path().join("log"),
            d.path().join("log.1"),
            d.path().join("log.2"),
        ] {
            assert!(
                std::fs::metadata(&p).unwrap().len() <= 4096,
                "{}",
                p.display()
            );
        }
        assert!(!d.path().join("log.3").exists());
        // A line longer than a file is split into partial records.
        w.write(Stream::Stdout, &[b'x'; 10_000], (0, 0));
        assert!(std::fs::metadata(d.path().join("log")).unwrap().len() <= 4096);
    }
}
