//! The per-phase trace of a husk command, as the user sees it.
//!
//! Recording is the runtime's [`husk_runtime::trace`] module, re-exported
//! here so the engine instruments itself with the same calls:
//!
//! ```
//! // A phase that lasts until the guard is dropped:
//! let _t = husk_engine::trace::span("engine.image.resolve");
//! // A point in time:
//! husk_engine::trace::mark("engine.shim.spawned");
//! // A phase measured by hand (names may be built at run time):
//! let start = husk_engine::trace::now_ns();
//! husk_engine::trace::record("engine.catalog", start, husk_engine::trace::now_ns());
//! ```
//!
//! `husk --trace[=table|json] COMMAND…` (or `$HUSK_TRACE`) opens a
//! [`Session`]: a private trace file that every process on the start path
//! appends to (`$HUSK_TRACE_FILE` is inherited), read back when the command
//! ends and printed to stderr as a [`Report`]: phases nested by time across
//! processes, each with its start offset and duration. With
//! `$HUSK_TRACE_T0` (CLOCK_MONOTONIC ns, set by whoever launched husk) the
//! report starts with an `exec` phase covering process start-up, so its
//! total is the wall time the caller measures.

mod report;
mod session;
mod table;

pub use husk_runtime::trace::{enabled, mark, now_ns, record, span, Span, TRACE_FILE_ENV};
pub use report::{Phase, Report, EXEC_PHASE};
pub use session::{Format, Session, TRACE_ENV, TRACE_T0_ENV};

use std::path::PathBuf;

/// Why a trace could not be set up or read.
#[derive(Debug, thiserror::Error)]
pub enum TraceError {
    /// `--trace` or `$HUSK_TRACE` names no known format.
    #[error("unknown trace format {0:?}: use table or json")]
    Format(String),
    /// The trace file could not be created, read or removed.
    #[error("trace file {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        #[source]
        source: std::io::Error,
    },
}
