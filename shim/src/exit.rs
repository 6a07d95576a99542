//! The exit record: what the shim knows when the container ends, written
//! atomically (temporary file + rename) so a reader never sees half of it.
//!
//! The file is one JSON object:
//! `{"id":"c1","pid":4242,"exit_code":137,"signal":9,"oom_killed":true,
//!   "started_at":"2024-...Z","finished_at":"2024-...Z"}`.

use std::io::Write;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{Result, ShimError};

/// How and when a container ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExitRecord {
    /// The container id.
    pub id: String,
    /// The container process's pid (in the shim's pid namespace).
    pub pid: i32,
    /// The exit status, or 128 + n when signal n killed it.
    pub exit_code: i32,
    /// The signal that killed it, if one did.
    #[serde(default)]
    pub signal: Option<i32>,
    /// Whether the kernel's OOM killer killed a process of its cgroup.
    #[serde(default)]
    pub oom_killed: bool,
    /// When its program started (RFC 3339, UTC); none if it never started.
    #[serde(default)]
    pub started_at: Option<String>,
    /// When the shim saw it end (RFC 3339, UTC).
    pub finished_at: String,
}

impl ExitRecord {
    /// Writes the record to `path` through a temporary file in the same
    /// directory and a rename.
    pub fn write(&self, path: &Path) -> Result<()> {
        let dir = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy())
            .unwrap_or_default();
        let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
        let data = serde_json::to_vec(self).expect("an exit record serialises");
        let mut f = std::fs::File::create(&tmp)
            .map_err(|e| ShimError::path("creating exit file", &tmp, e))?;
        f.write_all(&data)
            .and_then(|()| f.write_all(b"\n"))
            .map_err(|e| ShimError::path("writing exit file", &tmp, e))?;
        drop(f);
        std::fs::rename(&tmp, path).map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            ShimError::path("renaming exit file into place", path, e)
        })
    }

    /// Reads a record; `Ok(None)` when there is none (yet).
    pub fn read(path: &Path) -> Result<Option<ExitRecord>> {
        let data = match std::fs::read(path) {
            Ok(d) => d,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(ShimError::path("reading exit file", path, e)),
        };
        serde_json::from_slice(&data)
            .map(Some)
            .map_err(|e| ShimError::Format {
                path: path.to_owned(),
                reason: format!("not an exit record: {e}"),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_and_reads_back() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("exit");
        assert_eq!(ExitRecord::read(&p).unwrap(), None);
        let r = ExitRecord {
            id: "c".into(),
            pid: 7,
            exit_code: 137,
            signal: Some(9),
            oom_killed: true,
            started_at: Some("2024-01-01T00:00:00.000000000Z".into()),
            finished_at: "2024-01-01T00:00:01.000000000Z".into(),
        };
        r.write(&p).unwrap();
        assert_eq!(ExitRecord::read(&p).unwrap(), Some(r));
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            1,
            "temp file left"
        );
        std::fs::write(&p, b"{").unwrap();
        assert!(ExitRecord::read(&p).is_err());
    }
}
