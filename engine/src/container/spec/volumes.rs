//! The user's mounts: `-v/--volume`, `--mount` and `--tmpfs`, parsed with
//! podman's syntax and defaults into planned mounts. Nothing here touches
//! the filesystem; [`super::mounts`] creates missing `-v` sources, reads
//! source mount flags and chowns `U` sources once everything validated.
//!
//! Defaults (podman's `ProcessOptions`): `rw` unless `ro`, `rprivate`
//! unless a propagation is given; binds are recursive (`rbind`) unless
//! `bind` (or `bind-nonrecursive`) is asked for and inherit `nosuid`,
//! `nodev`, `noexec` from the source's mount; tmpfs mounts get `nosuid` and
//! `nodev` (what podman really emits; its manual says `noexec` too).

use std::path::PathBuf;

use super::error::{Result, SpecError};
use super::process::clean;

/// What a planned mount is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    /// A bind mount of a host path.
    Bind {
        /// The host path (absolute).
        source: PathBuf,
        /// Create it as a directory when missing (`-v`, as podman).
        create: bool,
    },
    /// A tmpfs.
    Tmpfs,
    /// An anonymous volume (`-v DST`): a per-container directory.
    Anonymous,
}

/// A mount the user asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Planned {
    /// Where in the container (absolute, clean).
    pub dest: PathBuf,
    /// What.
    pub kind: Kind,
    /// OCI options (without the engine-only ones below).
    pub options: Vec<String>,
    /// `U`: chown the source (tmpfs: mount with uid=/gid=) to the
    /// container's user.
    pub chown: bool,
    /// `z`/`Z`: relabel for SELinux.
    pub relabel: bool,
    /// Whether the user set exec/suid/dev explicitly (so source flags are
    /// not inherited for those).
    pub set_exec: bool,
    /// See `set_exec`.
    pub set_suid: bool,
    /// See `set_exec`.
    pub set_dev: bool,
    /// The flag this came from, for messages (`-v`, `--mount`, `--tmpfs`).
    pub flag: &'static str,
    /// The value as given, for messages.
    pub spec: String,
}

const PROPAGATIONS: [&str; 8] = [
    "shared",
    "rshared",
    "slave",
    "rslave",
    "private",
    "rprivate",
    "unbindable",
    "runbindable",
];

/// Counts of option families, to refuse `ro,rw` and the like as podman
/// does.
#[derive(Default)]
struct Seen {
    write: bool,
    label: bool,
    prop: bool,
    bind: bool,
    exec: bool,
    suid: bool,
    dev: bool,
    chown: bool,
}

fn once(flag: &'static str, spec: &str, seen: &mut bool, what: &str) -> Result<()> {
    if *seen {
        return Err(SpecError::invalid(
            flag,
            spec,
            format!("only one {what} option may be given"),
        ));
    }
    *seen = true;
    Ok(())
}

/// Applies one option (bind or tmpfs) to `p`; false when unknown.
fn option(p: &mut Planned, seen: &mut Seen, o: &str, tmpfs: bool) -> Result<bool> {
    let (flag, spec) = (p.flag, p.spec.clone());
    match o {
        "rw" | "ro" => {
            once(flag, &spec, &mut seen.write, "rw/ro")?;
            p.options.push(o.into());
        }
        "z" | "Z" => {
            once(flag, &spec, &mut seen.label, "z/Z")?;
            p.relabel = true;
        }
        "U" => {
            once(flag, &spec, &mut seen.chown, "U")?;
            p.chown = true;
        }
        "O" => {
            return Err(SpecError::unsupported(
                format!("the O (overlay) option of {flag} {spec}"),
                "overlay volumes come with the volumes issue; use a plain bind",
            ))
        }
        "idmap" => {
            return Err(SpecError::unsupported(
                format!("the idmap option of {flag} {spec}"),
                "husk-runtime has no idmapped bind mounts yet",
            ))
        }
        o if o.starts_with("idmap=") => {
            return Err(SpecError::unsupported(
                format!("the idmap option of {flag} {spec}"),
                "husk-runtime has no idmapped bind mounts yet",
            ))
        }
        "bind" | "rbind" if !tmpfs => {
            once(flag, &spec, &mut seen.bind, "bind/rbind")?;
            p.options.push(o.into());
        }
        "exec" | "noexec" => {
            once(flag, &spec, &mut seen.exec, "exec/noexec")?;
            p.set_exec = true;
            p.options.push(o.into());
        }
        "suid" | "nosuid" => {
            once(flag, &spec, &mut seen.suid, "suid/nosuid")?;
            p.set_suid = true;
            p.options.push(o.into());
        }
        "dev" | "nodev" => {
            once(flag, &spec, &mut seen.dev, "dev/nodev")?;
            p.set_dev = true;
            p.options.push(o.into());
        }
        // Named-volume options; meaningless for binds, accepted as podman
        // does. tmpcopyup is not implemented by husk-runtime (see
        // docs/spec.md), so it is dropped rather than passed on.
        "copy" | "nocopy" | "tmpcopyup" | "notmpcopyup" => {}
        "noatime" | "atime" | "relatime" | "norelatime" | "strictatime" | "nostrictatime"
        | "nodiratime" | "diratime" | "sync" | "async" | "dirsync" => p.options.push(o.into()),
        o if PROPAGATIONS.contains(&o) => {
            once(flag, &spec, &mut seen.prop, "propagation")?;
            p.options.push(o.into());
        }
        o if tmpfs => {
            let key = o.split_once('=').map_or(o, |(k, _)| k);
            let valued = [
                "size",
                "mode",
                "uid",
                "gid",
                "nr_inodes",
                "nr_blocks",
                "huge",
                "mpol",
            ];
            let flags = ["noswap", "inode32", "inode64"];
            if !(flags.contains(&o) || valued.contains(&key) && o.contains('=')) {
                return Ok(false);
            }
            if key == "mode" && u32::from_str_radix(&o[5..], 8).is_err() {
                return Err(SpecError::invalid(flag, &spec, "mode= takes an octal mode"));
            }
            if key == "size" && !valid_tmpfs_size(&o[5..]) {
                return Err(SpecError::invalid(
                    flag,
                    &spec,
                    "size= takes a number with an optional k, m, g or % suffix",
                ));
            }
            p.options.push(o.into());
        }
        _ => return Ok(false),
    }
    Ok(true)
}

fn valid_tmpfs_size(v: &str) -> bool {
    let digits = v.trim_end_matches(['k', 'K', 'm', 'M', 'g', 'G', '%']);
    !digits.is_empty() && digits.len() + 1 >= v.len() && digits.bytes().all(|b| b.is_ascii_digit())
}

/// Adds the defaults every mount gets.
fn finish(mut p: Planned, seen: &Seen, tmpfs: bool) -> Planned {
    if !seen.write {
        p.options.push("rw".into());
    }
    if !seen.prop {
        p.options.push("rprivate".into());
    }
    if tmpfs {
        if !seen.suid {
            p.options.push("nosuid".into());
        }
        if !seen.dev {
            p.options.push("nodev".into());
        }
    } else if !seen.bind {
        p.options.push("rbind".into());
    }
    p
}

fn dest(flag: &'static str, spec: &str, d: &str) -> Result<PathBuf> {
    if !d.starts_with('/') {
        // podman 5's wording, after the flag.
        return Err(SpecError::invalid(
            flag,
            spec,
            format!("invalid container path {d:?}, must be an absolute path"),
        ));
    }
    let d = clean(d);
    if d == std::path::Path::new("/") {
        return Err(SpecError::invalid(
            flag,
            spec,
            "cannot mount over the container's root",
        ));
    }
    Ok(d)
}

fn planned(flag: &'static str, spec: &str, dest: PathBuf, kind: Kind) -> Planned {
    Planned {
        dest,
        kind,
        options: Vec::new(),
        chown: false,
        relabel: false,
        set_exec: false,
        set_suid: false,
        set_dev: false,
        flag,
        spec: spec.to_owned(),
    }
}

/// `-v [SRC:]DST[:OPTIONS]`. SRC is a host path (absolute, or relative
/// to `cwd` when it starts with `.`); a name is a named volume, not
/// supported yet. `-v DST` alone is an anonymous volume.
pub fn parse_volume(spec: &str, cwd: &std::path::Path) -> Result<Planned> {
    const F: &str = "-v";
    let parts: Vec<&str> = spec.split(':').collect();
    let (src, dst, opts) = match parts.as_slice() {
        [d] => (None, *d, ""),
        [s, d] => (Some(*s), *d, ""),
        [s, d, o] => (Some(*s), *d, *o),
        _ => {
            return Err(SpecError::invalid(
                F,
                spec,
                "expected [SRC:]DST[:OPTIONS] (invalid volume spec)",
            ))
        }
    };
    if src.is_some_and(str::is_empty) || dst.is_empty() {
        return Err(SpecError::invalid(F, spec, "empty source or destination"));
    }
    let kind = match src {
        None => Kind::Anonymous,
        Some(s) if s.starts_with('/') => Kind::Bind {
            source: clean(s),
            create: true,
        },
        Some(s) if s.starts_with('.') => Kind::Bind {
            source: clean(&cwd.join(s).to_string_lossy()),
            create: true,
        },
        Some(name) => {
            return Err(SpecError::unsupported(
                format!("the named volume {name:?} (-v {spec})"),
                "named volumes are not supported yet; give a host path (-v /host/dir:DST)",
            ))
        }
    };
    let mut p = planned(F, spec, dest(F, spec, dst)?, kind);
    let mut seen = Seen::default();
    for o in opts.split(',').filter(|o| !o.is_empty()) {
        if !option(&mut p, &mut seen, o, false)? {
            return Err(SpecError::invalid(F, spec, format!("unknown option {o:?}")));
        }
    }
    Ok(finish(p, &seen, false))
}

/// `--tmpfs DST[:OPTIONS]`.
pub fn parse_tmpfs(spec: &str) -> Result<Planned> {
    const F: &str = "--tmpfs";
    let (d, opts) = spec.split_once(':').unwrap_or((spec, ""));
    let mut p = planned(F, spec, dest(F, spec, d)?, Kind::Tmpfs);
    let mut seen = Seen::default();
    for o in opts.split(',').filter(|o| !o.is_empty()) {
        if !option(&mut p, &mut seen, o, true)? {
            return Err(SpecError::invalid(F, spec, format!("unknown option {o:?}")));
        }
    }
    Ok(finish(p, &seen, true))
}

/// A size with an optional unit (`64m`, `1g`, `512k`, `100`) in bytes.
pub fn parse_size(v: &str) -> Option<u64> {
    let v = v.trim().to_ascii_lowercase();
    let v = v.strip_suffix('b').unwrap_or(&v);
    let (num, mult) = match v.as_bytes().last()? {
        b'k' => (&v[..v.len() - 1], 1u64 << 10),
        b'm' => (&v[..v.len() - 1], 1 << 20),
        b'g' => (&v[..v.len() - 1], 1 << 30),
        b't' => (&v[..v.len() - 1], 1 << 40),
        _ => (v, 1),
    };
    let n: f64 = num.parse().ok()?;
    if n.is_nan() || n < 0.0 {
        return None;
    }
    Some((n * mult as f64) as u64)
}

fn bool_value(flag: &'static str, spec: &str, key: &str, v: Option<&str>) -> Result<bool> {
    match v {
        None | Some("true") | Some("1") => Ok(true),
        Some("false") | Some("0") => Ok(false),
        Some(_) => Err(SpecError::invalid(
            flag,
            spec,
            format!("{key}= takes true or false"),
        )),
    }
}

/// `--mount type=bind|tmpfs,...` in podman's key syntax: `src`/`source`,
/// `dst`/`destination`/`target`, `ro`/`readonly[=true|false]`,
/// `bind-propagation=`, `bind-nonrecursive`, `relabel=shared|private`,
/// `U`/`chown`, `tmpfs-size=`, `tmpfs-mode=`, `tmpcopyup`, and the
/// exec/suid/dev flags. A bind's source must exist.
pub fn parse_mount(spec: &str) -> Result<Planned> {
    const F: &str = "--mount";
    let bad = |r: String| SpecError::invalid(F, spec, r);
    let mut typ = None;
    let mut src = None;
    let mut dst = None;
    let mut rest: Vec<(&str, Option<&str>)> = Vec::new();
    for field in spec.split(',').map(str::trim).filter(|f| !f.is_empty()) {
        let (k, v) = match field.split_once('=') {
            Some((k, v)) => (k, Some(v)),
            None => (field, None),
        };
        match k {
            "type" => typ = v,
            "src" | "source" => src = v,
            "dst" | "destination" | "target" => dst = v,
            _ => rest.push((k, v)),
        }
    }
    let typ = typ.ok_or_else(|| bad("type= is required (bind or tmpfs)".into()))?;
    let d = dst.ok_or_else(|| bad("dst= (destination, target) is required".into()))?;
    let kind = match typ {
        "bind" => {
            let s = src.ok_or_else(|| bad("a bind mount needs src= (source)".into()))?;
            if !s.starts_with('/') {
                return Err(bad(format!("the source {s:?} must be an absolute path")));
            }
            Kind::Bind {
                source: clean(s),
                create: false,
            }
        }
        "tmpfs" => {
            if src.is_some() {
                return Err(bad("a tmpfs mount takes no source".into()));
            }
            Kind::Tmpfs
        }
        "volume" | "image" | "devpts" | "glob" | "ramfs" | "artifact" => {
            return Err(SpecError::unsupported(
                format!("--mount type={typ}"),
                "only type=bind and type=tmpfs are implemented",
            ))
        }
        other => return Err(bad(format!("invalid filesystem type {other:?}"))),
    };
    let tmpfs = kind == Kind::Tmpfs;
    let mut p = planned(F, spec, dest(F, spec, d)?, kind);
    let mut seen = Seen::default();
    for (k, v) in rest {
        match (k, tmpfs) {
            ("ro" | "readonly", _) => {
                let ro = bool_value(F, spec, k, v)?;
                option(&mut p, &mut seen, if ro { "ro" } else { "rw" }, tmpfs)?;
            }
            ("rw", _) => {
                let rw = bool_value(F, spec, k, v)?;
                option(&mut p, &mut seen, if rw { "rw" } else { "ro" }, tmpfs)?;
            }
            ("bind-propagation", false) => {
                let v = v.unwrap_or("");
                if !PROPAGATIONS.contains(&v) {
                    return Err(bad(format!("unknown bind-propagation {v:?}")));
                }
                option(&mut p, &mut seen, v, false)?;
            }
            ("bind-nonrecursive", false) => {
                if bool_value(F, spec, k, v)? {
                    option(&mut p, &mut seen, "bind", false)?;
                }
            }
            ("relabel", _) => match v {
                Some("shared") => {
                    option(&mut p, &mut seen, "z", tmpfs)?;
                }
                Some("private") => {
                    option(&mut p, &mut seen, "Z", tmpfs)?;
                }
                _ => return Err(bad("relabel= takes shared or private".into())),
            },
            ("U" | "chown", _) => {
                if bool_value(F, spec, k, v)? {
                    option(&mut p, &mut seen, "U", tmpfs)?;
                }
            }
            ("tmpfs-size", true) => {
                let bytes = v
                    .and_then(parse_size)
                    .ok_or_else(|| bad("tmpfs-size= takes a size such as 64m".into()))?;
                p.options.push(format!("size={bytes}"));
            }
            ("tmpfs-mode", true) => {
                let m = v
                    .and_then(|m| u32::from_str_radix(m, 8).ok())
                    .ok_or_else(|| bad("tmpfs-mode= takes an octal mode".into()))?;
                p.options.push(format!("mode={m:o}"));
            }
            ("consistency", _) => {}
            (k, _) if v.is_none() => {
                if !option(&mut p, &mut seen, k, tmpfs)? {
                    return Err(bad(format!("unknown option {k:?} for type={typ}")));
                }
            }
            (k, _) => return Err(bad(format!("unknown option {k:?} for type={typ}"))),
        }
    }
    Ok(finish(p, &seen, tmpfs))
}

/// Every user mount, checked for duplicate destinations.
pub fn parse_all(
    volumes: &[String],
    mounts: &[String],
    tmpfs: &[String],
    cwd: &std::path::Path,
) -> Result<Vec<Planned>> {
    let mut out = Vec::with_capacity(volumes.len() + mounts.len() + tmpfs.len());
    for v in volumes {
        out.push(parse_volume(v, cwd)?);
    }
    for m in mounts {
        out.push(parse_mount(m)?);
    }
    for t in tmpfs {
        out.push(parse_tmpfs(t)?);
    }
    for (i, a) in out.iter().enumerate() {
        if let Some(b) = out[i + 1..].iter().find(|b| b.dest == a.dest) {
            return Err(SpecError::Conflict(format!(
                "{}: duplicate mount destination ({} {} and {} {})",
                a.dest.display(),
                a.flag,
                a.spec,
                b.flag,
                b.spec
            )));
        }
    }
    Ok(out)
}

#[cfg(test)]
#[path = "volumes_tests.rs"]
mod tests;
