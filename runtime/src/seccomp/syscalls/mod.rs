//! System call name to number tables, one per architecture the filter can be
//! built for. The numbers are the kernel ABI: they never change once a call
//! has been released, so a table only ever grows.

/// Expands `name = number, ...` into a `TABLE` of `(name, number)` pairs.
macro_rules! syscall_table {
    ($($name:ident = $nr:literal),* $(,)?) => {
        /// `(name, number)` for every system call of this ABI, by number.
        pub const TABLE: &[(&str, u32)] = &[$((stringify!($name), $nr)),*];
    };
}

pub mod aarch64;
pub mod x86_64;

/// The number of `name` in `table`, `None` when this ABI has no such call.
pub fn lookup(table: &[(&str, u32)], name: &str) -> Option<u32> {
    table.iter().find(|(n, _)| *n == name).map(|&(_, nr)| nr)
}

/// The name of system call `nr` in `table`.
pub fn name_of(table: &[(&'static str, u32)], nr: u32) -> Option<&'static str> {
    table.iter().find(|(_, n)| *n == nr).map(|&(name, _)| name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_unique(table: &[(&str, u32)]) {
        for (i, (name, nr)) in table.iter().enumerate() {
            for (other, onr) in &table[i + 1..] {
                assert_ne!(name, other, "{name} listed twice");
                assert_ne!(nr, onr, "{name} and {other} share number {nr}");
            }
        }
    }

    #[test]
    fn seccomp_tables_have_unique_names_and_numbers() {
        check_unique(x86_64::TABLE);
        check_unique(aarch64::TABLE);
        assert_eq!(lookup(x86_64::TABLE, "getpid"), Some(39));
        assert_eq!(lookup(aarch64::TABLE, "getpid"), Some(172));
        assert_eq!(lookup(aarch64::TABLE, "open"), None);
        assert_eq!(name_of(x86_64::TABLE, 0), Some("read"));
    }

    /// The native table agrees with the C library's numbers for every call
    /// libc knows.
    #[test]
    #[cfg(target_arch = "x86_64")]
    fn seccomp_x86_64_table_matches_libc() {
        let known: &[(&str, libc::c_long)] = &[
            ("read", libc::SYS_read),
            ("open", libc::SYS_open),
            ("mount", libc::SYS_mount),
            ("keyctl", libc::SYS_keyctl),
            ("bpf", libc::SYS_bpf),
            ("userfaultfd", libc::SYS_userfaultfd),
            ("kexec_load", libc::SYS_kexec_load),
            ("personality", libc::SYS_personality),
            ("socket", libc::SYS_socket),
            ("rseq", libc::SYS_rseq),
            ("pidfd_send_signal", libc::SYS_pidfd_send_signal),
            ("clone3", libc::SYS_clone3),
            ("futex_waitv", libc::SYS_futex_waitv),
            ("mseal", libc::SYS_mseal),
        ];
        for (name, nr) in known {
            assert_eq!(lookup(x86_64::TABLE, name), Some(*nr as u32), "{name}");
        }
    }
}
