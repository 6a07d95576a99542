//! Pods: containers that share network, IPC and UTS namespaces (and, when
//! asked, pid and cgroup ones), kept alive by an infra container that runs
//! husk's own pause. See docs/pods.md.

pub mod binary;
pub mod pause;
