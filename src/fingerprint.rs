//! The header line palgen puts on every generated file, carrying a
//! fingerprint of the rest of the file. Generation is deterministic, so
//! a file whose body still matches its fingerprint is exactly what some
//! palgen wrote: safe to replace or remove. One whose body does not was
//! edited by hand, and palgen keeps it unless told otherwise.

use std::fs;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use sha2::{Digest, Sha256};

use crate::yaml::HEADER;

/// Between the header text and the fingerprint.
const FINGERPRINT_LABEL: &str = "; body sha256:";

/// Hex digits of the SHA-256 kept: enough to notice any edit, short enough
/// to keep the header readable.
const FINGERPRINT_LEN: usize = 16;

/// Longer than any header line palgen writes.
const MAX_HEADER_BYTES: u64 = 512;

/// Who a file on disk belongs to, judged by its first line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ownership {
    /// No palgen header: someone else's file.
    Foreign,
    /// palgen's header, and the body matches its fingerprint.
    Intact,
    /// palgen's header, but the body (or the header's fingerprint) was
    /// changed since, or the header carries no fingerprint at all.
    Edited,
}

/// Adds the fingerprint of the body to `text`'s first line, which must hold
/// palgen's header behind its comment marker (`# `, `-- `, `<!-- ... -->`).
pub fn stamp(text: &str) -> String {
    let (first_line, body) = text
        .split_once('\n')
        .expect("a generated file starts with its header line");
    assert!(
        first_line.contains(HEADER),
        "a generated file starts with palgen's header: {first_line:?}"
    );
    let stamped = first_line.replacen(
        HEADER,
        &format!(
            "{HEADER}{FINGERPRINT_LABEL}{}",
            fingerprint(body.as_bytes())
        ),
        1,
    );
    format!("{stamped}\n{body}")
}

/// Who the file's bytes say wrote them.
pub fn ownership(bytes: &[u8]) -> Ownership {
    let (first_line, body) = match bytes.iter().position(|&b| b == b'\n') {
        Some(end) => (&bytes[..end], &bytes[end + 1..]),
        None => (bytes, &[][..]),
    };
    let Some(text) = std::str::from_utf8(first_line).ok().and_then(header_text) else {
        return Ownership::Foreign;
    };
    let Some(rest) = text.strip_prefix(HEADER) else {
        return Ownership::Foreign;
    };
    match rest.strip_prefix(FINGERPRINT_LABEL) {
        Some(recorded) if recorded == fingerprint(body) => Ownership::Intact,
        _ => Ownership::Edited,
    }
}

/// The ownership of the file at `path`; unreadable files and anything but
/// a regular file (a symbolic link, a directory) are not palgen's.
pub fn ownership_of(path: &Path) -> Ownership {
    let is_file = fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_file());
    if !is_file || !starts_with_header(path) {
        return Ownership::Foreign;
    }
    fs::read(path).map_or(Ownership::Foreign, |bytes| ownership(&bytes))
}

/// Reads only the first line: most files in a directory are not stale, and
/// a foreign one may be large.
fn starts_with_header(path: &Path) -> bool {
    let Ok(file) = fs::File::open(path) else {
        return false;
    };
    let mut first_line = String::new();
    let mut reader = BufReader::new(file.take(MAX_HEADER_BYTES));
    reader.read_line(&mut first_line).is_ok()
        && header_text(first_line.trim_end_matches('\n'))
            .is_some_and(|text| text.starts_with(HEADER))
}

/// The text of a header line behind the comment marker of its language.
fn header_text(line: &str) -> Option<&str> {
    line.strip_prefix("# ")
        .or_else(|| line.strip_prefix("-- "))
        .or_else(|| {
            line.strip_prefix("<!-- ")
                .and_then(|inner| inner.strip_suffix(" -->"))
        })
}

fn fingerprint(body: &[u8]) -> String {
    let digest = Sha256::digest(body);
    let hex: String = digest.iter().map(|byte| format!("{byte:02x}")).collect();
    hex[..FINGERPRINT_LEN].to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stamped_file_is_intact_until_its_body_or_header_changes() {
        for marker in ["# {}", "-- {}", "<!-- {} -->"] {
            let text = format!("{}\nkey: value\n", marker.replace("{}", HEADER));
            let stamped = stamp(&text);
            assert_eq!(stamped.lines().count(), 2, "{stamped}");
            assert!(stamped.ends_with("\nkey: value\n"), "{stamped}");
            assert_eq!(
                ownership(stamped.as_bytes()),
                Ownership::Intact,
                "{stamped}"
            );
            let edited = stamped.replace("value", "other");
            assert_eq!(ownership(edited.as_bytes()), Ownership::Edited);
            let hex = stamped.split(FINGERPRINT_LABEL).nth(1).unwrap();
            let forged = stamped.replacen(&hex[..4], "0000", 1);
            assert_eq!(ownership(forged.as_bytes()), Ownership::Edited, "{forged}");
            // A header without a fingerprint cannot vouch for its body.
            assert_eq!(ownership(text.as_bytes()), Ownership::Edited);
        }
    }

    #[test]
    fn markdown_keeps_its_comment_closed_after_the_fingerprint() {
        let stamped = stamp(&format!("<!-- {HEADER} -->\n# Title\n"));
        let first = stamped.lines().next().unwrap();
        assert!(first.starts_with("<!-- Generated by palgen"), "{first}");
        assert!(first.ends_with(" -->"), "{first}");
        assert!(first.contains(FINGERPRINT_LABEL), "{first}");
    }

    #[test]
    fn files_without_the_header_on_their_first_line_are_foreign() {
        assert_eq!(ownership(b"kind: ConfigMap\n"), Ownership::Foreign);
        assert_eq!(ownership(b""), Ownership::Foreign);
        let later = format!("first\n# {HEADER}\n");
        assert_eq!(ownership(later.as_bytes()), Ownership::Foreign);
        assert_eq!(
            ownership(b"# Generated by someone else\n"),
            Ownership::Foreign
        );
    }
}
