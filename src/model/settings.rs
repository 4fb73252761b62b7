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
    /// The namespace of every object; two profiles with different ones
    /// share a cluster.
    pub namespace: String,
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
    pub tls: Tls,
    pub audit: Audit,
}

/// What the server logs for an audit trail, beside errors and slow
/// statements (README: Audit logging).
#[derive(Debug, Clone, Serialize)]
pub struct Audit {
    pub log_statement: LogStatement,
    /// Every connection (who, from where, TLS or not) and its duration:
    /// `log_connections` and `log_disconnections`.
    pub connections: bool,
}

/// PostgreSQL's `log_statement`: which statements are logged in full.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LogStatement {
    None,
    /// CREATE, ALTER, DROP, GRANT, REVOKE and the like.
    Ddl,
    /// DDL and every statement that writes rows.
    Mod,
    All,
}

impl LogStatement {
    pub const NAMES: [&str; 4] = ["none", "ddl", "mod", "all"];

    pub fn name(self) -> &'static str {
        match self {
            LogStatement::None => Self::NAMES[0],
            LogStatement::Ddl => Self::NAMES[1],
            LogStatement::Mod => Self::NAMES[2],
            LogStatement::All => Self::NAMES[3],
        }
    }

    pub fn parse(text: &str) -> Option<LogStatement> {
        [
            LogStatement::None,
            LogStatement::Ddl,
            LogStatement::Mod,
            LogStatement::All,
        ]
        .into_iter()
        .find(|level| level.name() == text)
    }
}

/// TLS on every network connection to the database.
#[derive(Debug, Clone, Serialize)]
pub struct Tls {
    pub enabled: bool,
    pub source: CertificateSource,
    /// The `kubernetes.io/tls` Secret with `tls.crt`, `tls.key` and `ca.crt`.
    pub secret: String,
    /// The issuer of `source: issuer`. Left out of `show` without a name
    /// (any other source), where a profile may not set it.
    #[serde(skip_serializing_if = "IssuerRef::is_unset")]
    pub issuer: IssuerRef,
}

/// Where the server certificate comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CertificateSource {
    /// cert-manager, from a private CA that palgen's objects set up in the namespace.
    PrivateCa,
    /// cert-manager, from an issuer the cluster already has.
    Issuer,
    /// A Secret the user creates.
    Secret,
}

impl CertificateSource {
    pub const NAMES: [&str; 3] = ["private-ca", "issuer", "secret"];

    pub fn name(self) -> &'static str {
        match self {
            CertificateSource::PrivateCa => Self::NAMES[0],
            CertificateSource::Issuer => Self::NAMES[1],
            CertificateSource::Secret => Self::NAMES[2],
        }
    }

    pub fn parse(text: &str) -> Option<CertificateSource> {
        [
            CertificateSource::PrivateCa,
            CertificateSource::Issuer,
            CertificateSource::Secret,
        ]
        .into_iter()
        .find(|source| source.name() == text)
    }
}

/// A cert-manager issuer, as a Certificate's `issuerRef` names it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IssuerRef {
    /// Unset unless `source: issuer`.
    pub name: Option<String>,
    pub kind: String,
    pub group: String,
}

impl IssuerRef {
    fn is_unset(&self) -> bool {
        self.name.is_none()
    }
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
    /// Shown as the profile keys that set it (`backup_destination`, ...).
    #[serde(flatten)]
    pub object_store: Option<ObjectStore>,
}

/// Where the Barman Cloud plugin archives WAL and base backups.
#[derive(Debug, Clone, Serialize)]
pub struct ObjectStore {
    /// `s3://bucket/prefix`, `gs://bucket/prefix` or
    /// `https://<account>.blob.core.windows.net/<container>/prefix`.
    #[serde(rename = "backup_destination")]
    pub destination: String,
    /// An S3-compatible server instead of AWS itself.
    #[serde(rename = "backup_endpoint")]
    pub endpoint: Option<String>,
    /// The cloud identity the database pods assume by workload identity:
    /// an IAM role ARN, a Google service account, an Azure client ID.
    #[serde(rename = "backup_identity")]
    pub identity: Option<String>,
    /// A Secret with the access keys of an S3-compatible server (MinIO on
    /// k3s), where no workload identity exists.
    #[serde(rename = "backup_credentials_secret")]
    pub credentials_secret: Option<String>,
    /// The setting it comes from: `backup.offsite`, which both engines
    /// read, or the deprecated `cloudnative_pg.backup_destination`.
    #[serde(skip)]
    pub key: &'static str,
}

/// The setting of the object store both engines read.
pub const OFFSITE_KEY: &str = "backup.offsite";
/// The deprecated setting of the CloudNativePG engine's object store
/// (issue 17), read for one more release.
pub const DEPRECATED_DESTINATION_KEY: &str = "cloudnative_pg.backup_destination";

/// The cloud an object-store destination belongs to, from its URL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cloud {
    S3,
    Google,
    Azure,
}

impl Cloud {
    /// The object store, and the form of its URLs.
    pub fn describe(self) -> &'static str {
        match self {
            Cloud::S3 => "Amazon S3 (s3://BUCKET/PREFIX)",
            Cloud::Google => "Google Cloud Storage (gs://BUCKET/PREFIX)",
            Cloud::Azure => {
                "Azure Blob Storage (https://ACCOUNT.blob.core.windows.net/CONTAINER/PREFIX)"
            }
        }
    }

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
    /// Node labels the database, PgBouncer and backup pods require (a
    /// dedicated node pool).
    pub node_selector: BTreeMap<String, String>,
    /// Taints those pods tolerate.
    pub tolerations: Vec<Toleration>,
    /// Their PriorityClass; empty for the cluster's default.
    pub priority_class_name: String,
    /// Above 0: the overlay defines that PriorityClass with this value;
    /// 0: the cluster has it.
    pub priority_class_value: i32,
    /// Node affinity besides the node selector: expressions every node
    /// must match, and weighted ones the scheduler prefers.
    pub node_affinity: NodeAffinity,
}

/// `scheduling.node_affinity`, as a profile writes it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeAffinity {
    /// All must hold (one required node selector term).
    #[serde(default)]
    pub required: Vec<NodeRequirement>,
    /// Each adds its weight to the nodes it matches.
    #[serde(default)]
    pub preferred: Vec<NodePreference>,
}

impl NodeAffinity {
    pub fn is_empty(&self) -> bool {
        self.required.is_empty() && self.preferred.is_empty()
    }
}

/// A node label requirement, as Kubernetes writes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeRequirement {
    pub key: String,
    pub operator: NodeOperator,
    #[serde(default)]
    pub values: Vec<String>,
}

/// A preferred requirement and its weight (1-100).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodePreference {
    pub weight: i32,
    pub key: String,
    pub operator: NodeOperator,
    #[serde(default)]
    pub values: Vec<String>,
}

/// The operators of a node selector requirement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
pub enum NodeOperator {
    In,
    NotIn,
    Exists,
    DoesNotExist,
    Gt,
    Lt,
}

impl fmt::Display for NodeOperator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

/// A taint a pod tolerates, as Kubernetes writes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Toleration {
    /// Empty with `Exists`: every taint.
    #[serde(default)]
    pub key: String,
    #[serde(default)]
    pub operator: TolerationOperator,
    #[serde(default)]
    pub value: String,
    /// None: every effect.
    #[serde(default)]
    pub effect: Option<TaintEffect>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
pub enum TolerationOperator {
    #[default]
    Equal,
    Exists,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
pub enum TaintEffect {
    NoSchedule,
    PreferNoSchedule,
    NoExecute,
}

impl fmt::Display for TolerationOperator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TolerationOperator::Equal => "Equal",
            TolerationOperator::Exists => "Exists",
        })
    }
}

impl fmt::Display for TaintEffect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TaintEffect::NoSchedule => "NoSchedule",
            TaintEffect::PreferNoSchedule => "PreferNoSchedule",
            TaintEffect::NoExecute => "NoExecute",
        })
    }
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
    /// Requests equal to the limits, so the database pods are in the
    /// Guaranteed QoS class: the last a node under memory pressure evicts.
    pub guaranteed: bool,
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
    /// Set by the profile; else derived from the data volume.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_wal_size: Option<Bytes>,
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
