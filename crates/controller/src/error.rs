use std::net::SocketAddr;
use std::path::PathBuf;

use weft_api::FieldError;
use weft_api::wire::{Reason, Status};
use weft_ipam::IpamError;
use weft_store::StoreError;

/// Why a controller operation failed; each maps to one API status.
#[derive(Debug, thiserror::Error)]
pub enum ControllerError {
    #[error("{}", render(object, causes))]
    Invalid { object: String, causes: Vec<FieldError> },
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error(
        "the watch asked for revision {asked}, older than the oldest the controller remembers ({oldest}); list again and watch from the list's resourceVersion"
    )]
    Expired { asked: u64, oldest: u64 },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot open the store in {path}: {reason}")]
    Open { path: PathBuf, reason: String },
    #[error("cannot listen on {0}: {1}")]
    Listen(SocketAddr, std::io::Error),
    #[error("the controller is shutting down")]
    Stopped,
}

fn render(object: &str, causes: &[FieldError]) -> String {
    causes
        .iter()
        .map(|c| format!("{object}: {c}"))
        .collect::<Vec<_>>()
        .join("\n")
}

impl ControllerError {
    pub fn invalid(object: impl Into<String>, path: &str, message: impl Into<String>) -> ControllerError {
        ControllerError::Invalid {
            object: object.into(),
            causes: vec![FieldError::new(path, message)],
        }
    }

    /// An address-management failure while admitting `object`, at `path`.
    pub fn ipam(object: impl Into<String>, path: &str, e: IpamError) -> ControllerError {
        ControllerError::invalid(object, path, e.to_string())
    }

    pub fn status(&self) -> Status {
        let reason = match self {
            ControllerError::Invalid { .. } => Reason::Invalid,
            ControllerError::BadRequest(_) => Reason::BadRequest,
            ControllerError::NotFound(_) | ControllerError::Store(StoreError::NotFound { .. }) => Reason::NotFound,
            ControllerError::Store(StoreError::AlreadyExists { .. }) => Reason::AlreadyExists,
            ControllerError::Conflict(_) | ControllerError::Store(StoreError::Conflict { .. }) => Reason::Conflict,
            ControllerError::Expired { .. } => Reason::Expired,
            ControllerError::Stopped => Reason::ServiceUnavailable,
            _ => Reason::InternalError,
        };
        let status = Status::failure(reason, self.to_string());
        match self {
            ControllerError::Invalid { causes, .. } => status.with_causes(causes.clone()),
            _ => status,
        }
    }
}
