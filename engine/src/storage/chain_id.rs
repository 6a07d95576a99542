//! Chain ids: the identity of a layer *with everything below it*, as the
//! OCI image spec defines it: `ChainID(L0) = DiffID(L0)`,
//! `ChainID(Ln) = sha256(ChainID(Ln-1) + " " + DiffID(Ln))`. A layer
//! directory is named by its chain id, so two images sharing a base share
//! its unpacked layers.

use std::fmt;

use crate::image::digest::Digest;

/// A layer's chain id.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct ChainId(Digest);

impl ChainId {
    /// The chain id of a base layer: its diff id.
    pub fn base(diff_id: &Digest) -> ChainId {
        ChainId(diff_id.clone())
    }

    /// The chain id of a layer with diff id `diff_id` on top of `self`.
    pub fn child(&self, diff_id: &Digest) -> ChainId {
        ChainId(Digest::sha256_of(
            format!("{} {}", self.0, diff_id).as_bytes(),
        ))
    }

    /// The chain id of a layer on top of `parent` (None for a base layer).
    pub fn of(parent: Option<&ChainId>, diff_id: &Digest) -> ChainId {
        match parent {
            Some(p) => p.child(diff_id),
            None => ChainId::base(diff_id),
        }
    }

    /// The chain ids of every layer of an image, base first.
    pub fn for_image(diff_ids: &[Digest]) -> Vec<ChainId> {
        let mut out: Vec<ChainId> = Vec::with_capacity(diff_ids.len());
        for d in diff_ids {
            let next = ChainId::of(out.last(), d);
            out.push(next);
        }
        out
    }

    /// Parses a stored chain id (`sha256:<hex>`).
    pub fn parse(s: &str) -> Result<ChainId, crate::image::digest::DigestError> {
        Digest::parse(s).map(ChainId)
    }

    /// The digest.
    pub fn digest(&self) -> &Digest {
        &self.0
    }

    /// The hex value: the layer's directory name.
    pub fn hex(&self) -> &str {
        self.0.hex()
    }

    /// The layer's short link name in `<root>/layers/l/`: 26 base32
    /// characters of its first 128 bits, so 138 layers fit in one page of
    /// overlay options and no two layers can collide in practice.
    pub fn short(&self) -> String {
        const ALPHABET: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";
        let bytes = hex::decode(&self.0.hex()[..32]).unwrap_or_default();
        let mut out = String::with_capacity(26);
        let (mut acc, mut bits) = (0u32, 0u32);
        for b in bytes {
            acc = (acc << 8) | u32::from(b);
            bits += 8;
            while bits >= 5 {
                bits -= 5;
                out.push(ALPHABET[((acc >> bits) & 31) as usize] as char);
            }
        }
        if bits > 0 {
            out.push(ALPHABET[((acc << (5 - bits)) & 31) as usize] as char);
        }
        out
    }
}

impl fmt::Display for ChainId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl fmt::Debug for ChainId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ChainId({})", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sha2::{Digest as _, Sha256};

    fn d(n: u8) -> Digest {
        Digest::sha256_of(&[n])
    }

    #[test]
    fn follows_the_oci_definition() {
        let (a, b, c) = (d(1), d(2), d(3));
        let ids = ChainId::for_image(&[a.clone(), b.clone(), c.clone()]);
        assert_eq!(ids[0].digest(), &a);
        let want1 = hex::encode(Sha256::digest(format!("{a} {b}").as_bytes()));
        assert_eq!(ids[1].hex(), want1);
        let want2 = hex::encode(Sha256::digest(format!("sha256:{want1} {c}").as_bytes()));
        assert_eq!(ids[2].hex(), want2);
        assert_eq!(ChainId::of(Some(&ids[0]), &b), ids[1]);
        assert!(ChainId::for_image(&[]).is_empty());
    }

    #[test]
    fn short_names_are_26_base32_characters() {
        let id = ChainId::base(&d(9));
        let s = id.short();
        assert_eq!(s.len(), 26);
        assert!(s
            .bytes()
            .all(|b| b.is_ascii_lowercase() || (b'2'..=b'7').contains(&b)));
        assert_ne!(s, ChainId::base(&d(10)).short());
        // Known value: 0x00.. encodes to 'a's.
        let zero = ChainId::parse(&format!("sha256:{}", "0".repeat(64))).unwrap();
        assert_eq!(zero.short(), "a".repeat(26));
    }
}
