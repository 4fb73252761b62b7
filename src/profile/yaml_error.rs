//! What is wrong with a profile file that does not parse, in the terms of a
//! profile file (its lines, keys and accepted values) rather than in those
//! of the YAML library, whose messages are written for programmers.

use std::fmt;

use serde::Deserialize;
use serde::de::{self, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_saphyr::Error;

use super::suggest;

/// A problem at a 1-based line and column of the file.
pub struct Located {
    pub line: u64,
    pub column: u64,
    pub message: String,
}

/// Whether the file holds no settings at all: nothing, only comments, a
/// bare `---`, or a null document (`~`, `null`). Such a file means the same
/// as an empty one.
pub fn is_empty_document(text: &str) -> bool {
    matches!(
        serde_saphyr::from_str::<RootShape>(text),
        Ok(RootShape::Empty)
    )
}

/// One line naming the position, key and what is wrong.
pub fn describe(text: &str, error: &Error) -> Located {
    let (line, column) = error
        .location()
        .map_or((0, 0), |location| (location.line(), location.column()));
    let mut located = Located {
        line,
        column,
        message: String::new(),
    };
    let mut key = key_on_line(text, line);
    let found = || found_at(text, line);
    let root = serde_saphyr::from_str::<RootShape>(text).ok();
    located.message = match innermost(error) {
        _ if matches!(root, Some(RootShape::List | RootShape::Value)) => {
            key = None;
            not_a_mapping(&match root {
                Some(RootShape::List) => "a list".to_owned(),
                _ => found().unwrap_or_else(|| "a single value".to_owned()),
            })
        }
        Error::Unexpected { expected, .. } if expected.contains("mapping") => {
            let found = if starts_a_block(text, line, column) {
                blame_enclosing_key(text, &mut located, &mut key);
                block_kind(text, line)
            } else {
                value_on_line(text, line).unwrap_or_else(|| "nothing".to_owned())
            };
            if key.is_none() {
                // Not even the top of the file is a mapping (a tagged
                // scalar, which the shape probe cannot read either).
                not_a_mapping(&found_at(text, line).unwrap_or(found))
            } else {
                format!("expected a mapping of settings below it (indented `key: value` lines), found {found}")
            }
        }
        Error::Unexpected { expected, .. } if expected.contains("scalar") => {
            // A list or mapping where one value belongs: after the key on
            // its line (`key: [a]`), or as a block on the lines below it.
            let found = if starts_a_block(text, line, column) {
                blame_enclosing_key(text, &mut located, &mut key);
                block_kind(text, line)
            } else if value_on_line(text, line).is_some_and(|v| v.starts_with("`[")) {
                "a list".to_owned()
            } else {
                "a mapping".to_owned()
            };
            format!("expected a single value (a string, number or boolean), found {found}")
        }
        Error::InvalidScalar { ty, .. } if ty.starts_with('u') || ty.starts_with('i') => format!(
            "expected a whole number from 0 to {}, found {}",
            u32::MAX,
            found().unwrap_or_else(|| "something else".to_owned())
        ),
        Error::InvalidScalar { ty, .. } if ty.starts_with("bool") => boolean(found()),
        Error::InvalidBooleanStrict { .. } => boolean(found()),
        Error::DuplicateMappingKey { .. } => {
            "duplicate key: it appears twice in this mapping; write each key once".to_owned()
        }
        Error::MultipleDocuments { .. } => {
            "multiple documents: a profile file holds one YAML document; remove the `---` separator and what follows".to_owned()
        }
        Error::UnknownAnchor { .. } => format!(
            "{} refers to no anchor: an alias `*name` repeats a value marked `&name` earlier in the file; write the value itself",
            alias_at(text, line).unwrap_or_else(|| "an alias".to_owned())
        ),
        Error::TaggedScalarCannotDeserializeIntoString { .. }
        | Error::UnsupportedTag { .. }
        | Error::Unexpected {
            expected: "tagged node",
            ..
        } => format!(
            "YAML tags such as {} are not accepted; write the plain value (quoted to keep it text)",
            tag_on_line(text, line).unwrap_or_else(|| "`!!int`".to_owned())
        ),
        Error::NullIntoString { .. } => format!(
            "expected a value, found {}",
            found().unwrap_or_else(|| "nothing".to_owned())
        ),
        Error::SerdeUnknownField {
            field, expected, ..
        } => format!(
            "unknown key `{field}`{}; the keys accepted here are {}",
            suggest::nearest(field, expected.iter().copied())
                .map_or_else(String::new, |key| format!(" (did you mean `{key}`?)")),
            expected.join(", ")
        ),
        Error::SerdeUnknownVariant {
            variant, expected, ..
        } => format!(
            "{variant:?} is not accepted{}; write one of {}",
            suggest::nearest(variant, expected.iter().copied())
                .map_or_else(String::new, |value| format!(" (did you mean {value}?)")),
            expected.join(", ")
        ),
        Error::SerdeMissingField { field, .. } => {
            format!("missing `{field}`, which it requires")
        }
        Error::SerdeInvalidType {
            unexpected,
            expected,
            ..
        } => format!("expected {expected}, found {unexpected}"),
        Error::Eof { .. } => {
            "the file ends inside an unfinished value: close the bracket, quote or block that is open".to_owned()
        }
        Error::ExternalMessage { msg, .. } => syntax(text, msg, &mut located, &mut key),
        Error::Message { msg, .. } => msg.clone(),
        // Limits and features a profile file does not use (includes,
        // properties, merge policies, recursion and size budgets).
        _ => "not a value palgen can read here: write plain `key: value` settings".to_owned(),
    };
    if let Some(key) = key
        && !located.message.contains(&format!("`{key}`"))
    {
        located.message = format!("{key}: {}", located.message);
    }
    located
}

/// The error behind the wrappers that add a snippet or an alias's origin.
pub(super) fn innermost(mut error: &Error) -> &Error {
    while let Error::WithSnippet { error: inner, .. } | Error::AliasError { error: inner, .. } =
        error
    {
        error = inner;
    }
    error
}

fn not_a_mapping(found: &str) -> String {
    format!(
        "a profile file is a mapping of settings, one `key: value` per line starting with `extends: <profile>`; found {found}"
    )
}

fn boolean(found: Option<String>) -> String {
    format!(
        "expected a boolean (true or false), found {}",
        found.unwrap_or_else(|| "something else".to_owned())
    )
}

/// Whether the value the parser stopped at starts a line of its own, as a
/// block below its key, rather than after a key on the same line.
fn starts_a_block(text: &str, line: u64, column: u64) -> bool {
    line_text(text, line).is_some_and(|content| {
        let first = content.len() - content.trim_start().len() + 1;
        usize::try_from(column).is_ok_and(|column| column <= first)
    })
}

/// "a list" or "a mapping", for a block starting at a line.
fn block_kind(text: &str, line: u64) -> String {
    let is_list = line_text(text, line).is_some_and(|l| l.trim_start().starts_with('-'));
    if is_list { "a list" } else { "a mapping" }.to_owned()
}

/// The parser stopped inside the block given to a key: blame the key.
fn blame_enclosing_key(text: &str, located: &mut Located, key: &mut Option<String>) {
    if let Some((line, parent)) = parent_key(text, located.line) {
        located.line = line;
        located.column = 1;
        *key = Some(parent);
    }
}

/// What the parser's syntax errors mean in a profile file, by the words
/// its messages use: the first entry with a word the message contains
/// applies. Grouped by the mistake a user makes, not by parser state.
const SYNTAX: [(&[&str], &str); 16] = [
    (
        &["unclosed quote"],
        "unclosed quote: end the value with the quote it starts with",
    ),
    (
        &["escape", "hexadecimal", "surrogate"],
        "an invalid escape in a double-quoted value: write `\\\\` for a backslash, or use single quotes",
    ),
    (
        &["trailing content after"],
        "text after the closing quote: quote the whole value",
    ),
    (
        &["quoted scalar"],
        "a quoted value that breaks across lines: keep it on one line, closed by its quote",
    ),
    (
        &["unclosed bracket"],
        "unclosed bracket: close every `[` with `]` and every `{` with `}`",
    ),
    (
        &[
            "bracket",
            "flow sequence",
            "flow mapping",
            "flow construct",
            "`[{`",
        ],
        "unbalanced brackets: close every `[` with `]` and every `{` with `}`, and separate their items with `, `",
    ),
    (
        &["':' must be followed"],
        "a `:` directly followed by text: put a space after the `:` that ends a key, or quote the value",
    ),
    (
        &["'-' must be followed", "\"-\" is only valid"],
        "a `-` directly followed by text: put a space after the `-` of a list item, or quote the value",
    ),
    (
        &["comment intercepting", "comments must be separated"],
        "a `#` comment in the middle of a value: put a space before `#`, or move the comment to its own line",
    ),
    (
        &["block scalar"],
        "a `|` or `>` block whose lines are not indented below its key",
    ),
    (
        &[
            "unexpected character",
            "plain scalar cannot start",
            "expected whitespace",
        ],
        "a character that cannot start a plain YAML value (such as `@`, `` ` ``, `%` or `-[`): quote the value",
    ),
    (
        &["tag"],
        "a YAML tag (`!`...) palgen cannot read: write the plain value (quoted to keep it text)",
    ),
    (
        &["anchor", "alias"],
        "an anchor or alias without a name: write `&name` or `*name`, or quote a value starting with `&` or `*`",
    ),
    (
        &["directive", "handle"],
        "a `%` directive line: remove it, a profile file needs none",
    ),
    (
        &["eof", "EOF", "end of plain scalar"],
        "the file ends inside an unfinished value: close the bracket, quote or block that is open",
    ),
    (
        &["document", "BOM"],
        "content after the end of the document (`...` or `---`): a profile file holds one document",
    ),
];

/// The rest: indentation and the places where keys, values and list items
/// may start, which are what most other syntax errors come down to.
const SYNTAX_OTHERWISE: &str = "this line's indentation does not fit the lines around it: the keys of one mapping begin in the same column, a value goes after `key: ` or indented below it, and a `:` or `? ` inside a value needs quotes";

/// A YAML syntax error from the parser, said in a profile file's terms.
fn syntax(text: &str, message: &str, located: &mut Located, key: &mut Option<String>) -> String {
    let message = strip_position(message);
    if message.contains("tab") && text.contains('\t') {
        // The parser reports where the scalar or block began; the tab itself
        // is what the reader must find.
        let start = usize::try_from(located.line).unwrap_or(1).saturating_sub(1);
        if let Some(offset) = text.lines().skip(start).position(|l| l.contains('\t')) {
            located.line = u64::try_from(start + offset + 1).unwrap_or(located.line);
            let tab_line = text.lines().nth(start + offset).unwrap_or_default();
            located.column = u64::try_from(tab_line.find('\t').unwrap_or(0) + 1).unwrap_or(1);
            *key = key_on_line(text, located.line);
        }
        return "a tab character; YAML indents with spaces only".to_owned();
    }
    SYNTAX
        .iter()
        .find(|(words, _)| words.iter().any(|word| message.contains(word)))
        .map_or(SYNTAX_OTHERWISE, |(_, ours)| ours)
        .to_owned()
}

/// Drops the position the parser puts before or after its message; ours
/// is already in front of it.
fn strip_position(message: &str) -> String {
    let message = message.trim();
    let message = message.strip_prefix("error: ").unwrap_or(message);
    let message = match message.split_once(": ") {
        Some((position, rest)) if position.starts_with("line ") => rest,
        _ => message,
    };
    let message = message.lines().next().unwrap_or_default();
    match message.rfind(" at line ") {
        Some(index) if message[index..].contains(", column ") => message[..index].to_owned(),
        _ => message.to_owned(),
    }
}

/// How the top of the file is shaped, to tell a file that is not a mapping
/// at all from an error inside one.
enum RootShape {
    Empty,
    Mapping,
    List,
    Value,
}

impl<'de> Deserialize<'de> for RootShape {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(ShapeVisitor)
    }
}

struct ShapeVisitor;

impl<'de> Visitor<'de> for ShapeVisitor {
    type Value = RootShape;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("any YAML document")
    }

    fn visit_unit<E>(self) -> Result<RootShape, E> {
        Ok(RootShape::Empty)
    }

    fn visit_none<E>(self) -> Result<RootShape, E> {
        Ok(RootShape::Empty)
    }

    fn visit_some<D: de::Deserializer<'de>>(self, inner: D) -> Result<RootShape, D::Error> {
        inner.deserialize_any(ShapeVisitor)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RootShape, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(RootShape::Mapping)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<RootShape, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(RootShape::List)
    }

    fn visit_bool<E>(self, _: bool) -> Result<RootShape, E> {
        Ok(RootShape::Value)
    }

    fn visit_i64<E>(self, _: i64) -> Result<RootShape, E> {
        Ok(RootShape::Value)
    }

    fn visit_u64<E>(self, _: u64) -> Result<RootShape, E> {
        Ok(RootShape::Value)
    }

    fn visit_f64<E>(self, _: f64) -> Result<RootShape, E> {
        Ok(RootShape::Value)
    }

    fn visit_str<E>(self, _: &str) -> Result<RootShape, E> {
        Ok(RootShape::Value)
    }

    fn visit_bytes<E>(self, _: &[u8]) -> Result<RootShape, E> {
        Ok(RootShape::Value)
    }
}

/// What is written at a line: the value after its key, or the whole line
/// when it holds no key, quoted for a message.
fn found_at(text: &str, line: u64) -> Option<String> {
    value_on_line(text, line).or_else(|| {
        let content = line_text(text, line)?.trim();
        (!content.is_empty()).then(|| format!("`{content}`"))
    })
}

/// The alias (`*name`) written on a line.
fn alias_at(text: &str, line: u64) -> Option<String> {
    let content = line_text(text, line)?;
    let start = content.find('*')?;
    let name: String = content[start + 1..]
        .chars()
        .take_while(|c| !c.is_whitespace() && !",]}".contains(*c))
        .collect();
    (!name.is_empty()).then(|| format!("the alias `*{name}`"))
}

/// The tag (`!!int`, `!custom`) written on a line.
fn tag_on_line(text: &str, line: u64) -> Option<String> {
    let content = line_text(text, line)?;
    let tag = content
        .split_whitespace()
        .find(|word| word.starts_with('!'))?;
    Some(format!("`{tag}`"))
}

fn line_text(text: &str, line: u64) -> Option<&str> {
    text.lines()
        .nth(usize::try_from(line).ok()?.checked_sub(1)?)
}

/// The value written after the key on a 1-based line, if any.
fn value_on_line(text: &str, line: u64) -> Option<String> {
    let (_, value) = line_text(text, line)?.split_once(':')?;
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
    let (key, _) = line_text(text, line)?
        .trim_start()
        .trim_start_matches("- ")
        .split_once(':')?;
    let key = key.trim();
    (!key.is_empty() && !key.contains(char::is_whitespace)).then(|| key.to_owned())
}
