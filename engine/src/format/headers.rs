//! Column headers of `table` output, named the way podman's
//! `report.Headers` names them.
//!
//! podman derives a header from each struct field: the name split at
//! camel-case boundaries and upper-cased (`CreatedAt` → `CREATED AT`,
//! `ImageID` → `IMAGE ID`), then applies per-command overrides (`ID` →
//! `CONTAINER ID` for ps, `IMAGE ID` for images). husk's rows are JSON
//! maps, so the header of a field chain is looked up by its whole path
//! (`State.Status`), then by its last field, and otherwise derived from the
//! last field the same way.

use std::collections::HashMap;

/// Header names for one command's table.
#[derive(Debug, Clone, Default)]
pub struct Headers {
    overrides: HashMap<String, String>,
}

impl Headers {
    /// Headers with per-field overrides, upper-cased as podman does:
    /// `Headers::new([("ID", "container id"), ("CreatedHuman", "created")])`.
    pub fn new<I, K, V>(overrides: I) -> Headers
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: AsRef<str>,
    {
        Headers {
            overrides: overrides
                .into_iter()
                .map(|(k, v)| (k.into(), v.as_ref().to_uppercase()))
                .collect(),
        }
    }

    /// The header for a field chain given by its names (`["State", "Status"]`).
    pub fn header(&self, chain: &[&str]) -> String {
        if chain.is_empty() {
            return String::new();
        }
        if let Some(h) = self.overrides.get(&chain.join(".")) {
            return h.clone();
        }
        let last = chain[chain.len() - 1];
        if let Some(h) = self.overrides.get(last) {
            return h.clone();
        }
        camel_header(last)
    }
}

/// `CreatedAt` → `CREATED AT`, as podman's `camelcase.Split` + ToUpper.
pub fn camel_header(field: &str) -> String {
    camel_split(field).join(" ").to_uppercase()
}

/// podman's `camelcase.Split`: runs of lower-case letters, upper-case
/// letters, digits and other characters; an upper-case run followed by a
/// lower-case run gives its last letter to the lower-case word
/// (`PDFLoader` → `PDF`, `Loader`).
pub fn camel_split(src: &str) -> Vec<String> {
    fn class(c: char) -> u8 {
        if c.is_lowercase() {
            1
        } else if c.is_uppercase() {
            2
        } else if c.is_numeric() {
            3
        } else {
            4
        }
    }
    let mut runs: Vec<Vec<char>> = Vec::new();
    let mut last = 0;
    for c in src.chars() {
        let k = class(c);
        match runs.last_mut() {
            Some(run) if k == last => run.push(c),
            _ => runs.push(vec![c]),
        }
        last = k;
    }
    for i in 0..runs.len().saturating_sub(1) {
        let upper_then_lower = runs[i].first().is_some_and(|c| c.is_uppercase())
            && runs[i + 1].first().is_some_and(|c| c.is_lowercase());
        if upper_then_lower {
            if let Some(c) = runs[i].pop() {
                runs[i + 1].insert(0, c);
            }
        }
    }
    runs.into_iter()
        .filter(|r| !r.is_empty())
        .map(|r| r.into_iter().collect())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn camel_split_matches_podman() {
        let cases: &[(&str, &[&str])] = &[
            ("", &[]),
            ("lowercase", &["lowercase"]),
            ("Class", &["Class"]),
            ("MyClass", &["My", "Class"]),
            ("MyC", &["My", "C"]),
            ("HTML", &["HTML"]),
            ("PDFLoader", &["PDF", "Loader"]),
            ("AString", &["A", "String"]),
            ("SimpleXMLParser", &["Simple", "XML", "Parser"]),
            ("vimRPCPlugin", &["vim", "RPC", "Plugin"]),
            ("GL11Version", &["GL", "11", "Version"]),
            ("99Bottles", &["99", "Bottles"]),
            ("May5", &["May", "5"]),
            ("BFG9000", &["BFG", "9000"]),
            ("BöseÜberraschung", &["Böse", "Überraschung"]),
            ("Two  spaces", &["Two", "  ", "spaces"]),
        ];
        for (src, want) in cases {
            assert_eq!(camel_split(src), *want, "{src:?}");
        }
    }

    #[test]
    fn headers_override_then_derive() {
        let h = Headers::new([
            ("ID", "container id"),
            ("CreatedHuman", "created"),
            ("State.Status", "status"),
        ]);
        assert_eq!(h.header(&["ID"]), "CONTAINER ID");
        assert_eq!(h.header(&["CreatedHuman"]), "CREATED");
        assert_eq!(h.header(&["CreatedAt"]), "CREATED AT");
        assert_eq!(h.header(&["ImageID"]), "IMAGE ID");
        assert_eq!(h.header(&["Names"]), "NAMES");
        assert_eq!(h.header(&["State", "Status"]), "STATUS");
        assert_eq!(h.header(&["Config", "ID"]), "CONTAINER ID");
        assert_eq!(h.header(&["Labels", "app"]), "APP");
        assert_eq!(h.header(&[]), "");
    }
}
