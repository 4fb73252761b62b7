//! The Prometheus Operator's ServiceMonitor. It is a custom resource, not in
//! k8s-openapi, so its few fields are typed here.

use super::custom_resource::CustomResource;
use serde::Serialize;

use super::labels::DATABASE;

pub type ServiceMonitor = CustomResource<Spec>;

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Spec {
    selector: k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector,
    endpoints: Vec<Endpoint>,
}

#[derive(Serialize)]
struct Endpoint {
    port: &'static str,
    path: &'static str,
    interval: &'static str,
}

pub fn build() -> ServiceMonitor {
    ServiceMonitor {
        api_version: "monitoring.coreos.com/v1",
        kind: "ServiceMonitor",
        metadata: DATABASE.metadata(DATABASE.app),
        spec: Spec {
            selector: k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector {
                match_labels: Some(DATABASE.labels()),
                ..Default::default()
            },
            endpoints: vec![Endpoint {
                port: "metrics",
                path: "/metrics",
                interval: "30s",
            }],
        },
    }
}
