use weft_dataplane::KernelError;

#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    #[error("{0}")]
    Config(String),
    #[error(transparent)]
    Kernel(#[from] KernelError),
    #[error("cannot serve the CNI socket {path}: {reason}")]
    Socket { path: String, reason: String },
}
