//! The shape of one profile file, exactly as a user writes it.
//!
//! Every field is optional: a file sets only what it changes, and later
//! layers override earlier ones (base, platform, size, then custom files).
//! Leaves are `Spanned` so a rejected value can be reported with its line.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_saphyr::Spanned;

use crate::model::quantity::{Bytes, MilliCpu};

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Layer {
    /// Only in user profile files: the profile this one starts from.
    pub extends: Option<Spanned<String>>,
    pub description: Option<Spanned<String>>,
    /// The namespace every object is created in.
    pub namespace: Option<Spanned<String>>,
    pub image: Option<Spanned<String>>,
    #[serde(default)]
    pub storage: StorageLayer,
    #[serde(default)]
    pub resources: ResourcesLayer,
    #[serde(default)]
    pub connections: ConnectionsLayer,
    #[serde(default)]
    pub postgres: PostgresLayer,
    pub dev_credentials: Option<Spanned<bool>>,
    #[serde(default)]
    pub backup: BackupLayer,
    #[serde(default)]
    pub monitoring: MonitoringLayer,
    #[serde(default)]
    pub pgbouncer: PgBouncerLayer,
    #[serde(default)]
    pub replication: ReplicationLayer,
    #[serde(default)]
    pub scheduling: SchedulingLayer,
    pub engine: Option<Spanned<crate::model::settings::Engine>>,
    #[serde(default)]
    pub cloudnative_pg: CloudNativePgLayer,
    #[serde(default)]
    pub tls: TlsLayer,
    #[serde(default)]
    pub audit: AuditLayer,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditLayer {
    /// `none`, `ddl`, `mod` or `all`.
    pub log_statement: Option<Spanned<String>>,
    pub connections: Option<Spanned<bool>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsLayer {
    pub enabled: Option<Spanned<bool>>,
    /// `private-ca`, `issuer` or `secret`.
    pub source: Option<Spanned<String>>,
    pub secret: Option<Spanned<String>>,
    #[serde(default)]
    pub issuer: IssuerLayer,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IssuerLayer {
    pub name: Option<Spanned<String>>,
    pub kind: Option<Spanned<String>>,
    pub group: Option<Spanned<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CloudNativePgLayer {
    pub image: Option<Spanned<String>>,
    pub operator_namespace: Option<Spanned<String>>,
    pub wal_size: Option<Spanned<Bytes>>,
    pub backup_destination: Option<Spanned<String>>,
    pub backup_endpoint: Option<Spanned<String>>,
    pub backup_identity: Option<Spanned<String>>,
    pub backup_credentials_secret: Option<Spanned<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReplicationLayer {
    /// Hot standbys streaming from the primary; 0 runs the primary alone.
    pub read_replicas: Option<Spanned<u32>>,
    /// WAL the primary keeps for a replica that falls behind, at most.
    pub max_slot_wal_keep_size: Option<Spanned<Bytes>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SchedulingLayer {
    /// Spread database pods over zones (clusters whose nodes carry
    /// `topology.kubernetes.io/zone`).
    pub spread_zones: Option<Spanned<bool>>,
    /// Node labels the pods require; replaces the map of lower layers.
    pub node_selector: Option<Spanned<BTreeMap<String, String>>>,
    /// Taints the pods tolerate; replaces the list of lower layers.
    pub tolerations: Option<Spanned<Vec<crate::model::settings::Toleration>>>,
    pub priority_class_name: Option<Spanned<String>>,
    pub priority_class_value: Option<Spanned<i32>>,
    /// Replaces the node affinity of lower layers.
    pub node_affinity: Option<Spanned<crate::model::settings::NodeAffinity>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BackupLayer {
    pub enabled: Option<Spanned<bool>>,
    pub schedule: Option<Spanned<String>>,
    pub retention_days: Option<Spanned<u32>>,
    pub size: Option<Spanned<Bytes>>,
    #[serde(default)]
    pub offsite: OffsiteLayer,
}

/// `backup.offsite`: see `model::offsite::Offsite`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OffsiteLayer {
    pub provider: Option<Spanned<String>>,
    pub bucket: Option<Spanned<String>>,
    pub prefix: Option<Spanned<String>>,
    pub region: Option<Spanned<String>>,
    pub endpoint: Option<Spanned<String>>,
    pub account: Option<Spanned<String>>,
    pub role_arn: Option<Spanned<String>>,
    pub gcp_service_account: Option<Spanned<String>>,
    pub azure_client_id: Option<Spanned<String>>,
    pub credentials_secret: Option<Spanned<String>>,
    pub image: Option<Spanned<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MonitoringLayer {
    pub exporter: Option<Spanned<bool>>,
    pub exporter_image: Option<Spanned<String>>,
    pub service_monitor: Option<Spanned<bool>>,
    pub scraper_namespace: Option<Spanned<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PgBouncerLayer {
    /// PgBouncer is added once the application runs this many pods.
    pub from_app_pods: Option<Spanned<u32>>,
    pub replicas: Option<Spanned<u32>>,
    pub image: Option<Spanned<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StorageLayer {
    pub class: Option<Spanned<String>>,
    pub size: Option<Spanned<Bytes>>,
    /// Whether the class is SSD-backed, which changes the planner's cost model.
    pub ssd: Option<Spanned<bool>>,
    /// A StorageClass the overlay must define because the platform lacks
    /// it, or `false` to use a class the cluster already has.
    #[serde(default, deserialize_with = "provision_or_null")]
    pub provision: Option<Spanned<ProvisionLayer>>,
}

/// `provision: ~` is read as `false` rather than as an absent key: an absent
/// key inherits the base profile's class, which is the opposite of what
/// someone clearing the setting means.
fn provision_or_null<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<Spanned<ProvisionLayer>>, D::Error> {
    Spanned::deserialize(deserializer).map(Some)
}

/// `false`, or the class to define.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProvisionLayer {
    Off(bool),
    Class(ProvisionedClassLayer),
}

/// By hand rather than `untagged`, so that an unknown key inside the
/// mapping is still reported as such, with its line.
impl<'de> Deserialize<'de> for ProvisionLayer {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = ProvisionLayer;

            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("false, or a mapping with provisioner and parameters")
            }

            fn visit_bool<E: serde::de::Error>(self, value: bool) -> Result<ProvisionLayer, E> {
                Ok(ProvisionLayer::Off(value))
            }

            fn visit_unit<E: serde::de::Error>(self) -> Result<ProvisionLayer, E> {
                Ok(ProvisionLayer::Off(false))
            }

            fn visit_none<E: serde::de::Error>(self) -> Result<ProvisionLayer, E> {
                Ok(ProvisionLayer::Off(false))
            }

            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                map: A,
            ) -> Result<ProvisionLayer, A::Error> {
                ProvisionedClassLayer::deserialize(serde::de::value::MapAccessDeserializer::new(
                    map,
                ))
                .map(ProvisionLayer::Class)
            }
        }
        deserializer.deserialize_any(Visitor)
    }
}

#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ProvisionedClassLayer {
    pub provisioner: String,
    #[serde(default)]
    pub parameters: BTreeMap<String, String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResourcesLayer {
    pub guaranteed: Option<Spanned<bool>>,
    #[serde(default)]
    pub requests: AmountsLayer,
    #[serde(default)]
    pub limits: AmountsLayer,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AmountsLayer {
    pub memory: Option<Spanned<Bytes>>,
    pub cpu: Option<Spanned<MilliCpu>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConnectionsLayer {
    pub max_connections: Option<Spanned<u32>>,
    pub superuser_reserved: Option<Spanned<u32>>,
    pub web_pods: Option<Spanned<u32>>,
    pub worker_pods: Option<Spanned<u32>>,
    pub per_pod: Option<Spanned<u32>>,
    pub safety_margin_percent: Option<Spanned<u32>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PostgresLayer {
    pub slow_query_ms: Option<Spanned<u32>>,
    pub shm_size: Option<Spanned<Bytes>>,
    /// At most a quarter of the data volume; by default 4GB, scaled down.
    pub max_wal_size: Option<Spanned<Bytes>>,
}
