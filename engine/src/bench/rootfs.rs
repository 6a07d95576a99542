//! The benchmark's workload, built from a static busybox and nothing else:
//! a root filesystem, an OCI bundle running `true` in it (for runtimes),
//! and the same files as an OCI image layout (for engines), so `husk
//! bench startup` runs on a host holding only husk and busybox.

use std::fs;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Path, PathBuf};

use oci_spec::runtime::Spec;
use serde_json::json;
use sha2::{Digest as _, Sha256};

use super::BenchError;

/// Where busybox is looked for when `--busybox` is not given.
pub const DEFAULT_BUSYBOX: &[&str] = &["/bin/busybox", "/usr/bin/busybox"];

/// The tag of the image layout.
pub const IMAGE_TAG: &str = "latest";

const PATH_ENV: &str = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
const APPLETS: &[&str] = &["sh", "true", "false", "echo", "sleep", "ls", "cat", "env"];
const DIRS: &[(&str, u32)] = &[
    ("bin", 0o755),
    ("dev", 0o755),
    ("etc", 0o755),
    ("home", 0o755),
    ("proc", 0o555),
    ("root", 0o700),
    ("run", 0o755),
    ("sys", 0o555),
    ("tmp", 0o1777),
    ("usr", 0o755),
    ("usr/bin", 0o755),
    ("var", 0o755),
];
const PASSWD: &str =
    "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/home:/bin/false\n";
const GROUP: &str = "root:x:0:\nnobody:x:65534:\n";

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> BenchError + '_ {
    move |source| BenchError::Io {
        path: path.to_owned(),
        source,
    }
}

/// Finds the busybox to build from: `explicit`, else the first of
/// [`DEFAULT_BUSYBOX`], else `busybox` on `PATH`; it must be statically
/// linked (the container holds no libraries).
pub fn find_busybox(explicit: Option<&Path>) -> Result<PathBuf, BenchError> {
    let path = match explicit {
        Some(p) => p.to_owned(),
        None => DEFAULT_BUSYBOX
            .iter()
            .map(PathBuf::from)
            .find(|p| p.is_file())
            .or_else(|| super::tools::find_in_path("busybox"))
            .ok_or_else(|| BenchError::Busybox {
                path: PathBuf::from(DEFAULT_BUSYBOX[0]),
                reason: "not found (nor busybox on PATH)".into(),
            })?,
    };
    let bytes = fs::read(&path).map_err(|e| BenchError::Busybox {
        path: path.clone(),
        reason: format!("cannot read: {e}"),
    })?;
    match elf_interpreter(&bytes) {
        Ok(false) => Ok(path),
        Ok(true) => Err(BenchError::Busybox {
            path,
            reason: "dynamically linked; the container has no libraries".into(),
        }),
        Err(why) => Err(BenchError::Busybox { path, reason: why }),
    }
}

/// Whether a 64-bit little-endian ELF file asks for a program interpreter
/// (PT_INTERP): that is, whether it is dynamically linked.
fn elf_interpreter(b: &[u8]) -> Result<bool, String> {
    if b.len() < 64 || &b[..4] != b"\x7fELF" || b[4] != 2 || b[5] != 1 {
        return Err("not a 64-bit little-endian ELF executable".into());
    }
    let u16_at = |o: usize| u16::from_le_bytes([b[o], b[o + 1]]) as usize;
    let phoff = u64::from_le_bytes(b[32..40].try_into().expect("8 bytes")) as usize;
    let (phentsize, phnum) = (u16_at(54), u16_at(56));
    for i in 0..phnum {
        let o = phoff + i * phentsize;
        let Some(t) = b.get(o..o + 4) else {
            return Err("truncated program headers".into());
        };
        if u32::from_le_bytes(t.try_into().expect("4 bytes")) == 3 {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Writes the root filesystem into `dir`: base directories, busybox and
/// its applet links, passwd and group.
pub fn write_rootfs(dir: &Path, busybox: &Path) -> Result<(), BenchError> {
    for (d, mode) in DIRS {
        let p = dir.join(d);
        fs::create_dir_all(&p).map_err(io(&p))?;
        fs::set_permissions(&p, fs::Permissions::from_mode(*mode)).map_err(io(&p))?;
    }
    let bin = dir.join("bin/busybox");
    fs::copy(busybox, &bin).map_err(io(&bin))?;
    fs::set_permissions(&bin, fs::Permissions::from_mode(0o755)).map_err(io(&bin))?;
    for a in APPLETS {
        let p = dir.join("bin").join(a);
        symlink("busybox", &p).map_err(io(&p))?;
    }
    for (name, text) in [("etc/passwd", PASSWD), ("etc/group", GROUP)] {
        let p = dir.join(name);
        fs::write(&p, text).map_err(io(&p))?;
    }
    Ok(())
}

/// Writes an OCI bundle in `dir`: `rootfs/` and a `config.json` running
/// `true` with the runtime spec's defaults (rootless: a user namespace
/// mapping our own ids), no terminal, no resource limits, no seccomp:
/// what every runtime can run the same way.
pub fn write_bundle(dir: &Path, busybox: &Path) -> Result<(), BenchError> {
    write_rootfs(&dir.join("rootfs"), busybox)?;
    let euid = nix::unistd::geteuid().as_raw();
    let mut spec = if euid == 0 {
        Spec::default()
    } else {
        Spec::rootless(euid, nix::unistd::getegid().as_raw())
    };
    let mut process = spec.process().clone().unwrap_or_default();
    process.set_args(Some(vec!["true".into()]));
    process.set_terminal(Some(false));
    spec.set_process(Some(process));
    spec.set_hostname(Some("husk-bench".into()));
    let mut linux = spec.linux().clone().unwrap_or_default();
    linux.set_resources(None);
    linux.set_seccomp(None);
    spec.set_linux(Some(linux));
    let path = dir.join("config.json");
    let text = serde_json::to_vec_pretty(&spec).map_err(|e| BenchError::Io {
        path: path.clone(),
        source: e.into(),
    })?;
    fs::write(&path, text).map_err(io(&path))
}

/// The rootfs as one uncompressed tar layer: entries owned by root, mtime
/// 0, in a fixed order, so it is the same bytes on every run.
pub fn rootfs_tar(busybox: &Path) -> Result<Vec<u8>, BenchError> {
    let mut b = tar::Builder::new(Vec::new());
    let header = |kind: tar::EntryType, mode: u32, size: u64| {
        let mut h = tar::Header::new_ustar();
        h.set_entry_type(kind);
        h.set_mode(mode);
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(0);
        h.set_size(size);
        h
    };
    let tar_err = |what: &str, e: std::io::Error| BenchError::Io {
        path: PathBuf::from(what),
        source: e,
    };
    for (d, mode) in DIRS {
        let mut h = header(tar::EntryType::Directory, *mode, 0);
        b.append_data(&mut h, format!("{d}/"), std::io::empty())
            .map_err(|e| tar_err(d, e))?;
    }
    let bin = fs::read(busybox).map_err(io(busybox))?;
    let mut h = header(tar::EntryType::Regular, 0o755, bin.len() as u64);
    b.append_data(&mut h, "bin/busybox", &bin[..])
        .map_err(|e| tar_err("bin/busybox", e))?;
    for a in APPLETS {
        let mut h = header(tar::EntryType::Symlink, 0o777, 0);
        b.append_link(&mut h, format!("bin/{a}"), "busybox")
            .map_err(|e| tar_err(a, e))?;
    }
    for (name, text) in [("etc/passwd", PASSWD), ("etc/group", GROUP)] {
        let mut h = header(tar::EntryType::Regular, 0o644, text.len() as u64);
        b.append_data(&mut h, name, text.as_bytes())
            .map_err(|e| tar_err(name, e))?;
    }
    b.into_inner().map_err(|e| tar_err("rootfs.tar", e))
}

fn go_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    }
}

fn sha256(b: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(b)))
}

/// Writes an OCI image layout of the busybox rootfs into `dir` (one
/// uncompressed layer, tagged [`IMAGE_TAG`]), which `podman pull oci:DIR`
/// and `husk pull oci:DIR` load. Returns the layer tar, for engines that
/// import a tarball instead.
pub fn write_image_layout(dir: &Path, busybox: &Path) -> Result<Vec<u8>, BenchError> {
    let blobs = dir.join("blobs/sha256");
    fs::create_dir_all(&blobs).map_err(io(&blobs))?;
    let put = |bytes: &[u8]| -> Result<(String, usize), BenchError> {
        let digest = sha256(bytes);
        let p = blobs.join(&digest["sha256:".len()..]);
        fs::write(&p, bytes).map_err(io(&p))?;
        Ok((digest, bytes.len()))
    };
    let layer = rootfs_tar(busybox)?;
    let (layer_digest, layer_size) = put(&layer)?;
    let config = json!({
        "architecture": go_arch(),
        "os": "linux",
        "config": {"Env": [PATH_ENV], "Cmd": ["sh"]},
        "rootfs": {"type": "layers", "diff_ids": [layer_digest]},
        "history": [{"created_by": "husk bench: busybox rootfs", "created": "1970-01-01T00:00:00Z"}],
        "created": "1970-01-01T00:00:00Z",
    });
    let (config_digest, config_size) = put(config.to_string().as_bytes())?;
    let manifest_type = "application/vnd.oci.image.manifest.v1+json";
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": manifest_type,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": config_digest, "size": config_size},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar",
                    "digest": layer_digest, "size": layer_size}],
    });
    let (manifest_digest, manifest_size) = put(manifest.to_string().as_bytes())?;
    let index = json!({
        "schemaVersion": 2,
        "manifests": [{"mediaType": manifest_type, "digest": manifest_digest, "size": manifest_size,
                       "annotations": {"org.opencontainers.image.ref.name": IMAGE_TAG}}],
    });
    for (name, v) in [
        ("index.json", index),
        ("oci-layout", json!({"imageLayoutVersion": "1.0.0"})),
    ] {
        let p = dir.join(name);
        fs::write(&p, v.to_string()).map_err(io(&p))?;
    }
    Ok(layer)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn elf(interp: bool) -> Vec<u8> {
        let mut b = vec![0u8; 64 + 2 * 56];
        b[..6].copy_from_slice(b"\x7fELF\x02\x01");
        b[32..40].copy_from_slice(&64u64.to_le_bytes());
        b[54..56].copy_from_slice(&56u16.to_le_bytes());
        b[56..58].copy_from_slice(&2u16.to_le_bytes());
        b[64..68].copy_from_slice(&1u32.to_le_bytes());
        b[120..124].copy_from_slice(&(if interp { 3u32 } else { 1 }).to_le_bytes());
        b
    }

    #[test]
    fn tells_static_from_dynamic() {
        assert_eq!(elf_interpreter(&elf(false)), Ok(false));
        assert_eq!(elf_interpreter(&elf(true)), Ok(true));
        assert!(elf_interpreter(b"#!/bin/sh\n").is_err());
        let mut short = elf(true);
        short.truncate(100);
        assert!(elf_interpreter(&short).is_err());
    }

    #[test]
    fn layout_is_deterministic_and_consistent() {
        let dir = tempfile::tempdir().unwrap();
        let fake = dir.path().join("busybox");
        fs::write(&fake, b"not really busybox").unwrap();
        let a = write_image_layout(&dir.path().join("a"), &fake).unwrap();
        let b = write_image_layout(&dir.path().join("b"), &fake).unwrap();
        assert_eq!(a, b);
        let index: serde_json::Value =
            serde_json::from_slice(&fs::read(dir.path().join("a/index.json")).unwrap()).unwrap();
        let m = index["manifests"][0]["digest"].as_str().unwrap();
        let blob = |d: &str| fs::read(dir.path().join("a/blobs/sha256").join(&d[7..])).unwrap();
        let manifest: serde_json::Value = serde_json::from_slice(&blob(m)).unwrap();
        assert_eq!(sha256(&blob(m)), m);
        let layer = manifest["layers"][0]["digest"].as_str().unwrap();
        assert_eq!(blob(layer), a);
        let names: Vec<String> = tar::Archive::new(&a[..])
            .entries()
            .unwrap()
            .map(|e| e.unwrap().path().unwrap().to_string_lossy().into_owned())
            .collect();
        assert!(names.contains(&"bin/true".to_owned()) && names.contains(&"tmp/".to_owned()));
    }
}
