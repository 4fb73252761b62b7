use k8s_openapi::api::policy::v1::{PodDisruptionBudget, PodDisruptionBudgetSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::labels::{REPLICA, Workload};

fn budget(workload: Workload, rule: PodDisruptionBudgetSpec) -> PodDisruptionBudget {
    PodDisruptionBudget {
        metadata: workload.metadata(workload.app),
        spec: Some(PodDisruptionBudgetSpec {
            selector: Some(LabelSelector {
                match_labels: Some(workload.selector()),
                ..Default::default()
            }),
            ..rule
        }),
        ..Default::default()
    }
}

/// Node drains take replicas down one at a time, so reads keep a server.
/// The primary has none: a budget on a single pod would block every drain.
/// A replica that is not ready (lost the primary, crash-looping) may always
/// be evicted: it serves nothing, and counting it would block every drain.
pub fn replicas() -> PodDisruptionBudget {
    budget(
        REPLICA,
        PodDisruptionBudgetSpec {
            max_unavailable: Some(IntOrString::Int(1)),
            unhealthy_pod_eviction_policy: Some("AlwaysAllow".to_owned()),
            ..Default::default()
        },
    )
}

/// At least one PgBouncer stays up while nodes drain.
pub fn at_least_one(workload: Workload) -> PodDisruptionBudget {
    budget(
        workload,
        PodDisruptionBudgetSpec {
            min_available: Some(IntOrString::Int(1)),
            ..Default::default()
        },
    )
}
