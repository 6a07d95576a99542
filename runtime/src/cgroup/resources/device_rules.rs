//! linux.resources.devices as one ordered rule list: a leading deny-all,
//! the spec's rules in order, then the default devices every container gets
//! (so a spec cannot lock its container out of /dev/null), as runc does.

use oci_spec::runtime::{LinuxDeviceCgroup, LinuxDeviceType};

/// Access bits, as the kernel's BPF device context encodes them.
pub const ACC_MKNOD: u8 = 1;
/// Read access.
pub const ACC_READ: u8 = 2;
/// Write access.
pub const ACC_WRITE: u8 = 4;
/// Every access.
pub const ACC_ALL: u8 = ACC_MKNOD | ACC_READ | ACC_WRITE;

/// Which devices a rule covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Every device ('a'): the rule resets the list to allow- or deny-all.
    All,
    /// Character devices ('c').
    Char,
    /// Block devices ('b').
    Block,
}

/// One device rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    /// Allow (`true`) or deny.
    pub allow: bool,
    /// Device type.
    pub kind: Kind,
    /// Major number; `None` is any.
    pub major: Option<u32>,
    /// Minor number; `None` is any.
    pub minor: Option<u32>,
    /// ACC_* bits.
    pub access: u8,
}

const fn allow(kind: Kind, major: Option<u32>, minor: Option<u32>, access: u8) -> Rule {
    Rule {
        allow: true,
        kind,
        major,
        minor,
        access,
    }
}

/// What every container may use whatever its rules say: mknod of any node
/// (access is still checked on open), and the runtime spec's default devices
/// /dev/null, zero, full, random, urandom, tty, console, ptmx and the ptys.
pub const DEFAULT_ALLOWED: [Rule; 11] = [
    allow(Kind::Char, None, None, ACC_MKNOD),
    allow(Kind::Block, None, None, ACC_MKNOD),
    allow(Kind::Char, Some(1), Some(3), ACC_ALL),
    allow(Kind::Char, Some(1), Some(5), ACC_ALL),
    allow(Kind::Char, Some(1), Some(7), ACC_ALL),
    allow(Kind::Char, Some(1), Some(8), ACC_ALL),
    allow(Kind::Char, Some(1), Some(9), ACC_ALL),
    allow(Kind::Char, Some(5), Some(0), ACC_ALL),
    allow(Kind::Char, Some(5), Some(1), ACC_ALL),
    allow(Kind::Char, Some(5), Some(2), ACC_ALL),
    allow(Kind::Char, Some(136), None, ACC_ALL),
];

/// Parses an access string ("rwm" subset; absent or empty is "rwm").
pub fn access_bits(s: Option<&str>) -> u8 {
    match s {
        None | Some("") => ACC_ALL,
        Some(s) => s.chars().fold(0, |acc, c| {
            acc | match c {
                'm' => ACC_MKNOD,
                'r' => ACC_READ,
                'w' => ACC_WRITE,
                _ => 0,
            }
        }),
    }
}

fn number(n: Option<i64>) -> Option<u32> {
    n.filter(|n| *n >= 0).map(|n| n as u32)
}

impl Rule {
    /// Converts a (validated) spec rule.
    pub fn from_spec(d: &LinuxDeviceCgroup) -> Rule {
        Rule {
            allow: d.allow(),
            kind: match d.typ() {
                Some(LinuxDeviceType::C) => Kind::Char,
                Some(LinuxDeviceType::B) => Kind::Block,
                _ => Kind::All,
            },
            major: number(d.major()),
            minor: number(d.minor()),
            access: access_bits(d.access().as_deref()),
        }
    }

    /// The line v1's devices.allow / devices.deny take: "a" or
    /// "c 1:3 rwm" with "*" for any number.
    pub fn v1_line(&self) -> String {
        let kind = match self.kind {
            Kind::All => return "a".into(),
            Kind::Char => 'c',
            Kind::Block => 'b',
        };
        let n = |v: Option<u32>| v.map_or("*".to_string(), |v| v.to_string());
        let mut acc = String::new();
        for (bit, c) in [(ACC_READ, 'r'), (ACC_WRITE, 'w'), (ACC_MKNOD, 'm')] {
            if self.access & bit != 0 {
                acc.push(c);
            }
        }
        format!("{kind} {}:{} {acc}", n(self.major), n(self.minor))
    }
}

/// The full rule list for a spec that lists `spec` rules; `None` when it
/// lists none (the device cgroup is then left as inherited).
pub fn rules(spec: Option<&[LinuxDeviceCgroup]>) -> Option<Vec<Rule>> {
    let spec = spec.filter(|s| !s.is_empty())?;
    let mut out = vec![Rule {
        allow: false,
        kind: Kind::All,
        major: None,
        minor: None,
        access: ACC_ALL,
    }];
    out.extend(spec.iter().map(Rule::from_spec));
    out.extend(DEFAULT_ALLOWED);
    Some(out)
}

/// The verdict when no later rule matches, and the rules that follow the
/// last "all devices" rule (which resets everything before it).
pub fn effective(rules: &[Rule]) -> (bool, &[Rule]) {
    match rules.iter().rposition(|r| r.kind == Kind::All) {
        Some(i) => (rules[i].allow, &rules[i + 1..]),
        None => (true, rules),
    }
}

/// Names rule `i` of the list [`rules`] made from `spec_len` spec rules.
pub fn field(i: usize, spec_len: usize) -> String {
    match i {
        0 => "linux.resources.devices (the leading deny-all)".into(),
        i if i <= spec_len => format!("linux.resources.devices[{}]", i - 1),
        i => format!(
            "linux.resources.devices (default rule {})",
            DEFAULT_ALLOWED[(i - 1 - spec_len).min(DEFAULT_ALLOWED.len() - 1)].v1_line()
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v1_lines() {
        assert_eq!(DEFAULT_ALLOWED[0].v1_line(), "c *:* m");
        assert_eq!(DEFAULT_ALLOWED[2].v1_line(), "c 1:3 rwm");
        assert_eq!(DEFAULT_ALLOWED[10].v1_line(), "c 136:* rwm");
    }

    #[test]
    fn last_all_rule_resets() {
        let allow_all: LinuxDeviceCgroup =
            serde_json::from_str(r#"{"allow": true, "access": "rwm"}"#).unwrap();
        let r = rules(Some(&[allow_all])).unwrap();
        let (default_allow, rest) = effective(&r);
        assert!(
            default_allow,
            "the spec's allow-all wins over the leading deny"
        );
        assert_eq!(rest.len(), DEFAULT_ALLOWED.len());
        assert!(rules(Some(&[])).is_none());
    }
}
