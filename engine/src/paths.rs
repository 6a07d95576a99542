//! Where husk keeps things: storage and the catalog under the root, runtime
//! state (the runtime's state root, shim sockets, exit files) under the run
//! root. Rootful and rootless defaults as the brief fixes them, overridable
//! with `--root` / `--runroot` like podman.
//!
//! A rootless husk runs most commands inside its own user namespace, where
//! its uid is 0; the defaults are therefore computed from the *host* uid
//! (read back from `/proc/self/uid_map`) and the caller's environment, which
//! the namespace inherits unchanged.

use std::path::{Path, PathBuf};

/// Rootful storage root.
pub const ROOTFUL_ROOT: &str = "/var/lib/husk";
/// Rootful run root.
pub const ROOTFUL_RUNROOT: &str = "/run/husk";

/// The locations one husk invocation uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Paths {
    /// Storage and catalog (`--root`).
    pub root: PathBuf,
    /// Runtime state (`--runroot`).
    pub runroot: PathBuf,
    /// Whether husk runs rootless (as an unprivileged host user).
    pub rootless: bool,
    /// The host uid husk runs as (0 rootful).
    pub host_uid: u32,
    /// The host gid husk runs as.
    pub host_gid: u32,
}

/// The host uid and gid this process runs as: its own ids, or, inside a
/// user namespace, the host ids its namespace root maps to.
pub fn host_ids() -> (u32, u32) {
    let uid = nix::unistd::geteuid().as_raw();
    let gid = nix::unistd::getegid().as_raw();
    (
        outer_id("/proc/self/uid_map", uid),
        outer_id("/proc/self/gid_map", gid),
    )
}

/// Maps `inner` to the id it has in the initial namespace through one level
/// of `map` (enough for husk's own namespace, which is one level deep).
fn outer_id(map: &str, inner: u32) -> u32 {
    let Ok(text) = std::fs::read_to_string(map) else {
        return inner;
    };
    for line in text.lines() {
        let f: Vec<u64> = line
            .split_whitespace()
            .filter_map(|x| x.parse().ok())
            .collect();
        if let [start, outer, count] = f[..] {
            let i = u64::from(inner);
            if i >= start && i < start + count {
                return (outer + (i - start)) as u32;
            }
        }
    }
    inner
}

impl Paths {
    /// The defaults for this process, with optional overrides.
    pub fn resolve(root: Option<&Path>, runroot: Option<&Path>) -> Paths {
        let (host_uid, host_gid) = host_ids();
        let rootless = host_uid != 0;
        let (def_root, def_run) = if rootless {
            (rootless_root(host_uid), rootless_runroot(host_uid))
        } else {
            (PathBuf::from(ROOTFUL_ROOT), PathBuf::from(ROOTFUL_RUNROOT))
        };
        Paths {
            root: root.map(Path::to_path_buf).unwrap_or(def_root),
            runroot: runroot.map(Path::to_path_buf).unwrap_or(def_run),
            rootless,
            host_uid,
            host_gid,
        }
    }

    /// The SQLite catalog.
    pub fn catalog(&self) -> PathBuf {
        self.root.join("catalog.db")
    }

    /// The storage root handed to the layer and blob stores.
    pub fn storage(&self) -> PathBuf {
        self.root.join("storage")
    }

    /// Per-container persistent files: the bundle's config.json, hosts,
    /// hostname, resolv.conf, .containerenv and the log.
    pub fn userdata(&self, id: &str) -> PathBuf {
        self.root.join("userdata").join(id)
    }

    /// The runtime's state root (`husk-runtime --root`).
    pub fn runtime_root(&self) -> PathBuf {
        self.runroot.join("runtime")
    }

    /// Per-container runtime files: attach socket, exit file, shim pid.
    pub fn run_dir(&self, id: &str) -> PathBuf {
        self.runroot.join("containers").join(id)
    }
}

fn home(uid: u32) -> PathBuf {
    if let Some(h) = std::env::var_os("HOME").filter(|h| !h.is_empty()) {
        return PathBuf::from(h);
    }
    // No NSS: read the passwd file ourselves.
    std::fs::read_to_string("/etc/passwd")
        .ok()
        .and_then(|t| {
            t.lines().find_map(|l| {
                let f: Vec<&str> = l.split(':').collect();
                (f.len() > 5 && f[2].parse() == Ok(uid)).then(|| PathBuf::from(f[5]))
            })
        })
        .unwrap_or_else(|| PathBuf::from("/"))
}

fn rootless_root(uid: u32) -> PathBuf {
    match std::env::var_os("XDG_DATA_HOME").filter(|v| !v.is_empty()) {
        Some(d) => PathBuf::from(d).join("husk"),
        None => home(uid).join(".local/share/husk"),
    }
}

fn rootless_runroot(uid: u32) -> PathBuf {
    match std::env::var_os("XDG_RUNTIME_DIR").filter(|v| !v.is_empty()) {
        Some(d) => PathBuf::from(d).join("husk"),
        None => PathBuf::from(format!("/tmp/husk-{uid}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overrides_win() {
        let p = Paths::resolve(Some(Path::new("/r")), Some(Path::new("/rr")));
        assert_eq!(p.catalog(), Path::new("/r/catalog.db"));
        assert_eq!(p.runtime_root(), Path::new("/rr/runtime"));
        assert_eq!(p.run_dir("x"), Path::new("/rr/containers/x"));
    }

    #[test]
    fn outer_id_reads_a_map() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("map");
        std::fs::write(
            &f,
            "         0       1001          1\n         1     200000      65536\n",
        )
        .unwrap();
        let f = f.to_str().unwrap();
        assert_eq!(outer_id(f, 0), 1001);
        assert_eq!(outer_id(f, 1000), 200999);
        assert_eq!(outer_id("/nonexistent", 7), 7);
    }
}
