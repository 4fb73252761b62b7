//! Every profile palgen knows: the built-in platform and size files
//! (compiled in) and the user's profile files, and how a name becomes a
//! resolved profile.

use std::collections::HashMap;
use std::fs;
use std::path::Path;

use super::blame::Blame;
use super::error::{self, ProfileError};
use super::layer::Layer;
use super::resolve::{self, SourcedLayer};
use super::validate;
use super::yaml_error;
use super::{BASE_NAME, DEFAULT_SIZE, PLATFORMS, Profile, SIZES};

const BASE_FILE: (&str, &str) = (
    "profiles/builtin/base.yaml",
    include_str!("../../profiles/builtin/base.yaml"),
);
const PLATFORM_FILES: [(&str, &str); 4] = [
    (
        "profiles/builtin/platforms/dev.yaml",
        include_str!("../../profiles/builtin/platforms/dev.yaml"),
    ),
    (
        "profiles/builtin/platforms/aws.yaml",
        include_str!("../../profiles/builtin/platforms/aws.yaml"),
    ),
    (
        "profiles/builtin/platforms/gcp.yaml",
        include_str!("../../profiles/builtin/platforms/gcp.yaml"),
    ),
    (
        "profiles/builtin/platforms/azure.yaml",
        include_str!("../../profiles/builtin/platforms/azure.yaml"),
    ),
];
const SIZE_FILES: [(&str, &str); 3] = [
    (
        "profiles/builtin/sizes/small.yaml",
        include_str!("../../profiles/builtin/sizes/small.yaml"),
    ),
    (
        "profiles/builtin/sizes/medium.yaml",
        include_str!("../../profiles/builtin/sizes/medium.yaml"),
    ),
    (
        "profiles/builtin/sizes/large.yaml",
        include_str!("../../profiles/builtin/sizes/large.yaml"),
    ),
];

struct ParsedFile {
    path: String,
    layer: Layer,
}

/// Every profile palgen knows, with the files they are composed from.
pub struct Catalog {
    base: ParsedFile,
    platforms: Vec<(String, ParsedFile)>,
    sizes: Vec<(String, ParsedFile)>,
    /// User profiles (`<name>.yaml` with `extends:`), by name.
    custom: Vec<(String, ParsedFile)>,
    /// User profiles whose file cannot be read, by name, with the error: it
    /// stops the commands that need the profile, not the others.
    broken: Vec<(String, String)>,
    /// Where each user profile is in `custom`: a name is looked up for
    /// every profile and every parent, and a catalog may hold thousands.
    custom_index: HashMap<String, usize>,
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
        let catalog = Catalog {
            base: parse_file(BASE_FILE.0, BASE_FILE.1)?,
            platforms: parse_all(&PLATFORMS, &PLATFORM_FILES)?,
            sizes: parse_all(&SIZES, &SIZE_FILES)?,
            custom: Vec::new(),
            broken: Vec::new(),
            custom_index: HashMap::new(),
        };
        let builtin_files = std::iter::once(&catalog.base)
            .chain(catalog.platforms.iter().map(|(_, f)| f))
            .chain(catalog.sizes.iter().map(|(_, f)| f));
        for file in builtin_files {
            if let Some(extends) = &file.layer.extends {
                return Err(ProfileError::BuiltinExtends {
                    file: file.path.clone(),
                    line: extends.referenced.line(),
                });
            }
        }
        Ok(catalog)
    }

    /// The built-in profiles plus every `*.yaml` file directly in `dir`,
    /// named after the file.
    pub fn with_profiles_dir(dir: &Path) -> Result<Catalog, ProfileError> {
        let mut catalog = Catalog::builtin()?;
        let unreadable = |e: std::io::Error| ProfileError::Directory {
            dir: dir.display().to_string(),
            reason: e.to_string(),
        };
        let mut paths = Vec::new();
        for entry in fs::read_dir(dir).map_err(unreadable)? {
            let path = entry.map_err(unreadable)?.path();
            let is_yaml = matches!(
                path.extension().and_then(|e| e.to_str()),
                Some("yaml" | "yml")
            );
            if is_yaml && path.is_file() {
                paths.push(path);
            }
        }
        paths.sort();
        for path in paths {
            let display = path.display().to_string();
            let name = path
                .file_stem()
                .and_then(|stem| stem.to_str())
                .unwrap_or_default()
                .to_owned();
            if !is_profile_name(&name) {
                return Err(ProfileError::InvalidName {
                    file: display,
                    name,
                });
            }
            if let Some(other) = catalog.file_defining(&name) {
                return Err(ProfileError::Duplicate {
                    file: display,
                    name,
                    other,
                });
            }
            match read_user_profile(&path, &display) {
                Ok(parsed) => {
                    catalog
                        .custom_index
                        .insert(name.clone(), catalog.custom.len());
                    catalog.custom.push((name, parsed));
                }
                Err(error) => catalog.broken.push((name, error.to_string())),
            }
        }
        Ok(catalog)
    }

    /// The file that already defines a profile of this name, if any.
    fn file_defining(&self, name: &str) -> Option<String> {
        if let Some(file) = self.custom_file(name) {
            return Some(file.path.clone());
        }
        if self.broken.iter().any(|(n, _)| n == name) {
            return Some("another file in the profiles directory".to_owned());
        }
        let builtin = self.builtin_names().contains(&name.to_owned())
            || PLATFORMS.contains(&name)
            || name == BASE_NAME;
        builtin.then(|| "the built-in profiles".to_owned())
    }

    /// Every profile name: the built-ins platform by platform, smallest size
    /// first, then user profiles by name.
    pub fn names(&self) -> Vec<String> {
        let mut names = self.builtin_names();
        let mut custom: Vec<String> = self
            .custom
            .iter()
            .map(|(name, _)| name)
            .chain(self.broken.iter().map(|(name, _)| name))
            .cloned()
            .collect();
        custom.sort();
        names.extend(custom);
        names
    }

    fn custom_file(&self, name: &str) -> Option<&ParsedFile> {
        self.custom_index
            .get(name)
            .map(|&index| &self.custom[index].1)
    }

    fn is_known(&self, name: &str) -> bool {
        self.custom_index.contains_key(name)
            || self.broken.iter().any(|(n, _)| n == name)
            || name.split_once('-').is_some_and(|(platform, size)| {
                self.platforms.iter().any(|(p, _)| p == platform)
                    && self.sizes.iter().any(|(s, _)| s == size)
            })
    }

    pub fn builtin_names(&self) -> Vec<String> {
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
        if self.is_known(&full) {
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
        let mut files = self.layers_of(&name, &mut Vec::new())?;
        files.reverse();
        resolve_layers(name, &files)
    }

    /// The profiles `name` extends, nearest first, down to a built-in one
    /// (empty for a built-in profile). A broken chain ends where it breaks:
    /// resolving the profile reports it.
    pub fn extended_by(&self, name: &str) -> Vec<String> {
        let mut chain: Vec<String> = Vec::new();
        let mut current = name.to_owned();
        while let Some(file) = self.custom_file(&current) {
            let Some(parent) = file
                .layer
                .extends
                .as_ref()
                .and_then(|extends| self.canonical_name(&extends.value).ok())
            else {
                break;
            };
            if parent == name || chain.contains(&parent) {
                break;
            }
            chain.push(parent.clone());
            current = parent;
        }
        chain
    }

    /// The files of a profile, most specific first: a user profile's own
    /// file, then those of the profile it extends, down to the base.
    fn layers_of<'c>(
        &'c self,
        name: &str,
        visiting: &mut Vec<String>,
    ) -> Result<Vec<&'c ParsedFile>, ProfileError> {
        if let Some((_, error)) = self.broken.iter().find(|(n, _)| n == name) {
            return Err(ProfileError::Broken(error.clone()));
        }
        let Some(file) = self.custom_file(name) else {
            return Ok(self.builtin_layers(name).into_iter().rev().collect());
        };
        let extends = file
            .layer
            .extends
            .as_ref()
            .expect("user profiles are loaded only with extends");
        let line = extends.referenced.line();
        visiting.push(name.to_owned());
        let parent =
            self.canonical_name(&extends.value)
                .map_err(|_| ProfileError::MissingParent {
                    file: file.path.clone(),
                    line,
                    parent: extends.value.clone(),
                    known: self.names(),
                })?;
        if visiting.contains(&parent) {
            visiting.push(parent);
            return Err(ProfileError::Cycle {
                file: file.path.clone(),
                line,
                chain: visiting.join(" -> "),
            });
        }
        let mut files = vec![file];
        files.extend(self.layers_of(&parent, visiting)?);
        Ok(files)
    }

    /// base, platform, size of a built-in `<platform>-<size>` name.
    fn builtin_layers(&self, name: &str) -> [&ParsedFile; 3] {
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
        [
            &self.base,
            find(&self.platforms, platform),
            find(&self.sizes, size),
        ]
    }

    /// The settings the base is rendered from: `profiles/builtin/base.yaml` alone.
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
    let (mut settings, derived, origins) = resolve::resolve(&layers)?;
    // A built-in profile's second layer is its platform's file.
    let platform = PLATFORMS
        .iter()
        .zip(PLATFORM_FILES)
        .find(|(_, (path, _))| files.get(1).is_some_and(|file| file.path == *path))
        .map(|(platform, _)| *platform);
    validate::platform(&settings, platform, &Blame { origins: &origins })?;
    let prefix = &mut settings.backup.offsite.prefix;
    if prefix.is_empty() {
        prefix.clone_from(&name);
    }
    Ok(Profile {
        name,
        settings,
        derived,
        origins,
    })
}

/// A user profile file: UTF-8 YAML that extends another profile.
fn read_user_profile(path: &Path, display: &str) -> Result<ParsedFile, ProfileError> {
    let bytes = fs::read(path).map_err(|e| ProfileError::Directory {
        dir: display.to_owned(),
        reason: e.to_string(),
    })?;
    let text = String::from_utf8(bytes).map_err(|e| {
        let valid = &e.as_bytes()[..e.utf8_error().valid_up_to()];
        let line = valid.iter().filter(|&&b| b == b'\n').count() + 1;
        ProfileError::Parse {
            file: display.to_owned(),
            line: u64::try_from(line).unwrap_or(u64::MAX),
            column: 1,
            message: "not UTF-8 text; a profile file is UTF-8 YAML".to_owned(),
        }
    })?;
    let parsed = parse_file(display, &text)?;
    if parsed.layer.extends.is_none() {
        return Err(ProfileError::NoParent {
            file: display.to_owned(),
        });
    }
    Ok(parsed)
}

fn parse_file(path: &str, text: &str) -> Result<ParsedFile, ProfileError> {
    let layer: Layer = match serde_saphyr::from_str(text) {
        Ok(layer) => layer,
        // `---`, `~` or only comments: no settings, the same as an empty file.
        Err(_) if yaml_error::is_empty_document(text) => Layer::default(),
        Err(error) => return Err(error::parse_error(path, text, &error)),
    };
    Ok(ParsedFile {
        path: path.to_owned(),
        layer,
    })
}

/// A profile name is a directory name and part of object names: an RFC 1123
/// label short enough to leave room for suffixes.
fn is_profile_name(name: &str) -> bool {
    name.len() <= 53
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && crate::model::settings::is_dns_label(name)
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
