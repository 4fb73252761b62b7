//! YAML as `kubectl kustomize` prints it. Kustomize writes through go-yaml,
//! which folds a long plain or single-quoted string at the first space past
//! column 80 and single-quotes a string that cannot be plain (one holding
//! `: ` or ` #`), where palgen's serialiser keeps every string on one line
//! and double-quotes. `palgen build` prints kubectl's way so that the two
//! can be compared with a plain `diff`; the files palgen writes keep long
//! strings on one line, where a reviewer greps for them.

/// The column past which go-yaml folds a string at its next space.
const BEST_WIDTH: usize = 80;

/// go-yaml's indentation step.
const INDENT: usize = 2;

/// `text`, a YAML stream as palgen's serialiser writes it, as go-yaml
/// writes the same values.
pub fn restyle(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 16);
    // The column of the key (or dash) that opened a literal block scalar:
    // its lines are text, not YAML, while more indented than that.
    let mut block_parent: Option<usize> = None;
    for line in text.split_inclusive('\n') {
        let content = line.trim_end_matches('\n');
        let indent = content.len() - content.trim_start_matches(' ').len();
        if let Some(parent) = block_parent {
            if content.trim().is_empty() || indent > parent {
                out.push_str(line);
                continue;
            }
            block_parent = None;
        }
        let Some(entry) = Entry::parse(content) else {
            out.push_str(line);
            continue;
        };
        if entry.value.starts_with('|') || entry.value.starts_with('>') {
            block_parent = Some(entry.owner_column);
            out.push_str(line);
            continue;
        }
        out.push_str(&content[..entry.value_column]);
        out.push_str(&restyle_scalar(
            entry.value,
            entry.value_column,
            entry.continuation,
        ));
        out.push_str(&line[content.len()..]);
    }
    out
}

/// One line's scalar value and where it sits.
struct Entry<'a> {
    value: &'a str,
    /// The column the value starts at.
    value_column: usize,
    /// The column of the key, or of the dash of a sequence item.
    owner_column: usize,
    /// The indentation of the value's folded lines.
    continuation: usize,
}

impl<'a> Entry<'a> {
    fn parse(content: &'a str) -> Option<Entry<'a>> {
        let mut column = content.len() - content.trim_start_matches(' ').len();
        let mut rest = &content[column..];
        let mut owner_column = column;
        let mut in_sequence = false;
        while let Some(item) = rest.strip_prefix("- ") {
            owner_column = column;
            rest = item;
            column += 2;
            in_sequence = true;
        }
        if rest.starts_with('"') || rest.starts_with('\'') {
            // A quoted sequence item (palgen writes no quoted keys).
            return in_sequence.then_some(Entry {
                value: rest,
                value_column: column,
                owner_column,
                continuation: column,
            });
        }
        match rest.find(": ") {
            Some(at) if !rest[..at].contains(' ') => Some(Entry {
                value: &rest[at + 2..],
                value_column: column + at + 2,
                owner_column: column,
                continuation: column + INDENT,
            }),
            _ if in_sequence && !rest.ends_with(':') => Some(Entry {
                value: rest,
                value_column: column,
                owner_column,
                continuation: column,
            }),
            _ => None,
        }
    }
}

/// A scalar as go-yaml writes it, starting at `column`.
fn restyle_scalar(value: &str, column: usize, continuation: usize) -> String {
    if let Some(quoted) = value.strip_prefix('"').and_then(|v| v.strip_suffix('"')) {
        return match unescape(quoted) {
            // go-yaml single-quotes what is a string but cannot be plain;
            // what would read as another type (`"on"`, `"1.0"`, the empty
            // string, null) stays double-quoted, as with palgen.
            Some(text) if !text.is_empty() && !plain_allowed(&text) => {
                single_quoted(&text, column, continuation)
            }
            _ => value.to_owned(),
        };
    }
    if value.starts_with('\'') || value.starts_with('{') || value.starts_with('[') {
        return value.to_owned();
    }
    fold(value, column, continuation, false, |_| true)
}

/// The text of a double-quoted scalar whose only escapes are `\"` and `\\`.
fn unescape(quoted: &str) -> Option<String> {
    let mut text = String::with_capacity(quoted.len());
    let mut chars = quoted.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next()? {
                escaped @ ('"' | '\\') => text.push(escaped),
                _ => return None,
            }
        } else {
            text.push(c);
        }
    }
    Some(text)
}

/// Whether go-yaml may write `text` as a plain scalar in block context.
fn plain_allowed(text: &str) -> bool {
    let chars: Vec<char> = text.chars().collect();
    let (Some(first), Some(last)) = (chars.first(), chars.last()) else {
        return false;
    };
    if *first == ' ' || *last == ' ' || text.starts_with("---") || text.starts_with("...") {
        return false;
    }
    let followed_by_space = |i: usize| chars.get(i + 1).is_none_or(|c| *c == ' ');
    if "#,[]{}&*!|>'\"%@`".contains(*first) || ("?:-".contains(*first) && followed_by_space(0)) {
        return false;
    }
    !chars
        .iter()
        .enumerate()
        .skip(1)
        .any(|(i, c)| (*c == ':' && followed_by_space(i)) || (*c == '#' && chars[i - 1] == ' '))
}

fn single_quoted(text: &str, column: usize, continuation: usize) -> String {
    let last = text.chars().count().saturating_sub(1);
    let folded = fold(text, column + 1, continuation, true, |i| i > 0 && i < last);
    format!("'{folded}'")
}

/// go-yaml's folding: a space becomes a line break when it follows a
/// non-space, the column is past `BEST_WIDTH`, the next character is not a
/// space and `may_break(index)` allows it. Inside single quotes a quote is
/// doubled.
fn fold(
    text: &str,
    mut column: usize,
    continuation: usize,
    single_quoted: bool,
    may_break: impl Fn(usize) -> bool,
) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len() + 8);
    let mut after_space = false;
    for (i, c) in chars.iter().copied().enumerate() {
        if c == ' ' {
            let next_is_space = chars.get(i + 1) == Some(&' ');
            if !after_space && column > BEST_WIDTH && !next_is_space && may_break(i) {
                out.push('\n');
                out.push_str(&" ".repeat(continuation));
                column = continuation;
            } else {
                out.push(c);
                column += 1;
            }
            after_space = true;
        } else if c == '\'' && single_quoted {
            out.push_str("''");
            column += 2;
            after_space = false;
        } else {
            out.push(c);
            column += 1;
            after_space = false;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_plain_string_folds_at_the_first_space_past_column_80() {
        let words = "word ".repeat(20);
        let text = format!("metadata:\n  note: {}\n", words.trim_end());
        let folded = restyle(&text);
        let lines: Vec<&str> = folded.lines().collect();
        assert_eq!(lines.len(), 3, "{folded}");
        assert!(lines[1].len() > BEST_WIDTH && lines[1].len() <= BEST_WIDTH + 5);
        assert!(lines[2].starts_with("    word"), "{folded}");
    }

    #[test]
    fn a_string_that_cannot_be_plain_is_single_quoted_with_quotes_doubled() {
        assert_eq!(
            restyle("a: \"it's key: value\"\n"),
            "a: 'it''s key: value'\n"
        );
        // Another type's look stays double-quoted; block scalars stay text.
        assert_eq!(restyle("a: \"on\"\n"), "a: \"on\"\n");
        assert_eq!(restyle("a: \"\"\n"), "a: \"\"\n");
        let block = format!("a: |\n  {}\n", "x ".repeat(60));
        assert_eq!(restyle(&block), block);
    }

    /// What `kubectl kustomize` (kustomize v5) printed for these values.
    #[test]
    fn mappings_in_sequences_and_sequence_items_fold_as_kubectl_prints_them() {
        let long = "word ".repeat(20);
        let long = long.trim_end();
        let palgen = format!(
            "metadata:\n  annotations:\n    a: \"it's key: value and a long long long long long long long long long long long long text that goes on\"\nspec:\n  containers:\n  - args:\n    - {long}\n    - \"key: {long}\"\n    env:\n    - name: X\n      value: {long}\n"
        );
        let kubectl = "metadata:
  annotations:
    a: 'it''s key: value and a long long long long long long long long long long long
      long text that goes on'
spec:
  containers:
  - args:
    - word word word word word word word word word word word word word word word word
      word word word word
    - 'key: word word word word word word word word word word word word word word
      word word word word word word'
    env:
    - name: X
      value: word word word word word word word word word word word word word word
        word word word word word word
";
        assert_eq!(restyle(&palgen), kubectl);
    }
}
