//! Images: references, registries, the registry client, the image catalog
//! entries and the archive formats.

pub mod archive;
pub mod auth;
pub mod config;
pub mod digest;
pub mod error;
pub mod import;
pub mod inspect;
pub mod local;
pub mod manifest;
pub mod media;
pub mod platform;
pub mod progress;
pub mod pull;
pub mod push;
pub mod record;
pub mod reference;
pub mod registries;
pub mod registry;
pub mod remote;
pub mod remove;
