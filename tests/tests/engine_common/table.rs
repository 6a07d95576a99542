//! podman's tables: `text/tabwriter` with minwidth 12, tabwidth 2,
//! padding 2 and blanks (containers/common `report.NewWriterDefault`).
//! Every column but the last is padded to the widest cell plus 2, and to
//! at least 12; the last column is printed as is.
//!
//! [`parse`] splits a table at its header's column starts, then renders
//! the cells again with [`tabwrite`] and demands the same bytes: so a
//! check of the cells plus a successful parse pins the output exactly,
//! including cells (CREATED, STATUS) whose text depends on the clock.

use regex::Regex;

/// tabwriter's minimum cell width.
pub const MIN_WIDTH: usize = 12;
/// tabwriter's padding.
pub const PADDING: usize = 2;

/// podman ps's default header.
pub const PS_HEADER: [&str; 7] = [
    "CONTAINER ID",
    "IMAGE",
    "COMMAND",
    "CREATED",
    "STATUS",
    "PORTS",
    "NAMES",
];

/// `podman ps` with no containers, byte for byte.
pub const PS_EMPTY: &str =
    "CONTAINER ID  IMAGE       COMMAND     CREATED     STATUS      PORTS       NAMES\n";

/// `podman ps --size` with no containers, byte for byte.
pub const PS_SIZE_EMPTY: &str =
    "CONTAINER ID  IMAGE       COMMAND     CREATED     STATUS      PORTS       NAMES       SIZE\n";

/// Renders rows as podman's tabwriter does, one `\n`-terminated line each.
pub fn tabwrite(rows: &[Vec<String>]) -> String {
    let cols = rows.iter().map(Vec::len).max().unwrap_or(0);
    let mut widths = vec![0; cols];
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            if i + 1 < r.len() {
                widths[i] = widths[i].max(c.chars().count() + PADDING);
            }
        }
    }
    for w in &mut widths {
        *w = (*w).max(MIN_WIDTH);
    }
    let mut out = String::new();
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            out.push_str(c);
            if i + 1 < r.len() {
                let pad = widths[i] - c.chars().count();
                out.extend(std::iter::repeat_n(' ', pad));
            }
        }
        out.push('\n');
    }
    out
}

/// A parsed table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Table {
    /// The header cells.
    pub header: Vec<String>,
    /// The data rows' cells.
    pub rows: Vec<Vec<String>>,
}

impl Table {
    /// The index of a header cell.
    pub fn col(&self, name: &str) -> usize {
        self.header
            .iter()
            .position(|h| h == name)
            .unwrap_or_else(|| panic!("no column {name:?} in {:?}", self.header))
    }

    /// The row whose `column` cell is `value`.
    pub fn row_where(&self, column: &str, value: &str) -> Option<&Vec<String>> {
        let c = self.col(column);
        self.rows.iter().find(|r| r[c] == value)
    }

    /// The cells of one column.
    pub fn column(&self, name: &str) -> Vec<String> {
        let c = self.col(name);
        self.rows.iter().map(|r| r[c].clone()).collect()
    }
}

/// Parses `text` as a tabwriter table whose header is `header`, and checks
/// it is byte for byte what podman's tabwriter makes of those cells.
pub fn parse(text: &str, header: &[&str]) -> Result<Table, String> {
    let mut lines = text.split_inclusive('\n');
    let head = lines.next().ok_or("no output at all (want a header)")?;
    if !head.ends_with('\n') {
        return Err(format!("header line not newline-terminated: {head:?}"));
    }
    let head = &head[..head.len() - 1];
    // Each header cell starts where the previous one's padding ends.
    let mut starts = Vec::new();
    let mut from = 0;
    for (i, h) in header.iter().enumerate() {
        let at = head[from..]
            .find(h)
            .map(|p| p + from)
            .ok_or_else(|| format!("header {head:?} lacks {h:?} (want {header:?})"))?;
        if i == 0 && at != 0 {
            return Err(format!("header {head:?} does not start with {h:?}"));
        }
        starts.push(at);
        from = at + h.len();
    }
    let mut rows = Vec::new();
    for l in lines {
        let l = l
            .strip_suffix('\n')
            .ok_or_else(|| format!("last line not newline-terminated: {l:?}"))?;
        let mut cells = Vec::new();
        for (i, s) in starts.iter().enumerate() {
            let end = starts.get(i + 1).copied().unwrap_or(l.len()).min(l.len());
            let cell = if *s < l.len() { &l[*s..end] } else { "" };
            cells.push(if i + 1 < starts.len() {
                cell.trim_end().to_owned()
            } else {
                cell.to_owned()
            });
        }
        rows.push(cells);
    }
    let mut all = vec![header.iter().map(|h| (*h).to_owned()).collect::<Vec<_>>()];
    all.extend(rows.iter().cloned());
    let want = tabwrite(&all);
    if want != text {
        return Err(format!(
            "not laid out as podman's tabwriter (min width {MIN_WIDTH}, padding {PADDING}) lays out these cells:\n--- got ---\n{text}--- want ---\n{want}"
        ));
    }
    Ok(Table {
        header: header.iter().map(|h| (*h).to_owned()).collect(),
        rows,
    })
}

/// Checks a cell against a regex, naming the cell on failure.
pub fn cell_matches(cell: &str, pattern: &str, what: &str) -> Result<(), String> {
    let r = Regex::new(pattern).map_err(|e| format!("bad test regex {pattern:?}: {e}"))?;
    if r.is_match(cell) {
        Ok(())
    } else {
        Err(format!("{what} is {cell:?}, want /{pattern}/"))
    }
}

/// podman's COMMAND cell: the command joined by spaces, cut to 17
/// characters plus `...` unless `--no-trunc`.
pub fn command_cell(cmd: &[&str], no_trunc: bool) -> String {
    let c = cmd.join(" ");
    if !no_trunc && c.len() > 17 {
        format!("{}...", &c[..17])
    } else {
        c
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_ps_header_is_podmans() {
        let hdr = vec![PS_HEADER.iter().map(|s| (*s).to_owned()).collect()];
        assert_eq!(tabwrite(&hdr), PS_EMPTY);
    }

    #[test]
    fn parses_what_podman_printed() {
        // Recorded from podman 4.3 `ps -a` (STATUS as 4.3 prints it).
        let text = "CONTAINER ID  IMAGE                          COMMAND               CREATED                 STATUS                             PORTS       NAMES\n\
4fde6d48afb8  127.0.0.1:5055/testbox:latest  sleep 1000            Less than a second ago  Up 1 second ago                                run1\n\
ddfef1ce5d9e  127.0.0.1:5055/testbox:latest  sh -c exit 3          Less than a second ago  Exited (3) Less than a second ago              ex1\n\
7c480ed0fb4a  127.0.0.1:5055/testbox:latest  echo hello world ...  Less than a second ago  Created                                        cr1\n";
        let t = parse(text, &PS_HEADER).unwrap();
        assert_eq!(t.rows.len(), 3);
        assert_eq!(
            t.row_where("NAMES", "cr1").unwrap()[2],
            "echo hello world ..."
        );
        assert_eq!(
            command_cell(
                &["echo", "hello", "world", "long", "command", "line"],
                false
            ),
            "echo hello world ..."
        );
        let bad = text.replacen("run1", "run1 ", 1).replacen("  Up", " Up", 1);
        assert!(parse(&bad, &PS_HEADER).is_err());
    }
}
