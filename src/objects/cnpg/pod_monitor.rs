//! PodMonitors for the Prometheus Operator: CloudNativePG exports metrics
//! from every instance and pooler pod, and leaves scraping to a PodMonitor
//! of the user's (its own `enablePodMonitor` is deprecated).

use super::super::custom_resource::CustomResource;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use serde::Serialize;

use super::{CLUSTER, POOLER, cluster_pods, pooler_pods};
use crate::objects::labels::{DATABASE, POOLER as POOLER_WORKLOAD};

pub type PodMonitor = CustomResource<Spec>;

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Spec {
    selector: LabelSelector,
    pod_metrics_endpoints: Vec<Endpoint>,
}

#[derive(Serialize)]
struct Endpoint {
    port: &'static str,
    interval: &'static str,
}

fn monitor(metadata: ObjectMeta, selector: LabelSelector) -> PodMonitor {
    PodMonitor {
        api_version: "monitoring.coreos.com/v1",
        kind: "PodMonitor",
        metadata,
        spec: Spec {
            selector,
            pod_metrics_endpoints: vec![Endpoint {
                port: "metrics",
                interval: "30s",
            }],
        },
    }
}

pub fn instances() -> PodMonitor {
    monitor(DATABASE.metadata(CLUSTER), cluster_pods())
}

pub fn pooler() -> PodMonitor {
    monitor(POOLER_WORKLOAD.metadata(POOLER), pooler_pods())
}
