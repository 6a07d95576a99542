//! What the husk binary needs to run inside the infra's empty root: itself
//! and, when it is dynamically linked (debug and test builds; release
//! builds are static), its program interpreter and the shared libraries it
//! has loaded. Each is bind-mounted read-only at the path the loader looks
//! for it, so the infra needs no image.

use std::path::{Path, PathBuf};

/// One file to bind into the infra root: `source` on the host at
/// `target` in the container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BoundFile {
    /// The host file (symlinks resolved).
    pub source: PathBuf,
    /// Where the container sees it.
    pub target: PathBuf,
}

const PT_INTERP: u32 = 3;

/// The program interpreter (`PT_INTERP`) of the 64-bit little-endian ELF
/// image `elf`, if it has one.
pub fn interpreter(elf: &[u8]) -> Option<PathBuf> {
    let u16_at = |o: usize| Some(u16::from_le_bytes(elf.get(o..o + 2)?.try_into().ok()?));
    let u32_at = |o: usize| Some(u32::from_le_bytes(elf.get(o..o + 4)?.try_into().ok()?));
    let u64_at = |o: usize| Some(u64::from_le_bytes(elf.get(o..o + 8)?.try_into().ok()?));
    // ELFCLASS64, ELFDATA2LSB.
    if elf.get(..6)? != b"\x7fELF\x02\x01" {
        return None;
    }
    let phoff = usize::try_from(u64_at(32)?).ok()?;
    let phentsize = usize::from(u16_at(54)?);
    let phnum = usize::from(u16_at(56)?);
    for i in 0..phnum {
        let ph = phoff.checked_add(i.checked_mul(phentsize)?)?;
        if u32_at(ph)? != PT_INTERP {
            continue;
        }
        let off = usize::try_from(u64_at(ph + 8)?).ok()?;
        let len = usize::try_from(u64_at(ph + 32)?).ok()?;
        let raw = elf.get(off..off.checked_add(len)?)?;
        let raw = raw.split(|b| *b == 0).next()?;
        let s = std::str::from_utf8(raw).ok()?;
        return (!s.is_empty()).then(|| PathBuf::from(s));
    }
    None
}

/// Shared objects named in a /proc/PID/maps text, in first-seen order,
/// without `exe` itself.
pub fn mapped_libraries(maps: &str, exe: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = Vec::new();
    for line in maps.lines() {
        // address perms offset dev inode path
        let Some(path) = line.split_whitespace().nth(5) else {
            continue;
        };
        let p = Path::new(path);
        let is_so = p
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.contains(".so"));
        if p.is_absolute() && is_so && p != exe && !out.iter().any(|o| o == p) {
            out.push(p.to_path_buf());
        }
    }
    out
}

/// The loader and libraries husk (`exe`, this very process) needs; empty
/// for a static build.
pub fn runtime_files(exe: &Path) -> std::io::Result<Vec<BoundFile>> {
    let head = read_head(exe)?;
    let Some(interp) = interpreter(&head) else {
        return Ok(Vec::new());
    };
    let mut out = vec![BoundFile {
        source: std::fs::canonicalize(&interp)?,
        target: interp,
    }];
    let maps = std::fs::read_to_string("/proc/self/maps")?;
    for lib in mapped_libraries(&maps, exe) {
        let source = std::fs::canonicalize(&lib)?;
        if out.iter().any(|f| f.source == source && f.target == lib) {
            continue;
        }
        out.push(BoundFile {
            source,
            target: lib,
        });
    }
    Ok(out)
}

/// The first pages of `exe`: the ELF header, program headers and the
/// interpreter string all live there.
fn read_head(exe: &Path) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let mut buf = Vec::with_capacity(16 * 1024);
    std::fs::File::open(exe)?
        .take(16 * 1024)
        .read_to_end(&mut buf)?;
    Ok(buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_interpreter_of_this_test_binary_or_none() {
        let exe = std::fs::read_link("/proc/self/exe").unwrap();
        let head = read_head(&exe).unwrap();
        let dynamic = std::fs::read_to_string("/proc/self/maps")
            .unwrap()
            .contains("libc.so");
        match interpreter(&head) {
            Some(p) => {
                assert!(dynamic && p.is_absolute() && p.exists(), "{}", p.display());
                let files = runtime_files(&exe).unwrap();
                assert_eq!(files[0].target, p);
                assert!(files
                    .iter()
                    .any(|f| f.target.to_string_lossy().contains("libc.so")));
            }
            None => assert!(!dynamic),
        }
    }

    #[test]
    fn refuses_what_is_not_elf64() {
        assert_eq!(interpreter(b"#!/bin/sh\n"), None);
        assert_eq!(interpreter(b"\x7fELF\x01\x01"), None);
        // Program headers pointing past the end.
        let mut h = vec![0u8; 64];
        h[..6].copy_from_slice(b"\x7fELF\x02\x01");
        h[32..40].copy_from_slice(&1000u64.to_le_bytes());
        h[54..56].copy_from_slice(&56u16.to_le_bytes());
        h[56..58].copy_from_slice(&1u16.to_le_bytes());
        assert_eq!(interpreter(&h), None);
    }

    #[test]
    fn lists_mapped_libraries_once() {
        let maps = "\
55d0-55d1 r--p 00000000 fe:01 123 /usr/bin/husk
7f00-7f01 r--p 00000000 fe:01 9 /usr/lib/x86_64-linux-gnu/libc.so.6
7f01-7f02 r-xp 00001000 fe:01 9 /usr/lib/x86_64-linux-gnu/libc.so.6
7f02-7f03 rw-p 00000000 00:00 0
7f03-7f04 r--p 00000000 fe:01 8 /usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2
7ffd-7ffe rw-p 00000000 00:00 0 [stack]
7ffe-7fff r--p 00000000 fe:01 7 /usr/lib/locale/C.utf8/LC_CTYPE
";
        assert_eq!(
            mapped_libraries(maps, Path::new("/usr/bin/husk")),
            [
                PathBuf::from("/usr/lib/x86_64-linux-gnu/libc.so.6"),
                PathBuf::from("/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2"),
            ]
        );
    }
}
