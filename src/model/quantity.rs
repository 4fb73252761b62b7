//! Kubernetes resource quantities that can be compared and computed with.
//!
//! Profiles write memory as `512Mi` and CPU as `250m`; k8s-openapi keeps both
//! as free-form strings. These types parse once, reject what Kubernetes would
//! reject (or silently misread, like `10GB`), and print one canonical form so
//! the generated files never depend on how a profile spelled a value.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

const BINARY_UNITS: [(&str, u64); 5] = [
    ("Pi", 1 << 50),
    ("Ti", 1 << 40),
    ("Gi", 1 << 30),
    ("Mi", 1 << 20),
    ("Ki", 1 << 10),
];

const DECIMAL_UNITS: [(&str, u64); 5] = [
    ("P", 1_000_000_000_000_000),
    ("T", 1_000_000_000_000),
    ("G", 1_000_000_000),
    ("M", 1_000_000),
    ("k", 1_000),
];

/// An amount of memory or storage, in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Bytes(u64);

/// An amount of CPU, in millicores.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct MilliCpu(u64);

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum QuantityError {
    #[error(
        "{0:?} is not a byte quantity; write a whole number with a Kubernetes suffix such as 512Mi or 10Gi"
    )]
    Bytes(String),
    #[error("{0:?} is not a CPU quantity; write millicores such as 250m or whole cores such as 2")]
    Cpu(String),
}

impl Bytes {
    pub const fn from_bytes(bytes: u64) -> Self {
        Bytes(bytes)
    }

    pub const fn mebibytes(mib: u64) -> Self {
        Bytes(mib << 20)
    }

    pub const fn gibibytes(gib: u64) -> Self {
        Bytes(gib << 30)
    }

    pub fn as_bytes(self) -> u64 {
        self.0
    }

    /// The value in PostgreSQL's memory units (kB, MB, GB are powers of 1024),
    /// the largest unit that keeps it whole.
    pub fn to_postgres_units(self) -> String {
        let kb = self.0 / 1024;
        if kb > 0 && kb.is_multiple_of(1024 * 1024) {
            format!("{}GB", kb / (1024 * 1024))
        } else if kb > 0 && kb.is_multiple_of(1024) {
            format!("{}MB", kb / 1024)
        } else {
            format!("{kb}kB")
        }
    }
}

impl std::str::FromStr for Bytes {
    type Err = QuantityError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let invalid = || QuantityError::Bytes(text.to_owned());
        let digits_end = text
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(text.len());
        let (digits, suffix) = text.split_at(digits_end);
        if digits.is_empty() {
            return Err(invalid());
        }
        let number: u64 = digits.parse().map_err(|_| invalid())?;
        let multiplier = if suffix.is_empty() {
            1
        } else {
            BINARY_UNITS
                .iter()
                .chain(DECIMAL_UNITS.iter())
                .find(|(unit, _)| *unit == suffix)
                .map(|(_, factor)| *factor)
                .ok_or_else(invalid)?
        };
        number
            .checked_mul(multiplier)
            .map(Bytes)
            .ok_or_else(invalid)
    }
}

impl fmt::Display for Bytes {
    /// The exact unit with the smallest number, binary before decimal: `2T`
    /// stays `2T` although it is also a whole number of Ki.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let best = BINARY_UNITS
            .iter()
            .chain(DECIMAL_UNITS.iter())
            .filter(|(_, factor)| self.0 >= *factor && self.0.is_multiple_of(*factor))
            .min_by_key(|(_, factor)| self.0 / factor);
        match best {
            Some((unit, factor)) => write!(f, "{}{unit}", self.0 / factor),
            None => write!(f, "{}", self.0),
        }
    }
}

impl MilliCpu {
    pub const fn millicores(millicores: u64) -> Self {
        MilliCpu(millicores)
    }

    pub fn as_millicores(self) -> u64 {
        self.0
    }

    /// Whole cores available to the process, as PostgreSQL counts workers.
    pub fn whole_cores(self) -> u64 {
        self.0 / 1000
    }
}

impl std::str::FromStr for MilliCpu {
    type Err = QuantityError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let invalid = || QuantityError::Cpu(text.to_owned());
        if let Some(millis) = text.strip_suffix('m') {
            if millis.is_empty() || !millis.bytes().all(|b| b.is_ascii_digit()) {
                return Err(invalid());
            }
            return millis.parse().map(MilliCpu).map_err(|_| invalid());
        }
        let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
        let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        if whole.is_empty() || !all_digits(whole) || !all_digits(fraction) || fraction.len() > 3 {
            return Err(invalid());
        }
        let whole: u64 = whole.parse().map_err(|_| invalid())?;
        let fraction_millis: u64 = format!("{fraction:0<3}").parse().map_err(|_| invalid())?;
        whole
            .checked_mul(1000)
            .and_then(|m| m.checked_add(fraction_millis))
            .map(MilliCpu)
            .ok_or_else(invalid)
    }
}

impl fmt::Display for MilliCpu {
    /// Millicores, as profiles, messages and the READMEs spell CPU.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}m", self.0)
    }
}

impl MilliCpu {
    /// The form the API server stores (and GitOps tools compare with): whole
    /// cores where the value is whole, so `1000m` is written `1`; anything
    /// else stays in millicores. Manifests carry this form.
    pub fn to_kubernetes(self) -> String {
        match self.0 {
            millis if millis > 0 && millis.is_multiple_of(1_000_000) => {
                format!("{}k", millis / 1_000_000)
            }
            millis if millis.is_multiple_of(1000) => (millis / 1000).to_string(),
            millis => format!("{millis}m"),
        }
    }
}

macro_rules! string_serde {
    ($type:ty) => {
        impl Serialize for $type {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.collect_str(self)
            }
        }

        impl<'de> Deserialize<'de> for $type {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let text = String::deserialize(deserializer)?;
                text.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}

string_serde!(Bytes);

impl Serialize for MilliCpu {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_kubernetes())
    }
}

impl<'de> Deserialize<'de> for MilliCpu {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_parse_kubernetes_suffixes() {
        assert_eq!("512Mi".parse(), Ok(Bytes::mebibytes(512)));
        assert_eq!("10Gi".parse(), Ok(Bytes::gibibytes(10)));
        assert_eq!("1G".parse(), Ok(Bytes::from_bytes(1_000_000_000)));
        assert_eq!("4096".parse(), Ok(Bytes::from_bytes(4096)));
        for (text, bytes) in [
            ("1Ki", 1024),
            ("3Ti", 3 << 40),
            ("2Pi", 2 << 50),
            ("5k", 5_000),
            ("7M", 7_000_000),
            ("2T", 2_000_000_000_000),
            ("1P", 1_000_000_000_000_000),
        ] {
            assert_eq!(text.parse(), Ok(Bytes::from_bytes(bytes)), "{text}");
        }
    }

    #[test]
    fn bytes_reject_what_kubernetes_would_misread() {
        for bad in [
            "10GB",
            "",
            "Gi",
            "-1Gi",
            "1.5Gi",
            "10 Gi",
            "99999999999999999999",
        ] {
            assert!(bad.parse::<Bytes>().is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn bytes_print_canonically() {
        assert_eq!(Bytes::mebibytes(1024).to_string(), "1Gi");
        assert_eq!(Bytes::mebibytes(1536).to_string(), "1536Mi");
        assert_eq!(Bytes::from_bytes(1_000_000_000).to_string(), "1G");
        assert_eq!(Bytes::from_bytes(100).to_string(), "100");
        assert_eq!(Bytes::from_bytes(2048).to_string(), "2Ki");
        assert_eq!(Bytes::from_bytes(1 << 40).to_string(), "1Ti");
        assert_eq!(Bytes::from_bytes(3 << 50).to_string(), "3Pi");
        assert_eq!(Bytes::from_bytes(5_000).to_string(), "5k");
        assert_eq!(Bytes::from_bytes(2_000_000_000_000).to_string(), "2T");
    }

    #[test]
    fn bytes_in_postgres_units() {
        assert_eq!(Bytes::mebibytes(256).to_postgres_units(), "256MB");
        assert_eq!(Bytes::gibibytes(3).to_postgres_units(), "3GB");
        assert_eq!(
            Bytes::from_bytes(7_864 * 1024).to_postgres_units(),
            "7864kB"
        );
    }

    #[test]
    fn cpu_prints_as_the_api_server_stores_it() {
        // Each pair as kube-apiserver v1.37.2 stored it in a pod's limits.
        for (written, stored) in [
            ("1000m", "1"),
            ("4000m", "4"),
            ("0.5", "500m"),
            ("250m", "250m"),
            ("1500m", "1500m"),
            ("0.125", "125m"),
            ("2", "2"),
            ("0", "0"),
            ("5000", "5k"),
        ] {
            assert_eq!(written.parse::<MilliCpu>().unwrap().to_kubernetes(), stored);
        }
    }

    #[test]
    fn cpu_parses_millicores_and_cores() {
        assert_eq!("250m".parse(), Ok(MilliCpu(250)));
        assert_eq!("2".parse(), Ok(MilliCpu(2000)));
        assert_eq!("0.5".parse(), Ok(MilliCpu(500)));
        for bad in ["", "m", "1.2345", "-1", "1 core", "1e3"] {
            assert!(bad.parse::<MilliCpu>().is_err(), "{bad:?} was accepted");
        }
    }
}
