//! The database StatefulSets: the primary `postgres`, and, where the profile
//! asks for them, the hot standbys `postgres-replica` streaming from it.
//!
//! Two StatefulSets rather than one with ordinal-based roles: the primary
//! keeps its name, Service and volume whatever the replica count, Service
//! selectors tell primary from replicas by a label that never changes, and
//! the replicas scale without touching the primary.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{
    StatefulSet, StatefulSetPersistentVolumeClaimRetentionPolicy, StatefulSetSpec,
};
use k8s_openapi::api::core::v1::{
    Container, ContainerPort, EnvVar, EnvVarSource, ExecAction, HTTPGetAction, ObjectFieldSelector,
    PersistentVolumeClaim, PodSpec, PodTemplateSpec, Probe, VolumeMount,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{
    LabelSelector, LabelSelectorRequirement, ObjectMeta,
};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::labels::{DATABASE, REPLICA, Workload};
use super::pod::{self, POSTGRES_USER, Volumes};
use crate::contract;
use crate::contract::{
    CONFIG_FILE, CONFIG_MAP, INITDB_CONFIG_MAP, REPLICA_BOOTSTRAP_SCRIPT, REPLICA_READY_SCRIPT,
    REPLICA_SCRIPTS_CONFIG_MAP, TLS_RELOAD_SCRIPT,
};
use crate::model::quantity::{Bytes, MilliCpu};
use crate::model::recovery::{STARTUP_PERIOD_SECONDS, StartupBudget};
use crate::model::settings::{Amounts, Settings};

pub const DATA_VOLUME: &str = "postgres-data";
/// Enough for a fast shutdown (the image stops with SIGINT) to finish a
/// checkpoint of a busy database instead of being killed mid-way.
const TERMINATION_GRACE_SECONDS: i64 = 120;

const EXPORTER_REQUESTS: Amounts = Amounts {
    memory: Bytes::mebibytes(32),
    cpu: MilliCpu::millicores(25),
};
const EXPORTER_LIMITS: Amounts = Amounts {
    memory: Bytes::mebibytes(128),
    cpu: MilliCpu::millicores(200),
};
/// A shell that sleeps, and a psql now and then.
const TLS_RELOAD_REQUESTS: Amounts = Amounts {
    memory: Bytes::mebibytes(16),
    cpu: MilliCpu::millicores(5),
};
const TLS_RELOAD_LIMITS: Amounts = Amounts {
    memory: Bytes::mebibytes(32),
    cpu: MilliCpu::millicores(100),
};
/// How often the certificate is compared: a renewal is served within a
/// minute of the kubelet's update, 30 days before the old one expires.
const TLS_RELOAD_INTERVAL_SECONDS: u32 = 60;

/// What a database pod is: the primary, or a standby streaming from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Primary,
    Replica,
}

impl Role {
    fn workload(self) -> Workload {
        match self {
            Role::Primary => DATABASE,
            Role::Replica => REPLICA,
        }
    }

    fn service(self) -> &'static str {
        match self {
            Role::Primary => contract::DATABASE_SERVICE,
            Role::Replica => contract::REPLICA_SERVICE,
        }
    }
}

pub fn primary(settings: &Settings, startup: &StartupBudget) -> StatefulSet {
    build(settings, startup, Role::Primary)
}

pub fn replicas(settings: &Settings, startup: &StartupBudget) -> StatefulSet {
    build(settings, startup, Role::Replica)
}

fn build(settings: &Settings, startup: &StartupBudget, role: Role) -> StatefulSet {
    let workload = role.workload();
    let replicas = match role {
        Role::Primary => 1,
        Role::Replica => i32::try_from(settings.replication.read_replicas).unwrap_or(i32::MAX),
    };
    StatefulSet {
        metadata: ObjectMeta {
            annotations: Some(pod::checkov_skips(&[
                pod::SKIP_IMAGE_DIGEST,
                pod::SKIP_PULL_ALWAYS,
                pod::SKIP_POSTGRES_UID,
            ])),
            ..workload.metadata(workload.app)
        },
        spec: Some(StatefulSetSpec {
            service_name: Some(role.service().to_owned()),
            replicas: Some(replicas),
            // One replica at a time (the default, OrderedReady): each new
            // replica clones the primary with pg_basebackup, and two at once
            // would share the primary's disk and network.
            pod_management_policy: None,
            selector: LabelSelector {
                match_labels: Some(workload.selector()),
                ..Default::default()
            },
            persistent_volume_claim_retention_policy: Some(
                StatefulSetPersistentVolumeClaimRetentionPolicy {
                    when_deleted: Some("Retain".to_owned()),
                    when_scaled: Some("Retain".to_owned()),
                },
            ),
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(workload.labels()),
                    annotations: settings.monitoring.exporter.then(scrape_annotations),
                    ..Default::default()
                }),
                spec: Some(pod_spec(settings, startup, role)),
            },
            volume_claim_templates: Some(vec![data_claim(settings, workload)]),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// For Prometheus set up to discover pods by annotation.
fn scrape_annotations() -> BTreeMap<String, String> {
    BTreeMap::from([
        ("prometheus.io/scrape".to_owned(), "true".to_owned()),
        (
            "prometheus.io/port".to_owned(),
            contract::EXPORTER_PORT.to_string(),
        ),
        ("prometheus.io/path".to_owned(), "/metrics".to_owned()),
    ])
}

fn pod_spec(settings: &Settings, startup: &StartupBudget, role: Role) -> PodSpec {
    let mut volumes = Volumes::default();
    let mut containers = vec![postgres_container(settings, startup, role, &mut volumes)];
    if settings.monitoring.exporter {
        containers.push(exporter_container(settings, &mut volumes));
    }
    if settings.tls.enabled {
        containers.push(tls_reload_container(settings, &mut volumes));
    }
    let init_containers =
        (role == Role::Replica).then(|| vec![bootstrap_container(settings, &mut volumes)]);
    let replicated = settings.replication.read_replicas > 0;
    PodSpec {
        service_account_name: Some(DATABASE.app.to_owned()),
        automount_service_account_token: Some(false),
        enable_service_links: Some(false),
        termination_grace_period_seconds: Some(TERMINATION_GRACE_SECONDS),
        security_context: Some(pod::pod_security(POSTGRES_USER)),
        init_containers,
        containers,
        volumes: Some(volumes.into_list()),
        // Losing a node or a zone then loses one copy of the data.
        affinity: pod::affinity(&settings.scheduling, replicated.then(database_pods)),
        topology_spread_constraints: (replicated && settings.scheduling.spread_zones)
            .then(|| vec![pod::spread_over_zones(database_pods())]),
        ..pod::scheduled(&settings.scheduling)
    }
}

/// Every database pod, primary or replica.
fn database_pods() -> LabelSelector {
    LabelSelector {
        match_expressions: Some(vec![LabelSelectorRequirement {
            key: "app".to_owned(),
            operator: "In".to_owned(),
            values: Some(vec![DATABASE.app.to_owned(), REPLICA.app.to_owned()]),
        }]),
        ..Default::default()
    }
}

fn postgres_env(settings: &Settings) -> Vec<EnvVar> {
    vec![
        pod::env("PGDATA", settings.image.data_directory()),
        pod::env("POSTGRES_USER", contract::SUPERUSER),
        pod::env(
            "POSTGRES_PASSWORD_FILE",
            format!(
                "{}/{}",
                contract::CREDENTIALS_DIR,
                contract::SUPERUSER_PASSWORD_KEY
            ),
        ),
        pod::env("POSTGRES_CREDENTIALS_DIR", contract::CREDENTIALS_DIR),
        pod::env("POSTGRES_INITDB_ARGS", settings.image.initdb_args()),
    ]
}

fn postgres_container(
    settings: &Settings,
    startup: &StartupBudget,
    role: Role,
    volumes: &mut Volumes,
) -> Container {
    let image = &settings.image;
    let readiness = match role {
        Role::Primary => exec_probe(pg_isready(), 5, 5, 3),
        Role::Replica => exec_probe(
            vec![
                "sh".to_owned(),
                format!("{}/{REPLICA_READY_SCRIPT}", contract::REPLICA_SCRIPTS_DIR),
            ],
            5,
            5,
            3,
        ),
    };
    let mut mounts = vec![
        pod::mount(DATA_VOLUME, image.volume_mount_path()),
        volumes.read_only(
            pod::config_map_volume("config", CONFIG_MAP),
            contract::CONFIG_DIR,
        ),
        match role {
            Role::Primary => volumes.read_only(
                pod::config_map_volume("initdb", INITDB_CONFIG_MAP),
                contract::INITDB_DIR,
            ),
            Role::Replica => replica_scripts_mount(volumes),
        },
        match role {
            Role::Primary => pod::credentials_mount(volumes),
            // The image's entrypoint reads POSTGRES_PASSWORD_FILE; a clone
            // creates no roles.
            Role::Replica => pod::credential_mount(volumes, contract::SUPERUSER_PASSWORD_KEY),
        },
    ];
    if settings.tls.enabled {
        mounts.push(pod::tls_mount(volumes, &settings.tls.secret));
    }
    mounts.extend([
        volumes.mount(pod::empty_dir("run"), contract::SOCKET_DIR),
        volumes.mount(pod::empty_dir("tmp"), "/tmp"),
        volumes.mount(
            pod::memory_dir("shm", settings.postgres.shm_size.to_string()),
            "/dev/shm",
        ),
    ]);
    Container {
        name: DATABASE.app.to_owned(),
        image: Some(image.to_string()),
        image_pull_policy: Some("IfNotPresent".to_owned()),
        args: Some(vec![
            "-c".to_owned(),
            format!("config_file={}/{CONFIG_FILE}", contract::CONFIG_DIR),
        ]),
        env: Some(postgres_env(settings)),
        ports: Some(vec![ContainerPort {
            name: Some("postgres".to_owned()),
            container_port: contract::DATABASE_PORT,
            protocol: Some("TCP".to_owned()),
            ..Default::default()
        }]),
        resources: Some(pod::resources(
            &settings.resources.requests,
            &settings.resources.limits,
        )),
        startup_probe: Some(exec_probe(
            pg_isready_answers(),
            5,
            i32::try_from(STARTUP_PERIOD_SECONDS).unwrap_or(i32::MAX),
            startup.failure_threshold(),
        )),
        liveness_probe: Some(exec_probe(pg_isready_answers(), 30, 10, 3)),
        readiness_probe: Some(readiness),
        security_context: Some(pod::container_security(POSTGRES_USER)),
        volume_mounts: Some(mounts),
        ..Default::default()
    }
}

/// Clones the primary into an empty data volume before a replica starts.
fn bootstrap_container(settings: &Settings, volumes: &mut Volumes) -> Container {
    Container {
        name: "bootstrap".to_owned(),
        image: Some(settings.image.to_string()),
        image_pull_policy: Some("IfNotPresent".to_owned()),
        command: Some(vec![
            "sh".to_owned(),
            format!(
                "{}/{REPLICA_BOOTSTRAP_SCRIPT}",
                contract::REPLICA_SCRIPTS_DIR
            ),
        ]),
        env: Some(vec![
            pod::env("PGDATA", settings.image.data_directory()),
            pod::env("POSTGRES_CREDENTIALS_DIR", contract::CREDENTIALS_DIR),
            pod_name_env("REPLICA_NAME"),
        ]),
        resources: Some(pod::resources(
            &settings.resources.requests,
            &settings.resources.limits,
        )),
        security_context: Some(pod::container_security(POSTGRES_USER)),
        volume_mounts: Some(bootstrap_mounts(settings, volumes)),
        ..Default::default()
    }
}

/// With TLS, the CA the bootstrap verifies the primary with.
fn bootstrap_mounts(settings: &Settings, volumes: &mut Volumes) -> Vec<VolumeMount> {
    let mut mounts = vec![
        pod::mount(DATA_VOLUME, settings.image.volume_mount_path()),
        replica_scripts_mount(volumes),
        pod::credential_mount(volumes, contract::REPLICATION_PASSWORD_KEY),
    ];
    if settings.tls.enabled {
        mounts.push(pod::tls_ca_mount(volumes, &settings.tls.secret));
    }
    mounts.extend([
        volumes.mount(pod::empty_dir("run"), contract::SOCKET_DIR),
        volumes.mount(pod::empty_dir("tmp"), "/tmp"),
    ]);
    mounts
}

fn replica_scripts_mount(volumes: &mut Volumes) -> VolumeMount {
    volumes.read_only(
        pod::config_map_volume("replica-scripts", REPLICA_SCRIPTS_CONFIG_MAP),
        contract::REPLICA_SCRIPTS_DIR,
    )
}

/// The pod's own name, from the downward API.
fn pod_name_env(name: &str) -> EnvVar {
    EnvVar {
        name: name.to_owned(),
        value_from: Some(EnvVarSource {
            field_ref: Some(ObjectFieldSelector {
                field_path: "metadata.name".to_owned(),
                ..Default::default()
            }),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// A pod is Guaranteed only when every container's requests equal its
/// limits: a profile that asks that of the database gets it for the
/// sidecars (their `limits`, else their `requests`).
fn sidecar_requests(
    settings: &Settings,
    requests: &'static Amounts,
    limits: &'static Amounts,
) -> &'static Amounts {
    let database = &settings.resources;
    if database.requests.memory == database.limits.memory
        && database.requests.cpu == database.limits.cpu
    {
        limits
    } else {
        requests
    }
}

/// Reloads PostgreSQL when the mounted certificate changes (the script's
/// header says how and why): the postgres image, for its shell and psql,
/// as the server's OS user, with the pod's socket, the script and the
/// certificate (not its key).
fn tls_reload_container(settings: &Settings, volumes: &mut Volumes) -> Container {
    Container {
        name: "tls-reload".to_owned(),
        image: Some(settings.image.to_string()),
        image_pull_policy: Some("IfNotPresent".to_owned()),
        command: Some(vec![
            "sh".to_owned(),
            format!("{}/{TLS_RELOAD_SCRIPT}", contract::CONFIG_DIR),
        ]),
        env: Some(vec![pod::env(
            "RELOAD_INTERVAL_SECONDS",
            TLS_RELOAD_INTERVAL_SECONDS.to_string(),
        )]),
        resources: Some(pod::resources(
            sidecar_requests(settings, &TLS_RELOAD_REQUESTS, &TLS_RELOAD_LIMITS),
            &TLS_RELOAD_LIMITS,
        )),
        // Ready once the loop runs; alive while it goes round (five
        // intervals without a round restart it). Never a condition of the
        // database's own readiness beyond that first round.
        readiness_probe: Some(exec_probe(
            vec![
                "test".to_owned(),
                "-e".to_owned(),
                contract::TLS_RELOAD_HEARTBEAT.to_owned(),
            ],
            5,
            10,
            3,
        )),
        liveness_probe: Some(exec_probe(
            vec![
                "sh".to_owned(),
                "-c".to_owned(),
                format!(
                    "test -n \"$(find {} -mmin -{})\"",
                    contract::TLS_RELOAD_HEARTBEAT,
                    5 * TLS_RELOAD_INTERVAL_SECONDS / 60
                ),
            ],
            60,
            60,
            3,
        )),
        security_context: Some(pod::container_security(POSTGRES_USER)),
        volume_mounts: Some(vec![
            volumes.read_only(
                pod::config_map_volume("config", CONFIG_MAP),
                contract::CONFIG_DIR,
            ),
            pod::tls_certificate_mount(volumes, &settings.tls.secret),
            volumes.mount(pod::empty_dir("run"), contract::SOCKET_DIR),
            volumes.mount(pod::empty_dir("tmp"), "/tmp"),
        ]),
        ..Default::default()
    }
}

/// postgres_exporter beside the server: it reaches it over loopback with a
/// monitoring-only role.
fn exporter_container(settings: &Settings, volumes: &mut Volumes) -> Container {
    let http_probe = |initial_delay: i32| Probe {
        http_get: Some(HTTPGetAction {
            path: Some("/".to_owned()),
            port: IntOrString::String("metrics".to_owned()),
            ..Default::default()
        }),
        initial_delay_seconds: Some(initial_delay),
        period_seconds: Some(10),
        timeout_seconds: Some(5),
        ..Default::default()
    };
    Container {
        name: "postgres-exporter".to_owned(),
        image: Some(settings.monitoring.exporter_image.clone()),
        image_pull_policy: Some("IfNotPresent".to_owned()),
        env: Some(vec![
            pod::env(
                "DATA_SOURCE_URI",
                format!(
                    "localhost:{}/{}?{}",
                    contract::DATABASE_PORT,
                    contract::DATABASE,
                    exporter_ssl_parameters(settings)
                ),
            ),
            pod::env("DATA_SOURCE_USER", contract::EXPORTER_ROLE),
            pod::env(
                "DATA_SOURCE_PASS_FILE",
                format!(
                    "{}/{}",
                    contract::CREDENTIALS_DIR,
                    contract::EXPORTER_PASSWORD_KEY
                ),
            ),
        ]),
        ports: Some(vec![ContainerPort {
            name: Some("metrics".to_owned()),
            container_port: contract::EXPORTER_PORT,
            protocol: Some("TCP".to_owned()),
            ..Default::default()
        }]),
        resources: Some(pod::resources(
            sidecar_requests(settings, &EXPORTER_REQUESTS, &EXPORTER_LIMITS),
            &EXPORTER_LIMITS,
        )),
        liveness_probe: Some(http_probe(30)),
        readiness_probe: Some(http_probe(5)),
        security_context: Some(pod::container_security(POSTGRES_USER)),
        volume_mounts: Some({
            let mut mounts = vec![pod::credential_mount(
                volumes,
                contract::EXPORTER_PASSWORD_KEY,
            )];
            if settings.tls.enabled {
                mounts.push(pod::tls_ca_mount(volumes, &settings.tls.secret));
            }
            mounts
        }),
        ..Default::default()
    }
}

/// The exporter's TLS settings: over loopback too, the server admits only
/// TLS; `localhost` is one of the certificate's names for it.
fn exporter_ssl_parameters(settings: &Settings) -> String {
    if settings.tls.enabled {
        format!(
            "sslmode=verify-full&sslrootcert={}",
            contract::tls_ca_file()
        )
    } else {
        "sslmode=disable".to_owned()
    }
}

fn exec_probe(command: Vec<String>, initial_delay: i32, period: i32, failures: i32) -> Probe {
    Probe {
        exec: Some(ExecAction {
            command: Some(command),
        }),
        initial_delay_seconds: Some(initial_delay),
        period_seconds: Some(period),
        timeout_seconds: Some(5),
        failure_threshold: Some(failures),
        ..Default::default()
    }
}

/// The role the probes name. It does not exist and cannot be created
/// (PostgreSQL reserves the `pg_` prefix), so over the local socket the
/// server asks it for a password (pg_hba.conf) the probe does not have:
/// pg_isready counts that request as an answer, and the server logs
/// nothing of a client that hangs up there. Probing as `postgres` (`peer`)
/// logged a connection and a disconnection every few seconds.
const PROBE_ROLE: &str = "pg_probe";

/// The reference's probe, `pg_isready` over the local socket: exits 0 only
/// when the server accepts connections.
fn pg_isready() -> Vec<String> {
    ["pg_isready", "-U", PROBE_ROLE].map(str::to_owned).to_vec()
}

/// `pg_isready` that also passes on exit 1, "rejecting connections": the
/// server answers but is starting up, replaying WAL after a crash or
/// shutting down. A server in crash recovery is alive; killing it restarts
/// the replay from the start. Exit 2 (no answer) and 3 (no attempt) fail.
fn pg_isready_answers() -> Vec<String> {
    vec![
        "sh".to_owned(),
        "-c".to_owned(),
        format!("{}; test $? -le 1", pg_isready().join(" ")),
    ]
}

fn data_claim(settings: &Settings, workload: Workload) -> PersistentVolumeClaim {
    PersistentVolumeClaim {
        metadata: ObjectMeta {
            name: Some(DATA_VOLUME.to_owned()),
            labels: Some(workload.selector()),
            ..Default::default()
        },
        spec: Some(pod::claim_spec(
            &settings.storage.class,
            settings.storage.size,
        )),
        ..Default::default()
    }
}
