//! postgresql.conf as PostgreSQL reads it, made fit for the server the
//! tests run, and the rows of pg_settings it is checked against.

use std::collections::BTreeMap;

/// One `name = value` line of a postgresql.conf.
#[derive(Debug, Clone)]
pub struct ConfEntry {
    pub name: String,
    /// Without quotes.
    pub value: String,
    /// 1-based, as pg_settings.sourceline counts.
    pub line: usize,
}

/// The settings of a postgresql.conf (only the `name = value` form, which is
/// all palgen writes; anything else fails the test).
pub fn parse_conf(text: &str) -> Vec<ConfEntry> {
    let mut entries = Vec::new();
    for (index, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (name, rest) = line
            .split_once('=')
            .unwrap_or_else(|| panic!("line {}: not `name = value`: {raw}", index + 1));
        let rest = rest.trim();
        let (value, tail) = if let Some(quoted) = rest.strip_prefix('\'') {
            let mut value = String::new();
            let mut chars = quoted.char_indices().peekable();
            let mut end = None;
            while let Some((at, c)) = chars.next() {
                if c == '\'' {
                    if chars.peek().map(|&(_, next)| next) == Some('\'') {
                        chars.next();
                        value.push('\'');
                    } else {
                        end = Some(at + 1);
                        break;
                    }
                } else {
                    value.push(c);
                }
            }
            let end = end.unwrap_or_else(|| panic!("line {}: unterminated quote", index + 1));
            (value, &quoted[end..])
        } else {
            let end = rest.find(['#', ' ', '\t']).unwrap_or(rest.len());
            (rest[..end].to_owned(), &rest[end..])
        };
        let tail = tail.trim();
        assert!(
            tail.is_empty() || tail.starts_with('#'),
            "line {}: unexpected text after the value: {raw}",
            index + 1
        );
        entries.push(ConfEntry {
            name: name.trim().to_ascii_lowercase(),
            value,
            line: index + 1,
        });
    }
    entries
}

/// Parameters palgen writes only for images of a newer major than the oldest
/// it supports, with the major that introduced them (log_connections: its
/// list of aspects; before 18 it takes only a Boolean). The tests comment
/// them out when the server they run is older (same line numbers), and
/// prove that they are the only lines that server rejects.
const NEWER_PARAMETERS: [(&str, u32); 3] = [
    ("io_method", 18),
    ("log_connections", 18),
    ("idle_replication_slot_timeout", 18),
];

/// A generated postgresql.conf made fit for the server the tests run.
pub struct ServerConf {
    pub text: String,
    /// Parameters commented out because the server predates them.
    pub held_back: Vec<String>,
}

pub fn conf_for_server(generated: &str, major: u32) -> ServerConf {
    let newer: BTreeMap<&str, u32> = NEWER_PARAMETERS.into_iter().collect();
    let mut held_back = Vec::new();
    let mut text = String::new();
    let entries = parse_conf(generated);
    for (index, line) in generated.lines().enumerate() {
        let entry = entries.iter().find(|entry| entry.line == index + 1);
        match entry.and_then(|entry| Some((entry, newer.get(entry.name.as_str())?))) {
            // A Boolean is what older majors take too (log_connections = on).
            Some((entry, &since)) if major < since && !is_boolean(&entry.value) => {
                held_back.push(entry.name.clone());
                match OLDER_FORMS.iter().find(|(name, _)| *name == entry.name) {
                    // What palgen writes for an image of the older major.
                    Some((name, value)) => text.push_str(&format!(
                        "{name} = {value}  # the test: PostgreSQL {major}'s form of {line}\n"
                    )),
                    None => text.push_str(&format!(
                        "#{line}  # held back by the test: PostgreSQL {since}+, server is {major}\n"
                    )),
                }
            }
            _ => {
                text.push_str(line);
                text.push('\n');
            }
        }
    }
    ServerConf { text, held_back }
}

/// The value palgen writes for an image older than the parameter's entry in
/// [`NEWER_PARAMETERS`], where the parameter exists but takes another form.
const OLDER_FORMS: [(&str, &str); 1] = [("log_connections", "on")];

fn is_boolean(value: &str) -> bool {
    ["on", "off", "true", "false"].contains(&value.trim_matches('\'').to_lowercase().as_str())
}

/// One row of pg_settings.
#[derive(Debug)]
pub struct PgSetting {
    pub name: String,
    pub setting: String,
    pub unit: String,
    pub vartype: String,
    pub source: String,
    pub sourcefile: String,
    pub sourceline: String,
    pub boot_val: String,
}

/// Size of a memory or time unit in bytes or microseconds, with its kind.
pub fn unit_size(unit: &str) -> Option<(char, f64)> {
    const KB: f64 = 1024.0;
    Some(match unit {
        "B" => ('B', 1.0),
        "kB" => ('B', KB),
        "8kB" => ('B', 8.0 * KB),
        "16MB" => ('B', 16.0 * KB * KB),
        "MB" => ('B', KB * KB),
        "GB" => ('B', KB * KB * KB),
        "TB" => ('B', KB * KB * KB * KB),
        "us" => ('t', 1.0),
        "ms" => ('t', 1e3),
        "s" => ('t', 1e6),
        "min" => ('t', 60e6),
        "h" => ('t', 3600e6),
        "d" => ('t', 86400e6),
        _ => return None,
    })
}

impl PgSetting {
    /// A value as PostgreSQL understands it for this parameter, normalised:
    /// numbers in bytes or microseconds (a number without unit is in the
    /// parameter's unit), booleans as on/off, everything else lower case.
    pub fn normalise(&self, text: &str) -> String {
        let text = text.trim();
        match self.vartype.as_str() {
            "integer" | "real" => {
                let split = text
                    .find(|c: char| c.is_ascii_alphabetic())
                    .unwrap_or(text.len());
                let (number, unit) = text.split_at(split);
                let number: f64 = number
                    .trim()
                    .parse()
                    .unwrap_or_else(|_| panic!("{}: {text:?} is not a number", self.name));
                let base = if self.unit.is_empty() {
                    assert!(
                        unit.is_empty(),
                        "{}: unexpected unit in {text:?}",
                        self.name
                    );
                    number
                } else {
                    let (kind, own) = unit_size(&self.unit)
                        .unwrap_or_else(|| panic!("{}: unknown unit {}", self.name, self.unit));
                    let (given_kind, given) = if unit.is_empty() {
                        (kind, own)
                    } else {
                        unit_size(unit)
                            .unwrap_or_else(|| panic!("{}: unknown unit in {text:?}", self.name))
                    };
                    assert_eq!(
                        kind, given_kind,
                        "{}: wrong kind of unit in {text:?}",
                        self.name
                    );
                    number * given
                };
                format!("{base}")
            }
            "bool" => match text.to_ascii_lowercase().as_str() {
                "on" | "true" | "yes" | "1" => "on".to_owned(),
                "off" | "false" | "no" | "0" => "off".to_owned(),
                other => panic!("{}: {other:?} is not a boolean", self.name),
            },
            _ => text.to_ascii_lowercase(),
        }
    }
}
