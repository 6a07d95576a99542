//! The per-container files bind-mounted into the container: `/etc/hosts`,
//! `/etc/hostname`, `/etc/resolv.conf` and `/run/.containerenv`, with
//! podman 5's content.

use std::fmt::Write as _;
use std::net::IpAddr;
use std::path::Path;

use super::error::{Result, SpecError};

/// `/etc/hostname`: the name and a newline (podman 5; 4.x wrote no newline).
pub fn hostname(name: &str) -> String {
    format!("{name}\n")
}

/// Checks a `-h/--hostname` value as sethostname(2) and resolvers would
/// take it.
pub fn check_hostname(h: &str) -> Result<()> {
    if h.is_empty()
        || h.len() > 64
        || h.bytes()
            .any(|b| b.is_ascii_whitespace() || b == 0 || b == b'/')
    {
        return Err(SpecError::invalid(
            "--hostname",
            h,
            "a hostname is 1 to 64 characters without spaces or slashes",
        ));
    }
    Ok(())
}

/// One `--add-host` entry: `NAME[;NAME...]:IP`.
pub fn parse_add_host(v: &str) -> Result<(Vec<&str>, IpAddr)> {
    let bad = |r: &str| SpecError::invalid("--add-host", v, r);
    let (names, ip) = v.split_once(':').ok_or_else(|| bad("expected NAME:IP"))?;
    if ip == "host-gateway" {
        return Err(SpecError::unsupported(
            format!("--add-host {v}"),
            "host-gateway needs container networking, which comes with a later issue",
        ));
    }
    let ip: IpAddr = ip
        .trim_start_matches('[')
        .trim_end_matches(']')
        .parse()
        .map_err(|_| bad("the address is not an IPv4 or IPv6 address"))?;
    let names: Vec<&str> = names.split(';').collect();
    if names
        .iter()
        .any(|n| n.is_empty() || n.bytes().any(|b| b.is_ascii_whitespace()))
    {
        return Err(bad("host names must be non-empty and without spaces"));
    }
    Ok((names, ip))
}

/// The container's network, as the files see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Net {
    /// A namespace of its own with only the loopback interface (husk's
    /// default until networking exists; `--network none`).
    Loopback,
    /// The host's network namespace.
    Host,
    /// Another container's (or a pod's) namespace.
    Joined,
}

/// `/etc/hosts`: `--add-host` entries first, then the host's `/etc/hosts`
/// (podman's default `base_hosts_file`), with localhost lines added when the
/// base has none, then the container's own name on 127.0.0.1 when its
/// network is loopback-only (what podman writes for `--network none`).
pub fn hosts(
    add_hosts: &[String],
    base: &str,
    hostname: &str,
    name: &str,
    net: Net,
) -> Result<String> {
    let mut out = String::with_capacity(base.len() + 128);
    for h in add_hosts {
        let (names, ip) = parse_add_host(h)?;
        let _ = writeln!(out, "{ip}\t{}", names.join(" "));
    }
    let has_localhost = base.lines().any(|l| {
        let l = l.split('#').next().unwrap_or("");
        l.split_whitespace().skip(1).any(|n| n == "localhost")
    });
    if !has_localhost {
        out.push_str(
            "127.0.0.1\tlocalhost localhost.localdomain localhost4 localhost4.localdomain4\n",
        );
        out.push_str("::1\tlocalhost localhost.localdomain localhost6 localhost6.localdomain6\n");
    }
    out.push_str(base);
    if !base.is_empty() && !base.ends_with('\n') {
        out.push('\n');
    }
    if net == Net::Loopback {
        if name.is_empty() || name == hostname {
            let _ = writeln!(out, "127.0.0.1\t{hostname}");
        } else {
            let _ = writeln!(out, "127.0.0.1\t{hostname} {name}");
        }
    }
    Ok(out)
}

/// The parts of a resolv.conf husk keeps.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Resolv {
    /// `nameserver` lines.
    pub nameservers: Vec<String>,
    /// `search` (or `domain`) domains.
    pub search: Vec<String>,
    /// `options`.
    pub options: Vec<String>,
}

/// Parses resolv.conf text.
pub fn parse_resolv(text: &str) -> Resolv {
    let mut r = Resolv::default();
    let mut domain = Vec::new();
    for line in text.lines() {
        let line = line.split(['#', ';']).next().unwrap_or("");
        let mut w = line.split_whitespace();
        match w.next() {
            Some("nameserver") => r.nameservers.extend(w.next().map(str::to_owned)),
            Some("search") => r.search = w.map(str::to_owned).collect(),
            Some("domain") => domain = w.take(1).map(str::to_owned).collect(),
            Some("options") => r.options.extend(w.map(str::to_owned)),
            _ => {}
        }
    }
    if r.search.is_empty() {
        r.search = domain;
    }
    r
}

fn is_loopback(ns: &str) -> bool {
    ns.split('%')
        .next()
        .and_then(|a| a.parse::<IpAddr>().ok())
        .is_some_and(|a| a.is_loopback())
}

/// The DNS servers a container falls back to when the host has only local
/// ones it cannot reach (Docker's and containers-common's choice).
pub const FALLBACK_DNS: [&str; 2] = ["8.8.8.8", "8.8.4.4"];

/// `/etc/resolv.conf` for the container, `None` when none should be
/// mounted (`--dns none`, or `--network none` as in podman: the image's own
/// file stays).
///
/// From the host's file: `--dns` replaces the nameservers, `--dns-search`
/// the search domains (`.` for none), `--dns-option` the options. In a
/// network namespace of its own the host's loopback nameservers (a local
/// resolver the container cannot reach) are dropped, and when none remain
/// the fallback servers are used, as podman does.
pub fn resolv_conf(
    host: &str,
    dns: &[String],
    search: &[String],
    options: &[String],
    own_netns: bool,
    network_none: bool,
) -> Result<Option<String>> {
    if dns.len() == 1 && dns[0] == "none" {
        return Ok(None);
    }
    if network_none && dns.is_empty() {
        return Ok(None);
    }
    for d in dns {
        if d.split('%').next().unwrap_or("").parse::<IpAddr>().is_err() {
            return Err(SpecError::invalid(
                "--dns",
                d,
                "not an IPv4 or IPv6 address",
            ));
        }
    }
    for s in search {
        if s.is_empty() || s.bytes().any(|b| b.is_ascii_whitespace()) {
            return Err(SpecError::invalid("--dns-search", s, "not a domain name"));
        }
    }
    for o in options {
        if o.is_empty() || o.bytes().any(|b| b.is_ascii_whitespace()) {
            return Err(SpecError::invalid(
                "--dns-option",
                o,
                "an option is one word, such as ndots:2",
            ));
        }
    }
    let mut r = parse_resolv(host);
    if !dns.is_empty() {
        r.nameservers = dns.to_vec();
    } else if own_netns {
        r.nameservers.retain(|n| !is_loopback(n));
        if r.nameservers.is_empty() {
            r.nameservers = FALLBACK_DNS.iter().map(|s| s.to_string()).collect();
        }
    }
    if !search.is_empty() {
        r.search = if search.len() == 1 && search[0] == "." {
            Vec::new()
        } else {
            search.to_vec()
        };
    }
    if !options.is_empty() {
        r.options = options.to_vec();
    }
    let mut out = String::with_capacity(128);
    if !r.search.is_empty() {
        let _ = writeln!(out, "search {}", r.search.join(" "));
    }
    for n in &r.nameservers {
        let _ = writeln!(out, "nameserver {n}");
    }
    if !r.options.is_empty() {
        let _ = writeln!(out, "options {}", r.options.join(" "));
    }
    Ok(Some(out))
}

/// The host's resolv.conf text: `/etc/resolv.conf`, or systemd-resolved's
/// upstream list when the host file only names resolved's local stub
/// (127.0.0.53), as containers-common does.
pub fn host_resolv() -> String {
    let text = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
    let r = parse_resolv(&text);
    if !r.nameservers.is_empty() && r.nameservers.iter().all(|n| n == "127.0.0.53") {
        if let Ok(upstream) = std::fs::read_to_string("/run/systemd/resolve/resolv.conf") {
            return upstream;
        }
    }
    text
}

/// What `/run/.containerenv` says about the container.
#[derive(Debug, Clone, Copy)]
pub struct ContainerEnv<'a> {
    /// `--privileged` (podman writes the details only then).
    pub privileged: bool,
    /// Container name.
    pub name: &'a str,
    /// Container id.
    pub id: &'a str,
    /// Image name as given.
    pub image: &'a str,
    /// Image id.
    pub image_id: &'a str,
    /// husk runs rootless.
    pub rootless: bool,
    /// A bind mount's source contains husk's storage (podman's
    /// `graphRootMounted=1`).
    pub graph_root_mounted: bool,
}

/// `/run/.containerenv` as podman writes it: empty for ordinary containers,
/// `engine`, `name`, `id`, `image`, `imageid`, `rootless` for privileged
/// ones, plus `graphRootMounted=1` when storage is mounted in. The engine
/// is `husk-VERSION`.
pub fn containerenv(c: &ContainerEnv<'_>) -> String {
    let mut out = String::new();
    if c.privileged {
        let _ = write!(
            out,
            "engine=\"husk-{}\"\nname={:?}\nid={:?}\nimage={:?}\nimageid={:?}\nrootless={}\n",
            env!("CARGO_PKG_VERSION"),
            c.name,
            c.id,
            c.image,
            c.image_id,
            u8::from(c.rootless)
        );
    }
    if c.graph_root_mounted {
        out.push_str("graphRootMounted=1\n");
    }
    out
}

/// Whether any bind source contains `graph_root`.
pub fn graph_root_mounted(graph_root: Option<&Path>, sources: &[&Path]) -> bool {
    let Some(root) = graph_root else { return false };
    sources.iter().any(|s| root.starts_with(s))
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOST_HOSTS: &str = "127.0.0.1 localhost\n127.0.0.1 runsc\n127.0.0.1 vm\n";

    #[test]
    fn hosts_like_podman() {
        let h = hosts(
            &["foo:1.2.3.4".into(), "a;b:::1".into()],
            HOST_HOSTS,
            "0123456789ab",
            "web",
            Net::Loopback,
        )
        .unwrap();
        assert_eq!(
            h,
            "1.2.3.4\tfoo\n::1\ta b\n127.0.0.1 localhost\n127.0.0.1 runsc\n127.0.0.1 vm\n127.0.0.1\t0123456789ab web\n"
        );
        let h = hosts(&[], "", "x", "x", Net::Host).unwrap();
        assert!(h.starts_with("127.0.0.1\tlocalhost "), "{h}");
        assert!(!h.contains("\tx\n"), "{h}");
        for bad in ["nocolon", ":1.2.3.4", "a b:1.2.3.4", "foo:999.1.1.1"] {
            let e = hosts(&[bad.into()], "", "h", "n", Net::Host)
                .unwrap_err()
                .to_string();
            assert!(e.starts_with(&format!("invalid --add-host {bad:?}")), "{e}");
        }
        assert!(hosts(&["gw:host-gateway".into()], "", "h", "n", Net::Host).is_err());
    }

    #[test]
    fn resolv_from_host_with_overrides() {
        let host = "# generated\nsearch corp.example\nnameserver 127.0.0.53\nnameserver 10.0.0.2\noptions edns0\n";
        let r = resolv_conf(host, &[], &[], &[], true, false)
            .unwrap()
            .unwrap();
        assert_eq!(
            r,
            "search corp.example\nnameserver 10.0.0.2\noptions edns0\n"
        );
        // The host's network keeps its local resolver.
        let r = resolv_conf(host, &[], &[], &[], false, false)
            .unwrap()
            .unwrap();
        assert!(r.contains("nameserver 127.0.0.53"));
        let r = resolv_conf(
            host,
            &["9.9.9.9".into()],
            &["example.com".into()],
            &["ndots:2".into()],
            true,
            false,
        )
        .unwrap()
        .unwrap();
        assert_eq!(
            r,
            "search example.com\nnameserver 9.9.9.9\noptions ndots:2\n"
        );
        let r = resolv_conf(host, &[], &[".".into()], &[], true, false)
            .unwrap()
            .unwrap();
        assert!(!r.contains("search"));
        // Only loopback servers: the fallbacks.
        let r = resolv_conf(
            "nameserver 127.0.0.1\nnameserver ::1\n",
            &[],
            &[],
            &[],
            true,
            false,
        )
        .unwrap()
        .unwrap();
        assert_eq!(r, "nameserver 8.8.8.8\nnameserver 8.8.4.4\n");
        assert_eq!(
            resolv_conf(host, &["none".into()], &[], &[], true, false).unwrap(),
            None
        );
        assert_eq!(resolv_conf(host, &[], &[], &[], true, true).unwrap(), None);
        let e = resolv_conf(host, &["dns.example".into()], &[], &[], true, false).unwrap_err();
        assert!(e.to_string().starts_with("invalid --dns"), "{e}");
        assert!(resolv_conf(host, &[], &[], &["a b".into()], true, false).is_err());
    }

    #[test]
    fn parses_domain_as_search() {
        let r = parse_resolv("domain a.example\nnameserver 1.1.1.1 # c\n");
        assert_eq!(r.search, ["a.example"]);
        assert_eq!(r.nameservers, ["1.1.1.1"]);
    }

    #[test]
    fn containerenv_only_for_privileged() {
        let mut c = ContainerEnv {
            privileged: false,
            name: "web",
            id: "abc",
            image: "docker.io/library/busybox:latest",
            image_id: "1234",
            rootless: true,
            graph_root_mounted: false,
        };
        assert_eq!(containerenv(&c), "");
        c.graph_root_mounted = true;
        assert_eq!(containerenv(&c), "graphRootMounted=1\n");
        c.privileged = true;
        c.graph_root_mounted = false;
        assert_eq!(
            containerenv(&c),
            format!(
                "engine=\"husk-{}\"\nname=\"web\"\nid=\"abc\"\nimage=\"docker.io/library/busybox:latest\"\nimageid=\"1234\"\nrootless=1\n",
                env!("CARGO_PKG_VERSION")
            )
        );
        let src = [Path::new("/"), Path::new("/srv")];
        assert!(graph_root_mounted(Some(Path::new("/var/lib/husk")), &src));
        let src = [Path::new("/srv")];
        assert!(!graph_root_mounted(Some(Path::new("/var/lib/husk")), &src));
    }

    #[test]
    fn hostnames() {
        assert_eq!(hostname("abc"), "abc\n");
        check_hostname("my-host.example").unwrap();
        assert!(check_hostname("").is_err());
        assert!(check_hostname("a b").is_err());
        assert!(check_hostname(&"x".repeat(65)).is_err());
    }
}
