//! The performance table of docs/performance.md is what scripts/bench.sh
//! wrote: its shape is the script's, and it still matches the fingerprint
//! the script put in the end marker, so no number was edited by hand.

use sha2::{Digest, Sha256};

const DOC: &str = include_str!("../docs/performance.md");
const SCRIPT: &str = include_str!("../scripts/bench.sh");

const BEGIN: &str = "<!-- bench:begin -->\n";
const END: &str = "<!-- bench:end ";
const HEADER: &str = "| command | median ms | min ms | max ms | runs | peak RSS MiB | kubectl kustomize / palgen | target |";

/// The table between the markers and the fingerprint in the end marker.
fn table(doc: &str) -> (&str, &str) {
    let start = doc
        .find(BEGIN)
        .expect("docs/performance.md has the begin marker")
        + BEGIN.len();
    let end = start
        + doc[start..]
            .find(END)
            .expect("docs/performance.md has the end marker");
    let fingerprint = doc[end + END.len()..]
        .split_once(" -->")
        .expect("the end marker is closed")
        .0;
    (&doc[start..end], fingerprint)
}

fn is_number(text: &str, decimals: usize) -> bool {
    match text.split_once('.') {
        Some((whole, fraction)) => {
            !whole.is_empty()
                && whole.bytes().all(|b| b.is_ascii_digit())
                && fraction.len() == decimals
                && fraction.bytes().all(|b| b.is_ascii_digit())
        }
        None => decimals == 0 && !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()),
    }
}

fn is_target(text: &str) -> bool {
    let Some((verdict, limit)) = text.split_once(", <= ") else {
        return false;
    };
    let (number, unit) = limit.split_once(' ').unwrap_or_default();
    matches!(verdict, "met" | "missed")
        && matches!(unit, "ms" | "MiB")
        && (is_number(number, 0) || is_number(number, 1))
}

/// Every problem with the table's shape, none when it is the script's.
fn shape_problems(table: &str) -> Vec<String> {
    let mut problems = Vec::new();
    let lines: Vec<&str> = table.lines().collect();
    if lines.len() < 5 {
        return vec![format!("{} lines, too few for a table", lines.len())];
    }
    if !lines[0].starts_with("Measured by `scripts/bench.sh` at ")
        || !lines[0].ends_with("; medians.")
    {
        problems.push(format!("first line: {}", lines[0]));
    }
    if !lines[1].is_empty() || lines[2] != HEADER || lines[3] != "|---|---|---|---|---|---|---|---|"
    {
        problems.push("blank line, header and separator differ from the script's".to_owned());
    }
    let (rows, last) = lines[4..].split_at(lines.len() - 5);
    for row in rows {
        let cells: Vec<&str> = row
            .strip_prefix("| ")
            .and_then(|r| r.strip_suffix(" |"))
            .map(|r| r.split(" | ").collect())
            .unwrap_or_default();
        let shaped = cells.len() == 8
            && cells[0].starts_with('`')
            && cells[0].ends_with('`')
            && is_number(cells[1], 2)
            && is_number(cells[2], 2)
            && is_number(cells[3], 2)
            && is_number(cells[4], 0)
            && is_number(cells[5], 1)
            && (cells[6] == "reference"
                || cells[6].strip_suffix('x').is_some_and(|r| is_number(r, 1)))
            && (cells[7].is_empty() || is_target(cells[7]));
        if !shaped {
            problems.push(format!("row not in the script's shape: {row}"));
        }
    }
    let memory = last[0]
        .strip_prefix("| peak memory, built-in profiles | | | | | ")
        .and_then(|rest| rest.split_once(" | | "));
    if !memory.is_some_and(|(mib, target)| {
        is_number(mib, 1) && target.strip_suffix(" |").is_some_and(is_target)
    }) {
        problems.push(format!("memory row not in the script's shape: {}", last[0]));
    }
    problems
}

fn fingerprint(table: &str) -> String {
    let digest = Sha256::digest(table.as_bytes());
    digest
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<String>()[..16]
        .to_owned()
}

#[test]
fn the_script_writes_this_header_and_these_markers() {
    assert!(
        SCRIPT.contains(&HEADER[..HEADER.len() - 2]),
        "scripts/bench.sh no longer writes: {HEADER}"
    );
    assert!(SCRIPT.contains("<!-- bench:begin -->") && SCRIPT.contains("<!-- bench:end "));
}

#[test]
fn the_performance_table_is_the_scripts_output() {
    let (table, recorded) = table(DOC);
    let problems = shape_problems(table);
    assert!(problems.is_empty(), "docs/performance.md: {problems:#?}");
    for command in [
        "render --all",
        "check",
        "build --profile aws-large",
        "kubectl kustomize",
        "plan --all 1000 profiles",
    ] {
        assert!(
            table.contains(&format!("| `{command}` |")),
            "no row for {command}"
        );
    }
    assert_eq!(
        fingerprint(table),
        recorded,
        "the table of docs/performance.md was changed after scripts/bench.sh wrote it: run ./scripts/bench.sh"
    );
}

#[test]
fn an_edited_number_is_caught() {
    let (table, recorded) = table(DOC);
    let edited = table
        .replacen(" | 0.", " | 1.", 1)
        .replacen(" | 1", " | 2", 1);
    assert_ne!(edited, table);
    assert!(shape_problems(&edited).is_empty());
    assert_ne!(fingerprint(&edited), recorded);
    let reshaped = table
        .replacen(" ms", " msec", 1)
        .replacen("| `check` |", "| check |", 1);
    assert!(!shape_problems(&reshaped).is_empty());
}
