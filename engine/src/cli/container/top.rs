//! `husk top`: a container's processes, read from /proc with podman's
//! format descriptors (`user pid ppid pcpu etime tty time args` by default).

use clap::Args;

use crate::catalog::containers::State;
use crate::cli::ctx::Ctx;
use crate::container::{live, lookup, passwd};
use crate::format::table;

/// `husk top` arguments.
#[derive(Debug, Args)]
pub struct TopArgs {
    /// Use the most recently created container.
    #[arg(short = 'l', long)]
    pub latest: bool,
    /// The container (unless --latest), then format descriptors.
    #[arg(value_name = "CONTAINER [DESCRIPTOR...]")]
    pub args: Vec<String>,
}

const DEFAULT: [&str; 8] = [
    "user", "pid", "ppid", "pcpu", "etime", "tty", "time", "args",
];

struct Proc {
    pid: i32,
    ppid: i32,
    /// The pid in the container's own pid namespace (NSpid's last value).
    ns_pid: i32,
    uid: u32,
    gid: u32,
    tty: u64,
    utime: u64,
    stime: u64,
    start: u64,
    nice: i64,
    vsz: u64,
    rss: u64,
    comm: String,
    args: String,
}

fn read_proc(pid: i32) -> Option<Proc> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let open = stat.find('(')?;
    let close = stat.rfind(')')?;
    let comm = stat[open + 1..close].to_owned();
    let f: Vec<&str> = stat[close + 2..].split_whitespace().collect();
    let n = |i: usize| f.get(i).and_then(|x| x.parse::<i64>().ok()).unwrap_or(0);
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let id_of = |key: &str| {
        status
            .lines()
            .find(|l| l.starts_with(key))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    let args: Vec<String> = cmdline
        .split(|b| *b == 0)
        .filter(|a| !a.is_empty())
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect();
    let ns_pid = status
        .lines()
        .find(|l| l.starts_with("NSpid:"))
        .and_then(|l| l.split_whitespace().last())
        .and_then(|v| v.parse().ok())
        .unwrap_or(pid);
    Some(Proc {
        pid,
        ppid: n(1) as i32,
        ns_pid,
        uid: id_of("Uid:"),
        gid: id_of("Gid:"),
        tty: n(4) as u64,
        utime: n(11) as u64,
        stime: n(12) as u64,
        nice: n(16),
        start: n(19) as u64,
        vsz: n(20) as u64 / 1024,
        rss: n(21) as u64 * 4,
        args: if args.is_empty() {
            format!("[{comm}]")
        } else {
            args.join(" ")
        },
        comm,
    })
}

fn hms(secs: u64) -> String {
    let (d, h, m, s) = (secs / 86400, secs / 3600 % 24, secs / 60 % 60, secs % 60);
    if d > 0 {
        format!("{d}d{h}h")
    } else if h > 0 {
        format!("{h}h{m}m{s}s")
    } else if m > 0 {
        format!("{m}m{s}s")
    } else {
        format!("{s}s")
    }
}

fn header(d: &str) -> Option<&'static str> {
    Some(match d {
        "user" | "uname" => "USER",
        "pid" => "PID",
        "ppid" => "PPID",
        "pcpu" | "%cpu" => "%CPU",
        "etime" => "ELAPSED",
        "tty" => "TTY",
        "time" => "TIME",
        "args" => "COMMAND",
        "comm" => "COMMAND",
        "group" => "GROUP",
        "nice" => "NI",
        "vsz" => "VSZ",
        "rss" => "RSS",
        "uid" => "UID",
        "gid" => "GID",
        _ => return None,
    })
}

/// The format descriptors of `top` arguments (`pid,user` or several
/// words; the default set when none), checked.
pub fn descriptors(args: &[String]) -> anyhow::Result<Vec<String>> {
    let descs: Vec<String> = if args.is_empty() {
        DEFAULT.iter().map(|s| s.to_string()).collect()
    } else {
        args.iter()
            .flat_map(|d| d.split(','))
            .map(str::to_owned)
            .collect()
    };
    for d in &descs {
        if header(d).is_none() {
            anyhow::bail!("unknown descriptor: {d}");
        }
    }
    Ok(descs)
}

/// One container's processes, with the user and group names its own
/// /etc/passwd and /etc/group give their ids.
#[derive(Debug, Default)]
pub struct Procs {
    pids: Vec<i32>,
    passwd: Option<String>,
    group: Option<String>,
}

/// The processes of running container `id` whose init is `init_pid`.
/// Rootless, read them from inside the container's user namespace (see
/// [`top_cmd`]).
pub fn processes(paths: &crate::paths::Paths, id: &str, init_pid: i32) -> anyhow::Result<Procs> {
    let root = husk_runtime::state::StateRoot::open(paths.runtime_root())?;
    let (st, _) = husk_runtime::container::load(&root, id)?;
    let pids = husk_runtime::container::pids(&st);
    let croot = format!("/proc/{init_pid}/root");
    let (passwd, group) = match passwd::open_root(std::path::Path::new(&croot)) {
        Ok(fd) => (
            passwd::read_in_root(std::os::fd::AsFd::as_fd(&fd), "etc/passwd")
                .ok()
                .flatten(),
            passwd::read_in_root(std::os::fd::AsFd::as_fd(&fd), "etc/group")
                .ok()
                .flatten(),
        ),
        Err(_) => (None, None),
    };
    Ok(Procs {
        pids,
        passwd,
        group,
    })
}

/// The aligned table of `descs` for the processes of every container in
/// `all`, one header line first.
pub fn table(descs: &[String], all: &[Procs]) -> String {
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
    let uptime: f64 = std::fs::read_to_string("/proc/uptime")
        .ok()
        .and_then(|s| s.split_whitespace().next().and_then(|v| v.parse().ok()))
        .unwrap_or(0.0);
    let mut rows = vec![descs
        .iter()
        .map(|d| header(d).unwrap_or_default().to_owned())
        .collect::<Vec<_>>()];
    for c in all {
        let procs: Vec<Proc> = c.pids.iter().copied().filter_map(read_proc).collect();
        for p in &procs {
            // podman shows pids as the container sees them: its init is 1,
            // and a parent outside the container is 0.
            let ppid = procs
                .iter()
                .find(|q| q.pid == p.ppid)
                .map(|q| q.ns_pid)
                .unwrap_or(0);
            rows.push(row(descs, p, ppid, c, hz, uptime));
        }
    }
    let text: String = rows.iter().map(|r| r.join("\t") + "\n").collect();
    table::align(&text, table::MIN_WIDTH, table::PADDING)
}

fn row(descs: &[String], p: &Proc, ppid: i32, c: &Procs, hz: u64, uptime: f64) -> Vec<String> {
    let elapsed = (uptime - p.start as f64 / hz as f64).max(0.0);
    let cpu_secs = (p.utime + p.stime) / hz;
    descs
        .iter()
        .map(|d| match d.as_str() {
            "user" | "uname" => c
                .passwd
                .as_deref()
                .and_then(|t| passwd::user_by_uid(t, p.uid))
                .map(|e| e.name)
                .unwrap_or_else(|| p.uid.to_string()),
            "group" => c
                .group
                .as_deref()
                .and_then(|t| passwd::parse_group(t).find(|g| g.gid == p.gid))
                .map(|g| g.name)
                .unwrap_or_else(|| p.gid.to_string()),
            "uid" => p.uid.to_string(),
            "gid" => p.gid.to_string(),
            "pid" => p.ns_pid.to_string(),
            "ppid" => ppid.to_string(),
            "pcpu" | "%cpu" => {
                let pct = if elapsed > 0.0 {
                    (p.utime + p.stime) as f64 / hz as f64 / elapsed * 100.0
                } else {
                    0.0
                };
                format!("{pct:.3}")
            }
            "etime" => crate::format::duration::format_go_duration((elapsed * 1e9) as i64),
            "tty" => {
                if p.tty == 0 {
                    "?".into()
                } else {
                    format!("pts/{}", p.tty & 0xff)
                }
            }
            "time" => hms(cpu_secs),
            "args" => p.args.clone(),
            "comm" => p.comm.clone(),
            "nice" => p.nice.to_string(),
            "vsz" => p.vsz.to_string(),
            "rss" => p.rss.to_string(),
            _ => String::new(),
        })
        .collect()
}

/// `husk top`.
pub fn top_cmd(ctx: &mut Ctx, a: TopArgs) -> anyhow::Result<i32> {
    let (name, descs) = if a.latest {
        (None, &a.args[..])
    } else if let Some((first, rest)) = a.args.split_first() {
        (Some(first.as_str()), rest)
    } else {
        anyhow::bail!("you must provide the name or id of a running container");
    };
    let descs = descriptors(descs)?;
    let paths = ctx.paths.clone();
    let cat = ctx.catalog()?;
    let rec = match name {
        Some(n) => lookup::find(cat, n)?,
        None => lookup::latest(cat)?,
    };
    let l = live::live(&paths, &rec);
    if !matches!(l.state, State::Running | State::Paused) {
        anyhow::bail!("top can only be used on running containers: container state improper");
    }
    if paths.rootless && !crate::userns::inside() {
        // /proc shows ids as the reader's user namespace maps them: read
        // from the container's, as podman does.
        crate::userns::join(l.pid)?;
    }
    let procs = processes(&paths, &rec.id, l.pid)?;
    print!("{}", table(&descs, &[procs]));
    Ok(0)
}
