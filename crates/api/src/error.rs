use std::fmt;

use serde::{Deserialize, Serialize};

/// One problem with one field: the path in the object (`spec.subnets[1]`) and what is wrong,
/// worded so that it says what would be valid.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldError {
    pub path: String,
    pub message: String,
}

impl FieldError {
    pub fn new(path: impl Into<String>, message: impl Into<String>) -> FieldError {
        FieldError {
            path: path.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.path, self.message)
        }
    }
}

/// Why a manifest could not be read or accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ManifestError {
    /// Not YAML or JSON at all; `location` says where (file, document, line).
    #[error("{location}: {message}")]
    Syntax { location: String, message: String },
    /// A well-formed document that is not a valid object. `object` is `Kind/name` when known.
    #[error("{}", render_invalid(object, errors))]
    Invalid { object: String, errors: Vec<FieldError> },
}

fn render_invalid(object: &str, errors: &[FieldError]) -> String {
    errors
        .iter()
        .map(|e| format!("{object}: {e}"))
        .collect::<Vec<_>>()
        .join("\n")
}

impl ManifestError {
    pub fn invalid(object: impl Into<String>, errors: Vec<FieldError>) -> ManifestError {
        ManifestError::Invalid {
            object: object.into(),
            errors,
        }
    }
}
