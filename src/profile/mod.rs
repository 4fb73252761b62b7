//! Profiles: the built-in platform and size files, and how a profile name
//! turns into resolved settings.

pub mod layer;

use std::fmt;

use serde::Serialize;

use crate::settings::{self, Origins, Settings, SettingsError, SourcedLayer};
use layer::Layer;

pub const PLATFORMS: [&str; 4] = ["dev", "aws", "gcp", "azure"];
pub const SIZES: [&str; 3] = ["small", "medium", "large"];
const DEFAULT_SIZE: &str = "small";

const BASE_FILE: (&str, &str) = (
    "profiles/base.yaml",
    include_str!("../../profiles/base.yaml"),
);
const PLATFORM_FILES: [(&str, &str); 4] = [
    (
        "profiles/platforms/dev.yaml",
        include_str!("../../profiles/platforms/dev.yaml"),
    ),
    (
        "profiles/platforms/aws.yaml",
        include_str!("../../profiles/platforms/aws.yaml"),
    ),
    (
        "profiles/platforms/gcp.yaml",
        include_str!("../../profiles/platforms/gcp.yaml"),
    ),
    (
        "profiles/platforms/azure.yaml",
        include_str!("../../profiles/platforms/azure.yaml"),
    ),
];
const SIZE_FILES: [(&str, &str); 3] = [
    (
        "profiles/sizes/small.yaml",
        include_str!("../../profiles/sizes/small.yaml"),
    ),
    (
        "profiles/sizes/medium.yaml",
        include_str!("../../profiles/sizes/medium.yaml"),
    ),
    (
        "profiles/sizes/large.yaml",
        include_str!("../../profiles/sizes/large.yaml"),
    ),
];

/// The name under which the base's settings are resolved and shown.
pub const BASE_NAME: &str = "base";

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
    #[error(transparent)]
    Settings(#[from] SettingsError),
}

/// One profile, resolved: its name, settings and where each setting came from.
#[derive(Debug, Clone, Serialize)]
pub struct Profile {
    pub name: String,
    pub settings: Settings,
    #[serde(skip)]
    pub origins: Origins,
}

struct ParsedFile {
    path: String,
    layer: Layer,
}

/// Every profile palgen knows, with the files they are composed from.
pub struct Catalog {
    base: ParsedFile,
    platforms: Vec<(String, ParsedFile)>,
    sizes: Vec<(String, ParsedFile)>,
}

impl Catalog {
    /// The profiles compiled into the binary.
    pub fn builtin() -> Result<Catalog, ProfileError> {
        let parse_all = |names: &[&str], files: &[(&str, &str)]| {
            names
                .iter()
                .zip(files)
                .map(|(name, (path, text))| Ok((name.to_string(), parse_file(path, text)?)))
                .collect::<Result<Vec<_>, ProfileError>>()
        };
        Ok(Catalog {
            base: parse_file(BASE_FILE.0, BASE_FILE.1)?,
            platforms: parse_all(&PLATFORMS, &PLATFORM_FILES)?,
            sizes: parse_all(&SIZES, &SIZE_FILES)?,
        })
    }

    /// Every profile name, platform by platform, smallest size first.
    pub fn names(&self) -> Vec<String> {
        self.platforms
            .iter()
            .flat_map(|(platform, _)| {
                self.sizes
                    .iter()
                    .map(move |(size, _)| format!("{platform}-{size}"))
            })
            .collect()
    }

    /// The full name of a requested profile: a bare platform means its small size.
    pub fn canonical_name(&self, requested: &str) -> Result<String, ProfileError> {
        let full = if PLATFORMS.contains(&requested) {
            format!("{requested}-{DEFAULT_SIZE}")
        } else {
            requested.to_owned()
        };
        if self.names().contains(&full) {
            Ok(full)
        } else {
            Err(ProfileError::Unknown {
                name: requested.to_owned(),
                known: self.names(),
            })
        }
    }

    pub fn resolve(&self, requested: &str) -> Result<Profile, ProfileError> {
        let name = self.canonical_name(requested)?;
        let (platform, size) = name
            .split_once('-')
            .expect("canonical names are <platform>-<size>");
        fn find<'c>(files: &'c [(String, ParsedFile)], key: &str) -> &'c ParsedFile {
            files
                .iter()
                .find(|(name, _)| name == key)
                .map(|(_, file)| file)
                .expect("canonical names only use known platforms and sizes")
        }
        let layers = [
            &self.base,
            find(&self.platforms, platform),
            find(&self.sizes, size),
        ];
        resolve_layers(name, &layers)
    }

    /// The settings the base is rendered from: `profiles/base.yaml` alone.
    pub fn base(&self) -> Result<Profile, ProfileError> {
        resolve_layers(BASE_NAME.to_owned(), &[&self.base])
    }
}

fn resolve_layers(name: String, files: &[&ParsedFile]) -> Result<Profile, ProfileError> {
    let layers: Vec<SourcedLayer<'_>> = files
        .iter()
        .map(|file| SourcedLayer {
            file: &file.path,
            layer: &file.layer,
        })
        .collect();
    let (settings, origins) = settings::resolve(&layers)?;
    Ok(Profile {
        name,
        settings,
        origins,
    })
}

fn parse_file(path: &str, text: &str) -> Result<ParsedFile, ProfileError> {
    let layer: Layer = serde_saphyr::from_str(text).map_err(|e| parse_error(path, text, &e))?;
    Ok(ParsedFile {
        path: path.to_owned(),
        layer,
    })
}

/// One line naming the file, position, key and the parser's complaint.
fn parse_error(path: &str, text: &str, error: &serde_saphyr::Error) -> ProfileError {
    let (line, column) = error
        .location()
        .map_or((0, 0), |location| (location.line(), location.column()));
    let rendered = error.without_snippet().to_string();
    let mut message = strip_position_prefix(rendered.trim());
    if let Some(key) = key_on_line(text, line) {
        if !message.contains(&format!("`{key}`")) {
            message = format!("{key}: {message}");
        }
    }
    ProfileError::Parse {
        file: path.to_owned(),
        line,
        column,
        message: message.lines().next().unwrap_or_default().to_owned(),
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

impl fmt::Display for Profile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn twelve_builtin_profiles_resolve() {
        let catalog = Catalog::builtin().unwrap();
        let names = catalog.names();
        assert_eq!(names.len(), 12);
        for name in &names {
            catalog.resolve(name).unwrap();
        }
        catalog.base().unwrap();
    }

    #[test]
    fn bare_platform_means_small() {
        let catalog = Catalog::builtin().unwrap();
        assert_eq!(catalog.canonical_name("aws").unwrap(), "aws-small");
        let error = catalog.canonical_name("aws-huge").unwrap_err().to_string();
        assert!(
            error.contains("aws-huge") && error.contains("gcp-medium"),
            "{error}"
        );
    }

    #[test]
    fn parse_errors_name_file_line_and_key() {
        let error = parse_file("p.yaml", "storage:\n  size: 10GB\n")
            .err()
            .unwrap();
        let message = error.to_string();
        assert!(message.starts_with("p.yaml:2:"), "{message}");
        assert!(
            message.contains("size") && message.contains("10GB"),
            "{message}"
        );

        let error = parse_file("p.yaml", "storage:\n  sise: 10Gi\n")
            .err()
            .unwrap();
        let message = error.to_string();
        assert!(
            message.starts_with("p.yaml:2:") && message.contains("sise"),
            "{message}"
        );
    }
}
