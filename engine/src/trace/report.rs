//! A trace file read back: phases from every process, sorted by start and
//! nested by time containment, with the totals the report prints.

use std::path::Path;

use serde_json::{json, Value};

use super::TraceError;

/// The phase from the launcher's `$HUSK_TRACE_T0` to the first phase husk
/// recorded: process creation, exec and the dynamic loader.
pub const EXEC_PHASE: &str = "exec";

/// One phase of a trace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Phase {
    /// Its name, dotted by layer (`runtime.clone`).
    pub name: String,
    /// The process that recorded it, as that process saw its own pid (the
    /// container's init says 1); `None` for a phase the report added.
    pub pid: Option<u32>,
    /// Start, CLOCK_MONOTONIC ns.
    pub start_ns: u64,
    /// End, CLOCK_MONOTONIC ns (equal to the start for a mark).
    pub end_ns: u64,
    /// Nesting depth: 0 for a phase no other phase contains.
    pub depth: usize,
    /// Index (in [`Report::phases`]) of the innermost phase containing it.
    pub parent: Option<usize>,
}

impl Phase {
    /// Its duration in nanoseconds.
    pub fn duration_ns(&self) -> u64 {
        self.end_ns.saturating_sub(self.start_ns)
    }
}

/// A parsed trace: every phase, nested, and the span it covers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    phases: Vec<Phase>,
    end_ns: Option<u64>,
    skipped: usize,
}

fn parse_line(line: &str) -> Option<Phase> {
    let mut f = line.split('\t');
    let pid = f.next()?.parse().ok()?;
    let name = f.next()?;
    let start_ns: u64 = f.next()?.parse().ok()?;
    let end_ns: u64 = f.next()?.parse().ok()?;
    if f.next().is_some() || name.is_empty() || end_ns < start_ns {
        return None;
    }
    Some(Phase {
        name: name.to_owned(),
        pid: Some(pid),
        start_ns,
        end_ns,
        depth: 0,
        parent: None,
    })
}

impl Report {
    /// Parses trace lines (`pid\tphase\tstart_ns\tend_ns`). Lines that do
    /// not parse are counted in [`Report::skipped`], not fatal: a process
    /// killed mid-write leaves at worst one torn line.
    pub fn parse(text: &str) -> Report {
        let mut phases = Vec::new();
        let mut skipped = 0;
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            match parse_line(line) {
                Some(p) => phases.push(p),
                None => skipped += 1,
            }
        }
        let mut r = Report {
            phases,
            end_ns: None,
            skipped,
        };
        r.nest();
        r
    }

    /// Reads and parses a trace file.
    pub fn read(path: &Path) -> Result<Report, TraceError> {
        let text = std::fs::read_to_string(path).map_err(|source| TraceError::Io {
            path: path.to_owned(),
            source,
        })?;
        Ok(Report::parse(&text))
    }

    /// Adds an [`EXEC_PHASE`] from `t0_ns` (when the launcher started the
    /// process) to the first recorded phase, unless the trace already has
    /// one or `t0_ns` is not before that phase.
    pub fn with_t0(mut self, t0_ns: u64) -> Report {
        let first = self.phases.iter().map(|p| p.start_ns).min();
        let has_exec = self.phases.iter().any(|p| p.name == EXEC_PHASE);
        if let (Some(first), false) = (first, has_exec) {
            if t0_ns < first {
                self.phases.push(Phase {
                    name: EXEC_PHASE.to_owned(),
                    pid: None,
                    start_ns: t0_ns,
                    end_ns: first,
                    depth: 0,
                    parent: None,
                });
                self.nest();
            }
        }
        self
    }

    /// Sets when the traced command ended (its exit, as its caller saw
    /// it); by default the end of the last phase.
    pub fn with_end(mut self, end_ns: u64) -> Report {
        self.end_ns = Some(end_ns);
        self
    }

    /// Sorts by start (longer first on a tie, so a phase precedes what it
    /// contains) and gives every phase its depth and parent: the innermost
    /// earlier phase whose interval contains it, whatever process recorded
    /// either.
    fn nest(&mut self) {
        self.phases.sort_by(|a, b| {
            a.start_ns
                .cmp(&b.start_ns)
                .then(b.end_ns.cmp(&a.end_ns))
                .then(a.name.cmp(&b.name))
        });
        let mut stack: Vec<usize> = Vec::new();
        for i in 0..self.phases.len() {
            while let Some(&top) = stack.last() {
                if self.phases[top].end_ns >= self.phases[i].end_ns {
                    break;
                }
                stack.pop();
            }
            self.phases[i].parent = stack.last().copied();
            self.phases[i].depth = stack.len();
            stack.push(i);
        }
    }

    /// The phases, sorted by start and nested.
    pub fn phases(&self) -> &[Phase] {
        &self.phases
    }

    /// Lines that did not parse.
    pub fn skipped(&self) -> usize {
        self.skipped
    }

    /// Whether the trace holds no phase.
    pub fn is_empty(&self) -> bool {
        self.phases.is_empty()
    }

    /// Start of the earliest phase (ns), 0 for an empty trace.
    pub fn start_ns(&self) -> u64 {
        self.phases.first().map_or(0, |p| p.start_ns)
    }

    /// The end: [`Report::with_end`], or the last phase's end, whichever is
    /// later.
    pub fn end_ns(&self) -> u64 {
        let last = self.phases.iter().map(|p| p.end_ns).max().unwrap_or(0);
        self.end_ns.map_or(last, |e| e.max(last))
    }

    /// Wall time from the earliest phase to the end.
    pub fn total_ns(&self) -> u64 {
        self.end_ns().saturating_sub(self.start_ns())
    }

    /// The phases nothing else contains.
    pub fn top_level(&self) -> impl Iterator<Item = &Phase> {
        self.phases.iter().filter(|p| p.depth == 0)
    }

    /// Sum of the top-level phases' durations: what the acceptance test
    /// compares with the measured wall time.
    pub fn top_level_ns(&self) -> u64 {
        self.top_level().map(Phase::duration_ns).sum()
    }

    /// Time covered by at least one phase (top-level phases of concurrent
    /// processes may overlap; this counts such time once).
    pub fn covered_ns(&self) -> u64 {
        let mut covered = 0;
        let mut reach = 0;
        for p in self.top_level() {
            let from = p.start_ns.max(reach);
            if p.end_ns > from {
                covered += p.end_ns - from;
            }
            reach = reach.max(p.end_ns);
        }
        covered
    }

    /// Total duration of every phase called `name` (0 when there is none).
    pub fn duration_of(&self, name: &str) -> u64 {
        self.phases
            .iter()
            .filter(|p| p.name == name)
            .map(Phase::duration_ns)
            .sum()
    }

    /// The report as JSON (schema in docs/performance.md, "The trace").
    pub fn to_json(&self) -> Value {
        let base = self.start_ns();
        let ms = |ns: u64| ns as f64 / 1e6;
        let phases: Vec<Value> = self
            .phases
            .iter()
            .map(|p| {
                json!({
                    "phase": p.name,
                    "pid": p.pid,
                    "start_ms": ms(p.start_ns - base),
                    "duration_ms": ms(p.duration_ns()),
                    "depth": p.depth,
                    "parent": p.parent,
                    "start_ns": p.start_ns,
                    "end_ns": p.end_ns,
                })
            })
            .collect();
        json!({
            "total_ms": ms(self.total_ns()),
            "top_level_ms": ms(self.top_level_ns()),
            "covered_ms": ms(self.covered_ns()),
            "start_ns": base,
            "end_ns": self.end_ns(),
            "skipped_lines": self.skipped,
            "phases": phases,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A create/start as husk-runtime records it, in file order (phases are
    /// appended when they end, so parents come after their children).
    const TRACE: &str = "\
10\truntime.bundle\t1000\t1400
10\truntime.clone\t1500\t2700
1\tinit.namespaces\t2600\t3200
10\truntime.idmaps\t2750\t3100
10\truntime.create\t900\t3500
1\tinit.execve\t3600\t3600
10\truntime.start\t3550\t3700
garbage line
";

    fn names(r: &Report) -> Vec<(usize, &str)> {
        r.phases().iter().map(|p| (p.depth, &p.name[..])).collect()
    }

    #[test]
    fn nests_by_time_across_processes() {
        let r = Report::parse(TRACE);
        assert_eq!(r.skipped(), 1);
        assert_eq!(
            names(&r),
            [
                (0, "runtime.create"),
                (1, "runtime.bundle"),
                (1, "runtime.clone"),
                // Starts inside clone, ends after it: a sibling, not a child.
                (1, "init.namespaces"),
                (2, "runtime.idmaps"),
                (0, "runtime.start"),
                (1, "init.execve"),
            ]
        );
        assert_eq!(r.phases()[4].parent, Some(3));
        assert_eq!(r.phases()[0].parent, None);
        assert_eq!(r.start_ns(), 900);
        assert_eq!(r.end_ns(), 3700);
        assert_eq!(r.top_level_ns(), 2600 + 150);
        assert_eq!(r.covered_ns(), 2600 + 150);
        assert_eq!(r.duration_of("runtime.idmaps"), 350);
        assert_eq!(r.duration_of("missing"), 0);
    }

    #[test]
    fn exec_phase_from_t0_and_end_from_the_caller() {
        let r = Report::parse(TRACE).with_t0(400).with_end(4000);
        assert_eq!(r.phases()[0].name, EXEC_PHASE);
        assert_eq!(r.phases()[0].pid, None);
        assert_eq!((r.phases()[0].start_ns, r.phases()[0].end_ns), (400, 900));
        assert_eq!(r.total_ns(), 3600);
        assert_eq!(r.top_level_ns(), 500 + 2600 + 150);
        // Gaps between top-level phases are what the trace misses.
        assert_eq!(r.total_ns() - r.covered_ns(), 50 + 300);
        // A second exec phase, or one after the first phase, is refused.
        assert_eq!(r.clone().with_t0(100).phases().len(), r.phases().len());
        let late = Report::parse(TRACE).with_t0(950);
        assert!(late.phases().iter().all(|p| p.name != EXEC_PHASE));
    }

    #[test]
    fn overlapping_top_level_phases_are_covered_once() {
        let r = Report::parse("1\ta\t0\t100\n2\tb\t50\t150\n");
        assert_eq!(r.top_level().count(), 2);
        assert_eq!(r.top_level_ns(), 200);
        assert_eq!(r.covered_ns(), 150);
    }

    #[test]
    fn rejects_malformed_lines() {
        let r = Report::parse("1\ta\t5\t4\nx\ta\t1\t2\n1\t\t1\t2\n1\ta\t1\t2\t3\n1\ta\t1\n");
        assert!(r.is_empty());
        assert_eq!(r.skipped(), 5);
        assert_eq!(r.total_ns(), 0);
        assert!(r.clone().with_t0(0).is_empty());
    }

    #[test]
    fn json_has_offsets_and_totals() {
        let r = Report::parse(TRACE).with_t0(400).with_end(4000);
        let j = r.to_json();
        assert_eq!(j["total_ms"], 0.0036);
        assert_eq!(j["phases"][0]["phase"], "exec");
        assert_eq!(j["phases"][0]["pid"], Value::Null);
        assert_eq!(j["phases"][1]["start_ms"], 0.0005);
        assert_eq!(j["phases"][2]["depth"], 1);
        assert_eq!(j["phases"][2]["parent"], 1);
        assert_eq!(j["skipped_lines"], 1);
        assert_eq!(j["phases"].as_array().map(Vec::len), Some(8));
    }
}
