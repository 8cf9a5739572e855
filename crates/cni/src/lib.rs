//! Weft's CNI plugin (CNI spec 1.1.0) and the protocol between it and the node agent.
//!
//! The binary is thin: it hands the environment and stdin to [`run`], prints [`Output::stdout`]
//! and exits with [`Output::exit_code`]. The work is the agent's; this crate validates the
//! runtime's inputs, asks the agent over its unix socket ([`protocol`]), and renders the answer as
//! the spec's result or error JSON in the config's `cniVersion`.

pub mod agent;
pub mod check;
pub mod commands;
pub mod config;
pub mod env;
pub mod error;
pub mod protocol;
pub mod result;
pub mod version;

pub use agent::{Agent, UnixAgent};
pub use commands::{Output, run};
pub use env::{Command, RawEnv};
pub use error::CniError;
pub use version::CniVersion;
