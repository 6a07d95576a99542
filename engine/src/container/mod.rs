//! Containers: the options a user gives, the OCI spec made from them and
//! the image, and the lifecycle through the shim.

pub mod init;
pub mod options;
pub mod passwd;
pub mod spec;
