//! seccomp: `linux.seccomp` compiled to a classic-BPF program and loaded
//! with seccomp(2), plus the default profile in the containers-common
//! format ([`profile`]).
//!
//! The BPF is generated here rather than with a filter-building crate:
//! seccompiler (the Rust option without libseccomp) gives a whole filter
//! one match action, while the OCI format gives each rule its own action
//! and errno, and it does not guard the x32 ABI. The generator is small
//! ([`bpf`], [`args`], [`mod@compile`]) and tested against a BPF interpreter
//! and the real kernel.
//!
//! Use: [`compile()`] the spec's section early (errors reach the user before
//! the container starts), then [`load()`] it in the container's init as the
//! last step before execve, once no_new_privs is set. See docs/seccomp.md.

pub mod arch;
pub mod args;
pub mod bpf;
pub mod compile;
pub mod error;
pub mod flags;
pub mod load;
pub mod profile;
pub mod syscalls;

#[cfg(test)]
mod tests;

pub use compile::{compile, Filter};
pub use error::SeccompError;
pub use load::load;
