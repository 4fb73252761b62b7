use k8s_openapi::api::core::v1::{Service, ServicePort, ServiceSpec};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::labels::{DATABASE, REPLICA};
use crate::contract;
use crate::model::settings::Settings;

fn port(name: &str, number: i32) -> ServicePort {
    ServicePort {
        name: Some(name.to_owned()),
        port: number,
        target_port: Some(IntOrString::String(name.to_owned())),
        protocol: Some("TCP".to_owned()),
        ..Default::default()
    }
}

/// The replicas' governing Service: gives `postgres-replica-N.postgres-replica`,
/// published even while a pod is not ready, so that a promoted replica (which
/// stops being a ready standby) stays reachable by name.
pub fn replicas(settings: &Settings) -> Service {
    let mut ports = vec![port("postgres", contract::DATABASE_PORT)];
    if settings.monitoring.exporter {
        ports.push(port("metrics", contract::EXPORTER_PORT));
    }
    Service {
        metadata: REPLICA.metadata(contract::REPLICA_SERVICE),
        spec: Some(ServiceSpec {
            cluster_ip: Some("None".to_owned()),
            selector: Some(REPLICA.selector()),
            publish_not_ready_addresses: Some(true),
            ports: Some(ports),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// A virtual IP that spreads read-only connections over the ready replicas.
pub fn reads() -> Service {
    Service {
        metadata: REPLICA.metadata(contract::READ_SERVICE),
        spec: Some(ServiceSpec {
            selector: Some(REPLICA.selector()),
            ports: Some(vec![port("postgres", contract::DATABASE_PORT)]),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// A headless Service: `postgres:5432` resolves to the primary pod, and it
/// is the primary's governing service, which gives `postgres-0.postgres`.
pub fn primary(settings: &Settings) -> Service {
    let mut ports = vec![port("postgres", contract::DATABASE_PORT)];
    if settings.monitoring.exporter {
        ports.push(port("metrics", contract::EXPORTER_PORT));
    }
    Service {
        metadata: DATABASE.metadata(contract::DATABASE_SERVICE),
        spec: Some(ServiceSpec {
            cluster_ip: Some("None".to_owned()),
            selector: Some(DATABASE.selector()),
            ports: Some(ports),
            ..Default::default()
        }),
        ..Default::default()
    }
}
