//! A PostgreSQL container image reference and the major version it runs.
//!
//! The major version decides where the image keeps its data (the official
//! image moved PGDATA with 18) and which configuration parameters exist, so
//! it must be known from the reference itself.

use std::fmt;

use serde::{Serialize, Serializer};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Image {
    reference: String,
    major: u32,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ImageError {
    #[error("{0:?} is not an image reference: {1}")]
    Reference(String, String),
    #[error(
        "{0:?} is not a PostgreSQL image with a major version in its tag; write e.g. postgres:18 or postgres:18.1@sha256:<digest>"
    )]
    NoMajor(String),
    #[error(
        "{0:?}: its tag gives PostgreSQL major {1}; palgen supports {OLDEST_SUPPORTED_MAJOR} and newer (a tag that starts with another version, such as TimescaleDB's, names the major as -pgNN: 2.17.2-pg17)"
    )]
    TooOld(String, u32),
}

/// An image reference split as container runtimes read it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reference<'a> {
    pub repository: &'a str,
    pub tag: Option<&'a str>,
    pub digest: Option<&'a str>,
}

/// The longest repository name a registry accepts.
const NAME_MAX: usize = 255;
const TAG_MAX: usize = 128;
/// Digest algorithms and the length of their hex digest.
const DIGESTS: [(&str, usize); 3] = [("sha256", 64), ("sha384", 96), ("sha512", 128)];

/// Checks a reference against the grammar of the container runtimes
/// (distribution's `reference` package): `[host[:port]/]path[:tag][@digest]`,
/// path components lower-case letters and digits joined by `.`, `_`, `__`
/// or dashes, a tag of at most 128 word characters, dots and dashes not
/// starting with either, a digest `sha256:` and 64 lower-case hex digits.
pub fn parse_reference(text: &str) -> Result<Reference<'_>, String> {
    let (name_and_tag, digest) = match text.split_once('@') {
        Some((name, digest)) => (name, Some(digest)),
        None => (text, None),
    };
    if let Some(digest) = digest {
        let (algorithm, hex) = digest
            .split_once(':')
            .ok_or_else(|| format!("digest {digest:?} is not algorithm:hex"))?;
        let length = DIGESTS
            .iter()
            .find(|(name, _)| *name == algorithm)
            .map(|(_, length)| *length)
            .ok_or_else(|| {
                format!("digest algorithm {algorithm:?}; accepted: sha256, sha384, sha512")
            })?;
        let lower_hex = hex
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        if hex.len() != length || !lower_hex {
            return Err(format!(
                "a {algorithm} digest is {length} lower-case hex digits (repository:tag@{algorithm}:<digest>), found {hex:?}"
            ));
        }
        // Examples write one digit repeated for "your digest here"; no
        // image has it, so the pod could never pull it.
        if hex.bytes().all(|b| b == hex.as_bytes()[0]) {
            return Err(format!(
                "{digest} is a placeholder (one digit repeated), not an image's digest; write the real one, as `docker buildx imagetools inspect {name_and_tag}` prints it"
            ));
        }
    }
    let last_slash = name_and_tag.rfind('/').map_or(0, |i| i + 1);
    let (repository, tag) = match name_and_tag[last_slash..].rfind(':') {
        Some(colon) => {
            let colon = last_slash + colon;
            (&name_and_tag[..colon], Some(&name_and_tag[colon + 1..]))
        }
        None => (name_and_tag, None),
    };
    if let Some(tag) = tag {
        let word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
        let valid = tag.bytes().next().is_some_and(word)
            && tag.bytes().all(|b| word(b) || b == b'.' || b == b'-');
        if !valid || tag.len() > TAG_MAX {
            return Err(format!(
                "tag {tag:?}: at most {TAG_MAX} letters, digits, '_', '.' and '-', not starting with '.' or '-'"
            ));
        }
    }
    check_repository(repository)?;
    Ok(Reference {
        repository,
        tag,
        digest,
    })
}

fn check_repository(repository: &str) -> Result<(), String> {
    if repository.is_empty() {
        return Err("no repository name".to_owned());
    }
    if repository.len() > NAME_MAX {
        return Err(format!(
            "the repository name is longer than {NAME_MAX} characters"
        ));
    }
    // As the runtimes decide it: the first component is a registry host
    // when it has a dot, a port or is localhost (or upper case letters).
    let (host, path) = match repository.split_once('/') {
        Some((first, rest))
            if first.contains(['.', ':'])
                || first == "localhost"
                || first.bytes().any(|b| b.is_ascii_uppercase()) =>
        {
            (Some(first), rest)
        }
        _ => (None, repository),
    };
    if let Some(host) = host {
        // An IPv6 address is bracketed, and its colons are not the port's.
        let port_at = match host.rfind(']') {
            Some(bracket) => host[bracket..].find(':').map(|i| bracket + i),
            None => host.rfind(':'),
        };
        let (name, port) = match port_at {
            Some(colon) => (&host[..colon], Some(&host[colon + 1..])),
            None => (host, None),
        };
        let component_ok = |c: &str| {
            !c.is_empty()
                && c.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !c.starts_with('-')
                && !c.ends_with('-')
        };
        let name_ok =
            (name.starts_with('[') && name.ends_with(']')) || name.split('.').all(component_ok);
        let port_ok = port.is_none_or(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
        if !name_ok || !port_ok {
            return Err(format!("registry host {host:?} is not a host name[:port]"));
        }
    }
    if path.bytes().any(|b| b.is_ascii_uppercase()) {
        return Err(format!("repository {path:?} must be lower case"));
    }
    for component in path.split('/') {
        if !path_component_ok(component) {
            return Err(format!(
                "repository component {component:?}: lower-case letters and digits, separated by '.', '_', '__' or '-'"
            ));
        }
    }
    Ok(())
}

/// `[a-z0-9]+(([._]|__|-+)[a-z0-9]+)*`
fn path_component_ok(component: &str) -> bool {
    let alnum = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    let bytes = component.as_bytes();
    if bytes.is_empty() || !alnum(bytes[0]) || !alnum(bytes[bytes.len() - 1]) {
        return false;
    }
    let mut separator = String::new();
    for &b in bytes {
        if alnum(b) {
            let ok = separator.is_empty()
                || separator == "."
                || separator == "_"
                || separator == "__"
                || separator.bytes().all(|s| s == b'-');
            if !ok {
                return false;
            }
            separator.clear();
        } else if matches!(b, b'.' | b'_' | b'-') {
            separator.push(char::from(b));
        } else {
            return false;
        }
    }
    true
}

/// A reference that names one version: a tag other than `latest`, or a digest.
pub fn check_pinned(text: &str) -> Result<(), String> {
    let reference = parse_reference(text)?;
    match (reference.tag, reference.digest) {
        (_, Some(_)) => Ok(()),
        (Some(tag), None) if tag != "latest" => Ok(()),
        _ => Err(
            "not pinned; write repository:tag or repository@sha256:<digest>, not latest".to_owned(),
        ),
    }
}

/// The PostgreSQL major a tag names: a `pgNN` part (TimescaleDB's
/// `2.17.2-pg17`), else the number the tag starts with (`18`, `17.2-bookworm`,
/// and the pre-releases the official image publishes: `19beta1`, `18rc1`).
fn major_of_tag(tag: &str) -> Option<u32> {
    let from_marker = tag
        .split(['-', '_', '.'])
        .filter_map(|part| part.strip_prefix("pg"))
        .find_map(|digits| digits.parse().ok());
    from_marker.or_else(|| {
        let digits: String = tag.chars().take_while(char::is_ascii_digit).collect();
        let rest = without_pre_release(&tag[digits.len()..]);
        if rest.is_empty() || rest.starts_with(['.', '-', '_']) {
            digits.parse().ok()
        } else {
            None
        }
    })
}

/// What follows a pre-release marker and its number (`beta1-bookworm` gives
/// `-bookworm`), or `rest` itself when it does not start with one.
fn without_pre_release(rest: &str) -> &str {
    ["beta", "rc"]
        .iter()
        .find_map(|marker| rest.strip_prefix(marker))
        .and_then(|after| {
            let number = after.chars().take_while(char::is_ascii_digit).count();
            (number > 0).then(|| &after[number..])
        })
        .unwrap_or(rest)
}

/// The major that introduced initdb's `builtin` locale provider.
const BUILTIN_LOCALE_MAJOR: u32 = 17;
/// The cluster's encoding, collation and character type (see
/// [`Image::initdb_args`]).
pub const ENCODING: &str = "UTF8";
pub const LC_COLLATE: &str = "C";
pub const LC_CTYPE: &str = "C.UTF-8";
pub const BUILTIN_LOCALE: &str = "C.UTF-8";
/// The oldest major whose configuration palgen writes and tests.
const OLDEST_SUPPORTED_MAJOR: u32 = 15;

impl Image {
    pub fn major(&self) -> u32 {
        self.major
    }

    /// The directory the official image initialises, and where the data
    /// volume must therefore hold the cluster.
    pub fn data_directory(&self) -> String {
        if self.major >= 18 {
            format!("/var/lib/postgresql/{}/docker", self.major)
        } else {
            // The volume is mounted at .../data; a subdirectory keeps initdb
            // away from the filesystem's lost+found.
            "/var/lib/postgresql/data/pgdata".to_owned()
        }
    }

    /// initdb's options for a collation that does not change with the
    /// operating system's C library: a node running a newer image must not
    /// find its text indexes sorted by other rules. From 17 on, PostgreSQL's
    /// own `builtin` provider (C.UTF-8: code-point order, Unicode character
    /// classes); before, the `C` collation (byte order, which PostgreSQL
    /// compares itself) with a C.UTF-8 character type. ICU would change with
    /// the image's libicu instead.
    pub fn initdb_args(&self) -> String {
        let mut args =
            format!("--encoding={ENCODING} --lc-collate={LC_COLLATE} --lc-ctype={LC_CTYPE}");
        if self.has_builtin_locale() {
            args.push_str(&format!(
                " --locale-provider=builtin --builtin-locale={BUILTIN_LOCALE}"
            ));
        }
        args
    }

    /// Whether initdb has the `builtin` locale provider.
    pub fn has_builtin_locale(&self) -> bool {
        self.major >= BUILTIN_LOCALE_MAJOR
    }

    /// Where the data volume is mounted: the image's declared VOLUME.
    pub fn volume_mount_path(&self) -> &'static str {
        if self.major >= 18 {
            "/var/lib/postgresql"
        } else {
            "/var/lib/postgresql/data"
        }
    }
}

impl std::str::FromStr for Image {
    type Err = ImageError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let reference =
            parse_reference(text).map_err(|e| ImageError::Reference(text.to_owned(), e))?;
        let major = reference
            .tag
            .and_then(major_of_tag)
            .ok_or_else(|| ImageError::NoMajor(text.to_owned()))?;
        if major < OLDEST_SUPPORTED_MAJOR {
            return Err(ImageError::TooOld(text.to_owned(), major));
        }
        Ok(Image {
            reference: text.to_owned(),
            major,
        })
    }
}

impl fmt::Display for Image {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.reference)
    }
}

impl Serialize for Image {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn major_comes_from_the_tag() {
        let image: Image = "postgres:18".parse().unwrap();
        assert_eq!(image.major(), 18);
        assert_eq!(image.data_directory(), "/var/lib/postgresql/18/docker");
        assert_eq!(image.volume_mount_path(), "/var/lib/postgresql");
        let digest = format!(
            "registry.example:5000/db/postgres:17.2-bookworm@sha256:{}",
            "0123456789abcdef".repeat(4)
        );
        let image: Image = digest.parse().unwrap();
        assert_eq!(image.major(), 17);
        assert_eq!(image.volume_mount_path(), "/var/lib/postgresql/data");
    }

    #[test]
    fn major_of_tags_that_start_with_another_version() {
        let image: Image = "timescale/timescaledb:2.17.2-pg17".parse().unwrap();
        assert_eq!(image.major(), 17);
        let image: Image = "postgis/postgis:16-3.4".parse().unwrap();
        assert_eq!(image.major(), 16);
        assert_eq!(
            "timescale/timescaledb:2.17.2".parse::<Image>(),
            Err(ImageError::TooOld(
                "timescale/timescaledb:2.17.2".to_owned(),
                2
            ))
        );
        assert!(matches!(
            "postgres:18beta1x".parse::<Image>(),
            Err(ImageError::NoMajor(_))
        ));
    }

    #[test]
    fn pre_release_tags_name_their_major() {
        for (tag, major) in [
            ("postgres:19beta1", 19),
            ("postgres:18rc1", 18),
            ("postgres:19beta2-bookworm", 19),
            ("postgres:18rc1-alpine3.22", 18),
        ] {
            assert_eq!(tag.parse::<Image>().map(|i| i.major()), Ok(major), "{tag}");
        }
        for tag in ["postgres:19beta", "postgres:18rc", "postgres:19gamma1"] {
            assert!(
                matches!(tag.parse::<Image>(), Err(ImageError::NoMajor(_))),
                "{tag}"
            );
        }
    }

    #[test]
    fn references_follow_the_container_runtimes_grammar() {
        let digest = "0123456789abcdef".repeat(4);
        for good in [
            "postgres:18".to_owned(),
            "localhost:5000/db/postgres:18".to_owned(),
            "Registry.Example.com/db/postgres:18".to_owned(),
            "[::1]/postgres:18".to_owned(),
            "[::1]:5000/postgres:18".to_owned(),
            "registry.example/my_org/pg__x/post-gres:18".to_owned(),
            format!("postgres@sha256:{digest}"),
            format!("postgres:{}", "1".repeat(128)),
        ] {
            assert!(parse_reference(&good).is_ok(), "{good}");
        }
        for (bad, why) in [
            ("Postgres:18".to_owned(), "must be lower case"),
            ("library/Postgres:18".to_owned(), "must be lower case"),
            (format!("postgres:{}", "1".repeat(129)), "at most 128"),
            ("postgres:.18".to_owned(), "not starting with"),
            (
                format!("postgres@sha256:{}", "0123456789ABCDEF".repeat(4)),
                "lower-case hex",
            ),
            (
                format!("postgres@sha256:{}", "0".repeat(64)),
                "a placeholder",
            ),
            (
                format!("postgres@sha256:{}", "a".repeat(63)),
                "64 lower-case hex",
            ),
            (format!("postgres@md5:{digest}"), "accepted: sha256"),
            ("postgres-:18".to_owned(), "repository component"),
            ("postgres:".to_owned(), "tag"),
            ("".to_owned(), "no repository"),
            ("db/ postgres:18".to_owned(), "repository component"),
            (
                "registry.example:port/postgres:18".to_owned(),
                "registry host",
            ),
        ] {
            let error = parse_reference(&bad).expect_err(&bad);
            assert!(error.contains(why), "{bad}: {error}");
        }
        assert!(check_pinned("pgbouncer").is_err());
        assert!(check_pinned("pgbouncer:latest").is_err());
        assert!(check_pinned("ghcr.io/cloudnative-pg/pgbouncer:1.24.0").is_ok());
    }

    #[test]
    fn rejects_references_without_a_major() {
        for bad in [
            "postgres",
            "postgres:latest",
            "registry:5000/postgres",
            "postgres:14",
            "postgres:18@sha256:abc",
            "",
        ] {
            assert!(bad.parse::<Image>().is_err(), "{bad:?} was accepted");
        }
    }
}
