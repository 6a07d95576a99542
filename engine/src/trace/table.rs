//! The trace as a table for people: one line per phase, indented by depth.

use std::fmt::Write as _;

use super::report::Report;

impl Report {
    /// The report as a table, headed by `title` (the traced command).
    pub fn to_table(&self, title: &str) -> String {
        let ms = |ns: u64| ns as f64 / 1e6;
        let total = self.total_ns();
        let mut out = String::new();
        let _ = writeln!(out, "husk trace: {title}");
        if self.is_empty() {
            out.push_str("  (no phases recorded)\n");
            return out;
        }
        let width = self
            .phases()
            .iter()
            .map(|p| 2 * p.depth + p.name.len())
            .max()
            .unwrap_or(0)
            .max("phase".len());
        let _ = writeln!(
            out,
            "{:>10} {:>10} {:>6}  {:<width$}  {:>7}",
            "start ms", "dur ms", "%", "phase", "pid"
        );
        let base = self.start_ns();
        for p in self.phases() {
            let share = if total == 0 {
                0.0
            } else {
                100.0 * p.duration_ns() as f64 / total as f64
            };
            let name = format!("{:indent$}{}", "", p.name, indent = 2 * p.depth);
            let pid = p.pid.map_or_else(|| "-".to_owned(), |p| p.to_string());
            let _ = writeln!(
                out,
                "{:>10.3} {:>10.3} {:>6.1}  {:<width$}  {:>7}",
                ms(p.start_ns - base),
                ms(p.duration_ns()),
                share,
                name,
                pid
            );
        }
        let top = self.top_level_ns();
        let _ = writeln!(
            out,
            "total {:.3} ms from the first phase to exit; top-level phases {:.3} ms ({:.1}%)",
            ms(total),
            ms(top),
            if total == 0 {
                100.0
            } else {
                100.0 * top as f64 / total as f64
            }
        );
        if self.skipped() > 0 {
            let _ = writeln!(out, "({} malformed trace lines skipped)", self.skipped());
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indents_children_and_sums_the_top_level() {
        let r = Report::parse("7\tengine.cli\t0\t1000000\n7\tengine.command\t1000000\t9000000\n8\tshim.spawn\t2000000\t3000000\n")
            .with_t0(0)
            .with_end(10_000_000);
        let t = r.to_table("husk run x");
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines[0], "husk trace: husk run x");
        assert!(lines[1].contains("start ms") && lines[1].contains("pid"));
        assert!(
            lines[2].contains(" engine.cli ") && lines[2].ends_with(" 7"),
            "{t}"
        );
        assert!(
            lines[3].contains("    1.000      8.000   80.0  engine.command"),
            "{t}"
        );
        let col = |l: &str, n: &str| l.find(n).unwrap_or_else(|| panic!("{n} in {t}"));
        assert_eq!(
            col(lines[4], "shim.spawn"),
            col(lines[3], "engine.command") + 2
        );
        assert!(
            lines[5].contains("total 10.000 ms") && lines[5].contains("9.000 ms (90.0%)"),
            "{t}"
        );
        assert!(Report::parse("").to_table("t").contains("no phases"));
    }
}
