//! Filter flags: `linux.seccomp.flags` to `SECCOMP_FILTER_FLAG_*` bits for
//! seccomp(2).

use std::str::FromStr;

use oci_spec::runtime::LinuxSeccompFilterFlag as Flag;

use super::SeccompError;

/// Synchronise every thread of the process to the new filter.
pub const SECCOMP_FILTER_FLAG_TSYNC: u32 = 1;
/// Log every action but `SECCOMP_RET_ALLOW` (Linux 4.14).
pub const SECCOMP_FILTER_FLAG_LOG: u32 = 2;
/// Leave the Speculative Store Bypass mitigation off (Linux 4.17).
pub const SECCOMP_FILTER_FLAG_SPEC_ALLOW: u32 = 4;
/// Wait killably for a user-notification reply (Linux 5.19). oci-spec 0.7
/// cannot express it yet; the bit is here for when it can.
pub const SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV: u32 = 32;

/// The seccomp(2) flag bit of one OCI flag.
pub fn bit(flag: Flag) -> u32 {
    match flag {
        Flag::SeccompFilterFlagTsync => SECCOMP_FILTER_FLAG_TSYNC,
        Flag::SeccompFilterFlagLog => SECCOMP_FILTER_FLAG_LOG,
        Flag::SeccompFilterFlagSpecAllow => SECCOMP_FILTER_FLAG_SPEC_ALLOW,
    }
}

/// The union of the bits of `flags`.
pub fn bits(flags: &[Flag]) -> u32 {
    flags.iter().fold(0, |acc, &f| acc | bit(f))
}

/// Parses a flag name (`SECCOMP_FILTER_FLAG_TSYNC`...). Unknown names are
/// an error: a flag changes what the filter does, so none is ignored.
/// (In config.json the OCI parser already refuses unknown flags.)
pub fn parse(name: &str) -> Result<Flag, SeccompError> {
    Flag::from_str(name).map_err(|_| SeccompError::UnknownFlag(name.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seccomp_flags_map_to_kernel_bits() {
        let all = [
            parse("SECCOMP_FILTER_FLAG_TSYNC").unwrap(),
            parse("SECCOMP_FILTER_FLAG_LOG").unwrap(),
            parse("SECCOMP_FILTER_FLAG_SPEC_ALLOW").unwrap(),
        ];
        assert_eq!(bits(&all), 7);
        assert_eq!(bits(&[]), 0);
        let err = parse("SECCOMP_FILTER_FLAG_BOGUS").unwrap_err();
        assert!(
            err.to_string().contains("SECCOMP_FILTER_FLAG_BOGUS"),
            "{err}"
        );
    }
}
