//! Network namespaces: open one by path and run code inside it on a thread of its own, so that
//! the rest of the process stays where it is. A netlink socket created inside a namespace stays
//! bound to it, which is how the agent programs pods' namespaces from the node's.

use std::fs::File;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::Path;

use nix::sched::{CloneFlags, setns};

use crate::KernelError;

/// An open network namespace.
#[derive(Debug)]
pub struct NetNs {
    fd: OwnedFd,
    path: String,
}

impl NetNs {
    /// `/var/run/netns/NAME`, `/proc/PID/ns/net`, or any bind mount of one.
    pub fn open(path: &str) -> Result<NetNs, KernelError> {
        let file = File::open(Path::new(path)).map_err(|e| KernelError::Netns {
            path: path.to_string(),
            reason: e.to_string(),
        })?;
        Ok(NetNs {
            fd: file.into(),
            path: path.to_string(),
        })
    }

    /// The namespace of the calling thread.
    pub fn current() -> Result<NetNs, KernelError> {
        NetNs::open("/proc/thread-self/ns/net")
    }

    pub fn path(&self) -> &str {
        &self.path
    }

    pub fn raw_fd(&self) -> i32 {
        self.fd.as_raw_fd()
    }

    /// Runs `f` on a new thread inside this namespace and returns its result.
    pub fn run<T: Send>(&self, f: impl FnOnce() -> T + Send) -> Result<T, KernelError> {
        std::thread::scope(|scope| {
            scope
                .spawn(|| {
                    setns(self.fd.as_fd(), CloneFlags::CLONE_NEWNET).map_err(|e| KernelError::Netns {
                        path: self.path.clone(),
                        reason: format!("setns: {e}"),
                    })?;
                    Ok(f())
                })
                .join()
                .map_err(|_| KernelError::Netns {
                    path: self.path.clone(),
                    reason: "the thread inside the namespace panicked".into(),
                })?
        })
    }

    /// Moves the calling thread into this namespace for good (used once at process start, e.g.
    /// `weft agent --netns`, before any other thread exists).
    pub fn enter(&self) -> Result<(), KernelError> {
        setns(self.fd.as_fd(), CloneFlags::CLONE_NEWNET).map_err(|e| KernelError::Netns {
            path: self.path.clone(),
            reason: format!("setns: {e}"),
        })
    }

    /// A netlink connection bound to this namespace, driven by the current tokio runtime.
    pub fn netlink(&self) -> Result<rtnetlink::Handle, KernelError> {
        let runtime = tokio::runtime::Handle::current();
        let (connection, handle) = self.run(move || {
            let _guard = runtime.enter();
            rtnetlink::new_connection().map(|(c, h, _)| (c, h))
        })??;
        tokio::spawn(connection);
        Ok(handle)
    }
}
