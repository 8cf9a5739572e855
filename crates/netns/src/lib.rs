//! Network namespaces: open one by path and run code inside it on a thread of its own, so the
//! rest of the process stays where it is. A socket (netlink, TCP) created inside a namespace stays
//! bound to it, which is how the agent programs pods' namespaces, the lab's controller listens on
//! the lab's underlay, and the BGP speaker talks from a namespace, without the process moving.

use std::fs::File;
use std::io;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};

use nix::sched::{CloneFlags, setns};

/// An open network namespace.
#[derive(Debug)]
pub struct NetNs {
    fd: OwnedFd,
    path: String,
}

impl NetNs {
    /// `/var/run/netns/NAME`, `/proc/PID/ns/net`, or any bind mount of one. The error names the
    /// path.
    pub fn open(path: &str) -> io::Result<NetNs> {
        let file = File::open(path).map_err(|e| io::Error::new(e.kind(), format!("network namespace {path}: {e}")))?;
        Ok(NetNs {
            fd: file.into(),
            path: path.to_string(),
        })
    }

    /// The namespace of the calling thread.
    pub fn current() -> io::Result<NetNs> {
        NetNs::open("/proc/thread-self/ns/net")
    }

    pub fn path(&self) -> &str {
        &self.path
    }

    pub fn raw_fd(&self) -> i32 {
        self.fd.as_raw_fd()
    }

    /// Runs `f` on a new thread inside this namespace and returns its result.
    pub fn run<T: Send>(&self, f: impl FnOnce() -> T + Send) -> io::Result<T> {
        std::thread::scope(|scope| {
            scope
                .spawn(|| {
                    self.enter()?;
                    Ok(f())
                })
                .join()
                .unwrap_or_else(|_| Err(io::Error::other(format!("the thread inside {} panicked", self.path))))
        })
    }

    /// Moves the calling thread into this namespace for good.
    pub fn enter(&self) -> io::Result<()> {
        setns(self.fd.as_fd(), CloneFlags::CLONE_NEWNET)
            .map_err(|e| io::Error::other(format!("entering network namespace {}: {e}", self.path)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_inside_and_names_the_path() {
        let here = NetNs::current().unwrap();
        // Running in the current namespace sees the same namespace.
        let inside = here
            .run(|| std::fs::read_link("/proc/thread-self/ns/net").unwrap())
            .unwrap();
        assert_eq!(inside, std::fs::read_link("/proc/thread-self/ns/net").unwrap());
        let err = NetNs::open("/nonexistent/netns").unwrap_err().to_string();
        assert!(err.contains("/nonexistent/netns"), "{err}");
    }
}
