//! Errors of profile files, and the parser's errors rewritten in the terms
//! of a profile file: file, line, key, what is accepted.

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
    #[error("unknown profile {name:?}; known profiles: {}", known.join(", "))]
    Unknown { name: String, known: Vec<String> },
    #[error("{file}:{line}: extends: unknown profile {parent:?}; known profiles: {}", known.join(", "))]
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
}

/// One line naming the file, position, key and what is wrong, in the terms
/// of a profile file rather than of the YAML library.
pub(super) fn parse_error(path: &str, text: &str, error: &serde_saphyr::Error) -> ProfileError {
    let (mut line, mut column) = error
        .location()
        .map_or((0, 0), |location| (location.line(), location.column()));
    let rendered = error.without_snippet().to_string();
    let stripped = strip_position_prefix(rendered.trim());
    let raw = stripped.lines().next().unwrap_or_default();
    let raw = strip_position_suffix(raw);
    let value = value_on_line(text, line);
    let mut key = key_on_line(text, line);
    let message = if raw.contains("found a tab") {
        // The parser reports where the scalar or block began; the tab itself
        // is what the reader must find.
        let start = usize::try_from(line).unwrap_or(1).saturating_sub(1);
        if let Some(offset) = text.lines().skip(start).position(|l| l.contains('\t')) {
            line = u64::try_from(start + offset + 1).unwrap_or(line);
            let tab_line = text.lines().nth(start + offset).unwrap_or_default();
            column = u64::try_from(tab_line.find('\t').unwrap_or(0) + 1).unwrap_or(1);
            key = key_on_line(text, line);
        }
        "a tab character; YAML indents with spaces only".to_owned()
    } else if raw.starts_with("duplicate mapping key") {
        "duplicate key: it appears twice in this mapping; write each key once".to_owned()
    } else if raw.starts_with("multiple YAML documents") {
        "multiple documents: a profile file holds one YAML document; remove the `---` separator and what follows".to_owned()
    } else if raw.starts_with("invalid u32") || raw.starts_with("invalid u64") {
        format!(
            "expected a whole number from 0 to {}, found {}",
            u32::MAX,
            value.as_deref().unwrap_or("something else")
        )
    } else if raw.starts_with("invalid bool") || raw.starts_with("invalid boolean") {
        format!(
            "expected a boolean (true or false), found {}",
            value.as_deref().unwrap_or("something else")
        )
    } else if raw.starts_with("expected string scalar") || raw.starts_with("expected scalar") {
        // The parser stops inside the mapping or list given where a single
        // value belongs: blame the key that holds it.
        if let Some((parent_line, parent_key)) = parent_key(text, line) {
            line = parent_line;
            column = 1;
            key = Some(parent_key);
        }
        "expected a single value (a string), found a mapping or a list".to_owned()
    } else {
        raw.to_owned()
    };
    let message = match key {
        Some(key) if !message.contains(&format!("`{key}`")) => format!("{key}: {message}"),
        _ => message,
    };
    ProfileError::Parse {
        file: path.to_owned(),
        line,
        column,
        message,
    }
}

/// The parser says "error: line 3 column 5: what"; the position is already
/// in front of our message, so keep only "what".
fn strip_position_prefix(message: &str) -> String {
    let message = message.strip_prefix("error: ").unwrap_or(message);
    match message.split_once(": ") {
        Some((position, rest)) if position.starts_with("line ") => rest.to_owned(),
        _ => message.to_owned(),
    }
}

/// The parser ends some messages with " at line 3, column 9", which the
/// message already starts with.
fn strip_position_suffix(message: &str) -> &str {
    match message.rfind(" at line ") {
        Some(index) if message[index..].contains(", column ") => &message[..index],
        _ => message,
    }
}

/// The value written after the key on a 1-based line, if any.
fn value_on_line(text: &str, line: u64) -> Option<String> {
    let content = text
        .lines()
        .nth(usize::try_from(line).ok()?.checked_sub(1)?)?;
    let (_, value) = content.split_once(':')?;
    let value = value.trim();
    (!value.is_empty()).then(|| format!("`{value}`"))
}

/// The key, above a 1-based line, whose value is the block that line is in.
fn parent_key(text: &str, line: u64) -> Option<(u64, String)> {
    let lines: Vec<&str> = text.lines().collect();
    let index = usize::try_from(line).ok()?.checked_sub(1)?;
    let indent = |l: &str| l.len() - l.trim_start().len();
    let own_indent = indent(lines.get(index)?);
    (0..index).rev().find_map(|i| {
        let candidate = lines[i];
        if candidate.trim().is_empty() || indent(candidate) >= own_indent {
            return None;
        }
        let key = key_on_line(text, u64::try_from(i + 1).ok()?)?;
        Some((u64::try_from(i + 1).ok()?, key))
    })
}

/// The mapping key written on a 1-based line, if the line holds one.
fn key_on_line(text: &str, line: u64) -> Option<String> {
    let content = text
        .lines()
        .nth(usize::try_from(line).ok()?.checked_sub(1)?)?;
    let (key, _) = content
        .trim_start()
        .trim_start_matches("- ")
        .split_once(':')?;
    let key = key.trim();
    (!key.is_empty() && !key.contains(char::is_whitespace)).then(|| key.to_owned())
}
