//! Weft's Linux dataplane (see docs/architecture.md, "Dataplane recipe").
//!
//! Two halves. [`plan`] is Sans-IO: from a node's state (the controller's [`NodeState`]) it
//! computes the kernel objects the node needs, and diffs them against what is there. [`kernel`]
//! does the I/O over netlink: reads the objects Weft owns, applies a diff, wires pod interfaces.
//! Weft owns only what carries its marks ([`marks`]) and never touches anything else.
//!
//! [`NodeState`]: weft_api::sync::NodeState

pub mod kernel;
pub mod marks;
pub mod netns;
pub mod plan;
pub mod pod;
pub mod policy;
pub mod services;
pub mod sysctl;
pub mod underlay;

pub use kernel::{Kernel, KernelError};
