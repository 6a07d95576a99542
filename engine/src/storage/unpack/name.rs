//! Entry names of layer tars: normalisation to a path relative to the layer
//! directory, and the OCI whiteout naming (`.wh.<name>`, `.wh..wh..opq`).

use crate::storage::error::EntryError;

/// Prefix of an OCI whiteout file.
pub const WHITEOUT_PREFIX: &[u8] = b".wh.";
/// The OCI opaque-directory marker.
pub const OPAQUE_MARKER: &[u8] = b".wh..wh..opq";
/// Prefix of aufs bookkeeping names (`.wh..wh.plnk`, `.wh..wh.aufs`), which
/// carry no meaning for the image and are skipped.
const META_PREFIX: &[u8] = b".wh..wh.";

/// Normalises a tar entry name to a relative path: a leading `/` and `./`
/// are dropped (tar tools write both), as are empty and `.` components and a
/// trailing `/`. A `..` component is refused outright: no layer needs one,
/// and refusing is simpler to trust than resolving it. The empty result is
/// the layer root.
pub fn normalize(raw: &[u8]) -> Result<Vec<u8>, EntryError> {
    if raw.contains(&0) {
        return Err(EntryError::Io {
            op: "reading the name",
            source: std::io::Error::new(std::io::ErrorKind::InvalidData, "name contains NUL"),
        });
    }
    let mut out = Vec::with_capacity(raw.len());
    for comp in raw.split(|&b| b == b'/') {
        match comp {
            b"" | b"." => continue,
            b".." => return Err(EntryError::DotDot),
            c => {
                if !out.is_empty() {
                    out.push(b'/');
                }
                out.extend_from_slice(c);
            }
        }
    }
    Ok(out)
}

/// Splits a normalised path into parent directory and last component.
pub fn split(rel: &[u8]) -> (&[u8], &[u8]) {
    match rel.iter().rposition(|&b| b == b'/') {
        Some(i) => (&rel[..i], &rel[i + 1..]),
        None => (&[], rel),
    }
}

/// What an entry's last component says about whiteouts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Whiteout<'a> {
    /// An ordinary name.
    No,
    /// `.wh..wh..opq`: the parent directory hides what lower layers hold.
    Opaque,
    /// `.wh.<name>`: `<name>` of lower layers is deleted.
    Remove(&'a [u8]),
    /// Other `.wh..wh.*` names: aufs bookkeeping, skipped.
    Meta,
}

/// Classifies a last component.
pub fn classify(name: &[u8]) -> Result<Whiteout<'_>, EntryError> {
    if name == OPAQUE_MARKER {
        return Ok(Whiteout::Opaque);
    }
    if name.starts_with(META_PREFIX) {
        return Ok(Whiteout::Meta);
    }
    match name.strip_prefix(WHITEOUT_PREFIX) {
        None => Ok(Whiteout::No),
        Some(b"") | Some(b".") | Some(b"..") => Err(EntryError::BadWhiteout),
        Some(target) => Ok(Whiteout::Remove(target)),
    }
}

/// The OCI whiteout file name for `name`.
pub fn whiteout_name(name: &[u8]) -> Vec<u8> {
    let mut v = WHITEOUT_PREFIX.to_vec();
    v.extend_from_slice(name);
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes_names() {
        let n = |s: &str| normalize(s.as_bytes()).map(|v| String::from_utf8(v).unwrap());
        assert_eq!(n("./etc/passwd").unwrap(), "etc/passwd");
        assert_eq!(
            n("/tmp/husk-hostile-abs-entry").unwrap(),
            "tmp/husk-hostile-abs-entry"
        );
        assert_eq!(n("etc//husk/./x/").unwrap(), "etc/husk/x");
        assert_eq!(n("./").unwrap(), "");
        assert!(matches!(
            n("../husk-hostile-dotdot"),
            Err(EntryError::DotDot)
        ));
        assert!(matches!(n("a/../../x"), Err(EntryError::DotDot)));
        assert!(matches!(n("a/.."), Err(EntryError::DotDot)));
        assert!(n("a\0b").is_err());
        assert_eq!(n("..foo/x..").unwrap(), "..foo/x..");
    }

    #[test]
    fn splits() {
        assert_eq!(split(b"a/b/c"), (&b"a/b"[..], &b"c"[..]));
        assert_eq!(split(b"c"), (&b""[..], &b"c"[..]));
    }

    #[test]
    fn classifies_whiteouts() {
        assert_eq!(classify(b".wh..wh..opq").unwrap(), Whiteout::Opaque);
        assert_eq!(
            classify(b".wh.remove-me.txt").unwrap(),
            Whiteout::Remove(b"remove-me.txt")
        );
        assert_eq!(classify(b".wh..wh.plnk").unwrap(), Whiteout::Meta);
        assert_eq!(classify(b"wh.x").unwrap(), Whiteout::No);
        assert_eq!(classify(b".whx").unwrap(), Whiteout::No);
        assert!(classify(b".wh.").is_err());
        assert!(classify(b".wh..").is_err());
        assert_eq!(whiteout_name(b"gone-dir"), b".wh.gone-dir");
    }
}
