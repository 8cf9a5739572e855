//! Exit codes that scripts can branch on. 0 and 1 mean what they mean to kubectl; the others
//! tell failures apart without parsing messages.

use weft_api::wire::Reason;
use weft_client::ClientError;

pub const OK: u8 = 0;
/// Anything else: the controller failed, or several different errors.
pub const FAILURE: u8 = 1;
/// Wrong flags or arguments (clap's code).
pub const USAGE: u8 = 2;
pub const NOT_FOUND: u8 = 3;
/// AlreadyExists, or a resourceVersion conflict: read again and retry.
pub const CONFLICT: u8 = 4;
/// A manifest or object the controller refused as invalid.
pub const INVALID: u8 = 5;
/// The controller could not be reached.
pub const UNREACHABLE: u8 = 6;

/// The exit code for a client error.
pub fn of(e: &ClientError) -> u8 {
    match e {
        ClientError::Unreachable { .. } => UNREACHABLE,
        ClientError::BadServer(_) => USAGE,
        ClientError::Decode(_) => FAILURE,
        ClientError::Api(status) => match status.reason {
            Reason::NotFound => NOT_FOUND,
            Reason::AlreadyExists | Reason::Conflict => CONFLICT,
            Reason::Invalid | Reason::BadRequest => INVALID,
            _ => FAILURE,
        },
    }
}

/// An error that carries its exit code up to `main`.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct Exit {
    pub code: u8,
    pub message: String,
}

impl Exit {
    pub fn new(code: u8, message: impl Into<String>) -> Exit {
        Exit {
            code,
            message: message.into(),
        }
    }
}

impl From<ClientError> for Exit {
    fn from(e: ClientError) -> Exit {
        let code = of(&e);
        let message = match &e {
            ClientError::Api(s) if !s.causes.is_empty() && !s.message.contains(&s.causes[0].message) => {
                let causes: Vec<String> = s.causes.iter().map(|c| format!("  {c}")).collect();
                format!("{}\n{}", s.message, causes.join("\n"))
            }
            _ => e.to_string(),
        };
        Exit { code, message }
    }
}
