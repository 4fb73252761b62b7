use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{
    StatefulSet, StatefulSetPersistentVolumeClaimRetentionPolicy, StatefulSetSpec,
};
use k8s_openapi::api::core::v1::{
    Container, ContainerPort, ExecAction, HTTPGetAction, PersistentVolumeClaim,
    PersistentVolumeClaimSpec, PodSpec, PodTemplateSpec, Probe, Volume, VolumeResourceRequirements,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::config::{CONFIG_FILE, CONFIG_MAP, INITDB_CONFIG_MAP};
use super::labels::DATABASE;
use super::pod::{self, POSTGRES_USER};
use crate::names;
use crate::quantity::{Bytes, MilliCpu};
use crate::settings::{Amounts, Settings};

pub const DATA_VOLUME: &str = "postgres-data";
const CONFIG_DIR: &str = "/etc/postgresql/config";
const SOCKET_DIR: &str = "/var/run/postgresql";
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

pub fn build(settings: &Settings) -> StatefulSet {
    StatefulSet {
        metadata: ObjectMeta {
            name: Some(DATABASE.app.to_owned()),
            namespace: Some(names::NAMESPACE.to_owned()),
            labels: Some(DATABASE.labels()),
            annotations: Some(pod::checkov_skips(&[
                pod::SKIP_IMAGE_DIGEST,
                pod::SKIP_POSTGRES_UID,
            ])),
            ..Default::default()
        },
        spec: Some(StatefulSetSpec {
            service_name: Some(names::DATABASE_SERVICE.to_owned()),
            replicas: Some(1),
            selector: LabelSelector {
                match_labels: Some(DATABASE.selector()),
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
                    labels: Some(DATABASE.labels()),
                    annotations: settings.monitoring.exporter.then(scrape_annotations),
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

/// For Prometheus set up to discover pods by annotation.
fn scrape_annotations() -> BTreeMap<String, String> {
    BTreeMap::from([
        ("prometheus.io/scrape".to_owned(), "true".to_owned()),
        (
            "prometheus.io/port".to_owned(),
            names::EXPORTER_PORT.to_string(),
        ),
        ("prometheus.io/path".to_owned(), "/metrics".to_owned()),
    ])
}

fn pod_spec(settings: &Settings) -> PodSpec {
    let mut containers = vec![postgres_container(settings)];
    if settings.monitoring.exporter {
        containers.push(exporter_container(settings));
    }
    PodSpec {
        service_account_name: Some(DATABASE.app.to_owned()),
        automount_service_account_token: Some(false),
        enable_service_links: Some(false),
        termination_grace_period_seconds: Some(TERMINATION_GRACE_SECONDS),
        security_context: Some(pod::pod_security(POSTGRES_USER)),
        containers,
        volumes: Some(volumes(settings)),
        ..Default::default()
    }
}

fn postgres_container(settings: &Settings) -> Container {
    let image = &settings.image;
    Container {
        name: DATABASE.app.to_owned(),
        image: Some(image.to_string()),
        image_pull_policy: Some("Always".to_owned()),
        args: Some(vec![
            "-c".to_owned(),
            format!("config_file={CONFIG_DIR}/{CONFIG_FILE}"),
        ]),
        env: Some(vec![
            pod::env("PGDATA", image.data_directory()),
            pod::env("POSTGRES_USER", "postgres"),
            pod::env(
                "POSTGRES_PASSWORD_FILE",
                format!(
                    "{}/{}",
                    names::CREDENTIALS_DIR,
                    names::SUPERUSER_PASSWORD_KEY
                ),
            ),
            pod::env("POSTGRES_CREDENTIALS_DIR", names::CREDENTIALS_DIR),
        ]),
        ports: Some(vec![ContainerPort {
            name: Some("postgres".to_owned()),
            container_port: names::DATABASE_PORT,
            protocol: Some("TCP".to_owned()),
            ..Default::default()
        }]),
        resources: Some(pod::resources(
            &settings.resources.requests,
            &settings.resources.limits,
        )),
        startup_probe: Some(pg_isready_probe(5, 10, 60)),
        liveness_probe: Some(pg_isready_probe(30, 10, 3)),
        readiness_probe: Some(pg_isready_probe(5, 5, 3)),
        security_context: Some(pod::container_security(POSTGRES_USER)),
        volume_mounts: Some(vec![
            pod::mount(DATA_VOLUME, image.volume_mount_path()),
            pod::read_only_mount("config", CONFIG_DIR),
            pod::read_only_mount("initdb", "/docker-entrypoint-initdb.d"),
            pod::credentials_mount(),
            pod::mount("run", SOCKET_DIR),
            pod::mount("tmp", "/tmp"),
            pod::mount("shm", "/dev/shm"),
        ]),
        ..Default::default()
    }
}

/// postgres_exporter beside the server: it reaches it over loopback with a
/// monitoring-only role.
fn exporter_container(settings: &Settings) -> Container {
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
        image_pull_policy: Some("Always".to_owned()),
        env: Some(vec![
            pod::env(
                "DATA_SOURCE_URI",
                format!(
                    "localhost:{}/{}?sslmode=disable",
                    names::DATABASE_PORT,
                    names::DATABASE
                ),
            ),
            pod::env("DATA_SOURCE_USER", names::EXPORTER_ROLE),
            pod::env(
                "DATA_SOURCE_PASS_FILE",
                format!(
                    "{}/{}",
                    names::CREDENTIALS_DIR,
                    names::EXPORTER_PASSWORD_KEY
                ),
            ),
        ]),
        ports: Some(vec![ContainerPort {
            name: Some("metrics".to_owned()),
            container_port: names::EXPORTER_PORT,
            protocol: Some("TCP".to_owned()),
            ..Default::default()
        }]),
        resources: Some(pod::resources(&EXPORTER_REQUESTS, &EXPORTER_LIMITS)),
        liveness_probe: Some(http_probe(30)),
        readiness_probe: Some(http_probe(5)),
        security_context: Some(pod::container_security(POSTGRES_USER)),
        volume_mounts: Some(vec![pod::credentials_mount()]),
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
    vec![
        pod::config_map_volume("config", CONFIG_MAP),
        pod::config_map_volume("initdb", INITDB_CONFIG_MAP),
        pod::credentials_volume(),
        pod::empty_dir("run"),
        pod::empty_dir("tmp"),
        pod::memory_dir("shm", settings.postgres.shm_size.to_string()),
    ]
}

fn data_claim(settings: &Settings) -> PersistentVolumeClaim {
    PersistentVolumeClaim {
        metadata: ObjectMeta {
            name: Some(DATA_VOLUME.to_owned()),
            labels: Some(DATABASE.selector()),
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
