//! Protection against overwriting the runtime's binary from inside a
//! container (the CVE-2019-5736 class).
//!
//! Until the final execve, init and exec'd processes run this runtime's
//! code, so /proc/PID/exe names the host's husk-runtime. Two things keep a
//! container from reaching it:
//! - they are made non-dumpable as soon as they exist, so a container
//!   process cannot open their /proc/PID/exe (that needs ptrace access);
//! - the last execve goes through a tiny trampoline held in a sealed memfd.
//!   A container program that is a `#!/proc/self/exe` script would otherwise
//!   make the kernel start *this* binary inside the container (dumpable
//!   again, after exec); now /proc/self/exe at that moment is the sealed,
//!   anonymous trampoline, which nothing can write.
//!
//! The trampoline is 82 bytes of x86-64 code in a hand-made ELF file:
//! `execve(argv[1], &argv[2], envp)`, or `exit(127)` when that fails; it
//! exits 126 unless its argv[0] is [`ARGV0`], so the kernel cannot use it
//! as a script interpreter (a `#!/proc/self/exe` container program then
//! fails with 126 instead of re-executing itself forever).
//! Copying the runtime itself into a memfd (the other known fix) costs
//! about 3 ms per container for its 4-5 MB; this costs microseconds.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::Path;

use crate::error::{Result, RuntimeError};

const BASE: u64 = 0x40_0000;
const EHDR: usize = 64;
const PHDR: usize = 56;

#[cfg(target_arch = "x86_64")]
const MACHINE: u16 = 0x3e;
#[cfg(target_arch = "x86_64")]
const CODE: &[u8] = &[
    // Refuse to run as a script interpreter: a `#!/proc/self/exe` program
    // would otherwise bounce between itself and the trampoline forever.
    0x48, 0x8b, 0x44, 0x24, 0x08, // mov rax, [rsp+8]        ; argv[0]
    0x48, 0x8b, 0x00, // mov rax, [rax]                       ; its first 8 bytes
    0x48, 0xb9, 0x68, 0x73, 0x6b, 0x2d, 0x74, 0x72, 0x31, 0x00, // mov rcx, "hsk-tr1\0"
    0x48, 0x39, 0xc8, // cmp rax, rcx
    0x75, 0x26, // jne refuse
    0x48, 0x8b, 0x7c, 0x24, 0x10, // mov rdi, [rsp+16]        ; argv[1]
    0x48, 0x8d, 0x74, 0x24, 0x18, // lea rsi, [rsp+24]        ; &argv[2]
    0x48, 0x8b, 0x14, 0x24, // mov rdx, [rsp]                 ; argc
    0x48, 0x8d, 0x54, 0xd4, 0x10, // lea rdx, [rsp+rdx*8+16]  ; envp
    0xb8, 0x3b, 0x00, 0x00, 0x00, // mov eax, 59 (execve)
    0x0f, 0x05, // syscall
    0xbf, 0x7f, 0x00, 0x00, 0x00, // mov edi, 127
    0xb8, 0xe7, 0x00, 0x00, 0x00, // mov eax, 231 (exit_group)
    0x0f, 0x05, // syscall
    0xbf, 0x7e, 0x00, 0x00, 0x00, // refuse: mov edi, 126
    0xb8, 0xe7, 0x00, 0x00, 0x00, // mov eax, 231 (exit_group)
    0x0f, 0x05, // syscall
];

/// argv[0] the trampoline must be started with (8 bytes with the NUL).
pub const ARGV0: &str = "hsk-tr1";

#[cfg(target_arch = "aarch64")]
/// argv[0] the trampoline is started with (not checked on aarch64 yet).
pub const ARGV0: &str = "hsk-tr1";
#[cfg(target_arch = "aarch64")]
const MACHINE: u16 = 0xb7;
#[cfg(target_arch = "aarch64")]
const CODE: &[u8] = &[
    0xe3, 0x03, 0x40, 0xf9, // ldr x3, [sp]            ; argc
    0xe0, 0x0b, 0x40, 0xf9, // ldr x0, [sp, #16]       ; argv[1]
    0xe1, 0x63, 0x00, 0x91, // add x1, sp, #24         ; &argv[2]
    0xe2, 0x43, 0x00, 0x91, // add x2, sp, #16
    0x42, 0x0c, 0x03, 0x8b, // add x2, x2, x3, lsl #3  ; envp
    0xa8, 0x1b, 0x80, 0xd2, // mov x8, #221 (execve)
    0x01, 0x00, 0x00, 0xd4, // svc #0
    0xe0, 0x0f, 0x80, 0xd2, // mov x0, #127
    0xc8, 0x0b, 0x80, 0xd2, // mov x8, #94 (exit_group)
    0x01, 0x00, 0x00, 0xd4, // svc #0
];

/// The trampoline as an ELF executable.
pub fn elf() -> Vec<u8> {
    let size = (EHDR + PHDR + CODE.len()) as u64;
    let mut v = Vec::with_capacity(size as usize);
    v.extend_from_slice(&[0x7f, b'E', b'L', b'F', 2, 1, 1, 0]);
    v.extend_from_slice(&[0; 8]);
    v.extend_from_slice(&2u16.to_le_bytes()); // ET_EXEC
    v.extend_from_slice(&MACHINE.to_le_bytes());
    v.extend_from_slice(&1u32.to_le_bytes());
    v.extend_from_slice(&(BASE + (EHDR + PHDR) as u64).to_le_bytes()); // entry
    v.extend_from_slice(&(EHDR as u64).to_le_bytes()); // phoff
    v.extend_from_slice(&0u64.to_le_bytes()); // shoff
    v.extend_from_slice(&0u32.to_le_bytes()); // flags
    v.extend_from_slice(&(EHDR as u16).to_le_bytes());
    v.extend_from_slice(&(PHDR as u16).to_le_bytes());
    v.extend_from_slice(&1u16.to_le_bytes()); // phnum
    v.extend_from_slice(&[0; 6]); // no section headers
    v.extend_from_slice(&1u32.to_le_bytes()); // PT_LOAD
    v.extend_from_slice(&5u32.to_le_bytes()); // R+X
    v.extend_from_slice(&0u64.to_le_bytes()); // offset
    v.extend_from_slice(&BASE.to_le_bytes()); // vaddr
    v.extend_from_slice(&BASE.to_le_bytes()); // paddr
    v.extend_from_slice(&size.to_le_bytes()); // filesz
    v.extend_from_slice(&size.to_le_bytes()); // memsz
    v.extend_from_slice(&0x1000u64.to_le_bytes()); // align
    v.extend_from_slice(CODE);
    v
}

/// Makes this process non-dumpable, so processes in the container it is
/// about to enter cannot open its /proc/PID/exe or memory.
pub fn make_undumpable() -> Result<()> {
    // SAFETY: prctl with integer arguments only.
    if unsafe { libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0) } != 0 {
        return Err(RuntimeError::sys(
            "making the process non-dumpable",
            std::io::Error::last_os_error(),
        ));
    }
    Ok(())
}

/// A sealed memfd holding the trampoline (close-on-exec).
#[derive(Debug)]
pub struct Trampoline {
    fd: OwnedFd,
}

impl Trampoline {
    /// Writes and seals the trampoline.
    pub fn new() -> Result<Trampoline> {
        let err = |what: &str| RuntimeError::sys(what.to_string(), std::io::Error::last_os_error());
        // SAFETY: memfd_create reads the NUL-terminated name only.
        let fd = unsafe {
            libc::memfd_create(
                c"husk-exec".as_ptr(),
                libc::MFD_CLOEXEC | libc::MFD_ALLOW_SEALING,
            )
        };
        if fd < 0 {
            return Err(err("creating the exec trampoline"));
        }
        // SAFETY: memfd_create returned this fd; OwnedFd owns it.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        let code = elf();
        nix::unistd::write(&fd, &code)
            .map_err(|e| RuntimeError::sys("writing the exec trampoline", e))?;
        let seals =
            libc::F_SEAL_SEAL | libc::F_SEAL_SHRINK | libc::F_SEAL_GROW | libc::F_SEAL_WRITE;
        // SAFETY: F_ADD_SEALS takes an integer argument; the fd is open.
        if unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_ADD_SEALS, seals) } < 0 {
            return Err(err("sealing the exec trampoline"));
        }
        Ok(Trampoline { fd })
    }

    /// Replaces the process with `prog` (argv `args`, environment `env`)
    /// through the trampoline. Returns only on failure.
    pub fn exec(&self, prog: &Path, args: &[String], env: &[String]) -> RuntimeError {
        let mut argv = vec![ARGV0.to_string(), prog.to_string_lossy().into_owned()];
        argv.extend(args.iter().cloned());
        let cs = |v: &[String]| -> Option<Vec<std::ffi::CString>> {
            v.iter()
                .map(|s| std::ffi::CString::new(s.as_bytes()).ok())
                .collect()
        };
        let (Some(argv), Some(envp)) = (cs(&argv), cs(env)) else {
            return RuntimeError::Spec("argument or env holds a NUL byte".into());
        };
        let e = nix::unistd::execveat(
            Some(self.fd.as_raw_fd()),
            c"",
            &argv,
            &envp,
            nix::fcntl::AtFlags::AT_EMPTY_PATH,
        )
        .unwrap_err();
        RuntimeError::sys(format!("exec {}", prog.display()), e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    #[test]
    fn trampoline_execs_its_first_argument_with_the_rest_as_argv() {
        // Write it to a file and let the kernel run it for real.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tramp");
        std::fs::write(&path, elf()).unwrap();
        std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .unwrap();
        use std::os::unix::process::CommandExt;
        let out = Command::new(&path)
            .arg0(ARGV0)
            .args([
                "/bin/sh",
                "sh",
                "-c",
                "echo \"$0 $1 $HUSK_T\"",
                "zero",
                "one",
            ])
            .env("HUSK_T", "env-ok")
            .output()
            .unwrap();
        assert_eq!(String::from_utf8_lossy(&out.stdout), "zero one env-ok\n");
        let out = Command::new(&path)
            .arg0(ARGV0)
            .args(["/no/such/program", "x"])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(127));
        // Started under any other name (as a script interpreter would be).
        let out = Command::new(&path)
            .args(["/bin/true", "true"])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(126));
        // A script whose interpreter is the trampoline fails, without a loop.
        let script = dir.path().join("script");
        std::fs::write(&script, format!("#!{}\n", path.display())).unwrap();
        std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .unwrap();
        let out = Command::new(&path)
            .arg0(ARGV0)
            .args([script.to_str().unwrap(), "script"])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(126));
    }
}
