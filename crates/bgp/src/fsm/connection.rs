//! One TCP connection of a session: how far its OPEN exchange got, its receive buffer and framing,
//! its hold and keepalive timers.

use crate::codec::SessionCaps;
use crate::error::DecodeError;
use crate::fsm::event::ConnId;
use crate::fsm::negotiate::Negotiation;
use crate::fsm::state::State;
use crate::fsm::time::Time;
use crate::message::{Open, frame_length};

#[derive(Debug, Clone)]
pub(crate) struct Connection {
    pub(crate) id: ConnId,
    /// OpenSent, OpenConfirm or Established.
    pub(crate) state: State,
    pub(crate) hold: Option<Time>,
    pub(crate) keepalive: Option<Time>,
    /// Set once the peer's OPEN was accepted (OpenConfirm on).
    pub(crate) peer: Option<(Open, Negotiation)>,
    rx: Vec<u8>,
    /// Where the next frame starts in `rx`.
    read: usize,
}

impl Connection {
    pub(crate) fn new(id: ConnId, hold: Time) -> Connection {
        Connection {
            id,
            state: State::OpenSent,
            hold: Some(hold),
            keepalive: None,
            peer: None,
            rx: Vec::new(),
            read: 0,
        }
    }

    pub(crate) fn negotiation(&self) -> Option<&Negotiation> {
        self.peer.as_ref().map(|(_, n)| n)
    }

    pub(crate) fn receive_caps(&self) -> SessionCaps {
        self.negotiation().map(|n| n.receive_caps().clone()).unwrap_or_default()
    }

    pub(crate) fn send_caps(&self) -> SessionCaps {
        self.negotiation().map(|n| n.send_caps().clone()).unwrap_or_default()
    }

    /// Appends octets read from the socket.
    pub(crate) fn receive(&mut self, data: &[u8]) {
        if self.read > 0 {
            self.rx.drain(..self.read.min(self.rx.len()));
            self.read = 0;
        }
        self.rx.extend_from_slice(data);
    }

    /// The next whole message, if it is all there, after the header checks of RFC 4271 §6.1 with
    /// the session's current limits.
    pub(crate) fn next_frame(&mut self) -> Result<Option<Vec<u8>>, DecodeError> {
        let buf = self.rx.get(self.read..).unwrap_or_default();
        let Some(len) = frame_length(buf, &self.receive_caps())? else {
            return Ok(None);
        };
        let Some(frame) = buf.get(..len) else {
            return Ok(None);
        };
        let frame = frame.to_vec();
        self.read += len;
        if self.read >= self.rx.len() {
            self.rx.clear();
            self.read = 0;
        }
        Ok(Some(frame))
    }

    /// Octets received but not yet a whole message.
    #[cfg(test)]
    pub(crate) fn buffered(&self) -> usize {
        self.rx.len().saturating_sub(self.read)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::keepalive::KEEPALIVE;

    #[test]
    fn frames_across_reads() {
        let mut c = Connection::new(ConnId::Incoming(1), Time::ZERO);
        let two: Vec<u8> = KEEPALIVE.iter().chain(KEEPALIVE.iter()).copied().collect();
        c.receive(&two[..10]);
        assert_eq!(c.next_frame(), Ok(None));
        c.receive(&two[10..25]);
        assert_eq!(c.next_frame(), Ok(Some(KEEPALIVE.to_vec())));
        assert_eq!(c.next_frame(), Ok(None));
        assert_eq!(c.buffered(), 6);
        c.receive(&two[25..]);
        assert_eq!(c.next_frame(), Ok(Some(KEEPALIVE.to_vec())));
        assert_eq!(c.buffered(), 0);
        c.receive(&[0; 19]);
        assert!(c.next_frame().is_err());
    }
}
