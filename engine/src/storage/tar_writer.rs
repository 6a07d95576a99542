//! A small deterministic tar writer: POSIX ustar headers, with a PAX
//! extended header (records sorted by key) only when a value does not fit
//! ustar or the entry has xattrs. Owner names are left empty (ids are what
//! containers use) and times are whole seconds, so the same tree always
//! gives the same bytes.

use std::io::{self, Read, Write};

const BLOCK: usize = 512;

/// A tar entry's type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TarKind {
    File,
    Hardlink,
    Symlink,
    Char,
    Block,
    Dir,
    Fifo,
}

impl TarKind {
    fn flag(self) -> u8 {
        match self {
            TarKind::File => b'0',
            TarKind::Hardlink => b'1',
            TarKind::Symlink => b'2',
            TarKind::Char => b'3',
            TarKind::Block => b'4',
            TarKind::Dir => b'5',
            TarKind::Fifo => b'6',
        }
    }
}

/// One entry's header fields.
#[derive(Debug, Clone)]
pub(crate) struct TarHeader<'a> {
    /// The name (a directory's ends in `/`).
    pub name: &'a [u8],
    pub kind: TarKind,
    pub mode: u32,
    pub uid: u64,
    pub gid: u64,
    pub size: u64,
    pub mtime: i64,
    pub link: &'a [u8],
    pub device: (u32, u32),
    pub xattrs: &'a [(std::ffi::CString, Vec<u8>)],
}

/// Writes entries to `W`.
#[derive(Debug)]
pub(crate) struct TarWriter<W: Write> {
    out: W,
}

fn octal(field: &mut [u8], v: u64) -> bool {
    let width = field.len() - 1;
    let s = format!("{v:0width$o}");
    if s.len() > width {
        return false;
    }
    field[..width].copy_from_slice(s.as_bytes());
    field[width] = 0;
    true
}

/// `"<len> <key>=<value>\n"`, `<len>` counting the whole record.
fn pax_record(key: &[u8], value: &[u8]) -> Vec<u8> {
    let base = key.len() + value.len() + 3;
    let mut len = base + 1;
    while base + len.to_string().len() != len {
        len = base + len.to_string().len();
    }
    let mut r = format!("{len} ").into_bytes();
    r.extend_from_slice(key);
    r.push(b'=');
    r.extend_from_slice(value);
    r.push(b'\n');
    r
}

fn header_block(name: &[u8], h: &TarHeader, size: u64, flag: u8, link: &[u8]) -> [u8; BLOCK] {
    let mut b = [0u8; BLOCK];
    let n = name.len().min(100);
    b[..n].copy_from_slice(&name[..n]);
    octal(&mut b[100..108], u64::from(h.mode & 0o7777));
    // Values that do not fit were put in PAX records; write 0 here.
    if !octal(&mut b[108..116], h.uid) {
        octal(&mut b[108..116], 0);
    }
    if !octal(&mut b[116..124], h.gid) {
        octal(&mut b[116..124], 0);
    }
    if !octal(&mut b[124..136], size) {
        octal(&mut b[124..136], 0);
    }
    let mtime = u64::try_from(h.mtime).unwrap_or(0);
    if !octal(&mut b[136..148], mtime) {
        octal(&mut b[136..148], 0);
    }
    b[156] = flag;
    let l = link.len().min(100);
    b[157..157 + l].copy_from_slice(&link[..l]);
    b[257..263].copy_from_slice(b"ustar\0");
    b[263..265].copy_from_slice(b"00");
    octal(&mut b[329..337], u64::from(h.device.0));
    octal(&mut b[337..345], u64::from(h.device.1));
    b[148..156].copy_from_slice(b"        ");
    let sum: u32 = b.iter().map(|&x| u32::from(x)).sum();
    b[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
    b
}

impl<W: Write> TarWriter<W> {
    pub(crate) fn new(out: W) -> Self {
        TarWriter { out }
    }

    fn pad(&mut self, n: u64) -> io::Result<()> {
        let rem = (n % BLOCK as u64) as usize;
        if rem != 0 {
            self.out.write_all(&[0u8; BLOCK][..BLOCK - rem])?;
        }
        Ok(())
    }

    /// Appends an entry; `data` must yield exactly `h.size` bytes.
    pub(crate) fn append(&mut self, h: &TarHeader, data: Option<&mut dyn Read>) -> io::Result<()> {
        let mut pax: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
        if h.name.len() > 100 {
            pax.push((b"path".to_vec(), h.name.to_vec()));
        }
        if h.link.len() > 100 {
            pax.push((b"linkpath".to_vec(), h.link.to_vec()));
        }
        const MAX7: u64 = 0o7777777;
        if h.uid > MAX7 {
            pax.push((b"uid".to_vec(), h.uid.to_string().into_bytes()));
        }
        if h.gid > MAX7 {
            pax.push((b"gid".to_vec(), h.gid.to_string().into_bytes()));
        }
        if h.size > 0o77777777777 {
            pax.push((b"size".to_vec(), h.size.to_string().into_bytes()));
        }
        if h.mtime < 0 || h.mtime as u64 > 0o77777777777 {
            pax.push((b"mtime".to_vec(), h.mtime.to_string().into_bytes()));
        }
        for (k, v) in h.xattrs {
            let mut key = b"SCHILY.xattr.".to_vec();
            key.extend_from_slice(k.to_bytes());
            pax.push((key, v.clone()));
        }
        if !pax.is_empty() {
            pax.sort();
            let body: Vec<u8> = pax.iter().flat_map(|(k, v)| pax_record(k, v)).collect();
            let base = h
                .name
                .rsplit(|&b| b == b'/')
                .find(|c| !c.is_empty())
                .unwrap_or(b"entry");
            let mut pname = b"PaxHeaders/".to_vec();
            pname.extend_from_slice(base);
            let ph = TarHeader {
                mode: 0o644,
                uid: 0,
                gid: 0,
                mtime: 0,
                device: (0, 0),
                ..h.clone()
            };
            self.out
                .write_all(&header_block(&pname, &ph, body.len() as u64, b'x', b""))?;
            self.out.write_all(&body)?;
            self.pad(body.len() as u64)?;
        }
        self.out
            .write_all(&header_block(h.name, h, h.size, h.kind.flag(), h.link))?;
        if let Some(r) = data {
            let n = io::copy(&mut r.take(h.size), &mut self.out)?;
            if n != h.size {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    format!("file shrank while being exported ({n} of {} bytes)", h.size),
                ));
            }
            self.pad(n)?;
        }
        Ok(())
    }

    /// Writes the end-of-archive blocks and returns the writer.
    pub(crate) fn finish(mut self) -> io::Result<W> {
        self.out.write_all(&[0u8; 2 * BLOCK])?;
        self.out.flush()?;
        Ok(self.out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tar_crate_reads_it_back() {
        let long = format!("d/{}", "n".repeat(150));
        let xattrs = vec![(std::ffi::CString::new("user.a").unwrap(), b"b".to_vec())];
        let mut w = TarWriter::new(Vec::new());
        let base = TarHeader {
            name: b"d/",
            kind: TarKind::Dir,
            mode: 0o755,
            uid: 0,
            gid: 0,
            size: 0,
            mtime: 946684800,
            link: b"",
            device: (0, 0),
            xattrs: &[],
        };
        w.append(&base, None).unwrap();
        let mut data: &[u8] = b"hello";
        w.append(
            &TarHeader {
                name: long.as_bytes(),
                kind: TarKind::File,
                mode: 0o4755,
                uid: 3_000_000,
                gid: 1000,
                size: 5,
                xattrs: &xattrs,
                ..base.clone()
            },
            Some(&mut data),
        )
        .unwrap();
        let bytes = w.finish().unwrap();
        let mut ar = tar::Archive::new(&bytes[..]);
        let mut es = ar.entries().unwrap();
        let d = es.next().unwrap().unwrap();
        assert_eq!(&*d.path_bytes(), b"d/");
        let mut f = es.next().unwrap().unwrap();
        assert_eq!(&*f.path_bytes(), long.as_bytes());
        assert_eq!(f.header().uid().unwrap(), 3_000_000);
        assert_eq!(f.header().mode().unwrap(), 0o4755);
        let keys: Vec<String> = f
            .pax_extensions()
            .unwrap()
            .unwrap()
            .map(|e| e.unwrap().key().unwrap().to_owned())
            .collect();
        assert!(keys.contains(&"SCHILY.xattr.user.a".to_owned()), "{keys:?}");
        let mut s = String::new();
        f.read_to_string(&mut s).unwrap();
        assert_eq!(s, "hello");
        assert!(es.next().is_none());
    }
}
