//! Listening sockets, also inside other network namespaces: a lab's controller serves the CLI on
//! the host's loopback and the agents on its underlay address in the lab's namespace, from one
//! process. A socket keeps the namespace it was created in, so a thread enters the namespace,
//! binds, and hands the socket back.

use std::fs::File;
use std::net::SocketAddr;
use std::os::fd::AsFd;
use std::path::PathBuf;

use nix::sched::{CloneFlags, setns};

/// Binds `address` inside the network namespace at `netns` (e.g. /var/run/netns/NAME).
pub fn bind_in(netns: &PathBuf, address: SocketAddr) -> std::io::Result<std::net::TcpListener> {
    let ns = File::open(netns)?;
    std::thread::scope(|scope| {
        scope
            .spawn(|| {
                setns(ns.as_fd(), CloneFlags::CLONE_NEWNET).map_err(std::io::Error::from)?;
                let listener = std::net::TcpListener::bind(address)?;
                listener.set_nonblocking(true)?;
                Ok(listener)
            })
            .join()
            .unwrap_or_else(|_| Err(std::io::Error::other("the binding thread panicked")))
    })
}
