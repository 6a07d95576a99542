//! The container's root filesystem: spec mounts, devices, pivot_root, masked
//! and read-only paths, all done by the init process in its mount namespace.

pub mod detached;
pub mod devices;
pub mod mounts;
pub mod options;
pub mod paths;
pub mod pivot;
pub mod resolve;
