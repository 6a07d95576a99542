//! Attach clients as the monitor sees them: frames parsed as bytes arrive
//! (no per-message allocation), and output sent without ever blocking the
//! monitor. A client that cannot take a frame whole keeps the rest in its
//! own buffer; until every client has drained, the monitor stops reading
//! the container's output (backpressure, as a slow terminal would apply).

use std::os::fd::AsFd;
use std::os::unix::net::UnixStream;

use crate::proto;
use crate::sys;

/// What a client asked for.
pub enum Request<'a> {
    /// Bytes for the container's stdin.
    Stdin(&'a [u8]),
    /// A new terminal size.
    Resize(u16, u16),
    /// The client's stdin ended.
    CloseStdin,
}

/// One attached client.
pub struct Client {
    /// Its connection (nonblocking).
    pub sock: UnixStream,
    hdr: [u8; proto::HEADER],
    hdr_len: usize,
    ty: u8,
    remaining: usize,
    small: [u8; 4],
    small_len: usize,
    /// Output accepted but not yet written.
    pub pending: Vec<u8>,
    /// Hung up or broke the protocol; dropped once the current poll round
    /// is over (dropping it earlier would shift the round's client slots).
    pub gone: bool,
    /// Sent [`proto::CLAIM_CLEANUP`]: it cleans up after the exit.
    pub claims_cleanup: bool,
}

impl Client {
    /// A new client, greeted with the HELLO frame.
    pub fn new(sock: UnixStream, flags: u8) -> std::io::Result<Client> {
        sock.set_nonblocking(true)?;
        let mut c = Client {
            sock,
            hdr: [0; proto::HEADER],
            hdr_len: 0,
            ty: 0,
            remaining: 0,
            small: [0; 4],
            small_len: 0,
            pending: Vec::new(),
            gone: false,
            claims_cleanup: false,
        };
        if !c.send(proto::HELLO, &[flags]) {
            return Err(std::io::ErrorKind::BrokenPipe.into());
        }
        Ok(c)
    }

    /// Queues one frame; `false` when the client is gone.
    pub fn send(&mut self, ty: u8, payload: &[u8]) -> bool {
        let h = proto::header(ty, payload.len());
        if !self.pending.is_empty() {
            self.pending.extend_from_slice(&h);
            self.pending.extend_from_slice(payload);
            return self.flush();
        }
        match sys::writev(self.sock.as_fd(), &[&h, payload]) {
            Ok(n) if n == h.len() + payload.len() => true,
            Ok(n) => {
                let mut all = h.to_vec();
                all.extend_from_slice(payload);
                self.pending = all.split_off(n);
                true
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                self.pending.extend_from_slice(&h);
                self.pending.extend_from_slice(payload);
                true
            }
            Err(_) => false,
        }
    }

    /// Writes what is pending; `false` when the client is gone.
    pub fn flush(&mut self) -> bool {
        while !self.pending.is_empty() {
            match sys::write(self.sock.as_fd(), &self.pending) {
                Ok(n) => {
                    self.pending.drain(..n);
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return true,
                Err(_) => return false,
            }
        }
        self.pending = Vec::new();
        true
    }

    /// Reads what the client sent into `buf` and hands each request to
    /// `each`; `false` when the client hung up or broke the protocol.
    pub fn read(&mut self, buf: &mut [u8], each: impl FnMut(Request<'_>)) -> bool {
        self.read_once(buf, each).is_some()
    }

    /// Reads whatever requests are still queued (nonblocking), for a claim
    /// sent just before the exit; `false` when the client is gone.
    pub fn drain(&mut self) -> bool {
        let mut buf = [0u8; 4096];
        loop {
            match self.read_once(&mut buf, |_| {}) {
                None => return false,
                Some(false) => return true,
                Some(true) => {}
            }
        }
    }

    /// Like [`Client::read`]: `None` when gone, else whether anything was
    /// read.
    fn read_once(&mut self, buf: &mut [u8], mut each: impl FnMut(Request<'_>)) -> Option<bool> {
        let n = match sys::read(self.sock.as_fd(), buf) {
            Ok(0) => return None,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return Some(false),
            Err(_) => return None,
        };
        let mut data = &buf[..n];
        while !data.is_empty() {
            if self.hdr_len < proto::HEADER {
                let take = (proto::HEADER - self.hdr_len).min(data.len());
                self.hdr[self.hdr_len..self.hdr_len + take].copy_from_slice(&data[..take]);
                self.hdr_len += take;
                data = &data[take..];
                if self.hdr_len < proto::HEADER {
                    break;
                }
                let (ty, len) = proto::parse_header(&self.hdr);
                let ok = match ty {
                    proto::STDIN => len <= proto::MAX_ATTACH_PAYLOAD,
                    proto::RESIZE => len == 4,
                    proto::CLOSE_STDIN | proto::CLAIM_CLEANUP => len == 0,
                    _ => false,
                };
                if !ok {
                    return None;
                }
                (self.ty, self.remaining, self.small_len) = (ty, len, 0);
            }
            let take = self.remaining.min(data.len());
            let (part, rest) = data.split_at(take);
            data = rest;
            self.remaining -= take;
            match self.ty {
                proto::STDIN if !part.is_empty() => each(Request::Stdin(part)),
                proto::RESIZE => {
                    self.small[self.small_len..self.small_len + part.len()].copy_from_slice(part);
                    self.small_len += part.len();
                }
                _ => {}
            }
            if self.remaining == 0 {
                match self.ty {
                    proto::RESIZE => {
                        let s = self.small;
                        each(Request::Resize(
                            u16::from_be_bytes([s[0], s[1]]),
                            u16::from_be_bytes([s[2], s[3]]),
                        ));
                    }
                    proto::CLOSE_STDIN => each(Request::CloseStdin),
                    proto::CLAIM_CLEANUP => self.claims_cleanup = true,
                    _ => {}
                }
                self.hdr_len = 0;
            }
        }
        Some(true)
    }
}
