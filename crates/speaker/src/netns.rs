//! Sockets made in a chosen network namespace. A socket belongs to the namespace of the thread
//! that created it, for good; so the factory creates it on a short-lived thread that entered the
//! namespace, and hands it back. The calling thread (and the host's namespace) is never touched.

use std::fs::File;
use std::io;
use std::os::fd::AsFd;
use std::path::Path;
use std::sync::Arc;

use nix::sched::{CloneFlags, setns};
use tokio::net::TcpSocket;

/// Creates TCP sockets in the current namespace or in one given by path (`/var/run/netns/NAME`).
#[derive(Debug, Clone, Default)]
pub struct SocketFactory {
    netns: Option<Arc<File>>,
}

impl SocketFactory {
    /// Sockets in the namespace of whichever thread creates them (the process's, normally).
    pub fn current() -> SocketFactory {
        SocketFactory::default()
    }

    /// Sockets in the network namespace at `path`.
    pub fn in_netns(path: impl AsRef<Path>) -> io::Result<SocketFactory> {
        let file = File::open(path)?;
        Ok(SocketFactory {
            netns: Some(Arc::new(file)),
        })
    }

    /// A new TCP socket (IPv6 when `ipv6`), not bound or connected yet. Blocks for as long as it
    /// takes to start a thread.
    pub fn tcp_socket(&self, ipv6: bool) -> io::Result<TcpSocket> {
        let make = move || if ipv6 { TcpSocket::new_v6() } else { TcpSocket::new_v4() };
        let Some(ns) = &self.netns else {
            return make();
        };
        std::thread::scope(|scope| {
            scope
                .spawn(|| {
                    setns(ns.as_fd(), CloneFlags::CLONE_NEWNET).map_err(io::Error::from)?;
                    make()
                })
                .join()
                .unwrap_or_else(|_| Err(io::Error::other("the socket thread panicked")))
        })
    }
}
