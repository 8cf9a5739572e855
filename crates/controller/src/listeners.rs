//! Listening sockets, also inside other network namespaces: a lab's controller serves the CLI on
//! the host's loopback and the agents on its underlay address in the lab's namespace, from one
//! process (see [`weft_netns`]).

use std::net::SocketAddr;
use std::path::Path;

use weft_netns::NetNs;

/// Binds `address` inside the network namespace at `netns` (e.g. /var/run/netns/NAME).
pub fn bind_in(netns: &Path, address: SocketAddr) -> std::io::Result<std::net::TcpListener> {
    let ns = NetNs::open(&netns.display().to_string())?;
    let listener = ns.run(|| std::net::TcpListener::bind(address))??;
    listener.set_nonblocking(true)?;
    Ok(listener)
}
