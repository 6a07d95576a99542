//! Architectures: the ones a filter can be built for (the native one of the
//! runtime's build) and the names profiles use for all of them.

use std::str::FromStr;

use oci_spec::runtime::Arch;

use super::syscalls;
use super::SeccompError;

/// What the filter generator needs to know about an architecture.
#[derive(Debug, Clone, Copy)]
pub struct ArchInfo {
    /// The OCI name, e.g. `SCMP_ARCH_X86_64`.
    pub oci: Arch,
    /// The `AUDIT_ARCH_*` token the kernel puts in `seccomp_data.arch`.
    pub audit_arch: u32,
    /// System call names and numbers.
    pub table: &'static [(&'static str, u32)],
    /// Whether another ABI shares `audit_arch` and is told apart by this bit
    /// of the syscall number (x32 on x86_64: 0x40000000).
    pub abi_bit: Option<u32>,
}

/// x86_64: `AUDIT_ARCH_X86_64` is EM_X86_64 (62) | 64-bit | little-endian.
pub const X86_64: ArchInfo = ArchInfo {
    oci: Arch::ScmpArchX86_64,
    audit_arch: 0xc000_003e,
    table: syscalls::x86_64::TABLE,
    abi_bit: Some(0x4000_0000),
};

/// aarch64: `AUDIT_ARCH_AARCH64` is EM_AARCH64 (183) | 64-bit | little-endian.
pub const AARCH64: ArchInfo = ArchInfo {
    oci: Arch::ScmpArchAarch64,
    audit_arch: 0xc000_00b7,
    table: syscalls::aarch64::TABLE,
    abi_bit: None,
};

/// The architecture this runtime was built for.
pub fn native() -> Result<&'static ArchInfo, SeccompError> {
    if cfg!(target_arch = "x86_64") {
        Ok(&X86_64)
    } else if cfg!(target_arch = "aarch64") {
        Ok(&AARCH64)
    } else {
        Err(SeccompError::UnsupportedNativeArchitecture(
            std::env::consts::ARCH,
        ))
    }
}

/// Parses an architecture name as profiles write them: the OCI/libseccomp
/// form (`SCMP_ARCH_X86_64`), the Go form (`amd64`, `arm64`, `386`...) or
/// the kernel form (`x86_64`, `aarch64`, `i686`...).
pub fn parse_arch(name: &str) -> Result<Arch, SeccompError> {
    let unknown = || SeccompError::UnknownArchitecture(name.to_owned());
    if name.starts_with("SCMP_ARCH_") {
        return Arch::from_str(name).map_err(|_| unknown());
    }
    Ok(match name {
        "amd64" | "x86_64" => Arch::ScmpArchX86_64,
        "386" | "x86" | "i386" | "i686" => Arch::ScmpArchX86,
        "x32" => Arch::ScmpArchX32,
        "arm64" | "aarch64" => Arch::ScmpArchAarch64,
        "arm" | "armv7l" | "armhf" => Arch::ScmpArchArm,
        "mips" => Arch::ScmpArchMips,
        "mipsle" | "mipsel" => Arch::ScmpArchMipsel,
        "mips64" => Arch::ScmpArchMips64,
        "mips64le" | "mipsel64" => Arch::ScmpArchMipsel64,
        "mips64n32" => Arch::ScmpArchMips64n32,
        "mips64len32" | "mipsel64n32" => Arch::ScmpArchMipsel64n32,
        "ppc" => Arch::ScmpArchPpc,
        "ppc64" => Arch::ScmpArchPpc64,
        "ppc64le" => Arch::ScmpArchPpc64le,
        "s390" => Arch::ScmpArchS390,
        "s390x" => Arch::ScmpArchS390x,
        "riscv64" => Arch::ScmpArchRiscv64,
        _ => return Err(unknown()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seccomp_arch_names_parse() {
        assert_eq!(parse_arch("amd64").unwrap(), Arch::ScmpArchX86_64);
        assert_eq!(
            parse_arch("SCMP_ARCH_X86_64").unwrap(),
            Arch::ScmpArchX86_64
        );
        assert_eq!(parse_arch("arm64").unwrap(), Arch::ScmpArchAarch64);
        assert_eq!(parse_arch("SCMP_ARCH_X32").unwrap(), Arch::ScmpArchX32);
        for bad in ["SCMP_ARCH_VAX", "vax", ""] {
            let err = parse_arch(bad).unwrap_err();
            assert!(matches!(err, SeccompError::UnknownArchitecture(_)), "{bad}");
        }
        assert!(native().is_ok());
    }
}
