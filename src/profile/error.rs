//! Errors of profile files, and the parser's errors rewritten in the terms
//! of a profile file: file, line, key, what is accepted.

use super::suggest::did_you_mean;
use super::yaml_error;
use crate::model::settings::Origin;

#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("{origin}: {key}: {message}")]
    Invalid {
        origin: Origin,
        key: &'static str,
        message: String,
    },
    #[error("{file}: {key} is not set by this profile or any file it builds on")]
    Missing { file: String, key: &'static str },
}

#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    #[error("{file}:{line}:{column}: {message}")]
    Parse {
        file: String,
        line: u64,
        column: u64,
        message: String,
    },
    #[error("unknown profile {name:?}{}; known profiles: {}", did_you_mean(name, known.iter().map(String::as_str)), known.join(", "))]
    Unknown { name: String, known: Vec<String> },
    #[error("{file}:{line}: extends: unknown profile {parent:?}{}; known profiles: {}", did_you_mean(parent, known.iter().map(String::as_str)), known.join(", "))]
    MissingParent {
        file: String,
        line: u64,
        parent: String,
        known: Vec<String>,
    },
    #[error("{file}:{line}: extends: {chain} is a cycle; a profile cannot extend itself")]
    Cycle {
        file: String,
        line: u64,
        chain: String,
    },
    #[error(
        "{file}:1: extends: missing; a user profile starts from another, e.g. `extends: aws-large`"
    )]
    NoParent { file: String },
    #[error("{file}:{line}: extends: only user profile files may extend a profile")]
    BuiltinExtends { file: String, line: u64 },
    #[error(
        "{file}: {name:?} is not a valid profile name: use lower-case letters, digits and '-', starting with a letter, at most 53 characters (it names a directory and Kubernetes objects)"
    )]
    InvalidName { file: String, name: String },
    #[error("{file}: profile {name:?} is already defined by {other}; profile names must be unique")]
    Duplicate {
        file: String,
        name: String,
        other: String,
    },
    #[error("{dir}: cannot read the profiles directory: {reason}")]
    Directory { dir: String, reason: String },
    #[error(transparent)]
    Settings(#[from] SettingsError),
    /// A user profile file that could not be read, reported when a
    /// command needs the profile.
    #[error("{0}")]
    Broken(String),
}

/// One line naming the file, position, key and what is wrong, in the terms
/// of a profile file rather than of the YAML library.
pub(super) fn parse_error(path: &str, text: &str, error: &serde_saphyr::Error) -> ProfileError {
    let located = yaml_error::describe(text, error);
    ProfileError::Parse {
        file: path.to_owned(),
        line: located.line,
        column: located.column,
        message: located.message,
    }
}
