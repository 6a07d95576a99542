//! Column alignment exactly as Go's `text/tabwriter` does it with podman's
//! settings, and a small row table on top of it.
//!
//! podman's `report.Formatter` wraps its output in
//! `tabwriter.NewWriter(w, 12, 2, 2, ' ', tabwriter.StripEscape)`: minimum
//! cell width 12, padding 2, padded with spaces. The rules that follow from
//! Go's algorithm, and that [`TabWriter`] reproduces:
//!
//! - A cell is text terminated by a tab. The text after the last tab of a
//!   line is not a cell of any column: it is written as is, never padded.
//! - A column is a block of *consecutive* lines that all have a cell at that
//!   index; a line with fewer cells ends the block, and the next block is
//!   sized on its own.
//! - A column's width is `max(12, widest cell + 2)`, widths counted in
//!   Unicode scalar values (Go counts runes, not display width).
//! - Empty cells are padded too; nothing is discarded.
//!
//! Escape characters (0xff) cannot occur in Rust strings, so `StripEscape`
//! has nothing to strip.

/// podman's minimum column width.
pub const MIN_WIDTH: usize = 12;
/// podman's padding after the widest cell.
pub const PADDING: usize = 2;

/// Buffers text and aligns its tab-separated cells on [`finish`](Self::finish).
#[derive(Debug, Clone)]
pub struct TabWriter {
    min_width: usize,
    padding: usize,
    text: String,
}

impl Default for TabWriter {
    fn default() -> Self {
        TabWriter::new(MIN_WIDTH, PADDING)
    }
}

impl TabWriter {
    /// A writer with Go's `minwidth` and `padding` (pad character space).
    pub fn new(min_width: usize, padding: usize) -> TabWriter {
        TabWriter {
            min_width,
            padding,
            text: String::new(),
        }
    }

    /// Appends text; lines end with `\n`, cells with `\t`.
    pub fn write_str(&mut self, s: &str) {
        self.text.push_str(s);
    }

    /// Aligns everything written so far (Go's `Flush`).
    pub fn finish(&self) -> String {
        align(&self.text, self.min_width, self.padding)
    }
}

/// One line split into its cells; the last entry is the unterminated rest.
struct Line<'a> {
    cells: Vec<&'a str>,
    newline: bool,
}

/// Go's `format`: recursively sizes column blocks left to right.
pub fn align(text: &str, min_width: usize, padding: usize) -> String {
    let mut lines: Vec<Line<'_>> = Vec::new();
    let mut rest = text;
    while !rest.is_empty() {
        let (line, newline) = match rest.find('\n') {
            Some(i) => {
                let l = &rest[..i];
                rest = &rest[i + 1..];
                (l, true)
            }
            None => {
                let l = rest;
                rest = "";
                (l, false)
            }
        };
        lines.push(Line {
            cells: line.split('\t').collect(),
            newline,
        });
    }
    let mut widths: Vec<usize> = Vec::new();
    let mut out = String::with_capacity(text.len() * 2);
    format_block(
        &lines,
        0,
        lines.len(),
        &mut widths,
        min_width,
        padding,
        &mut out,
    );
    out
}

/// Number of tab-terminated cells (columns) in a line.
fn columns(line: &Line<'_>) -> usize {
    line.cells.len() - 1
}

fn format_block(
    lines: &[Line<'_>],
    mut line0: usize,
    line1: usize,
    widths: &mut Vec<usize>,
    min_width: usize,
    padding: usize,
    out: &mut String,
) {
    let column = widths.len();
    let mut this = line0;
    while this < line1 {
        if column >= columns(&lines[this]) {
            this += 1;
            continue;
        }
        // A cell exists in this column: write the lines before the block,
        // then size the block of consecutive lines that have this column.
        write_lines(&lines[line0..this], widths, out);
        line0 = this;
        let mut width = min_width;
        while this < line1 && column < columns(&lines[this]) {
            width = width.max(lines[this].cells[column].chars().count() + padding);
            this += 1;
        }
        widths.push(width);
        format_block(lines, line0, this, widths, min_width, padding, out);
        widths.pop();
        line0 = this;
    }
    write_lines(&lines[line0..line1], widths, out);
}

fn write_lines(lines: &[Line<'_>], widths: &[usize], out: &mut String) {
    for line in lines {
        for (j, cell) in line.cells.iter().enumerate() {
            out.push_str(cell);
            if j < widths.len() && j < columns(line) {
                let w = cell.chars().count();
                out.extend(std::iter::repeat_n(' ', widths[j].saturating_sub(w)));
            }
        }
        if line.newline {
            out.push('\n');
        }
    }
}

/// A header and rows of cells, aligned like podman's default tables.
///
/// ```
/// use husk_engine::format::table::Table;
/// let mut t = Table::new(["CONTAINER ID", "IMAGE", "NAMES"]);
/// t.row(["0123456789ab", "docker.io/library/alpine:latest", "web"]);
/// assert_eq!(
///     t.render(true),
///     "CONTAINER ID  IMAGE                            NAMES\n\
///      0123456789ab  docker.io/library/alpine:latest  web\n"
/// );
/// ```
#[derive(Debug, Clone, Default)]
pub struct Table {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    /// A table with these column headers.
    pub fn new<I, S>(header: I) -> Table
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Table {
            header: header.into_iter().map(Into::into).collect(),
            rows: Vec::new(),
        }
    }

    /// Appends a row; cells beyond the header's count are kept, missing
    /// ones are not invented.
    pub fn row<I, S>(&mut self, cells: I)
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.rows.push(cells.into_iter().map(Into::into).collect());
    }

    /// Number of rows added.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// Whether no rows were added.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// The aligned text; `heading` false is `--noheading`.
    pub fn render(&self, heading: bool) -> String {
        let mut tw = TabWriter::default();
        let mut push = |cells: &[String]| {
            tw.write_str(&cells.join("\t"));
            tw.write_str("\n");
        };
        if heading {
            push(&self.header);
        }
        for r in &self.rows {
            push(r);
        }
        tw.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn go(text: &str) -> String {
        align(text, MIN_WIDTH, PADDING)
    }

    #[test]
    fn podman_ps_default_table() {
        // `podman ps` with one container: every column but the last is
        // padded to max(12, widest + 2).
        let text = "CONTAINER ID\tIMAGE\tCOMMAND\tCREATED\tSTATUS\tPORTS\tNAMES\n\
                    3f7b1c0d2e4a\tdocker.io/library/alpine:latest\tsleep 100\t2 minutes ago\tUp 2 minutes\t\tweb\n";
        let want = "CONTAINER ID  IMAGE                            COMMAND     CREATED        STATUS        PORTS       NAMES\n\
                    3f7b1c0d2e4a  docker.io/library/alpine:latest  sleep 100   2 minutes ago  Up 2 minutes              web\n";
        assert_eq!(go(text), want);
    }

    #[test]
    fn podman_images_default_table() {
        let text = "REPOSITORY\tTAG\tIMAGE ID\tCREATED\tSIZE\n\
                    docker.io/library/alpine\tlatest\t05455a08881e\t3 weeks ago\t7.67 MB\n\
                    localhost/x\t1\t0123456789ab\tAbout a minute ago\t1.05 kB\n";
        let want = "REPOSITORY                TAG         IMAGE ID      CREATED             SIZE\n\
                    docker.io/library/alpine  latest      05455a08881e  3 weeks ago         7.67 MB\n\
                    localhost/x               1           0123456789ab  About a minute ago  1.05 kB\n";
        assert_eq!(go(text), want);
    }

    #[test]
    fn last_cell_is_not_padded_and_trailing_tab_pads() {
        assert_eq!(go("a\tb\n"), "a           b\n");
        assert_eq!(go("a\tb\t\n"), "a           b           \n");
        assert_eq!(go("abc"), "abc");
        assert_eq!(go(""), "");
        assert_eq!(go("\n\n"), "\n\n");
    }

    #[test]
    fn column_blocks_end_at_shorter_lines() {
        // The one-cell middle line splits column 0 into two blocks, so the
        // long cell of the first block does not widen the last line.
        let text = "aaaaaaaaaaaaaaaaaaaa\tx\nplain\nb\ty\n";
        let want = "aaaaaaaaaaaaaaaaaaaa  x\nplain\nb           y\n";
        assert_eq!(go(text), want);
    }

    #[test]
    fn inner_columns_are_sized_per_sub_block() {
        // Column 1 exists only on lines 1 and 3, which are not consecutive
        // in column 1 (line 2 has one column), so each is sized alone.
        let text = "a\tbbbbbbbbbbbbbbbb\tc\nd\te\ne\tf\tg\n";
        let want = "a           bbbbbbbbbbbbbbbb  c\nd           e\ne           f           g\n";
        assert_eq!(go(text), want);
    }

    #[test]
    fn width_counts_runes_and_unterminated_last_line() {
        assert_eq!(go("é\tx\nab\ty"), "é           x\nab          y");
    }

    #[test]
    fn custom_settings() {
        assert_eq!(align("a\tb\nccc\td\n", 0, 1), "a   b\nccc d\n");
    }

    #[test]
    fn table_rows_and_noheading() {
        let mut t = Table::new(["POD ID", "NAME", "STATUS"]);
        assert!(t.is_empty());
        t.row(["0123456789ab", "a-very-long-pod-name", "Running"]);
        assert_eq!(t.len(), 1);
        assert_eq!(
            t.render(true),
            "POD ID        NAME                  STATUS\n0123456789ab  a-very-long-pod-name  Running\n"
        );
        assert_eq!(
            t.render(false),
            "0123456789ab  a-very-long-pod-name  Running\n"
        );
    }
}
