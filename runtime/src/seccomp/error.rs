//! What can go wrong turning a seccomp configuration into a filter and
//! loading it.

use std::io;

/// An error of the seccomp module: each names what was wrong (the syscall,
/// action, architecture, operator, flag...) so the message points at the
/// offending part of config.json or of the profile.
#[derive(Debug, thiserror::Error)]
pub enum SeccompError {
    /// An action name the runtime does not know (profile loader).
    #[error("unknown seccomp action {0:?}")]
    UnknownAction(String),

    /// An action that is known but not supported, such as `SCMP_ACT_NOTIFY`.
    #[error("seccomp action {action} ({context}) is not supported by husk-runtime")]
    UnsupportedAction {
        /// The action, e.g. `SCMP_ACT_NOTIFY`.
        action: String,
        /// Where it was used: `defaultAction` or `syscall NAME`.
        context: String,
    },

    /// An architecture name the runtime does not know.
    #[error("unknown seccomp architecture {0:?}")]
    UnknownArchitecture(String),

    /// The machine the runtime runs on has no filter support.
    #[error("seccomp filters are not supported on architecture {0}")]
    UnsupportedNativeArchitecture(&'static str),

    /// A comparison operator name the runtime does not know.
    #[error("unknown seccomp operator {op:?} (syscall {syscall})")]
    UnknownOperator {
        /// The operator as written.
        op: String,
        /// The syscall rule it belongs to.
        syscall: String,
    },

    /// A filter flag name the runtime does not know.
    #[error("unknown seccomp filter flag {0:?}")]
    UnknownFlag(String),

    /// An argument index past the sixth argument.
    #[error("seccomp argument index {index} of syscall {syscall} is out of range (0 to 5)")]
    ArgumentIndex {
        /// The syscall rule.
        syscall: String,
        /// The index given.
        index: usize,
    },

    /// An errno (or trace value) that does not fit the 16 bits of the
    /// filter's return data.
    #[error("seccomp errnoRet {value} ({context}) is out of range (at most 65535)")]
    ErrnoOutOfRange {
        /// The value given.
        value: u32,
        /// Where: `defaultErrnoRet` or `syscall NAME`.
        context: String,
    },

    /// The program exceeds the kernel's limit on filter length.
    #[error("seccomp filter has {0} instructions, more than the kernel's limit of 4096")]
    TooLarge(usize),

    /// A rule needs a conditional jump longer than BPF can encode.
    #[error("seccomp rule for syscall {0} has too many argument conditions")]
    TooComplex(String),

    /// The profile is not valid JSON of the expected shape.
    #[error("invalid seccomp profile: {0}")]
    Profile(#[source] serde_json::Error),

    /// A `minKernel` that is not `MAJOR.MINOR`.
    #[error("invalid minKernel {0:?} in seccomp profile (expected MAJOR.MINOR)")]
    KernelVersion(String),

    /// The OCI structure could not be built.
    #[error("building the OCI seccomp configuration: {0}")]
    Spec(String),

    /// The seccomp(2) call failed.
    #[error("loading the seccomp filter: {reason}")]
    Load {
        /// What the errno means here.
        reason: &'static str,
        /// The system error.
        #[source]
        source: io::Error,
    },

    /// `SECCOMP_FILTER_FLAG_TSYNC` could not bring a thread along.
    #[error("loading the seccomp filter: thread {0} could not be synchronised (TSYNC)")]
    Tsync(i64),
}
