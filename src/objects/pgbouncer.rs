//! PgBouncer in front of the database once the application has enough pods
//! to exhaust its connections: a Deployment of at least two replicas, its
//! Service, NetworkPolicy, disruption budget and identity.

use k8s_openapi::api::apps::v1::{
    Deployment, DeploymentSpec, DeploymentStrategy, RollingUpdateDeployment,
};
use k8s_openapi::api::core::v1::{
    Container, ContainerPort, PodSpec, PodTemplateSpec, Probe, Service, ServiceAccount,
    ServicePort, ServiceSpec, TCPSocketAction,
};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::labels::POOLER;
use super::network_policy;
use super::pod::{self, PGBOUNCER_USER, Volumes};
use crate::contract;
use crate::contract::{PGBOUNCER_CONFIG_MAP, PGBOUNCER_FILE, PGBOUNCER_USERLIST_SCRIPT};
use crate::model::quantity::{Bytes, MilliCpu};
use crate::model::settings::{Amounts, Settings};

const CONFIG_DIR: &str = "/etc/pgbouncer/config";
const REQUESTS: Amounts = Amounts {
    memory: Bytes::mebibytes(32),
    cpu: MilliCpu::millicores(50),
};
const LIMITS: Amounts = Amounts {
    memory: Bytes::mebibytes(128),
    cpu: MilliCpu::millicores(500),
};

pub fn service_account() -> ServiceAccount {
    ServiceAccount {
        metadata: POOLER.metadata(POOLER.app),
        automount_service_account_token: Some(false),
        ..Default::default()
    }
}

/// Applications connect to `pgbouncer:5432` exactly as they would to
/// `postgres:5432`.
pub fn service() -> Service {
    Service {
        metadata: POOLER.metadata(POOLER.app),
        spec: Some(ServiceSpec {
            selector: Some(POOLER.selector()),
            ports: Some(vec![ServicePort {
                name: Some("postgres".to_owned()),
                port: contract::DATABASE_PORT,
                target_port: Some(IntOrString::String("pgbouncer".to_owned())),
                protocol: Some("TCP".to_owned()),
                ..Default::default()
            }]),
            ..Default::default()
        }),
        ..Default::default()
    }
}

pub fn network_policy() -> NetworkPolicy {
    network_policy::admit_application(
        POOLER.metadata(POOLER.app),
        POOLER.selector(),
        contract::PGBOUNCER_PORT,
    )
}

fn pooler_pods() -> LabelSelector {
    LabelSelector {
        match_labels: Some(POOLER.selector()),
        ..Default::default()
    }
}

pub fn deployment(settings: &Settings) -> Deployment {
    let tcp_probe = |initial_delay: i32| Probe {
        tcp_socket: Some(TCPSocketAction {
            port: IntOrString::String("pgbouncer".to_owned()),
            ..Default::default()
        }),
        initial_delay_seconds: Some(initial_delay),
        period_seconds: Some(10),
        timeout_seconds: Some(5),
        ..Default::default()
    };
    let spread = settings.pgbouncer.replicas > 1;
    let mut volumes = Volumes::default();
    let config = || pod::config_map_volume("config", PGBOUNCER_CONFIG_MAP);
    let auth = || pod::memory_dir("auth", "1Mi".to_owned());
    let userlist_mounts = vec![
        volumes.read_only(config(), CONFIG_DIR),
        pod::credential_mount(&mut volumes, contract::APP_PASSWORD_KEY),
        volumes.mount(auth(), contract::PGBOUNCER_AUTH_DIR),
    ];
    let mut pgbouncer_mounts = vec![
        volumes.read_only(config(), CONFIG_DIR),
        volumes.read_only(auth(), contract::PGBOUNCER_AUTH_DIR),
        volumes.mount(pod::empty_dir("run"), "/var/run/pgbouncer"),
        volumes.mount(pod::empty_dir("tmp"), "/tmp"),
    ];
    // PgBouncer serves TLS to the application with the database's
    // certificate (it carries the pgbouncer Service's names) and verifies
    // the server with its CA.
    if settings.tls.enabled {
        pgbouncer_mounts.push(pod::tls_mount(&mut volumes, &settings.tls.secret));
    }
    let userlist = Container {
        name: "userlist".to_owned(),
        image: Some(settings.pgbouncer.image.clone()),
        image_pull_policy: Some("IfNotPresent".to_owned()),
        command: Some(vec![
            "sh".to_owned(),
            format!("{CONFIG_DIR}/{PGBOUNCER_USERLIST_SCRIPT}"),
        ]),
        resources: Some(pod::resources(&REQUESTS, &LIMITS)),
        security_context: Some(pod::container_security(PGBOUNCER_USER)),
        volume_mounts: Some(userlist_mounts),
        ..Default::default()
    };
    let pgbouncer = Container {
        name: "pgbouncer".to_owned(),
        image: Some(settings.pgbouncer.image.clone()),
        image_pull_policy: Some("IfNotPresent".to_owned()),
        command: Some(vec![
            "pgbouncer".to_owned(),
            format!("{CONFIG_DIR}/{PGBOUNCER_FILE}"),
        ]),
        ports: Some(vec![ContainerPort {
            name: Some("pgbouncer".to_owned()),
            container_port: contract::PGBOUNCER_PORT,
            protocol: Some("TCP".to_owned()),
            ..Default::default()
        }]),
        resources: Some(pod::resources(&REQUESTS, &LIMITS)),
        liveness_probe: Some(tcp_probe(15)),
        readiness_probe: Some(tcp_probe(2)),
        security_context: Some(pod::container_security(PGBOUNCER_USER)),
        volume_mounts: Some(pgbouncer_mounts),
        ..Default::default()
    };
    Deployment {
        metadata: ObjectMeta {
            annotations: Some(pod::checkov_skips(&[
                pod::SKIP_IMAGE_DIGEST,
                pod::SKIP_PULL_ALWAYS,
                pod::SKIP_PGBOUNCER_UID,
            ])),
            ..POOLER.metadata(POOLER.app)
        },
        spec: Some(DeploymentSpec {
            replicas: Some(i32::try_from(settings.pgbouncer.replicas).unwrap_or(i32::MAX)),
            selector: LabelSelector {
                match_labels: Some(POOLER.selector()),
                ..Default::default()
            },
            strategy: Some(DeploymentStrategy {
                type_: Some("RollingUpdate".to_owned()),
                rolling_update: Some(RollingUpdateDeployment {
                    max_unavailable: Some(IntOrString::Int(0)),
                    max_surge: Some(IntOrString::Int(1)),
                }),
            }),
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(POOLER.labels()),
                    ..Default::default()
                }),
                spec: Some(PodSpec {
                    service_account_name: Some(POOLER.app.to_owned()),
                    automount_service_account_token: Some(false),
                    enable_service_links: Some(false),
                    security_context: Some(pod::pod_security(PGBOUNCER_USER)),
                    init_containers: Some(vec![userlist]),
                    containers: vec![pgbouncer],
                    volumes: Some(volumes.into_list()),
                    // Losing a node (or, on cloud profiles, a zone) leaves
                    // a pooler to connect through.
                    affinity: pod::affinity(&settings.scheduling, spread.then(pooler_pods)),
                    topology_spread_constraints: (spread && settings.scheduling.spread_zones)
                        .then(|| vec![pod::spread_over_zones(pooler_pods())]),
                    ..pod::scheduled(&settings.scheduling)
                }),
            },
            ..Default::default()
        }),
        ..Default::default()
    }
}
