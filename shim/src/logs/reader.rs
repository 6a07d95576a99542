//! Reads a container's log back: every file of a rotated log, oldest first,
//! partial records merged into whole lines, with tail, since/until and
//! follow (which keeps reading as the log grows and rotates, until the
//! container's exit file appears).

use std::collections::VecDeque;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::{rotated_path, Stream};
use crate::config::LogDriver;
use crate::error::{Result, ShimError};
use crate::timestamp::{self, Nanos};

/// What to read.
#[derive(Debug, Clone, Default)]
pub struct LogOptions {
    /// The log's format (`None` has nothing to read).
    pub driver: LogDriver,
    /// The live log file (rotated files are `PATH.1`, `PATH.2`, ...).
    pub path: PathBuf,
    /// Only the last this many lines of what exists now.
    pub tail: Option<usize>,
    /// Only lines logged at or after this time.
    pub since: Option<Nanos>,
    /// Only lines logged at or before this time.
    pub until: Option<Nanos>,
    /// Keep reading as the log grows.
    pub follow: bool,
    /// With `follow`: stop once this file exists (the shim writes the exit
    /// record after the last output) and the log is read to its end.
    pub exit_file: Option<PathBuf>,
}

/// One line of output (or the unfinished rest of one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogEntry {
    /// When its first byte was logged.
    pub time: Nanos,
    /// Which stream.
    pub stream: Stream,
    /// The bytes, with the line's `\n` unless `partial`.
    pub line: Vec<u8>,
    /// The line never ended (the log stops inside it).
    pub partial: bool,
}

/// One record of either format.
struct Record {
    time: Nanos,
    stream: Stream,
    full: bool,
    content: Vec<u8>,
}

fn parse_stream(s: &[u8]) -> Option<Stream> {
    match s {
        b"stdout" => Some(Stream::Stdout),
        b"stderr" => Some(Stream::Stderr),
        _ => None,
    }
}

fn parse_k8s(line: &[u8]) -> Option<Record> {
    let mut parts = line.splitn(4, |&c| c == b' ');
    let time = timestamp::parse(parts.next()?)?;
    let stream = parse_stream(parts.next()?)?;
    let tag = parts.next()?;
    let content = parts.next().unwrap_or_default().to_vec();
    Some(Record {
        time,
        stream,
        full: tag.first() == Some(&b'F'),
        content,
    })
}

#[derive(serde::Deserialize)]
struct JsonRecord {
    log: String,
    stream: String,
    time: String,
}

fn parse_json(line: &[u8]) -> Option<Record> {
    let r: JsonRecord = serde_json::from_slice(line).ok()?;
    let mut content = r.log.into_bytes();
    let full = content.last() == Some(&b'\n');
    if full {
        content.pop();
    }
    Some(Record {
        time: timestamp::parse(r.time.as_bytes())?,
        stream: parse_stream(r.stream.as_bytes())?,
        full,
        content,
    })
}

/// Iterates a container's log; see [`LogOptions`].
#[derive(Debug)]
pub struct LogReader {
    opts: LogOptions,
    ready: VecDeque<LogEntry>,
    /// Per stream, a line whose records so far were all partial.
    pending: [Option<LogEntry>; 2],
    /// The live file being followed, its inode, and bytes of a record not
    /// yet ended by `\n`.
    live: Option<(File, u64)>,
    raw: Vec<u8>,
    done: bool,
}

impl LogReader {
    /// Reads what the log holds now (every rotated file, oldest first).
    pub fn open(opts: LogOptions) -> Result<LogReader> {
        let mut r = LogReader {
            opts,
            ready: VecDeque::new(),
            pending: [None, None],
            live: None,
            raw: Vec::new(),
            done: false,
        };
        if r.opts.driver == LogDriver::None {
            r.done = true;
            return Ok(r);
        }
        let mut files = Vec::new();
        let mut n = 1;
        while rotated_path(&r.opts.path, n).exists() {
            files.push(rotated_path(&r.opts.path, n));
            n += 1;
        }
        files.reverse();
        for f in &files {
            let data = std::fs::read(f).map_err(|e| ShimError::path("reading log file", f, e))?;
            r.feed(&data);
            r.raw.clear();
        }
        match File::open(&r.opts.path) {
            Ok(mut f) => {
                let ino = f.metadata().map(|m| m.ino()).unwrap_or(0);
                let mut data = Vec::new();
                f.read_to_end(&mut data)
                    .map_err(|e| ShimError::path("reading log file", &r.opts.path, e))?;
                r.feed(&data);
                r.live = Some((f, ino));
            }
            Err(e)
                if e.kind() == std::io::ErrorKind::NotFound
                    && (r.opts.follow || !files.is_empty()) => {}
            Err(e) => return Err(ShimError::path("reading log file", &r.opts.path, e)),
        }
        if !r.opts.follow {
            r.finish();
        }
        if let Some(n) = r.opts.tail {
            while r.ready.len() > n {
                r.ready.pop_front();
            }
        }
        Ok(r)
    }

    /// Parses whole records out of `data` (plus what was left before).
    fn feed(&mut self, data: &[u8]) {
        self.raw.extend_from_slice(data);
        let raw = std::mem::take(&mut self.raw);
        let mut start = 0;
        while let Some(i) = raw[start..].iter().position(|&c| c == b'\n') {
            let line = &raw[start..start + i];
            start += i + 1;
            let rec = match self.opts.driver {
                LogDriver::JsonFile => parse_json(line),
                _ => parse_k8s(line),
            };
            if let Some(rec) = rec {
                self.add(rec);
            }
        }
        self.raw = raw[start..].to_vec();
    }

    fn add(&mut self, rec: Record) {
        let slot = &mut self.pending[rec.stream.index()];
        let entry = slot.get_or_insert_with(|| LogEntry {
            time: rec.time,
            stream: rec.stream,
            line: Vec::new(),
            partial: true,
        });
        entry.line.extend_from_slice(&rec.content);
        if rec.full {
            let mut e = slot.take().expect("just inserted");
            e.line.push(b'\n');
            e.partial = false;
            self.push(e);
        }
    }

    fn push(&mut self, e: LogEntry) {
        if self.opts.since.is_some_and(|s| e.time < s) {
            return;
        }
        if self.opts.until.is_some_and(|u| e.time > u) {
            if self.opts.follow {
                self.done = true;
            }
            return;
        }
        self.ready.push_back(e);
    }

    /// The log ends here: unfinished lines are entries too, oldest first.
    fn finish(&mut self) {
        let mut rest: Vec<LogEntry> = self.pending.iter_mut().filter_map(Option::take).collect();
        rest.sort_by_key(|e| e.time);
        for e in rest {
            self.push(e);
        }
        self.done = true;
    }

    /// Reads what the live file gained; follows a rotation to the new file.
    fn poll_live(&mut self) -> Result<bool> {
        let before = self.ready.len();
        let exited = self.opts.exit_file.as_ref().is_some_and(|p| p.exists());
        let mut data = Vec::new();
        if let Some((f, _)) = &mut self.live {
            f.read_to_end(&mut data)
                .map_err(|e| ShimError::path("reading log file", &self.opts.path, e))?;
        }
        self.feed(&data);
        let current = std::fs::metadata(&self.opts.path).ok().map(|m| m.ino());
        let live_ino = self.live.as_ref().map(|(_, i)| *i);
        if current.is_some() && current != live_ino {
            // Rotated: the old file is read to its end; go on with the new.
            self.raw.clear();
            if let Ok(mut f) = File::open(&self.opts.path) {
                let ino = f.metadata().map(|m| m.ino()).unwrap_or(0);
                let _ = f.seek(SeekFrom::Start(0));
                self.live = Some((f, ino));
                return Ok(true);
            }
        }
        if exited && self.ready.len() == before {
            self.finish();
        }
        Ok(self.ready.len() > before || self.done)
    }
}

impl Iterator for LogReader {
    type Item = Result<LogEntry>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(e) = self.ready.pop_front() {
                return Some(Ok(e));
            }
            if self.done {
                return None;
            }
            match self.poll_live() {
                Err(e) => {
                    self.done = true;
                    return Some(Err(e));
                }
                Ok(true) => {}
                Ok(false) => std::thread::sleep(Duration::from_millis(50)),
            }
        }
    }
}

/// Every entry of the log at `path` now, for callers that want a list.
pub fn read_all(driver: LogDriver, path: &Path) -> Result<Vec<LogEntry>> {
    LogReader::open(LogOptions {
        driver,
        path: path.to_owned(),
        ..LogOptions::default()
    })?
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ShimConfig;
    use crate::logs::LogWriter;

    fn write_log(dir: &Path, driver: LogDriver, max: u64, files: u32) -> PathBuf {
        let cfg = ShimConfig {
            log_driver: driver,
            log_path: dir.join("log"),
            log_max_size: max,
            log_max_files: files,
            ..ShimConfig::default()
        };
        let mut w = LogWriter::open(&cfg).unwrap();
        w.write(Stream::Stdout, b"one\ntw", (10, 0));
        w.write(Stream::Stderr, b"err\n", (11, 0));
        w.write(Stream::Stdout, b"o\nthree", (12, 0));
        cfg.log_path
    }

    #[test]
    fn merges_partials_per_stream_in_both_formats() {
        for driver in [LogDriver::K8sFile, LogDriver::JsonFile] {
            let d = tempfile::tempdir().unwrap();
            let path = write_log(d.path(), driver, 0, 1);
            let all = read_all(driver, &path).unwrap();
            let lines: Vec<(&[u8], Stream, bool)> = all
                .iter()
                .map(|e| (&e.line[..], e.stream, e.partial))
                .collect();
            assert_eq!(
                lines,
                [
                    (&b"one\n"[..], Stream::Stdout, false),
                    (b"err\n", Stream::Stderr, false),
                    (b"two\n", Stream::Stdout, false),
                    (b"three", Stream::Stdout, true),
                ],
                "{driver:?}"
            );
            assert_eq!(
                all[2].time,
                timestamp::to_nanos(10, 0),
                "time of the first piece"
            );
        }
    }

    #[test]
    fn tail_since_and_rotated_files_in_order() {
        let d = tempfile::tempdir().unwrap();
        let cfg = ShimConfig {
            log_driver: LogDriver::K8sFile,
            log_path: d.path().join("log"),
            log_max_size: 4096,
            log_max_files: 4,
            ..ShimConfig::default()
        };
        let mut w = LogWriter::open(&cfg).unwrap();
        for i in 0..200 {
            w.write(Stream::Stdout, format!("{i}\n").as_bytes(), (i, 0));
        }
        assert!(rotated_path(&cfg.log_path, 1).exists());
        let all = read_all(LogDriver::K8sFile, &cfg.log_path).unwrap();
        let nums: Vec<i64> = all
            .iter()
            .map(|e| String::from_utf8_lossy(&e.line).trim().parse().unwrap())
            .collect();
        assert_eq!(nums, (0..200).collect::<Vec<_>>());
        let opts = LogOptions {
            driver: LogDriver::K8sFile,
            path: cfg.log_path.clone(),
            tail: Some(3),
            since: Some(timestamp::to_nanos(150, 0)),
            ..LogOptions::default()
        };
        let tail: Vec<Vec<u8>> = LogReader::open(opts)
            .unwrap()
            .map(|e| e.unwrap().line)
            .collect();
        assert_eq!(
            tail,
            [b"197\n".to_vec(), b"198\n".to_vec(), b"199\n".to_vec()]
        );
    }
}
