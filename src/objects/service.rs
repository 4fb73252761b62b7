use k8s_openapi::api::core::v1::{Service, ServicePort, ServiceSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::labels::DATABASE;
use crate::names;
use crate::settings::Settings;

fn port(name: &str, number: i32) -> ServicePort {
    ServicePort {
        name: Some(name.to_owned()),
        port: number,
        target_port: Some(IntOrString::String(name.to_owned())),
        protocol: Some("TCP".to_owned()),
        ..Default::default()
    }
}

/// A headless Service: `postgres:5432` resolves to the pod, and it is the
/// StatefulSet's governing service, which gives `postgres-0.postgres`.
pub fn build(settings: &Settings) -> Service {
    let mut ports = vec![port("postgres", names::DATABASE_PORT)];
    if settings.monitoring.exporter {
        ports.push(port("metrics", names::EXPORTER_PORT));
    }
    Service {
        metadata: ObjectMeta {
            name: Some(names::DATABASE_SERVICE.to_owned()),
            namespace: Some(names::NAMESPACE.to_owned()),
            labels: Some(DATABASE.labels()),
            ..Default::default()
        },
        spec: Some(ServiceSpec {
            cluster_ip: Some("None".to_owned()),
            selector: Some(DATABASE.selector()),
            ports: Some(ports),
            ..Default::default()
        }),
        ..Default::default()
    }
}
