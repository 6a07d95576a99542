//! End-to-end test support for husk: deterministic fixture images written as
//! OCI layouts ([`fixtures`]), a real local registry ([`registry`]) and
//! helpers for running commands as the unprivileged test user
//! ([`rootless`]), and drivers of husk-shim ([`shim`]).

pub mod bundle;
pub mod fixtures;
pub mod husk;
pub mod registry;
pub mod rootless;
pub mod shim;
pub mod tools;
