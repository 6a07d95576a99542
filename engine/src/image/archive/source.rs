//! Reading an archive husk loads: a directory, or a tar (possibly gzip- or
//! zstd-compressed, possibly on stdin). A tar on a seekable file is read in
//! place: one pass indexes its entries (name -> offset and size), files are
//! then read at their offsets; stdin and compressed archives are first
//! spooled, decompressed, into an unnamed temporary file. Nothing of the
//! archive is ever written out under its own names, and symbolic links in
//! it are only followed inside the index, so a hostile archive cannot
//! reach outside.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, BufReader, Read, Seek};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use crate::image::error::{ImageError, Result};
use crate::storage::{decompress, sniff_reader};

/// The biggest JSON document (manifest, config, index) read into memory.
const JSON_LIMIT: u64 = 16 << 20;

/// A file read at offsets of a shared file.
struct ReadAt<'a> {
    file: &'a File,
    pos: u64,
    end: u64,
}

impl Read for ReadAt<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let room = (self.end - self.pos).min(buf.len() as u64) as usize;
        if room == 0 {
            return Ok(0);
        }
        let n = self.file.read_at(&mut buf[..room], self.pos)?;
        self.pos += n as u64;
        Ok(n)
    }
}

/// Where an archive's files come from.
#[derive(Debug)]
pub enum Source {
    /// An unpacked layout or dir on disk.
    Dir(PathBuf),
    /// An indexed tar.
    Tar {
        /// What the user named (for messages).
        label: String,
        /// The (uncompressed) tar.
        file: File,
        /// Regular files: normalised name -> (data offset, size).
        files: HashMap<String, (u64, u64)>,
        /// Symbolic links: normalised name -> normalised target.
        links: HashMap<String, String>,
    },
}

/// `a/./b/` -> `a/b`; None for names that climb out (`..`) or are empty.
fn normalize(name: &str) -> Option<String> {
    let mut parts: Vec<&str> = Vec::new();
    for c in name.split('/') {
        match c {
            "" | "." => {}
            ".." => return None,
            c => parts.push(c),
        }
    }
    (!parts.is_empty()).then(|| parts.join("/"))
}

impl Source {
    /// Opens `path` (a directory or a tar file), or stdin when None.
    pub fn open(path: Option<&Path>) -> Result<Source> {
        if let Some(p) = path {
            let meta = std::fs::metadata(p)
                .map_err(|e| ImageError::Other(format!("stat {}: {}", p.display(), no_such(e))))?;
            if meta.is_dir() {
                return Ok(Source::Dir(p.to_owned()));
            }
            let mut f = File::open(p).map_err(ImageError::io("opening", p))?;
            let compression =
                sniff_reader(&mut BufReader::new(&mut f)).map_err(ImageError::io("reading", p))?;
            f.rewind().map_err(ImageError::io("reading", p))?;
            if compression == crate::image::media::Compression::None {
                return Source::index(p.display().to_string(), f);
            }
            return Source::spool(p.display().to_string(), f);
        }
        Source::spool("stdin".into(), io::stdin().lock())
    }

    /// Copies (decompressing) `input` into an unnamed temporary file and
    /// indexes it.
    fn spool(label: String, input: impl Read) -> Result<Source> {
        let dir = std::env::var_os("TMPDIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("/var/tmp"));
        let mut tmp =
            tempfile::tempfile_in(&dir).map_err(ImageError::io("creating a file in", &dir))?;
        let mut buffered = BufReader::with_capacity(128 << 10, input);
        let compression = sniff_reader(&mut buffered).map_err(ImageError::io("reading", &label))?;
        let mut plain =
            decompress(buffered, compression).map_err(ImageError::io("decompressing", &label))?;
        io::copy(&mut plain, &mut tmp).map_err(ImageError::io("reading", &label))?;
        tmp.rewind().map_err(ImageError::io("reading", &label))?;
        Source::index(label, tmp)
    }

    fn index(label: String, mut file: File) -> Result<Source> {
        let bad = |e: io::Error| ImageError::Archive {
            path: label.clone(),
            reason: format!("not a tar archive: {e}"),
        };
        let mut files = HashMap::new();
        let mut links = HashMap::new();
        {
            let mut ar = tar::Archive::new(&mut file);
            for entry in ar.entries_with_seek().map_err(bad)? {
                let entry = entry.map_err(bad)?;
                let Ok(path) = entry.path() else { continue };
                let Some(name) = path.to_str().and_then(normalize) else {
                    continue;
                };
                match entry.header().entry_type() {
                    tar::EntryType::Regular | tar::EntryType::Continuous => {
                        files.insert(name, (entry.raw_file_position(), entry.size()));
                    }
                    tar::EntryType::Symlink => {
                        let Ok(Some(t)) = entry.link_name() else {
                            continue;
                        };
                        let base = name.rsplit_once('/').map(|(d, _)| d).unwrap_or("");
                        let t = t.to_string_lossy();
                        let joined = if t.starts_with('/') {
                            t.to_string()
                        } else {
                            format!("{base}/{t}")
                        };
                        if let Some(target) = normalize(&joined) {
                            links.insert(name, target);
                        }
                    }
                    _ => {}
                }
            }
        }
        if files.is_empty() {
            return Err(ImageError::Archive {
                path: label,
                reason: "not a tar archive (no files in it)".into(),
            });
        }
        Ok(Source::Tar {
            label,
            file,
            files,
            links,
        })
    }

    /// What to call the archive in messages.
    pub fn label(&self) -> String {
        match self {
            Source::Dir(p) => p.display().to_string(),
            Source::Tar { label, .. } => label.clone(),
        }
    }

    fn resolve(&self, name: &str) -> Option<String> {
        let Source::Tar { files, links, .. } = self else {
            return normalize(name);
        };
        let mut cur = normalize(name)?;
        for _ in 0..16 {
            if files.contains_key(&cur) {
                return Some(cur);
            }
            cur = links.get(&cur)?.clone();
        }
        None
    }

    /// Whether the archive has the file `name`.
    pub fn exists(&self, name: &str) -> bool {
        match (self, self.resolve(name)) {
            (Source::Dir(d), Some(n)) => d.join(n).is_file(),
            (Source::Tar { .. }, Some(_)) => true,
            _ => false,
        }
    }

    /// Opens the file `name`: a reader and its size.
    pub fn open_file(&self, name: &str) -> Result<(Box<dyn Read + '_>, u64)> {
        let missing = || ImageError::Archive {
            path: self.label(),
            reason: format!("{name} is not in the archive"),
        };
        let n = self.resolve(name).ok_or_else(missing)?;
        match self {
            Source::Dir(d) => {
                let p = d.join(&n);
                // No link in a layout directory may lead out of it.
                let meta = std::fs::symlink_metadata(&p).map_err(|_| missing())?;
                if !meta.is_file() {
                    return Err(missing());
                }
                let f = File::open(&p).map_err(ImageError::io("opening", &p))?;
                Ok((Box::new(f), meta.len()))
            }
            Source::Tar { file, files, .. } => {
                let (off, size) = files[&n];
                Ok((
                    Box::new(ReadAt {
                        file,
                        pos: off,
                        end: off + size,
                    }),
                    size,
                ))
            }
        }
    }

    /// Reads a small file (a JSON document) whole.
    pub fn read(&self, name: &str) -> Result<Vec<u8>> {
        let (r, size) = self.open_file(name)?;
        if size > JSON_LIMIT {
            return Err(ImageError::Archive {
                path: self.label(),
                reason: format!("{name} is {size} bytes, too big for a document"),
            });
        }
        let mut out = Vec::with_capacity(size as usize);
        BufReader::new(r)
            .take(JSON_LIMIT)
            .read_to_end(&mut out)
            .map_err(ImageError::io(
                "reading",
                format!("{}:{name}", self.label()),
            ))?;
        Ok(out)
    }
}

fn no_such(e: io::Error) -> String {
    if e.kind() == io::ErrorKind::NotFound {
        "no such file or directory".into()
    } else {
        e.to_string()
    }
}
