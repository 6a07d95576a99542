//! The trace of one husk command: set up first thing in `cli::run`, read
//! back and printed when the command ends.

use std::io::Write as _;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use super::report::{Report, EXEC_PHASE};
use super::TraceError;
use husk_runtime::trace::{enabled, now_ns, record, TRACE_FILE_ENV};

/// Asks for a trace report, like `--trace`: `table` or `json`.
pub const TRACE_ENV: &str = "HUSK_TRACE";

/// When the launcher started husk (CLOCK_MONOTONIC ns): the trace then
/// starts with an `exec` phase from there to husk's first instruction.
pub const TRACE_T0_ENV: &str = "HUSK_TRACE_T0";

/// How the report is printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// A table for people.
    Table,
    /// One JSON document for tools.
    Json,
}

impl Format {
    /// Parses `table` or `json`.
    pub fn parse(s: &str) -> Result<Format, TraceError> {
        match s {
            "table" | "" => Ok(Format::Table),
            "json" => Ok(Format::Json),
            other => Err(TraceError::Format(other.to_owned())),
        }
    }
}

#[derive(Debug)]
enum Mode {
    /// Not traced.
    Off,
    /// Some other process owns the trace file ($HUSK_TRACE_FILE was set
    /// when husk started): add this command's phases, print nothing.
    Record,
    /// This command owns the trace: print it at the end.
    Report { file: PathBuf, format: Format },
}

/// The trace of the running command; [`Session::finish`] ends it.
#[derive(Debug)]
#[must_use = "a trace session prints its report in finish()"]
pub struct Session {
    mode: Mode,
    cli_end: u64,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> TraceError + '_ {
    move |source| TraceError::Io {
        path: path.to_owned(),
        source,
    }
}

fn create_trace_file(tmpdir: Option<&Path>) -> Result<PathBuf, TraceError> {
    let dir = tmpdir.map_or_else(std::env::temp_dir, Path::to_path_buf);
    let path = dir.join(format!("husk-trace-{}-{}", std::process::id(), now_ns()));
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)
        .map_err(io(&path))?;
    Ok(path)
}

impl Session {
    /// Starts the trace of this command, if one is asked for by `flag`
    /// (the `--trace` value) or `$HUSK_TRACE`, or if a launcher passed a
    /// trace file in `$HUSK_TRACE_FILE`. `entered_ns` is when `cli::run`
    /// began; the time until now is recorded as `engine.cli` (argument
    /// parsing).
    ///
    /// Must run before any thread or child process exists: it edits this
    /// process's environment so that children (shim, runtime, init) append
    /// to the same file, and so that they neither start sessions of their
    /// own nor take the launcher's T0 for theirs.
    pub fn begin(
        flag: Option<&str>,
        tmpdir: Option<&Path>,
        entered_ns: u64,
    ) -> Result<Session, TraceError> {
        let t0 = std::env::var(TRACE_T0_ENV).ok();
        let asked = std::env::var(TRACE_ENV).ok().filter(|s| !s.is_empty());
        // Single-threaded here (the caller's contract), so editing the
        // environment races with nothing.
        std::env::remove_var(TRACE_T0_ENV);
        std::env::remove_var(TRACE_ENV);
        let format = flag.or(asked.as_deref()).map(Format::parse).transpose()?;
        let mode = match format {
            Some(format) => {
                let file = create_trace_file(tmpdir)?;
                std::env::set_var(TRACE_FILE_ENV, &file);
                Mode::Report { file, format }
            }
            None => Mode::Off,
        };
        // Opens the file named by $HUSK_TRACE_FILE, ours or a launcher's.
        let mode = match (mode, enabled()) {
            (Mode::Off, true) => Mode::Record,
            (m, _) => m,
        };
        if !matches!(mode, Mode::Off) {
            if let Some(t0) = t0.and_then(|s| s.trim().parse::<u64>().ok()) {
                if t0 < entered_ns {
                    record(EXEC_PHASE, t0, entered_ns);
                }
            }
        }
        let cli_end = now_ns();
        record("engine.cli", entered_ns, cli_end);
        Ok(Session { mode, cli_end })
    }

    /// Whether this command prints a trace report.
    pub fn reports(&self) -> bool {
        matches!(self.mode, Mode::Report { .. })
    }

    /// Ends the trace: records `engine.command` (everything after argument
    /// parsing), and, when this command owns the trace, reads every line
    /// the processes wrote, removes the file and prints the report to
    /// stderr.
    pub fn finish(self) {
        let end = now_ns();
        record("engine.command", self.cli_end, end);
        let Mode::Report { file, format } = self.mode else {
            return;
        };
        let report = Report::read(&file);
        let _ = std::fs::remove_file(&file);
        let title = std::env::args_os()
            .map(|a| a.to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join(" ");
        let text = match report {
            Err(e) => format!("husk: warning: no trace report: {e}\n"),
            Ok(r) => {
                let r = r.with_end(end);
                match format {
                    Format::Table => r.to_table(&title),
                    Format::Json => {
                        let mut j = r.to_json();
                        j["command"] = title.into();
                        format!("{j:#}\n")
                    }
                }
            }
        };
        let _ = std::io::stderr().lock().write_all(text.as_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        assert_eq!(Format::parse("table").ok(), Some(Format::Table));
        assert_eq!(Format::parse("").ok(), Some(Format::Table));
        assert_eq!(Format::parse("json").ok(), Some(Format::Json));
        let e = Format::parse("yaml").unwrap_err().to_string();
        assert!(e.contains("yaml") && e.contains("table or json"), "{e}");
    }
}
