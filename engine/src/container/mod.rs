//! Containers: the options a user gives, the OCI spec made from them and
//! the image, and the lifecycle through the shim.

pub mod cleanup;
pub mod create;
pub mod error;
pub mod exec;
pub mod id;
pub mod init;
pub mod inspect;
pub mod live;
pub mod lookup;
pub mod options;
pub mod passwd;
pub mod pty;
pub mod remove;
pub mod rootfs;
pub mod spec;
pub mod start;
pub mod stop;
pub mod wait;
