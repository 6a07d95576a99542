//! husk-runtime: husk's own OCI runtime (runtime-spec 1.2, Linux).
//!
//! The library implements the container lifecycle (create, start, state,
//! kill, delete) with namespaces created in one clone3 call, id maps written
//! by the parent, a rootfs built with symlink-safe mount targets, and one
//! SOCK_SEQPACKET socket over which the container's init reports back. The
//! `husk-runtime` binary puts runc's command line in front of it.

pub mod bundle;
pub mod cgroup;
pub mod clone;
pub mod container;
pub mod error;
pub mod exec;
pub mod hooks;
pub mod id;
pub mod idmap;
pub mod loopback;
pub mod namespaces;
pub mod process;
pub mod rootfs;
pub mod seccomp;
pub mod signal;
pub mod state;
pub mod sync;
pub mod time;
pub mod timens;
pub mod trace;
pub mod wait;

pub use error::{Result, RuntimeError};
