//! Keeping the monitor's resident set to what its loop uses.
//!
//! The shim is the whole `husk` binary re-executed, and setting up (config
//! parsing, the runtime's create path in the helper's parent, the kernel's
//! fault-around of 64 KiB per text fault) leaves far more of the binary's
//! text mapped than the poll loop will ever run. Once set up, the monitor
//! drops those clean file pages from its page tables; the loop faults back
//! the few it needs, from the page cache. Only read-only private mappings
//! of the executable with no anonymous (copied-on-write) pages are dropped:
//! their contents are exactly the file's, so nothing can change by it.

/// One mapping of /proc/self/smaps.
#[derive(Debug, PartialEq)]
struct Mapping {
    start: usize,
    end: usize,
    droppable: bool,
}

/// Parses smaps for mappings of `exe` that are private, not writable and
/// hold no anonymous pages.
fn clean_exe_mappings(smaps: &str, exe: &str) -> Vec<Mapping> {
    let mut out: Vec<Mapping> = Vec::new();
    for line in smaps.lines() {
        let mut f = line.split_whitespace();
        let Some(first) = f.next() else { continue };
        if let Some((a, b)) = first.split_once('-') {
            let (Ok(start), Ok(end)) = (usize::from_str_radix(a, 16), usize::from_str_radix(b, 16))
            else {
                continue;
            };
            let perms = f.next().unwrap_or("");
            let path = f.nth(3).unwrap_or("");
            let private_ro = perms.len() == 4
                && perms.starts_with('r')
                && perms.as_bytes()[1] == b'-'
                && perms.ends_with('p');
            out.push(Mapping {
                start,
                end,
                droppable: private_ro && path == exe,
            });
        } else if first == "Anonymous:" {
            let kib: u64 = f.next().and_then(|v| v.parse().ok()).unwrap_or(1);
            if let Some(m) = out.last_mut() {
                m.droppable &= kib == 0;
            }
        }
    }
    out.retain(|m| m.droppable);
    out
}

/// Drops the monitor's clean executable pages from its page tables; returns
/// how many bytes of mappings were advised. Best effort: any failure leaves
/// the pages where they are.
pub fn drop_clean_text() -> usize {
    let Ok(exe) = std::fs::read_link("/proc/self/exe") else {
        return 0;
    };
    let Ok(smaps) = std::fs::read_to_string("/proc/self/smaps") else {
        return 0;
    };
    let Some(exe) = exe.to_str().map(str::to_owned) else {
        return 0;
    };
    let mut advised = 0;
    for m in clean_exe_mappings(&smaps, &exe) {
        // SAFETY: the range is a whole private, read-only mapping of our own
        // executable without copied-on-write pages: MADV_DONTNEED only
        // unmaps its pages, and the next access reads the same bytes back
        // from the file. The code running now is re-faulted on return.
        let rc = unsafe {
            libc::madvise(
                m.start as *mut libc::c_void,
                m.end - m.start,
                libc::MADV_DONTNEED,
            )
        };
        if rc == 0 {
            advised += m.end - m.start;
        }
    }
    advised
}

#[cfg(test)]
mod tests {
    use super::*;

    const SMAPS: &str = "\
55d0a0000000-55d0a0100000 r--p 00000000 fe:00 123 /usr/bin/husk
Size:               1024 kB
Anonymous:             0 kB
55d0a0100000-55d0a0400000 r-xp 00100000 fe:00 123 /usr/bin/husk
Size:               3072 kB
Anonymous:             0 kB
55d0a0400000-55d0a0450000 r--p 00400000 fe:00 123 /usr/bin/husk
Size:                320 kB
Anonymous:           300 kB
55d0a0450000-55d0a0458000 rw-p 00450000 fe:00 123 /usr/bin/husk
Anonymous:            32 kB
7f0000000000-7f0000001000 r--p 00000000 fe:00 9 /usr/lib/other.so
Anonymous:             0 kB
7ffc00000000-7ffc00021000 rw-p 00000000 00:00 0 [stack]
Anonymous:            24 kB
";

    #[test]
    fn only_clean_read_only_mappings_of_the_exe() {
        let m = clean_exe_mappings(SMAPS, "/usr/bin/husk");
        assert_eq!(
            m,
            vec![
                Mapping {
                    start: 0x55d0a0000000,
                    end: 0x55d0a0100000,
                    droppable: true
                },
                Mapping {
                    start: 0x55d0a0100000,
                    end: 0x55d0a0400000,
                    droppable: true
                },
            ]
        );
    }

    #[test]
    fn dropping_our_own_text_keeps_us_running() {
        let advised = drop_clean_text();
        assert!(advised > 0, "the test binary's text should be droppable");
        // Code and read-only data still work after their pages went.
        let v: Vec<u64> = (0..1000).map(|x| x * 3).collect();
        assert_eq!(v.iter().sum::<u64>(), 1_498_500);
        assert_eq!(format!("{:?}", Some("text")), "Some(\"text\")");
    }
}
