//! Sockets made in a chosen network namespace. A socket belongs to the namespace of the thread
//! that created it, for good; so the factory creates it on a short-lived thread that entered the
//! namespace, and hands it back. The calling thread (and the host's namespace) is never touched.

use std::io;
use std::path::Path;
use std::sync::Arc;

use tokio::net::TcpSocket;
use weft_netns::NetNs;

/// Creates TCP sockets in the current namespace or in one given by path (`/var/run/netns/NAME`).
#[derive(Debug, Clone, Default)]
pub struct SocketFactory {
    netns: Option<Arc<NetNs>>,
}

impl SocketFactory {
    /// Sockets in the namespace of whichever thread creates them (the process's, normally).
    pub fn current() -> SocketFactory {
        SocketFactory::default()
    }

    /// Sockets in the network namespace at `path`.
    pub fn in_netns(path: impl AsRef<Path>) -> io::Result<SocketFactory> {
        let ns = NetNs::open(&path.as_ref().display().to_string())?;
        Ok(SocketFactory {
            netns: Some(Arc::new(ns)),
        })
    }

    /// A new TCP socket (IPv6 when `ipv6`), not bound or connected yet. Blocks for as long as it
    /// takes to start a thread.
    pub fn tcp_socket(&self, ipv6: bool) -> io::Result<TcpSocket> {
        let make = move || if ipv6 { TcpSocket::new_v6() } else { TcpSocket::new_v4() };
        let Some(ns) = &self.netns else {
            return make();
        };
        ns.run(make)?
    }
}
