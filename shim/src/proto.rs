//! The wire format of every shim socket: frames of one type byte, a
//! big-endian u32 payload length and the payload. See docs/shim.md for the
//! message types of the spawn socket and the attach socket.

use std::io;
use std::os::fd::BorrowedFd;

use crate::sys;

/// Bytes of a frame header.
pub const HEADER: usize = 5;

/// Spawn socket, caller to shim: the [`crate::ShimConfig`] as JSON.
pub const CONFIG: u8 = b'C';
/// Spawn socket, shim to caller: created; container pid and shim pid (i32 BE each).
pub const CREATED: u8 = b'K';
/// Spawn socket, shim to caller: failed; the error text (UTF-8).
pub const FAILED: u8 = b'E';

/// Attach, client to shim: bytes for the container's stdin.
pub const STDIN: u8 = 0x01;
/// Attach, client to shim: new terminal size, rows and columns (u16 BE each).
pub const RESIZE: u8 = 0x02;
/// Attach, client to shim: the client's stdin reached end of file.
pub const CLOSE_STDIN: u8 = 0x03;
/// Attach, client to shim: after the container exits, this client does
/// what the exit command would (no payload); the shim waits for its
/// [`CLEANED`] and runs the exit command only if that never comes.
pub const CLAIM_CLEANUP: u8 = 0x04;
/// Attach, client to shim: the claimed cleanup is done (no payload).
pub const CLEANED: u8 = 0x05;
/// Attach, shim to client: first frame; one flag byte ([`HELLO_TTY`], [`HELLO_STDIN`]).
pub const HELLO: u8 = 0x10;
/// Attach, shim to client: container stdout bytes (all output with a tty).
pub const STDOUT: u8 = 0x11;
/// Attach, shim to client: container stderr bytes.
pub const STDERR: u8 = 0x12;
/// Attach, shim to client: the container exited with this code (i32 BE); last frame.
pub const EXIT: u8 = 0x13;

/// [`HELLO`] flag: the container has a terminal.
pub const HELLO_TTY: u8 = 1;
/// [`HELLO`] flag: the container's stdin is open (`-i`).
pub const HELLO_STDIN: u8 = 2;

/// The largest attach payload a peer may send.
pub const MAX_ATTACH_PAYLOAD: usize = 1 << 16;
/// The largest spawn-socket payload (a configuration).
pub const MAX_SPAWN_PAYLOAD: usize = 1 << 20;

/// The header of a frame of type `ty` carrying `len` bytes.
pub fn header(ty: u8, len: usize) -> [u8; HEADER] {
    let l = (len as u32).to_be_bytes();
    [ty, l[0], l[1], l[2], l[3]]
}

/// Splits a header into its type and payload length.
pub fn parse_header(h: &[u8; HEADER]) -> (u8, usize) {
    (h[0], u32::from_be_bytes([h[1], h[2], h[3], h[4]]) as usize)
}

/// Writes one whole frame to a blocking fd.
pub fn write_frame(fd: BorrowedFd<'_>, ty: u8, payload: &[u8]) -> io::Result<()> {
    sys::write_all(fd, &header(ty, payload.len()))?;
    sys::write_all(fd, payload)
}

/// Reads one whole frame from a blocking fd; `None` at end of file.
pub fn read_frame(fd: BorrowedFd<'_>, max: usize) -> io::Result<Option<(u8, Vec<u8>)>> {
    let mut h = [0u8; HEADER];
    if !sys::read_exact(fd, &mut h)? {
        return Ok(None);
    }
    let (ty, len) = parse_header(&h);
    if len > max {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("frame of {len} bytes exceeds the limit of {max}"),
        ));
    }
    let mut payload = vec![0u8; len];
    if len > 0 && !sys::read_exact(fd, &mut payload)? {
        return Err(io::ErrorKind::UnexpectedEof.into());
    }
    Ok(Some((ty, payload)))
}

/// Two big-endian i32s (pids, codes).
pub fn two_i32(a: i32, b: i32) -> [u8; 8] {
    let (a, b) = (a.to_be_bytes(), b.to_be_bytes());
    [a[0], a[1], a[2], a[3], b[0], b[1], b[2], b[3]]
}

/// The first big-endian i32 of `p`.
pub fn i32_at(p: &[u8], at: usize) -> Option<i32> {
    Some(i32::from_be_bytes(p.get(at..at + 4)?.try_into().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsFd;

    #[test]
    fn frames_round_trip_over_a_socket() {
        let (a, b) = sys::socketpair().unwrap();
        write_frame(a.as_fd(), STDOUT, b"hello").unwrap();
        write_frame(a.as_fd(), EXIT, &7i32.to_be_bytes()).unwrap();
        drop(a);
        assert_eq!(
            read_frame(b.as_fd(), 16).unwrap(),
            Some((STDOUT, b"hello".to_vec()))
        );
        let (ty, p) = read_frame(b.as_fd(), 16).unwrap().unwrap();
        assert_eq!((ty, i32_at(&p, 0)), (EXIT, Some(7)));
        assert_eq!(read_frame(b.as_fd(), 16).unwrap(), None);
    }

    #[test]
    fn oversized_frames_are_refused() {
        let (a, b) = sys::socketpair().unwrap();
        write_frame(a.as_fd(), STDIN, &[0u8; 32]).unwrap();
        assert!(read_frame(b.as_fd(), 16).is_err());
    }
}
