//! Errors for input the compiler cannot give a meaning to. The API server refuses these objects
//! already; the compiler checks again because it may be handed objects that never went through
//! admission (a test, a manifest read from disk), and an invalid policy must never be guessed at.

use std::fmt;

/// One problem with one field: its path in the object and what would be valid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The field, as the API server names it: `spec.ingress[0].ports[1].endPort`.
    pub path: String,
    /// What is wrong, worded to say what would be valid.
    pub message: String,
}

impl Problem {
    pub(crate) fn new(path: impl Into<String>, message: impl Into<String>) -> Problem {
        Problem {
            path: path.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

/// An object the compiler refused, with every problem found in it (one per line when shown):
/// `NetworkPolicy/x/deny: spec.ingress[0].ports[1].endPort: needs a numeric port`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", render(object, problems))]
pub struct InvalidObject {
    /// `Kind/namespace/name` (or `Kind/name` for namespaces).
    pub object: String,
    pub problems: Vec<Problem>,
}

fn render(object: &str, problems: &[Problem]) -> String {
    problems
        .iter()
        .map(|p| format!("{object}: {p}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Collects the problems of one object.
#[derive(Default)]
pub(crate) struct Problems(pub(crate) Vec<Problem>);

impl Problems {
    pub(crate) fn push(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.0.push(Problem::new(path, message));
    }

    /// `Ok(value)` when nothing was found, else the object's error.
    pub(crate) fn finish<T>(self, object: impl FnOnce() -> String, value: T) -> Result<T, InvalidObject> {
        if self.0.is_empty() {
            Ok(value)
        } else {
            Err(InvalidObject {
                object: object(),
                problems: self.0,
            })
        }
    }
}
