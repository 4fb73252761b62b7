//! Resolved, validated settings of one profile, as the profile files set
//! them. What is computed from them is `model::derived`; how profile files
//! become these settings is `profile::resolve`.

use std::collections::BTreeMap;
use std::fmt;

use serde::Serialize;

use crate::model::image::Image;
use crate::model::offsite::Offsite;
use crate::model::quantity::{Bytes, MilliCpu};

#[derive(Debug, Clone, Serialize)]
pub struct Settings {
    pub description: String,
    pub image: Image,
    pub storage: Storage,
    pub resources: Resources,
    pub connections: Connections,
    pub postgres: Postgres,
    pub dev_credentials: bool,
    pub backup: Backup,
    pub monitoring: Monitoring,
    pub pgbouncer: PgBouncer,
    pub replication: Replication,
    pub scheduling: Scheduling,
}

#[derive(Debug, Clone, Serialize)]
pub struct Replication {
    pub read_replicas: u32,
    pub max_slot_wal_keep_size: Bytes,
}

#[derive(Debug, Clone, Serialize)]
pub struct Scheduling {
    pub spread_zones: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct Backup {
    pub enabled: bool,
    pub schedule: String,
    pub retention_days: u32,
    pub size: Bytes,
    pub offsite: Offsite,
}

#[derive(Debug, Clone, Serialize)]
pub struct Monitoring {
    pub exporter: bool,
    pub exporter_image: String,
    pub service_monitor: bool,
    pub scraper_namespace: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct PgBouncer {
    pub from_app_pods: u32,
    pub replicas: u32,
    pub image: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Storage {
    pub class: String,
    pub size: Bytes,
    pub ssd: bool,
    pub provision: Option<ProvisionedClass>,
}

/// A StorageClass that the platform does not ship, so the overlay defines it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ProvisionedClass {
    pub provisioner: String,
    pub parameters: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Resources {
    pub requests: Amounts,
    pub limits: Amounts,
}

#[derive(Debug, Clone, Copy, Serialize)]
pub struct Amounts {
    pub memory: Bytes,
    pub cpu: MilliCpu,
}

#[derive(Debug, Clone, Serialize)]
pub struct Connections {
    pub max_connections: u32,
    pub superuser_reserved: u32,
    pub web_pods: u32,
    pub worker_pods: u32,
    pub per_pod: u32,
    pub safety_margin_percent: u32,
}

#[derive(Debug, Clone, Serialize)]
pub struct Postgres {
    pub slow_query_ms: u32,
    pub shm_size: Bytes,
}

/// Where one resolved value was written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Origin {
    pub file: String,
    pub line: u64,
    /// Position of the file among the profile's layers (later overrides earlier).
    #[serde(skip)]
    pub layer: usize,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.file, self.line)
    }
}

/// The origin of every resolved key, by dotted key path.
pub type Origins = BTreeMap<&'static str, Origin>;

/// RFC 1123 subdomain, as Kubernetes requires for most object names.
pub fn is_dns_subdomain(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|label| {
            !label.is_empty()
                && label
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        })
}

/// RFC 1123 label, as Kubernetes requires for namespace names.
pub fn is_dns_label(name: &str) -> bool {
    name.len() <= 63 && !name.contains('.') && is_dns_subdomain(name)
}
