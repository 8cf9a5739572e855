/// Why a lab operation failed; each says what to do.
#[derive(Debug, thiserror::Error)]
pub enum LabError {
    #[error("{0}")]
    Usage(String),
    #[error("`{command}` failed: {stderr}")]
    Command { command: String, stderr: String },
    #[error("{what}: {source}")]
    Io { what: String, source: std::io::Error },
    #[error("{0}")]
    NotReady(String),
    #[error("the controller of {cluster}: {reason}")]
    Controller { cluster: String, reason: String },
    #[error("CNI {command} for {pod} failed: {message}")]
    Cni {
        command: String,
        pod: String,
        message: String,
    },
}

impl LabError {
    pub fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> LabError {
        let what = what.into();
        move |source| LabError::Io { what, source }
    }
}
