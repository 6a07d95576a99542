//! `--device SRC[:DST][:PERMS]` and `--privileged`'s host devices, as
//! `linux.devices` plus device cgroup rules (rootful only: a rootless
//! container has no device cgroup, and husk-runtime bind-mounts the host's
//! nodes in a user namespace).

use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use oci_spec::runtime::{LinuxDevice, LinuxDeviceBuilder, LinuxDeviceCgroup, LinuxDeviceType};

use super::error::{Result, SpecError};
use super::resources::device_rule;

/// A device for the container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Device {
    /// The node on the host.
    pub host: PathBuf,
    /// The path in the container.
    pub path: PathBuf,
    /// `b`, `c` or `p`.
    pub kind: LinuxDeviceType,
    /// Major number.
    pub major: i64,
    /// Minor number.
    pub minor: i64,
    /// Permission bits.
    pub mode: u32,
    /// Owner.
    pub uid: u32,
    /// Group.
    pub gid: u32,
    /// Cgroup access (`rwm` subset).
    pub access: String,
}

fn valid_access(s: &str) -> bool {
    !s.is_empty()
        && s.chars().all(|c| matches!(c, 'r' | 'w' | 'm'))
        && s.chars().enumerate().all(|(i, c)| !s[..i].contains(c))
}

fn node(host: &Path) -> std::io::Result<Option<(LinuxDeviceType, std::fs::Metadata)>> {
    let meta = std::fs::metadata(host)?;
    let ft = meta.file_type();
    Ok(if ft.is_block_device() {
        Some((LinuxDeviceType::B, meta))
    } else if ft.is_char_device() {
        Some((LinuxDeviceType::C, meta))
    } else if ft.is_fifo() {
        Some((LinuxDeviceType::P, meta))
    } else {
        None
    })
}

fn device(
    host: &Path,
    path: &Path,
    access: &str,
    kind: LinuxDeviceType,
    meta: &std::fs::Metadata,
) -> Device {
    let rdev = meta.rdev();
    Device {
        host: host.to_path_buf(),
        path: path.to_path_buf(),
        kind,
        major: libc::major(rdev) as i64,
        minor: libc::minor(rdev) as i64,
        mode: meta.mode() & 0o7777,
        uid: meta.uid(),
        gid: meta.gid(),
        access: access.to_owned(),
    }
}

/// Parses one `--device` value (podman's `ParseDevice`) and stats the host
/// node; a directory adds every device under it.
pub fn parse(spec: &str) -> Result<Vec<Device>> {
    const F: &str = "--device";
    let bad = |r: String| SpecError::invalid(F, spec, r);
    let parts: Vec<&str> = spec.split(':').collect();
    let (src, mut dst, mut access) = (parts[0], None::<&str>, "rwm");
    match parts.len() {
        1 => {}
        2 | 3 => {
            if valid_access(parts[1]) && parts.len() == 2 {
                access = parts[1];
            } else if parts[1].starts_with('/') {
                dst = Some(parts[1]);
            } else {
                return Err(bad(format!(
                    "{:?} is neither a container path nor rwm permissions",
                    parts[1]
                )));
            }
            if parts.len() == 3 {
                if !valid_access(parts[2]) {
                    return Err(bad(format!(
                        "invalid permissions {:?} (a subset of rwm)",
                        parts[2]
                    )));
                }
                access = parts[2];
            }
        }
        _ => return Err(bad("expected SRC[:DST][:PERMISSIONS]".into())),
    }
    if !src.starts_with('/') {
        return Err(bad("the host device must be an absolute path".into()));
    }
    let src_path = Path::new(src);
    let dst_path = Path::new(dst.unwrap_or(src));
    let meta = std::fs::metadata(src_path).map_err(|e| bad(e.to_string()))?;
    if meta.is_dir() {
        let mut out = Vec::new();
        walk(src_path, &mut |host: &Path| {
            if let Ok(Some((kind, m))) = node(host) {
                let rel = host.strip_prefix(src_path).unwrap_or(host);
                out.push(device(host, &dst_path.join(rel), access, kind, &m));
            }
        });
        if out.is_empty() {
            return Err(bad(format!("no devices found in {src}")));
        }
        return Ok(out);
    }
    match node(src_path).map_err(|e| bad(e.to_string()))? {
        Some((kind, m)) => Ok(vec![device(src_path, dst_path, access, kind, &m)]),
        None => Err(bad(format!("{src} is not a device node"))),
    }
}

fn walk(dir: &Path, f: &mut dyn FnMut(&Path)) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        let Ok(ft) = e.file_type() else { continue };
        if ft.is_symlink() {
            continue;
        }
        if ft.is_dir() {
            walk(&p, f);
        } else {
            f(&p);
        }
    }
}

/// Every device node of the host's /dev for `--privileged`, skipping what
/// podman skips (pts, shm, fd, mqueue, console, symlinks); rootless also
/// ptmx and tty* (the container has its own).
pub fn host_devices(rootless: bool) -> Vec<Device> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir("/dev") else {
        return out;
    };
    for e in entries.flatten() {
        let name = e.file_name();
        let name = name.to_string_lossy();
        let Ok(ft) = e.file_type() else { continue };
        if ft.is_symlink() || name == "console" {
            continue;
        }
        if ft.is_dir() {
            if matches!(
                name.as_ref(),
                "pts" | "shm" | "fd" | "mqueue" | ".lxc" | ".lxd-mounts"
            ) {
                continue;
            }
            walk(&e.path(), &mut |p: &Path| {
                if let Ok(Some((kind, m))) = node(p) {
                    out.push(device(p, p, "rwm", kind, &m));
                }
            });
            continue;
        }
        if rootless && (name == "ptmx" || name.starts_with("tty")) {
            continue;
        }
        let p = e.path();
        if let Ok(Some((kind, m))) = node(&p) {
            out.push(device(&p, &p, "rwm", kind, &m));
        }
    }
    out
}

impl Device {
    /// The `linux.devices` entry.
    pub fn to_oci(&self) -> LinuxDevice {
        LinuxDeviceBuilder::default()
            .path(self.path.clone())
            .typ(self.kind)
            .major(self.major)
            .minor(self.minor)
            .file_mode(self.mode)
            .uid(self.uid)
            .gid(self.gid)
            .build()
            .expect("all fields set")
    }

    /// The cgroup rule allowing it.
    pub fn rule(&self) -> LinuxDeviceCgroup {
        device_rule(
            true,
            Some(self.kind),
            Some(self.major),
            Some(self.minor),
            &self.access,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_podman_syntax() {
        let d = parse("/dev/null").unwrap();
        assert_eq!(d.len(), 1);
        assert_eq!(
            (d[0].kind, d[0].major, d[0].minor),
            (LinuxDeviceType::C, 1, 3)
        );
        assert_eq!(d[0].path, Path::new("/dev/null"));
        assert_eq!(d[0].access, "rwm");
        let d = parse("/dev/null:/dev/mynull").unwrap();
        assert_eq!(d[0].path, Path::new("/dev/mynull"));
        let d = parse("/dev/null:r").unwrap();
        assert_eq!(
            (d[0].path.as_path(), d[0].access.as_str()),
            (Path::new("/dev/null"), "r")
        );
        let d = parse("/dev/zero:/dev/z:rw").unwrap();
        assert_eq!((d[0].minor, d[0].access.as_str()), (5, "rw"));
        let rule = d[0].rule();
        assert!(rule.allow());
        assert_eq!(rule.access().as_deref(), Some("rw"));
        assert_eq!(d[0].to_oci().file_mode(), Some(d[0].mode));
    }

    #[test]
    fn refuses_bad_devices() {
        for (spec, why) in [
            ("/dev/nonexistent-husk", "No such file"),
            ("/etc/passwd", "not a device node"),
            ("/dev/null:rwx", "neither"),
            ("/dev/null:/d:rr", "invalid permissions"),
            ("dev/null", "absolute"),
            ("/a:/b:r:x", "expected SRC"),
        ] {
            let e = parse(spec).unwrap_err().to_string();
            assert!(
                e.starts_with(&format!("invalid --device {spec:?}")) && e.contains(why),
                "{spec}: {e}"
            );
        }
    }

    #[test]
    fn privileged_devices_from_dev() {
        let all = host_devices(false);
        assert!(all.iter().any(|d| d.path == Path::new("/dev/null")));
        assert!(!all.iter().any(|d| d.path.starts_with("/dev/pts")));
        let rootless = host_devices(true);
        assert!(!rootless.iter().any(|d| d.path == Path::new("/dev/ptmx")));
    }
}
