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
    #[error(
        "{0:?} is not a PostgreSQL image with a major version in its tag; write e.g. postgres:18 or postgres:18.1@sha256:<digest>"
    )]
    NoMajor(String),
    #[error("{0:?} runs PostgreSQL {1}; palgen supports {OLDEST_SUPPORTED_MAJOR} and newer")]
    TooOld(String, u32),
}

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
        let invalid = || ImageError::NoMajor(text.to_owned());
        if text.is_empty() || text.chars().any(char::is_whitespace) {
            return Err(invalid());
        }
        let (name, digest) = match text.split_once('@') {
            Some((name, digest)) => (name, Some(digest)),
            None => (text, None),
        };
        if let Some(digest) = digest {
            let hex = digest.strip_prefix("sha256:").ok_or_else(invalid)?;
            if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(invalid());
            }
        }
        let last_segment_start = name.rfind('/').map_or(0, |i| i + 1);
        let tag = name[last_segment_start..]
            .split_once(':')
            .map(|(_, tag)| tag)
            .ok_or_else(invalid)?;
        let major_digits: String = tag.chars().take_while(char::is_ascii_digit).collect();
        let major: u32 = major_digits.parse().map_err(|_| invalid())?;
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
            "a".repeat(64)
        );
        let image: Image = digest.parse().unwrap();
        assert_eq!(image.major(), 17);
        assert_eq!(image.volume_mount_path(), "/var/lib/postgresql/data");
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
