//! The little of a BGP session the generator and monitor need: OPEN and KEEPALIVE exchange,
//! framing of what arrives, keepalives while idle. Both only ever accept connections (the
//! targets connect to them), on a listener made inside their namespace.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use weft_bgp::capability::Capability;
use weft_bgp::codec::SessionCaps;
use weft_bgp::family::Family;
use weft_bgp::message::{Decoded, Message, Open, decode_message, frame_length};
use weft_net::Asn;

use crate::{Error, Result};

/// Hold time we offer: long, so that a target busy for a while never drops us.
pub const HOLD_TIME: u16 = 240;
pub const KEEPALIVE_EVERY: Duration = Duration::from_secs(30);

/// 4-octet AS, no extended messages, no ADD-PATH: the plain encoding both directions use.
pub fn caps() -> SessionCaps {
    SessionCaps {
        four_octet_as: true,
        extended_message: false,
        add_path: Default::default(),
    }
}

pub fn keepalive() -> Vec<u8> {
    Message::Keepalive.encode(&caps()).unwrap_or_default()
}

/// Reads whole messages from a stream, with a buffer that grows only to fit.
pub struct Framer {
    buf: Vec<u8>,
    start: usize,
    end: usize,
}

impl Default for Framer {
    fn default() -> Self {
        Framer {
            buf: vec![0; 1 << 18],
            start: 0,
            end: 0,
        }
    }
}

impl Framer {
    /// The next message's octets; `Ok(None)` when the peer closed the connection.
    pub fn next<'a>(&'a mut self, stream: &mut TcpStream, caps: &SessionCaps) -> Result<Option<&'a [u8]>> {
        loop {
            let have = &self.buf[self.start..self.end];
            if let Some(len) = frame_length(have, caps).map_err(|e| Error::Bgp(format!("framing: {e}")))?
                && have.len() >= len
            {
                let at = self.start;
                self.start += len;
                return Ok(Some(&self.buf[at..at + len]));
            }
            if self.start > 0 {
                self.buf.copy_within(self.start..self.end, 0);
                self.end -= self.start;
                self.start = 0;
            }
            let n = match stream.read(&mut self.buf[self.end..]) {
                Ok(0) => return Ok(None),
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(Error::io("reading", e)),
            };
            self.end += n;
        }
    }
}

/// Decodes one framed message.
pub fn decode(frame: &[u8]) -> Result<Decoded> {
    decode_message(frame, &caps()).map_err(|e| Error::Bgp(format!("decoding: {e}")))
}

/// Sends our OPEN, reads the peer's, sends KEEPALIVE, waits for the peer's: Established.
/// Returns the peer's OPEN.
pub fn handshake(stream: &mut TcpStream, framer: &mut Framer, asn: u32, id: Ipv4Addr, family: Family) -> Result<Open> {
    let open = Open::new(
        Asn::new_unchecked(asn),
        HOLD_TIME,
        id,
        vec![Capability::multiprotocol(family), Capability::RouteRefresh],
    );
    let bytes = Message::Open(open)
        .encode(&caps())
        .map_err(|e| Error::Bgp(format!("encoding OPEN: {e}")))?;
    stream.write_all(&bytes).map_err(|e| Error::io("sending OPEN", e))?;
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .map_err(|e| Error::io("socket timeout", e))?;
    let mut theirs = None;
    loop {
        let frame = framer
            .next(stream, &caps())?
            .ok_or_else(|| Error::Bgp("closed during the handshake".into()))?;
        match decode(frame)?.message {
            Message::Open(o) if theirs.is_none() => {
                theirs = Some(o);
                stream
                    .write_all(&keepalive())
                    .map_err(|e| Error::io("sending KEEPALIVE", e))?;
            }
            Message::Keepalive if theirs.is_some() => break,
            Message::Notification(n) => return Err(Error::Bgp(format!("NOTIFICATION in the handshake: {n:?}"))),
            other => return Err(Error::Bgp(format!("unexpected in the handshake: {other:?}"))),
        }
    }
    stream
        .set_read_timeout(None)
        .map_err(|e| Error::io("socket timeout", e))?;
    theirs.ok_or_else(|| Error::Bgp("no OPEN".into()))
}

/// A listener on port 179 inside a namespace, polled so that it stops with `stop`.
pub fn listen(netns: &str) -> Result<TcpListener> {
    let ns = weft_netns::NetNs::open(&crate::net::BenchNet::path(netns)).map_err(|e| Error::io("namespace", e))?;
    let listener = ns
        .run(|| TcpListener::bind(SocketAddr::from((Ipv4Addr::UNSPECIFIED, 179))))
        .and_then(|r| r)
        .map_err(|e| Error::io(format!("listening on port 179 in {netns}"), e))?;
    listener
        .set_nonblocking(true)
        .map_err(|e| Error::io("non-blocking listener", e))?;
    Ok(listener)
}

/// Accepts connections until `stop`, handing each (blocking again) to `on_accept`.
pub fn accept_loop(
    listener: TcpListener,
    stop: Arc<AtomicBool>,
    mut on_accept: impl FnMut(TcpStream) + Send + 'static,
) {
    std::thread::spawn(move || {
        while !stop.load(Ordering::Relaxed) {
            match listener.accept() {
                Ok((s, _)) => {
                    if s.set_nonblocking(false).is_ok() {
                        let _ = s.set_nodelay(true);
                        on_accept(s);
                    }
                }
                Err(_) => std::thread::sleep(Duration::from_millis(20)),
            }
        }
    });
}
