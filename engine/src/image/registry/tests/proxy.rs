//! A TCP proxy in front of a real registry that injects failures: an
//! answer of its own (503, 429), a response cut after N body bytes, a body
//! byte flipped. One request per connection (`Connection: close` both
//! ways), every request head logged.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

/// What to do to the next request whose path contains a pattern.
#[derive(Debug, Clone)]
pub enum Fault {
    /// Answer with this status and extra headers, without asking upstream.
    Status(u16, Vec<(&'static str, String)>),
    /// Forward, but send only this many body bytes, then close.
    CutAfter(usize),
    /// Forward with the body byte at this offset inverted.
    Corrupt(usize),
}

/// The proxy; it runs until the process ends (one thread per connection).
#[derive(Debug, Clone)]
pub struct Proxy {
    /// Where it listens.
    pub addr: SocketAddr,
    faults: Arc<Mutex<Vec<(String, Fault)>>>,
    log: Arc<Mutex<Vec<String>>>,
}

impl Proxy {
    /// A proxy to `upstream`.
    pub fn start(upstream: SocketAddr) -> Proxy {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let p = Proxy {
            addr: l.local_addr().unwrap(),
            faults: Arc::default(),
            log: Arc::default(),
        };
        let q = p.clone();
        std::thread::spawn(move || {
            for conn in l.incoming().flatten() {
                let q = q.clone();
                std::thread::spawn(move || q.serve(conn, upstream));
            }
        });
        p
    }

    /// `127.0.0.1:<port>`.
    pub fn host(&self) -> String {
        self.addr.to_string()
    }

    /// Applies `fault` to the next request whose path contains `pattern`
    /// (faults are used once each, in the order added).
    pub fn inject(&self, pattern: &str, fault: Fault) {
        self.faults
            .lock()
            .unwrap()
            .push((pattern.to_owned(), fault));
    }

    /// The request heads seen (lower-cased), matching `pattern`.
    pub fn requests(&self, pattern: &str) -> Vec<String> {
        self.log
            .lock()
            .unwrap()
            .iter()
            .filter(|r| r.contains(pattern))
            .cloned()
            .collect()
    }

    fn serve(&self, mut client: TcpStream, upstream: SocketAddr) {
        let Some((head, body)) = read_request(&mut client) else {
            return;
        };
        let text = String::from_utf8_lossy(&head).to_ascii_lowercase();
        self.log.lock().unwrap().push(text.clone());
        let path = text.split(' ').nth(1).unwrap_or("").to_owned();
        let fault = {
            let mut f = self.faults.lock().unwrap();
            f.iter()
                .position(|(p, _)| path.contains(p.as_str()))
                .map(|i| f.remove(i).1)
        };
        if let Some(Fault::Status(code, headers)) = &fault {
            let mut resp =
                format!("HTTP/1.1 {code} Injected\r\nContent-Length: 0\r\nConnection: close\r\n");
            for (k, v) in headers {
                resp.push_str(&format!("{k}: {v}\r\n"));
            }
            resp.push_str("\r\n");
            let _ = client.write_all(resp.as_bytes());
            return;
        }
        let Ok(mut up) = TcpStream::connect(upstream) else {
            return;
        };
        let _ = up.write_all(&close_head(&head));
        let _ = up.write_all(&body);
        let mut resp = Vec::new();
        let _ = up.read_to_end(&mut resp);
        let Some(split) = find(&resp, b"\r\n\r\n") else {
            let _ = client.write_all(&resp);
            return;
        };
        let (rhead, rbody) = resp.split_at(split + 4);
        let mut rbody = rbody.to_vec();
        let _ = client.write_all(&close_head(rhead));
        match fault {
            Some(Fault::CutAfter(n)) => {
                let _ = client.write_all(&rbody[..n.min(rbody.len())]);
                let _ = client.shutdown(Shutdown::Both);
            }
            Some(Fault::Corrupt(i)) => {
                if let Some(b) = rbody.get_mut(i) {
                    *b ^= 0xff;
                }
                let _ = client.write_all(&rbody);
            }
            _ => {
                let _ = client.write_all(&rbody);
            }
        }
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Reads a request head and its Content-Length body.
fn read_request(s: &mut TcpStream) -> Option<(Vec<u8>, Vec<u8>)> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let end = loop {
        if let Some(i) = find(&buf, b"\r\n\r\n") {
            break i + 4;
        }
        let n = s.read(&mut chunk).ok().filter(|n| *n > 0)?;
        // A TLS ClientHello (an insecure client trying HTTPS first): hang
        // up, as a plain HTTP server would refuse it.
        if buf.is_empty() && chunk[0] == 0x16 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = buf[..end].to_vec();
    let len = String::from_utf8_lossy(&head)
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim()
                .eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse::<usize>().ok())?
        })
        .unwrap_or(0);
    let mut body = buf[end..].to_vec();
    while body.len() < len {
        let n = s.read(&mut chunk).ok().filter(|n| *n > 0)?;
        body.extend_from_slice(&chunk[..n]);
    }
    Some((head, body))
}

/// The head with its Connection header replaced by `Connection: close`.
fn close_head(head: &[u8]) -> Vec<u8> {
    let text = String::from_utf8_lossy(head);
    let mut out = String::new();
    for l in text.trim_end_matches("\r\n").split("\r\n") {
        if !l.to_ascii_lowercase().starts_with("connection:") {
            out.push_str(l);
            out.push_str("\r\n");
        }
    }
    out.push_str("Connection: close\r\n\r\n");
    out.into_bytes()
}
