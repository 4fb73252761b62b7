//! Resolved, validated settings of one profile: the single input of every
//! object builder and template, and the budget arithmetic derived from them.
//! How profile files become these settings is `profile::resolve`.

use std::collections::BTreeMap;
use std::fmt;

use serde::Serialize;

use crate::image::Image;
use crate::quantity::{Bytes, MilliCpu};

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
    pub engine: Engine,
    pub cloudnative_pg: CloudNativePg,
}

/// What runs PostgreSQL: palgen's own StatefulSets, or the CloudNativePG
/// operator from a `Cluster` object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
pub enum Engine {
    #[serde(rename = "statefulset")]
    StatefulSet,
    #[serde(rename = "cloudnative-pg")]
    CloudNativePg,
}

/// Settings only the `cloudnative-pg` engine reads.
#[derive(Debug, Clone, Serialize)]
pub struct CloudNativePg {
    /// A CloudNativePG operand image of the same major as `image`.
    pub image: Image,
    /// Namespace of the operator, admitted to the instances' status port.
    pub operator_namespace: String,
    /// A separate WAL volume; absent keeps WAL on the data volume.
    pub wal_size: Option<Bytes>,
    pub object_store: Option<ObjectStore>,
}

/// Where the Barman Cloud plugin archives WAL and base backups.
#[derive(Debug, Clone, Serialize)]
pub struct ObjectStore {
    /// `s3://bucket/prefix`, `gs://bucket/prefix` or
    /// `https://<account>.blob.core.windows.net/<container>/prefix`.
    pub destination: String,
    /// An S3-compatible server instead of AWS itself.
    pub endpoint: Option<String>,
    /// The cloud identity the database pods assume by workload identity:
    /// an IAM role ARN, a Google service account, an Azure client ID.
    pub identity: Option<String>,
}

/// The cloud an object-store destination belongs to, from its URL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cloud {
    S3,
    Google,
    Azure,
}

impl Cloud {
    pub fn of(destination: &str) -> Option<Cloud> {
        let bucket_and_path = |rest: &str| rest.split('/').next().is_some_and(|b| !b.is_empty());
        if let Some(rest) = destination.strip_prefix("s3://") {
            return bucket_and_path(rest).then_some(Cloud::S3);
        }
        if let Some(rest) = destination.strip_prefix("gs://") {
            return bucket_and_path(rest).then_some(Cloud::Google);
        }
        let rest = destination.strip_prefix("https://")?;
        let (host, path) = rest.split_once('/')?;
        (host.ends_with(".blob.core.windows.net") && bucket_and_path(path)).then_some(Cloud::Azure)
    }
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

impl Connections {
    // Saturating: absurd counts must reach the budget check, not overflow.
    pub fn app_pods(&self) -> u32 {
        self.web_pods.saturating_add(self.worker_pods)
    }

    /// Connections the application opens at most, before the safety margin.
    pub fn needed(&self) -> u32 {
        self.app_pods().saturating_mul(self.per_pod)
    }

    /// Connections needed including the safety margin, rounded up.
    pub fn needed_with_margin(&self) -> u32 {
        let with_margin = u64::from(self.needed()) * (100 + u64::from(self.safety_margin_percent));
        u32::try_from(with_margin.div_ceil(100)).unwrap_or(u32::MAX)
    }
}

impl Connections {
    /// The need as arithmetic: "(3 web + 3 worker pods) x 5 per pod = 30,
    /// +50% margin = 45".
    pub fn need_explained(&self) -> String {
        format!(
            "({} web + {} worker pods) x {} per pod = {}, +{}% margin = {}",
            self.web_pods,
            self.worker_pods,
            self.per_pod,
            self.needed(),
            self.safety_margin_percent,
            self.needed_with_margin()
        )
    }
}

impl Settings {
    /// What the server leaves the application, as arithmetic.
    pub fn available_explained(&self) -> String {
        let c = &self.connections;
        format!(
            "available {} (max_connections {} - {} reserved - {} for exporter and backup)",
            self.available_connections(),
            c.max_connections,
            c.superuser_reserved,
            self.tool_connections()
        )
    }

    /// Connections the tools of this profile hold: the metrics exporter and
    /// the backup job, one each.
    pub fn tool_connections(&self) -> u32 {
        u32::from(self.monitoring.exporter) + u32::from(self.backup.enabled)
    }

    /// Connections left for the application once superusers and tools have theirs.
    pub fn available_connections(&self) -> u32 {
        let c = &self.connections;
        c.max_connections
            .saturating_sub(c.superuser_reserved)
            .saturating_sub(self.tool_connections())
    }

    /// Whether the application is large enough to need a connection pool.
    pub fn uses_pgbouncer(&self) -> bool {
        self.connections.app_pods() >= self.pgbouncer.from_app_pods
    }

    /// Server connections each PgBouncer replica may open: every client
    /// (so one replica can carry the load while another restarts), but no
    /// more than an even share of what the server accepts.
    pub fn pgbouncer_pool_size(&self) -> u32 {
        let c = &self.connections;
        c.needed_with_margin()
            .min(self.available_connections() / self.pgbouncer.replicas.max(1))
    }

    /// Connections PostgreSQL must accept from the application side: the
    /// pool's total when PgBouncer stands in front, else the pods' own.
    pub fn server_connections(&self) -> u32 {
        if self.uses_pgbouncer() {
            self.pgbouncer_pool_size()
                .saturating_mul(self.pgbouncer.replicas)
        } else {
            self.connections.needed_with_margin()
        }
    }
}

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
