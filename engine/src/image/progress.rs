//! What pull, push, save and load tell the user on stderr while they work:
//! on a terminal one progress bar per blob (indicatif), otherwise podman's
//! plain lines (`Getting image source signatures`, `Copying blob
//! sha256:…`, `Copying config sha256:…`, `Writing manifest to image
//! destination`), and nothing at all with `--quiet`.

use std::io::IsTerminal;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::digest::Digest;
use super::registry::Progress;

/// How progress is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Nothing (errors still go to stderr).
    Quiet,
    /// podman's lines, for logs and pipes.
    Plain,
    /// Bars on a terminal.
    Bars,
}

/// The reporter of one command; shared by the threads of a pull.
#[derive(Debug, Clone)]
pub struct Reporter {
    mode: Mode,
    multi: Option<MultiProgress>,
}

impl Reporter {
    /// Bars when stderr is a terminal, plain lines otherwise; nothing
    /// when `quiet`.
    pub fn new(quiet: bool) -> Reporter {
        let mode = if quiet {
            Mode::Quiet
        } else if std::io::stderr().is_terminal() {
            Mode::Bars
        } else {
            Mode::Plain
        };
        Reporter::with_mode(mode)
    }

    /// A reporter in `mode`.
    pub fn with_mode(mode: Mode) -> Reporter {
        let multi = (mode == Mode::Bars)
            .then(|| MultiProgress::with_draw_target(ProgressDrawTarget::stderr()));
        Reporter { mode, multi }
    }

    /// The mode.
    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// A line of text (`Trying to pull …`), above any bars.
    pub fn line(&self, text: &str) {
        match (&self.mode, &self.multi) {
            (Mode::Quiet, _) => {}
            (Mode::Bars, Some(m)) => {
                let _ = m.println(text);
            }
            _ => eprintln!("{text}"),
        }
    }

    /// A warning (retries), shown in every mode but quiet.
    pub fn warn(&self, text: &str) {
        self.line(&format!("WARN[0000] {text}"));
    }

    /// Starts reporting the copy of a blob of `size` bytes; `kind` is
    /// `blob` or `config`.
    pub fn blob(&self, kind: &'static str, digest: &Digest, size: u64) -> BlobProgress {
        match (&self.mode, &self.multi) {
            (Mode::Quiet, _) => BlobProgress {
                bar: None,
                reporter: self.clone(),
            },
            (Mode::Bars, Some(m)) => {
                let bar = m.add(ProgressBar::new(size.max(1)));
                let style = ProgressStyle::with_template(
                    "Copying {prefix} {msg:<5} {bar:30} {bytes}/{total_bytes}",
                )
                .expect("a valid template")
                .progress_chars("=> ");
                bar.set_style(style);
                bar.set_prefix(format!("{kind} {}", digest.short()));
                BlobProgress {
                    bar: Some(bar),
                    reporter: self.clone(),
                }
            }
            _ => {
                eprintln!("Copying {kind} {digest}");
                BlobProgress {
                    bar: None,
                    reporter: self.clone(),
                }
            }
        }
    }
}

/// The progress of one blob.
#[derive(Debug)]
pub struct BlobProgress {
    bar: Option<ProgressBar>,
    reporter: Reporter,
}

impl BlobProgress {
    /// Feeds a registry client progress event.
    pub fn update(&self, p: &Progress<'_>) {
        match p {
            Progress::Bytes { done, .. } => {
                if let Some(b) = &self.bar {
                    b.set_position(*done);
                }
            }
            Progress::Retrying {
                attempt,
                retries,
                delay,
                error,
            } => self.reporter.warn(&format!(
                "Failed, retrying in {} ... ({attempt}/{retries}). Error: {error}",
                crate::format::duration::format_go_duration(delay.as_nanos() as i64)
            )),
        }
    }

    /// Bytes done (for copies that are not registry transfers).
    pub fn set(&self, done: u64) {
        if let Some(b) = &self.bar {
            b.set_position(done);
        }
    }

    /// The blob was there already.
    pub fn skipped(self) {
        if let Some(b) = &self.bar {
            b.finish_with_message("skipped: already exists");
        }
    }

    /// The copy finished.
    pub fn done(self) {
        if let Some(b) = &self.bar {
            b.set_position(b.length().unwrap_or(0));
            b.finish_with_message("done");
        }
    }

    /// The copy failed: the bar stops where it is.
    pub fn failed(self) {
        if let Some(b) = &self.bar {
            b.abandon_with_message("failed");
        }
    }
}
