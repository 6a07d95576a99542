//! Error and debug output: plain text on stderr, and the --log file in the
//! format clients parse (runc's text or json lines).

use std::io::Write;
use std::path::PathBuf;

/// Where messages go.
#[derive(Debug)]
pub struct Logger {
    file: Option<PathBuf>,
    json: bool,
    debug: bool,
}

impl Logger {
    /// A logger writing to `file` (if any) in json or text.
    pub fn new(file: Option<PathBuf>, json: bool, debug: bool) -> Logger {
        Logger { file, json, debug }
    }

    /// Reports an error (always on stderr, and in the log file).
    pub fn error(&self, msg: &str) {
        eprintln!("husk-runtime: {msg}");
        self.write("error", msg);
    }

    /// Records a debug message when --debug is on (log file, else stderr).
    pub fn debug(&self, msg: &str) {
        if !self.debug {
            return;
        }
        if self.file.is_none() {
            eprintln!("husk-runtime: debug: {msg}");
        }
        self.write("debug", msg);
    }

    fn write(&self, level: &str, msg: &str) {
        let Some(path) = &self.file else { return };
        let time = husk_runtime::time::now();
        let line = if self.json {
            serde_json::json!({"level": level, "msg": msg, "time": time}).to_string()
        } else {
            format!("time=\"{time}\" level={level} msg={msg:?}")
        };
        if let Ok(mut f) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
        {
            let _ = writeln!(f, "{line}");
        }
    }
}
