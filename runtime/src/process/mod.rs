//! The container side: the init process's setup, credentials, terminal and
//! the final execve.

pub mod caps;
pub mod exec;
pub mod init;
pub mod lsm;
pub mod rlimits;
pub mod sched;
pub mod terminal;
pub mod trampoline;
pub mod user;
