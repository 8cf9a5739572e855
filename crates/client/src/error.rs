use weft_api::wire::{Reason, Status};

/// Why a request failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error(
        "cannot reach the controller at {server}: {reason}\nhint: is `weft controller` running there? check `weft config current-context` or pass --server"
    )]
    Unreachable { server: String, reason: String },
    #[error("{}", .0.message)]
    Api(Box<Status>),
    #[error("unexpected answer from the controller: {0}")]
    Decode(String),
    #[error("{0:?} is not a controller address; write it as http://HOST:PORT, e.g. http://127.0.0.1:7420")]
    BadServer(String),
}

impl ClientError {
    pub(crate) fn unreachable(server: &str, e: reqwest::Error) -> ClientError {
        // The innermost cause says the most (connection refused, timed out).
        let mut reason = e.to_string();
        let mut source = std::error::Error::source(&e);
        while let Some(s) = source {
            reason = s.to_string();
            source = s.source();
        }
        ClientError::Unreachable {
            server: server.to_string(),
            reason,
        }
    }

    /// The API's reason, when the controller answered with an error.
    pub fn reason(&self) -> Option<Reason> {
        match self {
            ClientError::Api(s) => Some(s.reason),
            _ => None,
        }
    }
}
