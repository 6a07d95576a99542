//! husk-engine: images, storage, containers and pods, and the `husk`
//! command line in front of them.
//!
//! The engine is a library so that its logic can be tested next to the code;
//! the `husk` binary (`src/main.rs`) is a thin edge over the library.
//! Dependency direction: engine -> shim -> runtime; nothing depends on the
//! engine.

pub mod bench;
pub mod catalog;
pub mod cli;
pub mod container;
pub mod engine;
pub mod format;
pub mod image;
pub mod paths;
pub mod pod;
pub mod storage;
pub mod trace;
pub mod userns;
