//! The uid/gid switch: supplementary groups, gids, uids, keeping capabilities
//! across the change so the spec's sets can be applied after it.

use nix::unistd::{setgroups, setresgid, setresuid, Gid, Uid};
use oci_spec::runtime::{LinuxCapabilities, User};

use super::caps;
use crate::error::{Result, SysContext};

/// Switches to the spec's user and applies its capabilities.
/// `setgroups_allowed` is false in a user namespace whose setgroups is denied.
pub fn switch(
    user: &User,
    capabilities: Option<&LinuxCapabilities>,
    setgroups_allowed: bool,
) -> Result<()> {
    if let Some(c) = capabilities {
        caps::apply_bounding(c)?;
    }
    if setgroups_allowed {
        let groups: Vec<Gid> = user
            .additional_gids()
            .iter()
            .flatten()
            .map(|g| Gid::from_raw(*g))
            .collect();
        setgroups(&groups).ctx(|| format!("setting supplementary groups {groups:?}"))?;
    }
    // SAFETY: prctl(PR_SET_KEEPCAPS) takes integer arguments only.
    unsafe { libc::prctl(libc::PR_SET_KEEPCAPS, 1, 0, 0, 0) };
    let gid = Gid::from_raw(user.gid());
    setresgid(gid, gid, gid).ctx(|| format!("setting gid {gid}"))?;
    let uid = Uid::from_raw(user.uid());
    setresuid(uid, uid, uid).ctx(|| format!("setting uid {uid}"))?;
    // SAFETY: as above.
    unsafe { libc::prctl(libc::PR_SET_KEEPCAPS, 0, 0, 0, 0) };
    if let Some(c) = capabilities {
        caps::apply_sets(c)?;
    }
    if let Some(mask) = user.umask() {
        nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(mask));
    }
    Ok(())
}
