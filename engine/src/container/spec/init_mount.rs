//! How husk's own binary gets into a container as its `--init`.
//!
//! A release husk is static: it is bind-mounted read-only at
//! `/run/husk-init` and run as `/run/husk-init -- CMD`. A dynamically
//! linked husk (a development build) needs its loader and libraries, which
//! the container's filesystem does not have: they are bound read-only into
//! `/run/husk-init.d/` (the very files this process has mapped, read from
//! `/proc/self/maps`), and the init runs through the loader with
//! `--argv0 husk-init`, so `main` still recognises it.

use std::path::{Path, PathBuf};

use oci_spec::runtime::Mount;

use super::error::{Result, SpecError};
use super::mounts;
use crate::container::init::{INIT_ARGV0, INIT_PATH};

/// Where a dynamic husk and its libraries are bound.
pub const INIT_DIR: &str = "/run/husk-init.d";

/// The mounts and the argv prefix for `--init`.
#[derive(Debug, Clone, PartialEq)]
pub struct InitPlan {
    /// Read-only binds of husk (and its libraries).
    pub mounts: Vec<Mount>,
    /// What goes before the container's command.
    pub prefix: Vec<String>,
}

/// Whether the ELF file `exe` asks for a program interpreter (is linked
/// dynamically).
pub fn is_dynamic(exe: &Path) -> std::io::Result<bool> {
    use std::io::{Read, Seek, SeekFrom};
    let mut f = std::fs::File::open(exe)?;
    let mut h = [0u8; 64];
    f.read_exact(&mut h)?;
    if &h[..4] != b"\x7fELF" || h[4] != 2 {
        // Not a 64-bit ELF: nothing to decide, treat as static.
        return Ok(false);
    }
    let u16_at = |b: &[u8], o: usize| u16::from_le_bytes([b[o], b[o + 1]]);
    let phoff = u64::from_le_bytes(h[32..40].try_into().expect("8 bytes"));
    let (phentsize, phnum) = (u16_at(&h, 54) as usize, u16_at(&h, 56) as usize);
    f.seek(SeekFrom::Start(phoff))?;
    let mut ph = vec![0u8; phentsize * phnum];
    f.read_exact(&mut ph)?;
    const PT_INTERP: u32 = 3;
    Ok(ph
        .chunks(phentsize.max(4))
        .any(|p| u32::from_le_bytes([p[0], p[1], p[2], p[3]]) == PT_INTERP))
}

/// The shared objects `exe` loads, its loader first: what this process
/// has mapped when `exe` is this process's own binary (the engine's case),
/// else what its loader lists (as ldd asks it).
fn mapped_libraries(exe: &Path) -> Vec<PathBuf> {
    let own = std::fs::read_link("/proc/self/exe").ok();
    let text = if own.as_deref() == std::fs::canonicalize(exe).ok().as_deref() {
        std::fs::read_to_string("/proc/self/maps").unwrap_or_default()
    } else {
        // `name => /path (0x...)`, and the loader as `/path (0x...)`: keep
        // the paths, one per line, where the maps parser finds them.
        let out = std::process::Command::new(exe)
            .env("LD_TRACE_LOADED_OBJECTS", "1")
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default();
        out.lines()
            .filter_map(|l| l.split_whitespace().find(|w| w.starts_with('/')))
            .map(|p| format!("- - - - - {p}\n"))
            .collect()
    };
    let mut libs: Vec<PathBuf> = Vec::new();
    for line in text.lines() {
        let Some(path) = line.split_whitespace().nth(5) else {
            continue;
        };
        let p = PathBuf::from(path);
        let name = p
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if !path.starts_with('/') || p == exe || !name.contains(".so") || libs.contains(&p) {
            continue;
        }
        libs.push(p);
    }
    libs.sort_by_key(|p| !p.to_string_lossy().contains("ld-linux"));
    libs
}

/// The plan for `husk_exe`.
pub fn plan(husk_exe: &Path) -> Result<InitPlan> {
    let ro = ["bind", "ro", "rprivate"];
    let dynamic = is_dynamic(husk_exe).map_err(|e| {
        SpecError::invalid(
            "--init",
            &husk_exe.display().to_string(),
            format!("reading husk's binary: {e}"),
        )
    })?;
    if !dynamic {
        return Ok(InitPlan {
            mounts: vec![mounts::mount(
                INIT_PATH,
                "bind",
                &husk_exe.to_string_lossy(),
                &ro,
            )],
            prefix: vec![INIT_PATH.to_owned(), "--".to_owned()],
        });
    }
    let libs = mapped_libraries(husk_exe);
    let loader = libs
        .iter()
        .find(|l| l.to_string_lossy().contains("ld-linux"))
        .ok_or_else(|| {
            SpecError::invalid(
                "--init",
                &husk_exe.display().to_string(),
                "husk is linked dynamically but its loader is not mapped".to_owned(),
            )
        })?;
    let inside = |p: &Path| {
        format!(
            "{INIT_DIR}/{}",
            p.file_name().unwrap_or_default().to_string_lossy()
        )
    };
    let exe_inside = format!("{INIT_DIR}/{INIT_ARGV0}");
    let mut m = vec![mounts::mount(
        &exe_inside,
        "bind",
        &husk_exe.to_string_lossy(),
        &ro,
    )];
    for l in &libs {
        m.push(mounts::mount(&inside(l), "bind", &l.to_string_lossy(), &ro));
    }
    Ok(InitPlan {
        mounts: m,
        prefix: vec![
            inside(loader),
            "--library-path".to_owned(),
            INIT_DIR.to_owned(),
            "--argv0".to_owned(),
            INIT_ARGV0.to_owned(),
            exe_inside,
            "--".to_owned(),
        ],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tells_static_from_dynamic() {
        // This test binary is linked like the rest of a debug build.
        let me = std::env::current_exe().unwrap();
        let dynamic = is_dynamic(&me).unwrap();
        let p = plan(&me).unwrap();
        if dynamic {
            assert!(p.prefix.contains(&"--argv0".to_owned()), "{p:?}");
            assert!(p.mounts.len() > 1);
        } else {
            assert_eq!(p.prefix, [INIT_PATH, "--"]);
        }
        assert!(
            !is_dynamic(Path::new("/bin/busybox")).unwrap(),
            "busybox-static is static"
        );
    }
}
