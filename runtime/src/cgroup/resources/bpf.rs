//! The bpf(2) calls that load a cgroup device program and attach it to a
//! cgroup directory, replacing the programs this runtime attached before.

use std::ffi::CString;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::Path;

use super::devices_v2::Insn;
use crate::error::{Result, RuntimeError, SysContext};

const BPF_PROG_LOAD: libc::c_long = 5;
const BPF_PROG_ATTACH: libc::c_long = 8;
const BPF_PROG_DETACH: libc::c_long = 9;
const BPF_PROG_GET_FD_BY_ID: libc::c_long = 13;
const BPF_PROG_QUERY: libc::c_long = 16;
const BPF_PROG_TYPE_CGROUP_DEVICE: u32 = 15;
const BPF_CGROUP_DEVICE: u32 = 6;
const BPF_F_ALLOW_MULTI: u32 = 2;

/// The BPF_PROG_LOAD part of `union bpf_attr`.
#[repr(C)]
#[derive(Default)]
struct ProgLoad {
    prog_type: u32,
    insn_cnt: u32,
    insns: u64,
    license: u64,
    log_level: u32,
    log_size: u32,
    log_buf: u64,
    kern_version: u32,
    prog_flags: u32,
    prog_name: [u8; 16],
    prog_ifindex: u32,
    expected_attach_type: u32,
}

/// The BPF_PROG_ATTACH / BPF_PROG_DETACH part.
#[repr(C)]
#[derive(Default)]
struct Attach {
    target_fd: u32,
    attach_bpf_fd: u32,
    attach_type: u32,
    attach_flags: u32,
    replace_bpf_fd: u32,
}

/// The BPF_PROG_QUERY part.
#[repr(C)]
#[derive(Default)]
struct Query {
    target_fd: u32,
    attach_type: u32,
    query_flags: u32,
    attach_flags: u32,
    prog_ids: u64,
    prog_cnt: u32,
    pad: u32,
}

/// The BPF_PROG_GET_FD_BY_ID part.
#[repr(C)]
#[derive(Default)]
struct GetFd {
    prog_id: u32,
    next_id: u32,
    open_flags: u32,
}

fn bpf<T>(cmd: libc::c_long, attr: &mut T) -> std::io::Result<libc::c_long> {
    // SAFETY: attr is a live, initialised #[repr(C)] prefix of union
    // bpf_attr of the size passed; the kernel reads (and for QUERY writes)
    // only within it, and pointers inside it refer to buffers the caller
    // keeps alive across the call.
    let r = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            cmd,
            attr as *mut T as *mut libc::c_void,
            std::mem::size_of::<T>() as libc::c_uint,
        )
    };
    if r < 0 {
        Err(std::io::Error::last_os_error())
    } else {
        Ok(r)
    }
}

fn owned(fd: libc::c_long) -> OwnedFd {
    // SAFETY: the kernel just returned this new descriptor; nothing else owns it.
    unsafe { OwnedFd::from_raw_fd(fd as i32) }
}

/// Loads `insns` as a cgroup device program; on failure, the verifier's log
/// is part of the error.
pub(super) fn load(insns: &[Insn], field: &str) -> Result<OwnedFd> {
    let license = CString::new("Apache-2.0").expect("no NUL");
    let mut attr = ProgLoad {
        prog_type: BPF_PROG_TYPE_CGROUP_DEVICE,
        insn_cnt: insns.len() as u32,
        insns: insns.as_ptr() as u64,
        license: license.as_ptr() as u64,
        expected_attach_type: BPF_CGROUP_DEVICE,
        ..Default::default()
    };
    attr.prog_name[..9].copy_from_slice(b"husk_devs");
    match bpf(BPF_PROG_LOAD, &mut attr) {
        Ok(fd) => Ok(owned(fd)),
        Err(first) => {
            let mut log = vec![0u8; 1 << 16];
            attr.log_level = 1;
            attr.log_size = log.len() as u32;
            attr.log_buf = log.as_mut_ptr() as u64;
            let _ = bpf(BPF_PROG_LOAD, &mut attr);
            let end = log.iter().position(|b| *b == 0).unwrap_or(log.len());
            let text = String::from_utf8_lossy(&log[..end]);
            Err(RuntimeError::sys(
                format!(
                    "{field}: loading the cgroup v2 device program (BPF_PROG_LOAD){}{}",
                    if text.is_empty() { "" } else { "; verifier: " },
                    text.trim()
                ),
                first,
            ))
        }
    }
}

/// Programs attached directly to the cgroup `dir_fd` refers to.
fn attached(dir_fd: &OwnedFd) -> Vec<u32> {
    let mut ids = [0u32; 64];
    let mut q = Query {
        target_fd: dir_fd.as_raw_fd() as u32,
        attach_type: BPF_CGROUP_DEVICE,
        prog_ids: ids.as_mut_ptr() as u64,
        prog_cnt: ids.len() as u32,
        ..Default::default()
    };
    match bpf(BPF_PROG_QUERY, &mut q) {
        Ok(_) => ids[..(q.prog_cnt as usize).min(ids.len())].to_vec(),
        Err(_) => Vec::new(),
    }
}

/// Attaches `prog` to the cgroup directory `dir` (BPF_F_ALLOW_MULTI, so the
/// ancestors' programs keep applying), then detaches the device programs
/// that were attached there before (a later `update`).
pub(super) fn attach(dir: &Path, prog: &OwnedFd, field: &str) -> Result<()> {
    let fd = nix::fcntl::open(
        dir,
        nix::fcntl::OFlag::O_DIRECTORY | nix::fcntl::OFlag::O_RDONLY | nix::fcntl::OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )
    .ctx(|| format!("{field}: opening {}", dir.display()))?;
    let dir_fd = owned(fd as libc::c_long);
    let old = attached(&dir_fd);
    let mut a = Attach {
        target_fd: dir_fd.as_raw_fd() as u32,
        attach_bpf_fd: prog.as_raw_fd() as u32,
        attach_type: BPF_CGROUP_DEVICE,
        attach_flags: BPF_F_ALLOW_MULTI,
        ..Default::default()
    };
    bpf(BPF_PROG_ATTACH, &mut a).ctx(|| {
        format!(
            "{field}: attaching the device program to {} (BPF_PROG_ATTACH)",
            dir.display()
        )
    })?;
    for id in old {
        let mut g = GetFd {
            prog_id: id,
            ..Default::default()
        };
        let Ok(old_fd) = bpf(BPF_PROG_GET_FD_BY_ID, &mut g).map(owned) else {
            continue;
        };
        let mut d = Attach {
            target_fd: dir_fd.as_raw_fd() as u32,
            attach_bpf_fd: old_fd.as_raw_fd() as u32,
            attach_type: BPF_CGROUP_DEVICE,
            ..Default::default()
        };
        bpf(BPF_PROG_DETACH, &mut d).ctx(|| {
            format!(
                "{field}: detaching the previous device program {id} from {}",
                dir.display()
            )
        })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::device_rules::rules;
    use super::super::devices_v2::program;
    use super::*;

    #[test]
    fn the_verifier_accepts_the_device_program() {
        let spec: Vec<oci_spec::runtime::LinuxDeviceCgroup> = serde_json::from_str(
            r#"[{"allow": false, "access": "rwm"},
                {"allow": true, "type": "c", "major": 42, "access": "rw"},
                {"allow": false, "type": "b", "major": 8, "minor": 1, "access": "w"}]"#,
        )
        .unwrap();
        let p = program(&rules(Some(&spec)).unwrap());
        match load(&p, "test") {
            Ok(_) => {}
            // Unprivileged test runs cannot load BPF programs.
            Err(RuntimeError::Sys { source, .. }) if source.raw_os_error() == Some(libc::EPERM) => {
            }
            Err(e) => panic!("{e}"),
        }
    }
}
