//! Kernel-level tests of the storage layer: real files, real mounts, real
//! processes killed with SIGKILL, a real unprivileged user in a user
//! namespace. They need root (and the test user from
//! scripts/setup-host.sh) and fail loudly without.

mod blobs;
mod common;
mod crash;
mod measure;
mod rootfs;
mod rootless;
mod unpack;
