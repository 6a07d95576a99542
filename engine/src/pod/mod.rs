//! Pods: containers that share network, IPC and UTS namespaces (and, when
//! asked, pid and cgroup ones), kept alive by an infra container that runs
//! husk's own pause. See docs/pods.md.

pub mod binary;
pub mod cgroup;
pub mod create;
pub mod error;
pub mod infra;
pub mod inspect;
pub mod lifecycle;
pub mod lookup;
pub mod member;
pub mod options;
pub mod pause;
pub mod remove;
pub mod status;

pub use error::{PodError, Result};
pub use options::{Namespace, PodOptions};
