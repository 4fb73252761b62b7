use k8s_openapi::api::core::v1::{Service, ServicePort, ServiceSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::{APP_NAME, NAMESPACE, PORT, labels};

/// A headless Service: `postgres:5432` resolves to the pod, and it is the
/// StatefulSet's governing service, which gives `postgres-0.postgres`.
pub fn build() -> Service {
    Service {
        metadata: ObjectMeta {
            name: Some(APP_NAME.to_owned()),
            namespace: Some(NAMESPACE.to_owned()),
            labels: Some(labels::common()),
            ..Default::default()
        },
        spec: Some(ServiceSpec {
            cluster_ip: Some("None".to_owned()),
            selector: Some(labels::selector()),
            ports: Some(vec![ServicePort {
                name: Some("postgres".to_owned()),
                port: PORT,
                target_port: Some(IntOrString::String("postgres".to_owned())),
                protocol: Some("TCP".to_owned()),
                ..Default::default()
            }]),
            ..Default::default()
        }),
        ..Default::default()
    }
}
