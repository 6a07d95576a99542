//! husk-shim: the per-container monitor that keeps husk daemonless.
//!
//! The shim holds a container's stdio, writes its log, serves attach clients,
//! reaps it and records its exit. It is reached from the `husk` binary by
//! re-executing itself; see `docs/architecture.md` for the process model.
//! The monitor itself lands with the shim issue; this crate fixes its place in
//! the dependency graph (engine -> shim -> runtime).

/// The argv[1] marker with which the `husk` binary re-executes itself as a shim.
pub const SHIM_MODE_ARG: &str = "__husk-shim";
