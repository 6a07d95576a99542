//! Reading husk's trace lines (`pid\tphase\tstart_ns\tend_ns`, see
//! runtime/src/trace.rs) without depending on husk's crates: the suite
//! drives the binaries only.

use std::path::Path;

/// One phase.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Phase {
    /// Its name.
    pub name: String,
    /// Start (ns).
    pub start: u64,
    /// End (ns).
    pub end: u64,
}

/// Parses a trace file's lines (malformed ones are skipped).
pub fn parse(text: &str) -> Vec<Phase> {
    text.lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            (f.len() == 4).then_some(())?;
            Some(Phase {
                name: f[1].to_owned(),
                start: f[2].parse().ok()?,
                end: f[3].parse().ok()?,
            })
        })
        .collect()
}

/// Reads a trace file (empty when missing).
pub fn read(path: &Path) -> Vec<Phase> {
    parse(&std::fs::read_to_string(path).unwrap_or_default())
}

/// (start, end) of the first phase called `name`.
pub fn span_of(phases: &[Phase], name: &str) -> Option<(u64, u64)> {
    phases
        .iter()
        .find(|p| p.name == name)
        .map(|p| (p.start, p.end))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_finds() {
        let p = parse("1\ta\t10\t1000010\nbad\n2\ta\t0\t500000\n3\tb\t5\t5\n");
        assert_eq!(p.len(), 3);
        assert_eq!(span_of(&p, "b"), Some((5, 5)));
        assert_eq!(span_of(&p, "c"), None);
        assert_eq!(span_of(&p, "a"), Some((10, 1000010)));
    }
}
