//! Weft's CNI plugin (CNI spec 1.1.0) and the protocol between it and the node agent.

pub mod protocol;
