//! husk-shim: the per-container monitor that keeps husk daemonless.
//!
//! The shim holds a container's stdio, writes its log, serves attach
//! clients, reaps it and records its exit. The `husk` binary reaches it by
//! re-executing itself with argv[1] = [`SHIM_MODE_ARG`] and handing the rest
//! of its arguments to [`entry`]. The engine uses:
//!
//! - [`spawn()`] with a [`ShimConfig`]: create a container under a new shim;
//! - [`attach::attach`]: relay a terminal to a running container;
//! - [`exit::ExitRecord`]: how a container ended;
//! - [`logs::LogReader`]: read its log back.
//!
//! See docs/shim.md for the process model and the wire protocols.

pub mod attach;
mod cli;
pub mod config;
pub mod detach;
pub mod error;
pub mod exit;
pub mod logs;
mod monitor;
pub mod proto;
mod resident;
mod sockpath;
pub mod spawn;
mod sys;
pub mod timestamp;

pub use cli::entry;
pub use config::{LogDriver, ShimConfig, TtySize};
pub use error::{Result, ShimError};
pub use spawn::{spawn, Spawned};

/// The argv[1] marker with which the `husk` binary re-executes itself as a shim.
pub const SHIM_MODE_ARG: &str = "__husk-shim";
