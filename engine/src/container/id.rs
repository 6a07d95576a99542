//! Container and pod ids (64 random hex digits, as podman makes them) and
//! generated names (`adjective_noun`, like podman's and docker's).

/// Fills `buf` from the kernel's random pool.
fn random_bytes(buf: &mut [u8]) {
    let mut filled = 0;
    while filled < buf.len() {
        // SAFETY: getrandom writes at most the given length into our buffer.
        let n =
            unsafe { libc::getrandom(buf[filled..].as_mut_ptr().cast(), buf.len() - filled, 0) };
        if n > 0 {
            filled += n as usize;
        } else if std::io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
            // getrandom cannot fail on Linux >= 3.17 once the pool is ready;
            // fall back to the clock and pid rather than abort.
            let seed = husk_runtime::trace::now_ns() ^ u64::from(std::process::id()) << 32;
            for (i, b) in buf[filled..].iter_mut().enumerate() {
                *b = (seed.rotate_left(i as u32 * 8) & 0xff) as u8;
            }
            return;
        }
    }
}

/// A new 64-hex id. Like podman, an id that is all digits is re-drawn, so
/// that a short id never reads as a number.
pub fn new_id() -> String {
    loop {
        let mut b = [0u8; 32];
        random_bytes(&mut b);
        let id = hex::encode(b);
        if !id[..12].bytes().all(|c| c.is_ascii_digit()) {
            return id;
        }
    }
}

const ADJECTIVES: &[&str] = &[
    "amber", "bold", "brave", "brisk", "calm", "clever", "cosy", "crisp", "curious", "daring",
    "deft", "eager", "early", "fair", "fancy", "fleet", "fond", "frank", "gentle", "glad", "grand",
    "happy", "hardy", "honest", "jolly", "keen", "kind", "lively", "loyal", "lucid", "merry",
    "mellow", "modest", "nimble", "noble", "patient", "plucky", "polite", "proud", "quick",
    "quiet", "rapid", "ready", "serene", "sharp", "shiny", "silent", "sleepy", "smart", "snappy",
    "steady", "sunny", "swift", "tidy", "tender", "upbeat", "vivid", "warm", "wise", "witty",
    "zealous", "zesty",
];

const NOUNS: &[&str] = &[
    "acorn", "alder", "badger", "beacon", "birch", "bison", "brook", "canyon", "cedar", "comet",
    "coral", "crane", "delta", "dune", "eagle", "ember", "falcon", "fern", "fjord", "gecko",
    "glacier", "harbor", "hazel", "heron", "ibis", "island", "jackal", "juniper", "kestrel",
    "lagoon", "larch", "lemur", "lynx", "maple", "marten", "meadow", "mesa", "nebula", "ocelot",
    "orca", "otter", "pebble", "pine", "plover", "quartz", "raven", "reef", "ridge", "robin",
    "sparrow", "spruce", "summit", "tapir", "tundra", "umber", "valley", "walrus", "willow",
    "wren", "yak", "zephyr",
];

/// A random `adjective_noun` name.
pub fn random_name() -> String {
    let mut b = [0u8; 4];
    random_bytes(&mut b);
    let a = u16::from_le_bytes([b[0], b[1]]) as usize % ADJECTIVES.len();
    let n = u16::from_le_bytes([b[2], b[3]]) as usize % NOUNS.len();
    format!("{}_{}", ADJECTIVES[a], NOUNS[n])
}

/// Checks a user-given container or pod name against podman's rule:
/// `[a-zA-Z0-9][a-zA-Z0-9_.-]*`.
pub fn validate_name(name: &str) -> Result<(), String> {
    let mut chars = name.chars();
    let ok = chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "invalid name {name:?}: names must match [a-zA-Z0-9][a-zA-Z0-9_.-]*: invalid argument"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_hex_and_differ() {
        let a = new_id();
        let b = new_id();
        assert_eq!(a.len(), 64);
        assert!(a.bytes().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
    }

    #[test]
    fn names() {
        let n = random_name();
        assert!(validate_name(&n).is_ok(), "{n}");
        assert!(n.contains('_'));
        for bad in ["", "-x", "a b", "a/b", "_x", "é"] {
            assert!(validate_name(bad).is_err(), "{bad:?} accepted");
        }
        for good in ["web", "Web-1", "a.b_c", "9lives"] {
            assert!(validate_name(good).is_ok(), "{good:?} refused");
        }
    }
}
