//! The dataplane's use of network namespaces: a netlink connection bound to one (see
//! [`weft_netns`]), so the agent programs pods' namespaces from the node's.

pub use weft_netns::NetNs;

use crate::KernelError;

/// Opens a namespace, as a kernel error.
pub fn open(path: &str) -> Result<NetNs, KernelError> {
    NetNs::open(path).map_err(|e| KernelError::Netns {
        path: path.to_string(),
        reason: e.to_string(),
    })
}

/// A netlink connection bound to `netns`, driven by the current tokio runtime.
pub fn netlink(netns: &NetNs) -> Result<rtnetlink::Handle, KernelError> {
    let runtime = tokio::runtime::Handle::current();
    let (connection, handle) = netns
        .run(move || {
            let _guard = runtime.enter();
            rtnetlink::new_connection().map(|(c, h, _)| (c, h))
        })
        .map_err(|e| KernelError::Netns {
            path: netns.path().to_string(),
            reason: e.to_string(),
        })??;
    tokio::spawn(connection);
    Ok(handle)
}
