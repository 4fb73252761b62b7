//! The CloudNativePG Cluster (`postgresql.cnpg.io/v1`): the primary and its
//! read replicas as instances of one object, with the profile's storage,
//! resources, PGTune parameters, first-start SQL, roles, scheduling and WAL
//! archiving through the Barman Cloud plugin.

use super::super::custom_resource::CustomResource;
use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{ResourceRequirements, TopologySpreadConstraint};
use serde::Serialize;

use super::{APP_SECRET, BARMAN_PLUGIN, CLUSTER, OBJECT_STORE, cluster_pods, parameters};
use crate::contract;
use crate::model::image;
use crate::model::quantity::Bytes;
use crate::model::settings::Cloud;
use crate::objects::labels::DATABASE;
use crate::objects::pod;
use crate::profile::Profile;
use crate::templates;

pub type Cluster = CustomResource<Spec>;

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Spec {
    instances: u32,
    image_name: String,
    image_pull_policy: &'static str,
    /// A PodDisruptionBudget for one instance would block every node drain.
    #[serde(rename = "enablePDB")]
    enable_pdb: bool,
    inherited_metadata: TemplateMetadata,
    #[serde(skip_serializing_if = "Option::is_none")]
    service_account_template: Option<ServiceAccountTemplate>,
    storage: Storage,
    #[serde(skip_serializing_if = "Option::is_none")]
    wal_storage: Option<Storage>,
    resources: ResourceRequirements,
    postgresql: Postgresql,
    bootstrap: Bootstrap,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    external_clusters: Vec<ExternalCluster>,
    managed: Managed,
    affinity: AffinityConfiguration,
    #[serde(skip_serializing_if = "Option::is_none")]
    topology_spread_constraints: Option<Vec<TopologySpreadConstraint>>,
    #[serde(skip_serializing_if = "String::is_empty")]
    priority_class_name: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    plugins: Vec<Plugin>,
    #[serde(skip_serializing_if = "Option::is_none")]
    certificates: Option<Certificates>,
    // What the operator's mutating webhook fills in when a Cluster leaves it
    // out, written as the operator would (tests/operators.rs compares),
    // so that the stored Cluster is the one palgen wrote.
    monitoring: Monitoring,
    probes: Probes,
    replication_slots: ReplicationSlots,
}

/// The operator's default metrics: its default queries on, no PodMonitor of
/// its own (palgen writes the PodMonitors where monitoring is on).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Monitoring {
    disable_default_queries: bool,
    enable_pod_monitor: bool,
}

#[derive(Serialize)]
struct Probes {
    liveness: Liveness,
}

/// A primary cut off from the API server and its replicas restarts itself
/// rather than keep accepting writes (the operator's default timeouts, ms).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Liveness {
    isolation_check: IsolationCheck,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct IsolationCheck {
    enabled: bool,
    request_timeout: u32,
    connection_timeout: u32,
}

/// Replicas keep the primary's logical replication slots in step.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ReplicationSlots {
    synchronize_replicas: Enabled,
}

#[derive(Serialize)]
struct Enabled {
    enabled: bool,
}

/// The server certificate: the TLS Secret the profile's `tls` settings make
/// (cert-manager, from the private CA or an issuer) or the user creates.
/// Its `ca.crt` is the CA clients verify the server with.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Certificates {
    #[serde(rename = "serverCASecret")]
    server_ca_secret: String,
    #[serde(rename = "serverTLSSecret")]
    server_tls_secret: String,
}

/// A reference to an object of the same namespace by name.
#[derive(Serialize)]
pub struct LocalRef {
    name: String,
}

impl LocalRef {
    pub fn to(name: &str) -> LocalRef {
        LocalRef {
            name: name.to_owned(),
        }
    }
}

/// Labels (and annotations) the operator copies onto what it creates.
#[derive(Serialize)]
pub struct TemplateMetadata {
    pub labels: BTreeMap<String, String>,
}

#[derive(Serialize)]
struct ServiceAccountTemplate {
    metadata: Annotations,
}

#[derive(Serialize)]
struct Annotations {
    annotations: BTreeMap<String, String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Storage {
    size: String,
    storage_class: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Postgresql {
    parameters: BTreeMap<String, String>,
    /// No constraint on which replicas may become synchronous.
    sync_replica_election_constraint: Enabled,
}

#[derive(Serialize)]
struct Bootstrap {
    initdb: InitDb,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct InitDb {
    database: &'static str,
    owner: &'static str,
    #[serde(rename = "postInitTemplateSQL")]
    post_init_template_sql: Vec<String>,
    /// A collation that does not change with the image's C library, as the
    /// statefulset engine's initdb (`Image::initdb_args`).
    encoding: &'static str,
    locale_collate: &'static str,
    #[serde(rename = "localeCType")]
    locale_ctype: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    locale_provider: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    builtin_locale: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    import: Option<Import>,
}

/// A logical import (pg_dump, pg_restore) of the application database from
/// a running server, once, when the Cluster is created.
#[derive(Serialize)]
struct Import {
    #[serde(rename = "type")]
    type_: &'static str,
    databases: Vec<&'static str>,
    source: ImportSource,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ImportSource {
    external_cluster: &'static str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ExternalCluster {
    name: &'static str,
    connection_parameters: BTreeMap<&'static str, String>,
    password: SecretKey,
}

#[derive(Serialize)]
struct SecretKey {
    name: &'static str,
    key: &'static str,
}

#[derive(Serialize)]
struct Managed {
    roles: Vec<Role>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Role {
    name: &'static str,
    ensure: &'static str,
    login: bool,
    connection_limit: u32,
    password_secret: LocalRef,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct AffinityConfiguration {
    enable_pod_anti_affinity: bool,
    pod_anti_affinity_type: &'static str,
    topology_key: &'static str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Plugin {
    name: &'static str,
    #[serde(rename = "isWALArchiver")]
    is_wal_archiver: bool,
    parameters: BTreeMap<&'static str, String>,
}

/// The external cluster a migration imports from.
const STATEFULSET_SOURCE: &str = "statefulset";

pub fn build(profile: &Profile) -> Cluster {
    let settings = &profile.settings;
    let builtin = settings.cloudnative_pg.image.has_builtin_locale();
    let instances = 1 + settings.replication.read_replicas;
    let storage = |size: Bytes| Storage {
        size: size.to_string(),
        storage_class: settings.storage.class.clone(),
    };
    let store = settings
        .cloudnative_pg
        .object_store
        .as_ref()
        .filter(|_| settings.backup.enabled);
    let workload_identity = store.and_then(|store| {
        let annotation = match Cloud::of(&store.destination)? {
            Cloud::S3 => "eks.amazonaws.com/role-arn",
            Cloud::Google => "iam.gke.io/gcp-service-account",
            Cloud::Azure => "azure.workload.identity/client-id",
        };
        Some((annotation, store.identity.clone()?))
    });
    let mut inherited = BTreeMap::from([(
        contract::PART_OF_KEY.to_owned(),
        contract::PART_OF_VALUE.to_owned(),
    )]);
    if store.is_some_and(|s| Cloud::of(&s.destination) == Some(Cloud::Azure)) {
        // Azure's webhook injects the federated token into labelled pods only.
        inherited.insert("azure.workload.identity/use".to_owned(), "true".to_owned());
    }
    Cluster {
        api_version: "postgresql.cnpg.io/v1",
        kind: "Cluster",
        metadata: DATABASE.metadata(CLUSTER),
        spec: Spec {
            instances,
            image_name: settings.cloudnative_pg.image.to_string(),
            image_pull_policy: "IfNotPresent",
            enable_pdb: instances > 1,
            inherited_metadata: TemplateMetadata { labels: inherited },
            service_account_template: workload_identity.map(|(key, value)| {
                ServiceAccountTemplate {
                    metadata: Annotations {
                        annotations: BTreeMap::from([(key.to_owned(), value)]),
                    },
                }
            }),
            storage: storage(settings.storage.size),
            wal_storage: settings.cloudnative_pg.wal_size.map(storage),
            resources: pod::resources(&settings.resources.requests, &settings.resources.limits),
            postgresql: Postgresql {
                parameters: parameters::parameters(profile),
                sync_replica_election_constraint: Enabled { enabled: false },
            },
            bootstrap: Bootstrap {
                initdb: InitDb {
                    database: contract::DATABASE,
                    owner: contract::APP_ROLE,
                    post_init_template_sql: template1_statements(profile),
                    encoding: image::ENCODING,
                    locale_collate: image::LC_COLLATE,
                    locale_ctype: image::LC_CTYPE,
                    locale_provider: builtin.then_some("builtin"),
                    builtin_locale: builtin.then_some(image::BUILTIN_LOCALE),
                    import: None,
                },
            },
            external_clusters: Vec::new(),
            managed: Managed {
                roles: vec![Role {
                    name: contract::APP_ROLE,
                    ensure: "present",
                    login: true,
                    connection_limit: profile.derived.connection_budget.available,
                    password_secret: LocalRef::to(APP_SECRET),
                }],
            },
            affinity: AffinityConfiguration {
                enable_pod_anti_affinity: true,
                pod_anti_affinity_type: "preferred",
                topology_key: "kubernetes.io/hostname",
            },
            topology_spread_constraints: settings.scheduling.spread_zones.then(|| {
                vec![TopologySpreadConstraint {
                    max_skew: 1,
                    topology_key: "topology.kubernetes.io/zone".to_owned(),
                    when_unsatisfiable: "ScheduleAnyway".to_owned(),
                    label_selector: Some(cluster_pods()),
                    ..Default::default()
                }]
            }),
            priority_class_name: settings.scheduling.priority_class_name.clone(),
            plugins: store
                .map(|_| Plugin {
                    name: BARMAN_PLUGIN,
                    is_wal_archiver: true,
                    // The archive's directory under the destination: the
                    // profile's name, so profiles that share a destination
                    // (two extending one) never share an archive.
                    parameters: BTreeMap::from([
                        ("barmanObjectName", OBJECT_STORE.to_owned()),
                        ("serverName", profile.name.clone()),
                    ]),
                })
                .into_iter()
                .collect(),
            certificates: settings.tls.enabled.then(|| Certificates {
                server_ca_secret: settings.tls.secret.clone(),
                server_tls_secret: settings.tls.secret.clone(),
            }),
            monitoring: Monitoring {
                disable_default_queries: false,
                enable_pod_monitor: false,
            },
            probes: Probes {
                liveness: Liveness {
                    isolation_check: IsolationCheck {
                        enabled: true,
                        request_timeout: 1000,
                        connection_timeout: 1000,
                    },
                },
            },
            replication_slots: ReplicationSlots {
                synchronize_replicas: Enabled { enabled: true },
            },
        },
    }
}

/// The statements of the generated template1 SQL, one per line.
fn template1_statements(profile: &Profile) -> Vec<String> {
    templates::render("cnpg-template1.sql", profile)
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with("--"))
        .map(str::to_owned)
        .collect()
}

/// The profile's Cluster, bootstrapped instead by importing the application
/// database from the statefulset engine's server, reached by its Service
/// and its superuser password in the existing credentials Secret.
pub fn migration_cluster(profile: &Profile, source_service: &str) -> Cluster {
    let mut cluster = build(profile);
    cluster.spec.bootstrap.initdb.import = Some(Import {
        type_: "microservice",
        databases: vec![contract::DATABASE],
        source: ImportSource {
            external_cluster: STATEFULSET_SOURCE,
        },
    });
    cluster.spec.external_clusters = vec![ExternalCluster {
        name: STATEFULSET_SOURCE,
        connection_parameters: BTreeMap::from([
            (
                "host",
                format!("{source_service}.{}.svc", profile.settings.namespace),
            ),
            ("port", contract::DATABASE_PORT.to_string()),
            ("user", "postgres".to_owned()),
            ("dbname", contract::DATABASE.to_owned()),
        ]),
        password: SecretKey {
            name: contract::CREDENTIALS_SECRET,
            key: contract::SUPERUSER_PASSWORD_KEY,
        },
    }];
    cluster
}
