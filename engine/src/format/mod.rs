//! Output formatting the way podman prints it: `--format` Go templates,
//! aligned tables, JSON, human-readable sizes, durations and times.
//!
//! | module | what |
//! | --- | --- |
//! | [`template`] | a Go `text/template` subset evaluated over `serde_json::Value` |
//! | [`report`] | podman's `--format` handling: `json`, `table …`, headers, row output |
//! | [`table`] | Go's `text/tabwriter` with podman's settings, and a simple row table |
//! | [`json`] | JSON encoded as Go's `encoding/json` writes it (escaping, indent, floats) |
//! | [`units`] | go-units sizes: `4.86MB`, `RAMInBytes("512m")`, `FromHumanSize("10mb")` |
//! | [`duration`] | Go durations (`1h30m`), go-units `HumanDuration`, ps status strings |
//! | [`times`] | RFC 3339 timestamps with nanoseconds and offsets, `--since`/`--until` |
//!
//! See `docs/format.md` for what matches podman byte for byte and where husk
//! differs.

mod calendar;
pub mod duration;
mod float;
pub mod headers;
pub mod json;
pub mod report;
pub mod table;
pub mod template;
pub mod times;
pub mod units;

pub use headers::Headers;
pub use report::{is_json, Origin, Report};
pub use template::{Template, TemplateError};
