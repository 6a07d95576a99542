//! podman's `--format` handling (its `report.Formatter`), so that every
//! list and inspect command treats a format string the same way.
//!
//! A command does, in this order:
//!
//! 1. [`is_json`]`(format)` → print the entities with
//!    [`json::to_string`](super::json::to_string) in the command's
//!    [`JsonStyle`](super::json::JsonStyle) (`json`, `{{json}}`, `{{ json. }}`
//!    all mean this; `{{json .}}` is a template).
//! 2. Otherwise [`Report::parse`] the user's format ([`Origin::User`]), or
//!    use the command's default row ([`Report::builtin_row`]).
//! 3. [`Report::render`] the rows (JSON objects with podman's field names).
//!
//! What podman does to the text, and husk with it:
//!
//! - `table ` prefix: the prefix is dropped, `\t` and `\n` (backslash
//!   sequences typed on the command line) become tab and newline, and every
//!   space becomes a tab (even inside string literals, as in podman); the
//!   output is aligned and gets a header row.
//! - otherwise: `\t` and `\n` are unescaped; no alignment, no header.
//! - a newline is appended when the format does not end with one.
//! - the format runs once per row, as podman's `{{range .}}…{{end -}}`
//!   wrapper makes it; a user format that already has `{{range .}}…{{end}}`
//!   runs once over the list of rows. Error columns therefore count the
//!   11 bytes of `{{range .}}`, exactly as podman's do.

use serde_json::Value;

use super::headers::Headers;
use super::table::{align, MIN_WIDTH, PADDING};
use super::template::{Template, TemplateError};

/// Where a format comes from (podman's `report.Origin`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// `--format` as the user typed it.
    User,
    /// The command's own default, always aligned with a header row.
    Builtin,
}

/// Whether `--format` asks for JSON output rather than a template: `json`,
/// `{{json}}`, `{{ json. }}` with any surrounding whitespace (podman's
/// `report.IsJSON`).
pub fn is_json(format: &str) -> bool {
    let s = format.trim_matches(is_re_space);
    if s == "json" {
        return true;
    }
    let Some(inner) = s.strip_prefix("{{").and_then(|r| r.strip_suffix("}}")) else {
        return false;
    };
    let inner = inner.trim_matches(is_re_space);
    inner == "json" || inner == "json."
}

/// RE2's `\s`: `[\t\n\f\r ]`.
fn is_re_space(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\u{c}' | '\r' | ' ')
}

/// Whether a format starts with podman's `table ` keyword.
pub fn has_table(format: &str) -> bool {
    format.starts_with("table ")
}

/// Go's `strings.NewReplacer`: at each position the first pair (in order)
/// whose old string matches is replaced.
fn replace_all(s: &str, pairs: &[(&str, &str)]) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    'outer: while let Some(c) = rest.chars().next() {
        for (old, new) in pairs {
            if rest.starts_with(old) {
                out.push_str(new);
                rest = &rest[old.len()..];
                continue 'outer;
            }
        }
        out.push(c);
        rest = &rest[c.len_utf8()..];
    }
    out
}

/// podman's `NormalizeFormat`.
pub fn normalize_format(format: &str) -> String {
    let mut f = if has_table(format) {
        replace_all(
            format,
            &[("table ", ""), ("\\t", "\t"), ("\\n", "\n"), (" ", "\t")],
        )
    } else {
        replace_all(format, &[("\\t", "\t"), ("\\n", "\n")])
    };
    if !f.ends_with('\n') {
        f.push('\n');
    }
    f
}

/// Whether the text has `{{range .}}` followed somewhere by `{{end}}`
/// (podman's `EnforceRange` regex, whitespace and `-` allowed inside).
fn has_range_dot(s: &str) -> bool {
    fn skip_ws(s: &str) -> &str {
        s.trim_start_matches(is_re_space)
    }
    let mut from = 0;
    while let Some(i) = s[from..].find("{{") {
        let start = from + i;
        let rest = skip_ws(&s[start + 2..]);
        let matched = rest
            .strip_prefix("range")
            .map(skip_ws)
            .and_then(|r| r.strip_prefix('.'))
            .map(skip_ws)
            .and_then(|r| r.strip_prefix("}}"));
        if let Some(after) = matched {
            return has_end(after);
        }
        from = start + 2;
    }
    false
}

fn has_end(s: &str) -> bool {
    let mut from = 0;
    while let Some(i) = s[from..].find("{{") {
        let start = from + i;
        let rest = s[start + 2..].trim_start_matches(is_re_space);
        if let Some(r) = rest.strip_prefix("end") {
            let r = r.trim_start_matches(is_re_space);
            let r = r
                .strip_prefix('-')
                .unwrap_or(r)
                .trim_start_matches(is_re_space);
            if r.starts_with("}}") {
                return true;
            }
        }
        from = start + 2;
    }
    false
}

/// A parsed `--format` (or a command's default) ready to render rows.
#[derive(Debug, Clone)]
pub struct Report {
    template: Template,
    table: bool,
    origin: Origin,
}

impl Report {
    /// Parses a format the way podman's `Formatter.Parse` does; `name` is the
    /// command (`ps`, `images`, `inspect`), as error messages show it.
    ///
    /// # Errors
    /// [`TemplateError::Parse`].
    pub fn parse(name: &str, origin: Origin, format: &str) -> Result<Report, TemplateError> {
        let table = has_table(format);
        let text = if table {
            format!("{{{{range .}}}}{}{{{{end -}}}}", normalize_format(format))
        } else {
            let norm = normalize_format(format);
            if origin == Origin::User && !has_range_dot(&norm) {
                format!("{{{{range .}}}}{norm}{{{{end -}}}}")
            } else {
                norm
            }
        };
        Ok(Report {
            template: Template::parse(name, &text)?,
            table,
            origin,
        })
    }

    /// A command's default table from its row (`{{.ID}}\t{{.Image}}…`),
    /// wrapped as podman's commands wrap theirs.
    ///
    /// # Errors
    /// [`TemplateError::Parse`] (a bug in the command's row).
    pub fn builtin_row(name: &str, row: &str) -> Result<Report, TemplateError> {
        Report::parse(
            name,
            Origin::Builtin,
            &format!("{{{{range .}}}}{row}\n{{{{end -}}}}"),
        )
    }

    /// Whether output is aligned and headed (`table …` or a builtin).
    pub fn is_table(&self) -> bool {
        self.table || self.origin == Origin::Builtin
    }

    /// Renders `rows`. A header row comes first when the format is a table
    /// and `heading` is set (false for `--noheading`); each column's header
    /// comes from `headers`.
    ///
    /// # Errors
    /// [`TemplateError::Exec`] from the first row that fails.
    pub fn render(
        &self,
        rows: &[Value],
        headers: &Headers,
        heading: bool,
    ) -> Result<String, TemplateError> {
        let mut text = String::new();
        if self.is_table() && heading {
            self.template.execute_headers(&mut text, headers)?;
        }
        self.template.execute_rows(&mut text, rows)?;
        if self.is_table() {
            return Ok(align(&text, MIN_WIDTH, PADDING));
        }
        Ok(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ps_headers() -> Headers {
        Headers::new([("ID", "container id"), ("CreatedHuman", "created")])
    }

    fn ps_rows() -> Vec<Value> {
        vec![
            json!({"ID": "3f7b1c0d2e4a", "Image": "docker.io/library/alpine:latest", "Command": "sleep 100",
                   "CreatedHuman": "2 minutes ago", "Status": "Up 2 minutes", "Ports": "", "Names": "web",
                   "Mounts": [{"Destination": "/data"}], "Labels": {"app": "web"}}),
            json!({"ID": "0123456789ab", "Image": "localhost/app:1", "Command": "/bin/sh -c 'whi...",
                   "CreatedHuman": "About an hour ago", "Status": "Exited (0) 5 minutes ago",
                   "Ports": "0.0.0.0:8080->80/tcp", "Names": "app", "Mounts": [], "Labels": {}}),
        ]
    }

    const PS_ROW: &str =
        "{{.ID}}\t{{.Image}}\t{{.Command}}\t{{.CreatedHuman}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}";

    #[test]
    fn builtin_ps_table_matches_podman_bytes() {
        let r = Report::builtin_row("ps", PS_ROW).unwrap();
        assert!(r.is_table());
        let want = "CONTAINER ID  IMAGE                            COMMAND             CREATED            STATUS                    PORTS                 NAMES\n\
                    3f7b1c0d2e4a  docker.io/library/alpine:latest  sleep 100           2 minutes ago      Up 2 minutes                                    web\n\
                    0123456789ab  localhost/app:1                  /bin/sh -c 'whi...  About an hour ago  Exited (0) 5 minutes ago  0.0.0.0:8080->80/tcp  app\n";
        assert_eq!(r.render(&ps_rows(), &ps_headers(), true).unwrap(), want);
        // --noheading drops the header; the columns are sized on the rows.
        let rows_only = r.render(&ps_rows(), &ps_headers(), false).unwrap();
        assert!(rows_only.starts_with("3f7b1c0d2e4a  docker.io/library/alpine:latest  sleep 100  "));
        assert_eq!(rows_only.lines().count(), 2);
        // No rows: the header alone.
        assert_eq!(
            Report::builtin_row("ps", "{{.ID}}\t{{.Names}}")
                .unwrap()
                .render(&[], &ps_headers(), true)
                .unwrap(),
            "CONTAINER ID  NAMES\n"
        );
    }

    #[test]
    fn user_table_formats() {
        let h = ps_headers();
        let render = |f: &str| {
            Report::parse("ps", Origin::User, f)
                .unwrap()
                .render(&ps_rows(), &h, true)
                .unwrap()
        };
        let want = "CONTAINER ID  NAMES\n3f7b1c0d2e4a  web\n0123456789ab  app\n";
        // A space in a table format is a column break, like `\t`.
        assert_eq!(render("table {{.ID}} {{.Names}}"), want);
        assert_eq!(render("table {{.ID}}\\t{{.Names}}"), want);
        assert_eq!(render("table {{.ID}}\t{{.Names}}"), want);
        // Formatting functions leave the header as it is.
        assert_eq!(
            render("table {{.ID | upper}} {{.Names | upper}} {{json .Labels}}"),
            "CONTAINER ID  NAMES       LABELS\n3F7B1C0D2E4A  WEB         {\"app\":\"web\"}\n0123456789AB  APP         {}\n"
        );
        // A range runs once in the header, with the fields' headers.
        assert_eq!(
            render("table {{.Names}} {{range .Mounts}}{{.Destination}},{{end}}"),
            "NAMES       DESTINATION,\nweb         /data,\napp         \n"
        );
    }

    #[test]
    fn user_plain_formats() {
        let h = ps_headers();
        let render = |f: &str| {
            Report::parse("ps", Origin::User, f)
                .unwrap()
                .render(&ps_rows(), &h, true)
                .unwrap()
        };
        // No header, no alignment, one line per row.
        assert_eq!(
            render("{{.ID}} {{.Names}}"),
            "3f7b1c0d2e4a web\n0123456789ab app\n"
        );
        assert_eq!(
            render("{{.ID}}\\t{{.Names}}"),
            "3f7b1c0d2e4a\tweb\n0123456789ab\tapp\n"
        );
        assert_eq!(render("{{.Names}}\n"), "web\napp\n");
        assert_eq!(render("{{json .Labels}}"), "{\"app\":\"web\"}\n{}\n");
        // A format with its own range runs once over all rows.
        assert_eq!(render("{{range .}}{{.Names}},{{end}}"), "web,app,\n");
        assert_eq!(render("{{len .Mounts}}"), "1\n0\n");
        assert!(!Report::parse("ps", Origin::User, "{{.ID}}")
            .unwrap()
            .is_table());
    }

    #[test]
    fn inspect_format_per_document() {
        let docs = vec![
            json!({"State": {"Status": "running"}, "Config": {"Labels": {"a": "1"}}}),
            json!({"State": {"Status": "exited"}, "Config": {"Labels": {}}}),
        ];
        let r = Report::parse(
            "inspect",
            Origin::User,
            "{{.State.Status}} {{index .Config.Labels \"a\"}}",
        )
        .unwrap();
        assert_eq!(
            r.render(&docs, &Headers::default(), true).unwrap(),
            "running 1\nexited \n"
        );
    }

    #[test]
    fn errors_have_podmans_positions() {
        // podman: `Error: template: ps:1:13: executing "ps" at <.Id>: can't
        // evaluate field Id in type …` (column counts `{{range .}}`).
        let r = Report::parse("ps", Origin::User, "{{.Id}}").unwrap();
        let err = r.render(&ps_rows(), &ps_headers(), true).unwrap_err();
        assert_eq!(
            err.to_string(),
            "template: ps:1:13: executing \"ps\" at <.Id>: can't evaluate field Id in type map[string]interface {}"
        );
        // podman: `template: ps:1:24: executing "ps" at <.Label>: Label is
        // not a method but has arguments`, raised by the header row.
        let r = Report::parse(
            "ps",
            Origin::User,
            "table {{.Names}}\\t{{.Label \"job.task\"}}\\t{{.Status}}\\t{{.Image}}",
        )
        .unwrap();
        assert_eq!(
            r.render(&ps_rows(), &ps_headers(), true).unwrap_err().to_string(),
            "template: ps:1:24: executing \"ps\" at <.Label>: Label is not a method but has arguments"
        );
        assert_eq!(
            Report::parse("ps", Origin::User, "{{.ID}")
                .unwrap_err()
                .to_string(),
            "template: ps:1: bad character U+007D '}'"
        );
    }

    #[test]
    fn is_json_matches_podman() {
        // containers/common report.IsJSON's own cases.
        for (s, want) in [
            ("json", true),
            (" json", true),
            (" json ", true),
            ("  json   ", true),
            ("{{json}}", true),
            ("{{json }}", true),
            ("{{json.}}", true),
            ("{{ json. }}", true),
            ("{{ json .}}", false),
            ("{{ json . }}", false),
            ("  {{   json   .  }}  ", false),
            ("{{ json .", false),
            ("json . }}", false),
            ("{{.ID }} json .", false),
            ("json .", false),
            ("", false),
            ("JSON", false),
        ] {
            assert_eq!(is_json(s), want, "IsJSON({s:?})");
        }
    }

    #[test]
    fn normalize_like_podman() {
        assert_eq!(
            normalize_format("{{.ID}}\\t{{.Names}}"),
            "{{.ID}}\t{{.Names}}\n"
        );
        assert_eq!(normalize_format("{{.ID}}\n"), "{{.ID}}\n");
        assert_eq!(normalize_format("a\\nb"), "a\nb\n");
        assert_eq!(
            normalize_format("table {{.ID}} {{.Names}}"),
            "{{.ID}}\t{{.Names}}\n"
        );
        assert_eq!(
            normalize_format("table {{ .ID }}\\t{{.A}}"),
            "{{\t.ID\t}}\t{{.A}}\n"
        );
        // Without the table keyword spaces stay.
        assert_eq!(
            normalize_format("{{.ID}} {{.Names}}"),
            "{{.ID}} {{.Names}}\n"
        );
    }

    #[test]
    fn range_detection_like_enforce_range() {
        assert!(has_range_dot("{{range .}}{{.ID}}{{end}}"));
        assert!(has_range_dot("{{ range . }}x{{ end -}}"));
        // The regex allows `-` only before the closing braces.
        assert!(!has_range_dot("{{range .}}x{{- end}}"));
        assert!(has_range_dot("{{range.}}x{{end}}"));
        assert!(!has_range_dot("{{range .Mounts}}x{{end}}"));
        assert!(!has_range_dot("{{range .}}x"));
        assert!(!has_range_dot("{{.ID}}"));
    }
}
