//! `husk logs`: a container's output from its log file (k8s-file or
//! json-file, rotated files included), stdout lines to stdout and stderr
//! lines to stderr, with `-f`, `--tail`, `--since`, `--until`, `-t`, `-n`.

use std::io::Write;

use clap::Args;

use crate::cli::ctx::Ctx;
use crate::container::lookup;
use crate::format::times::{parse_input_time, Timestamp};
use husk_shim::config::LogDriver;
use husk_shim::logs::Stream;
use husk_shim::logs::{LogOptions, LogReader};

/// `husk logs` flags.
#[derive(Debug, Args)]
pub struct LogsArgs {
    /// Follow the log until the container exits.
    #[arg(short = 'f', long)]
    pub follow: bool,
    /// Only the last N lines (-1: all).
    #[arg(
        long,
        value_name = "N",
        default_value = "-1",
        allow_hyphen_values = true
    )]
    pub tail: i64,
    /// Only lines since this time (RFC 3339, Unix time, or a duration like 10m).
    #[arg(long, value_name = "TIME")]
    pub since: Option<String>,
    /// Only lines before this time.
    #[arg(long, value_name = "TIME")]
    pub until: Option<String>,
    /// Prefix each line with its timestamp.
    #[arg(short = 't', long)]
    pub timestamps: bool,
    /// Prefix each line with the container's name (several containers).
    #[arg(short = 'n', long)]
    pub names: bool,
    /// Use the most recently created container.
    #[arg(short = 'l', long)]
    pub latest: bool,
    /// Accepted for podman compatibility.
    #[arg(long)]
    pub color: bool,
    /// The containers.
    #[arg(value_name = "CONTAINER")]
    pub containers: Vec<String>,
}

fn nanos(t: Timestamp) -> i128 {
    t.unix_nanos()
}

/// `husk logs`.
pub fn logs_cmd(ctx: &mut Ctx, a: LogsArgs) -> anyhow::Result<i32> {
    let now = Timestamp::now();
    let since = a
        .since
        .as_deref()
        .map(|s| {
            parse_input_time(s, true, now)
                .map(nanos)
                .map_err(|e| anyhow::anyhow!("invalid --since {s:?}: {e}"))
        })
        .transpose()?;
    let until = a
        .until
        .as_deref()
        .map(|s| {
            parse_input_time(s, false, now)
                .map(nanos)
                .map_err(|e| anyhow::anyhow!("invalid --until {s:?}: {e}"))
        })
        .transpose()?;
    let paths = ctx.paths.clone();
    let cat = ctx.catalog()?;
    let mut recs = Vec::new();
    if a.latest {
        recs.push(lookup::latest(cat)?);
    } else if a.containers.is_empty() {
        anyhow::bail!("no containers given: give a container or --latest");
    } else {
        for n in &a.containers {
            recs.push(lookup::find(cat, n)?);
        }
    }
    let prefix_names = a.names || recs.len() > 1;
    let stdout = std::io::stdout();
    let stderr = std::io::stderr();
    for rec in recs {
        let driver = match rec.options.log_driver.as_deref() {
            None => LogDriver::K8sFile,
            Some(d) => LogDriver::parse(d).unwrap_or(LogDriver::K8sFile),
        };
        if driver == LogDriver::None {
            anyhow::bail!(
                "this container is using the 'none' log driver, cannot read logs: this container is not logging output"
            );
        }
        let path = rec
            .extra
            .get("log_path")
            .and_then(|v| v.as_str())
            .map(std::path::PathBuf::from)
            .unwrap_or_else(|| paths.log_file(&rec.id));
        let reader = LogReader::open(LogOptions {
            driver,
            path,
            tail: (a.tail >= 0).then_some(a.tail as usize),
            since,
            until,
            follow: a.follow,
            exit_file: Some(paths.exit_file(&rec.id)),
        })?;
        for entry in reader {
            let entry = entry?;
            let mut line = Vec::with_capacity(entry.line.len() + 48);
            if prefix_names {
                line.extend_from_slice(rec.id.get(..12).unwrap_or(&rec.id).as_bytes());
                line.push(b' ');
            }
            if a.timestamps {
                line.extend_from_slice(husk_shim::timestamp::format_nanos(entry.time).as_bytes());
                line.push(b' ');
            }
            line.extend_from_slice(&entry.line);
            let res = match entry.stream {
                Stream::Stdout => stdout.lock().write_all(&line).and_then(|_| {
                    if a.follow {
                        stdout.lock().flush()
                    } else {
                        Ok(())
                    }
                }),
                Stream::Stderr => stderr.lock().write_all(&line),
            };
            if let Err(e) = res {
                if e.kind() == std::io::ErrorKind::BrokenPipe {
                    return Ok(0);
                }
                return Err(e.into());
            }
        }
    }
    Ok(0)
}
