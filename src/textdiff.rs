//! Unified diffs as palgen prints them: plain text, coloured only when
//! stdout is a terminal and `NO_COLOR` is unset (anstream strips the colour
//! otherwise).

use anstyle::{AnsiColor, Style};
use similar::TextDiff;

const REMOVED: Style = AnsiColor::Red.on_default();
const ADDED: Style = AnsiColor::Green.on_default();
const HUNK: Style = AnsiColor::Cyan.on_default();
const HEADER: Style = Style::new().bold();

/// A unified diff from `old` to `new`, with three lines of context; empty
/// when the texts are equal.
pub fn unified(old: &str, new: &str, old_name: &str, new_name: &str) -> String {
    TextDiff::from_lines(old, new)
        .unified_diff()
        .context_radius(3)
        .header(old_name, new_name)
        .to_string()
}

/// The diff with ANSI styles on its markers.
pub fn colourise(diff: &str) -> String {
    let mut out = String::with_capacity(diff.len());
    for line in diff.split_inclusive('\n') {
        let style = if line.starts_with("---") || line.starts_with("+++") {
            HEADER
        } else if line.starts_with("@@") {
            HUNK
        } else if line.starts_with('-') {
            REMOVED
        } else if line.starts_with('+') {
            ADDED
        } else {
            Style::new()
        };
        let content = line.trim_end_matches('\n');
        out.push_str(&format!("{style}{content}{style:#}"));
        if line.ends_with('\n') {
            out.push('\n');
        }
    }
    out
}
