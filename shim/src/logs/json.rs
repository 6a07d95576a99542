//! JSON string escaping for json-file records, with UTF-8 sequences cut
//! by a read boundary carried over to the next record of the stream.

/// An incomplete UTF-8 sequence left at the end of a chunk.
#[derive(Debug, Default, Clone, Copy)]
pub struct Carry {
    bytes: [u8; 4],
    len: usize,
}

fn seq_len(lead: u8) -> usize {
    match lead {
        0xc2..=0xdf => 2,
        0xe0..=0xef => 3,
        0xf0..=0xf4 => 4,
        _ => 1,
    }
}

const REPLACEMENT: &[u8] = b"\xef\xbf\xbd";

/// Appends `s` (valid UTF-8) to `out` as the inside of a JSON string.
fn escape_str(s: &str, out: &mut Vec<u8>) {
    let mut start = 0;
    let b = s.as_bytes();
    for (i, &c) in b.iter().enumerate() {
        let esc: &[u8] = match c {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0..=0x1f | 0x7f => b"",
            _ => continue,
        };
        out.extend_from_slice(&b[start..i]);
        if esc.is_empty() {
            out.extend_from_slice(format!("\\u{c:04x}").as_bytes());
        } else {
            out.extend_from_slice(esc);
        }
        start = i + 1;
    }
    out.extend_from_slice(&b[start..]);
}

/// Appends `data` to `out` escaped for a JSON string. Invalid UTF-8 becomes
/// U+FFFD. With `last_of_chunk`, an incomplete sequence at the very end is
/// kept in `carry` for the next call instead (the rest of the character is
/// in the container's next write); `carry` is prepended first.
pub fn escape(data: &[u8], carry: &mut Carry, last_of_chunk: bool, out: &mut Vec<u8>) {
    let mut data = data;
    if carry.len > 0 {
        let need = seq_len(carry.bytes[0]) - carry.len;
        let cont = data
            .iter()
            .take(need)
            .take_while(|&&c| c & 0xc0 == 0x80)
            .count();
        if cont == need {
            carry.bytes[carry.len..carry.len + need].copy_from_slice(&data[..need]);
            match std::str::from_utf8(&carry.bytes[..carry.len + need]) {
                Ok(s) => escape_str(s, out),
                Err(_) => out.extend_from_slice(REPLACEMENT),
            }
            data = &data[need..];
            carry.len = 0;
        } else if cont == data.len() && last_of_chunk {
            carry.bytes[carry.len..carry.len + cont].copy_from_slice(data);
            carry.len += cont;
            return;
        } else {
            out.extend_from_slice(REPLACEMENT);
            carry.len = 0;
        }
    }
    loop {
        match std::str::from_utf8(data) {
            Ok(s) => return escape_str(s, out),
            Err(e) => {
                let (good, rest) = data.split_at(e.valid_up_to());
                // SAFETY: from_utf8 vouched that the first valid_up_to bytes
                // are valid UTF-8.
                escape_str(unsafe { std::str::from_utf8_unchecked(good) }, out);
                match e.error_len() {
                    Some(n) => {
                        out.extend_from_slice(REPLACEMENT);
                        data = &rest[n..];
                    }
                    None if last_of_chunk => {
                        carry.bytes[..rest.len()].copy_from_slice(rest);
                        carry.len = rest.len();
                        return;
                    }
                    None => {
                        out.extend_from_slice(REPLACEMENT);
                        return;
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn esc(parts: &[&[u8]]) -> Vec<u8> {
        let mut carry = Carry::default();
        let mut out = Vec::new();
        for p in parts {
            escape(p, &mut carry, true, &mut out);
        }
        escape(b"", &mut carry, false, &mut out);
        out
    }

    #[test]
    fn escapes_controls_quotes_and_bad_utf8() {
        assert_eq!(esc(&[b"a\"b\\c\n\x01"]), b"a\\\"b\\\\c\\n\\u0001");
        assert_eq!(esc(&[b"x\xffy"]), "x\u{fffd}y".as_bytes());
    }

    #[test]
    fn characters_split_across_chunks_survive() {
        let e = "é€😀".as_bytes();
        for cut in 1..e.len() {
            assert_eq!(esc(&[&e[..cut], &e[cut..]]), e, "cut at {cut}");
        }
        // A truncated character at the real end is replaced.
        assert_eq!(esc(&[&e[..1]]), "\u{fffd}".as_bytes());
    }
}
