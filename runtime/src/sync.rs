//! The one SOCK_SEQPACKET channel between the runtime and the container's init.
//!
//! Each message is one packet: a tag byte and a small payload. Errors from the
//! child travel back as text so `create` fails with the child's real reason.

use std::os::fd::{AsRawFd, OwnedFd};

use nix::sys::socket::{recv, send, socketpair, AddressFamily, MsgFlags, SockFlag, SockType};

use crate::error::{Result, RuntimeError, SysContext};

/// A message on the sync socket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// child -> parent: my user namespace exists, write my id maps.
    MapRequest,
    /// parent -> child: the id maps are written.
    MapsDone,
    /// child -> parent: the container process is this pid (in the parent's
    /// pid namespace); sent when an extra fork was needed.
    Pid(i32),
    /// child -> parent: setup is done; the process waits on the exec fifo.
    Ready,
    /// child -> parent: setup failed with this reason.
    Error(String),
    /// child -> parent: mounts are done, pivot_root not yet: run the
    /// prestart and createRuntime hooks.
    HooksRequest,
    /// parent -> child: the hooks ran.
    HooksDone,
}

const TAG_MAP_REQUEST: u8 = 1;
const TAG_MAPS_DONE: u8 = 2;
const TAG_PID: u8 = 3;
const TAG_READY: u8 = 4;
const TAG_ERROR: u8 = 5;
const TAG_HOOKS_REQUEST: u8 = 6;
const TAG_HOOKS_DONE: u8 = 7;
const MAX_PACKET: usize = 8192;

impl Message {
    fn encode(&self) -> Vec<u8> {
        match self {
            Message::MapRequest => vec![TAG_MAP_REQUEST],
            Message::MapsDone => vec![TAG_MAPS_DONE],
            Message::Pid(pid) => {
                let mut v = vec![TAG_PID];
                v.extend_from_slice(&pid.to_le_bytes());
                v
            }
            Message::Ready => vec![TAG_READY],
            Message::HooksRequest => vec![TAG_HOOKS_REQUEST],
            Message::HooksDone => vec![TAG_HOOKS_DONE],
            Message::Error(text) => {
                let mut v = vec![TAG_ERROR];
                let bytes = text.as_bytes();
                v.extend_from_slice(&bytes[..bytes.len().min(MAX_PACKET - 1)]);
                v
            }
        }
    }

    fn decode(buf: &[u8]) -> Option<Message> {
        let (&tag, rest) = buf.split_first()?;
        Some(match tag {
            TAG_MAP_REQUEST => Message::MapRequest,
            TAG_MAPS_DONE => Message::MapsDone,
            TAG_PID => Message::Pid(i32::from_le_bytes(rest.try_into().ok()?)),
            TAG_READY => Message::Ready,
            TAG_HOOKS_REQUEST => Message::HooksRequest,
            TAG_HOOKS_DONE => Message::HooksDone,
            TAG_ERROR => Message::Error(String::from_utf8_lossy(rest).into_owned()),
            _ => return None,
        })
    }
}

/// One end of the sync socket.
#[derive(Debug)]
pub struct SyncSocket {
    fd: OwnedFd,
}

impl SyncSocket {
    /// Creates a connected pair (close-on-exec on both ends).
    pub fn pair() -> Result<(SyncSocket, SyncSocket)> {
        let (a, b) = socketpair(
            AddressFamily::Unix,
            SockType::SeqPacket,
            None,
            SockFlag::SOCK_CLOEXEC,
        )
        .ctx(|| "creating the sync socket pair".into())?;
        Ok((SyncSocket { fd: a }, SyncSocket { fd: b }))
    }

    /// Sends one message.
    pub fn send(&self, msg: &Message) -> Result<()> {
        send(self.fd.as_raw_fd(), &msg.encode(), MsgFlags::MSG_NOSIGNAL)
            .ctx(|| "writing to the sync socket".into())?;
        Ok(())
    }

    /// Receives one message; `None` when the other end closed.
    pub fn recv(&self) -> Result<Option<Message>> {
        let mut buf = [0u8; MAX_PACKET];
        let n = loop {
            match recv(self.fd.as_raw_fd(), &mut buf, MsgFlags::empty()) {
                Err(nix::errno::Errno::EINTR) => continue,
                other => break other.ctx(|| "reading the sync socket".into())?,
            }
        };
        if n == 0 {
            return Ok(None);
        }
        Message::decode(&buf[..n])
            .map(Some)
            .ok_or_else(|| RuntimeError::Init(format!("garbled sync message ({n} bytes)")))
    }

    /// Receives one message and fails unless it is `want`.
    pub fn expect(&self, want: Message) -> Result<()> {
        match self.recv()? {
            Some(m) if m == want => Ok(()),
            Some(Message::Error(e)) => Err(RuntimeError::Init(e)),
            Some(other) => Err(RuntimeError::Init(format!(
                "expected {want:?} on the sync socket, got {other:?}"
            ))),
            None => Err(RuntimeError::Init(format!(
                "sync socket closed while waiting for {want:?}"
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_round_trip() {
        let (a, b) = SyncSocket::pair().unwrap();
        for m in [
            Message::MapRequest,
            Message::MapsDone,
            Message::Pid(4242),
            Message::Ready,
            Message::HooksRequest,
            Message::HooksDone,
            Message::Error("mount /proc: permission denied".into()),
        ] {
            a.send(&m).unwrap();
            assert_eq!(b.recv().unwrap(), Some(m));
        }
        drop(a);
        assert_eq!(b.recv().unwrap(), None);
    }
}
