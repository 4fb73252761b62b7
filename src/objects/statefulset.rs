use k8s_openapi::api::apps::v1::{
    StatefulSet, StatefulSetPersistentVolumeClaimRetentionPolicy, StatefulSetSpec,
};
use k8s_openapi::api::core::v1::{
    Capabilities, ConfigMapVolumeSource, Container, ContainerPort, EmptyDirVolumeSource, EnvVar,
    ExecAction, PersistentVolumeClaim, PersistentVolumeClaimSpec, PodSecurityContext, PodSpec,
    PodTemplateSpec, Probe, ResourceRequirements, SeccompProfile, SecretVolumeSource,
    SecurityContext, Volume, VolumeMount, VolumeResourceRequirements,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use std::collections::BTreeMap;

use super::config::{CONFIG_FILE, CONFIG_MAP, INITDB_CONFIG_MAP};
use super::{
    APP_NAME, CREDENTIALS_SECRET, DATABASE, NAMESPACE, PORT, SUPERUSER_PASSWORD_KEY, labels,
};
use crate::settings::{Amounts, Settings};

/// The uid and gid of the `postgres` user in the official image; the data
/// files belong to it.
const POSTGRES_UID: i64 = 999;
pub const DATA_VOLUME: &str = "postgres-data";
const CONFIG_DIR: &str = "/etc/postgresql/config";
const CREDENTIALS_DIR: &str = "/etc/postgresql/credentials";
const SOCKET_DIR: &str = "/var/run/postgresql";
/// Enough for a fast shutdown (the image stops with SIGINT) to finish a
/// checkpoint of a busy database instead of being killed mid-way.
const TERMINATION_GRACE_SECONDS: i64 = 120;

pub fn build(settings: &Settings) -> StatefulSet {
    StatefulSet {
        metadata: ObjectMeta {
            name: Some(APP_NAME.to_owned()),
            namespace: Some(NAMESPACE.to_owned()),
            labels: Some(labels::common()),
            ..Default::default()
        },
        spec: Some(StatefulSetSpec {
            service_name: Some(APP_NAME.to_owned()),
            replicas: Some(1),
            selector: LabelSelector {
                match_labels: Some(labels::selector()),
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
                    labels: Some(labels::common()),
                    ..Default::default()
                }),
                spec: Some(pod_spec(settings)),
            },
            volume_claim_templates: Some(vec![data_claim(settings)]),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn pod_spec(settings: &Settings) -> PodSpec {
    PodSpec {
        service_account_name: Some(APP_NAME.to_owned()),
        automount_service_account_token: Some(false),
        enable_service_links: Some(false),
        termination_grace_period_seconds: Some(TERMINATION_GRACE_SECONDS),
        security_context: Some(PodSecurityContext {
            run_as_user: Some(POSTGRES_UID),
            run_as_group: Some(POSTGRES_UID),
            fs_group: Some(POSTGRES_UID),
            fs_group_change_policy: Some("OnRootMismatch".to_owned()),
            run_as_non_root: Some(true),
            seccomp_profile: Some(SeccompProfile {
                type_: "RuntimeDefault".to_owned(),
                ..Default::default()
            }),
            ..Default::default()
        }),
        containers: vec![postgres_container(settings)],
        volumes: Some(volumes(settings)),
        ..Default::default()
    }
}

fn postgres_container(settings: &Settings) -> Container {
    let image = &settings.image;
    let env = |name: &str, value: String| EnvVar {
        name: name.to_owned(),
        value: Some(value),
        ..Default::default()
    };
    let mount = |name: &str, path: &str, read_only: bool| VolumeMount {
        name: name.to_owned(),
        mount_path: path.to_owned(),
        read_only: read_only.then_some(true),
        ..Default::default()
    };
    Container {
        name: APP_NAME.to_owned(),
        image: Some(image.to_string()),
        image_pull_policy: Some("IfNotPresent".to_owned()),
        args: Some(vec![
            "-c".to_owned(),
            format!("config_file={CONFIG_DIR}/{CONFIG_FILE}"),
        ]),
        env: Some(vec![
            env("PGDATA", image.data_directory()),
            env("POSTGRES_DB", DATABASE.to_owned()),
            env("POSTGRES_USER", "postgres".to_owned()),
            env(
                "POSTGRES_PASSWORD_FILE",
                format!("{CREDENTIALS_DIR}/{SUPERUSER_PASSWORD_KEY}"),
            ),
        ]),
        ports: Some(vec![ContainerPort {
            name: Some("postgres".to_owned()),
            container_port: PORT,
            protocol: Some("TCP".to_owned()),
            ..Default::default()
        }]),
        resources: Some(resources(
            &settings.resources.requests,
            &settings.resources.limits,
        )),
        startup_probe: Some(pg_isready_probe(5, 10, 60)),
        liveness_probe: Some(pg_isready_probe(30, 10, 3)),
        readiness_probe: Some(pg_isready_probe(5, 5, 3)),
        security_context: Some(SecurityContext {
            allow_privilege_escalation: Some(false),
            privileged: Some(false),
            read_only_root_filesystem: Some(true),
            run_as_non_root: Some(true),
            run_as_user: Some(POSTGRES_UID),
            run_as_group: Some(POSTGRES_UID),
            capabilities: Some(Capabilities {
                drop: Some(vec!["ALL".to_owned()]),
                ..Default::default()
            }),
            ..Default::default()
        }),
        volume_mounts: Some(vec![
            mount(DATA_VOLUME, image.volume_mount_path(), false),
            mount("config", CONFIG_DIR, true),
            mount("initdb", "/docker-entrypoint-initdb.d", true),
            mount("credentials", CREDENTIALS_DIR, true),
            mount("run", SOCKET_DIR, false),
            mount("tmp", "/tmp", false),
            mount("shm", "/dev/shm", false),
        ]),
        ..Default::default()
    }
}

fn resources(requests: &Amounts, limits: &Amounts) -> ResourceRequirements {
    let amounts = |a: &Amounts| {
        BTreeMap::from([
            ("cpu".to_owned(), Quantity(a.cpu.to_string())),
            ("memory".to_owned(), Quantity(a.memory.to_string())),
        ])
    };
    ResourceRequirements {
        requests: Some(amounts(requests)),
        limits: Some(amounts(limits)),
        ..Default::default()
    }
}

/// The reference's probe: `pg_isready -U postgres` over the local socket.
fn pg_isready_probe(initial_delay: i32, period: i32, failure_threshold: i32) -> Probe {
    Probe {
        exec: Some(ExecAction {
            command: Some(["pg_isready", "-U", "postgres"].map(str::to_owned).to_vec()),
        }),
        initial_delay_seconds: Some(initial_delay),
        period_seconds: Some(period),
        timeout_seconds: Some(5),
        failure_threshold: Some(failure_threshold),
        ..Default::default()
    }
}

fn volumes(settings: &Settings) -> Vec<Volume> {
    let config_map = |volume: &str, config_map: &str| Volume {
        name: volume.to_owned(),
        config_map: Some(ConfigMapVolumeSource {
            name: config_map.to_owned(),
            ..Default::default()
        }),
        ..Default::default()
    };
    let empty_dir = |volume: &str, medium: Option<&str>, size: Option<String>| Volume {
        name: volume.to_owned(),
        empty_dir: Some(EmptyDirVolumeSource {
            medium: medium.map(str::to_owned),
            size_limit: size.map(Quantity),
        }),
        ..Default::default()
    };
    vec![
        config_map("config", CONFIG_MAP),
        config_map("initdb", INITDB_CONFIG_MAP),
        Volume {
            name: "credentials".to_owned(),
            secret: Some(SecretVolumeSource {
                secret_name: Some(CREDENTIALS_SECRET.to_owned()),
                // Readable by the postgres group (fsGroup), by nobody else.
                default_mode: Some(0o440),
                ..Default::default()
            }),
            ..Default::default()
        },
        empty_dir("run", None, None),
        empty_dir("tmp", None, None),
        empty_dir(
            "shm",
            Some("Memory"),
            Some(settings.postgres.shm_size.to_string()),
        ),
    ]
}

fn data_claim(settings: &Settings) -> PersistentVolumeClaim {
    PersistentVolumeClaim {
        metadata: ObjectMeta {
            name: Some(DATA_VOLUME.to_owned()),
            labels: Some(labels::selector()),
            ..Default::default()
        },
        spec: Some(PersistentVolumeClaimSpec {
            access_modes: Some(vec!["ReadWriteOnce".to_owned()]),
            storage_class_name: Some(settings.storage.class.clone()),
            resources: Some(VolumeResourceRequirements {
                requests: Some(BTreeMap::from([(
                    "storage".to_owned(),
                    Quantity(settings.storage.size.to_string()),
                )])),
                ..Default::default()
            }),
            ..Default::default()
        }),
        ..Default::default()
    }
}
