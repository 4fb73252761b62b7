//! NetworkPolicies for the pods CloudNativePG creates, selected by the
//! labels it gives them (`cnpg.io/cluster`, `cnpg.io/poolerName`). As with
//! the statefulset engine, only the application's pods reach PostgreSQL,
//! and the scraper namespace the metrics; the operator also polls each
//! instance's status port, and the instances replicate from each other.

use k8s_openapi::api::networking::v1::{
    NetworkPolicy, NetworkPolicyIngressRule, NetworkPolicyPeer, NetworkPolicyPort,
    NetworkPolicySpec,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::{
    CLUSTER, INSTANCE_METRICS_PORT, POOLER, POOLER_METRICS_PORT, STATUS_PORT, cluster_pods,
    match_labels, pooler_pods,
};
use crate::contract;
use crate::model::settings::Settings;
use crate::objects::labels::{self, DATABASE, POOLER as POOLER_WORKLOAD};

fn rule(from: NetworkPolicyPeer, port: i32) -> NetworkPolicyIngressRule {
    NetworkPolicyIngressRule {
        from: Some(vec![from]),
        ports: Some(vec![NetworkPolicyPort {
            port: Some(IntOrString::Int(port)),
            protocol: Some("TCP".to_owned()),
            ..Default::default()
        }]),
    }
}

fn pods(selector: LabelSelector) -> NetworkPolicyPeer {
    NetworkPolicyPeer {
        pod_selector: Some(selector),
        ..Default::default()
    }
}

fn namespace(name: &str) -> NetworkPolicyPeer {
    NetworkPolicyPeer {
        namespace_selector: Some(match_labels("kubernetes.io/metadata.name", name)),
        ..Default::default()
    }
}

fn application_pods() -> NetworkPolicyPeer {
    pods(match_labels(contract::PART_OF_KEY, contract::PART_OF_VALUE))
}

fn policy(
    name: String,
    workload: labels::Workload,
    selector: LabelSelector,
    ingress: Vec<NetworkPolicyIngressRule>,
) -> NetworkPolicy {
    NetworkPolicy {
        metadata: workload.metadata(&name),
        spec: Some(NetworkPolicySpec {
            pod_selector: Some(selector),
            policy_types: Some(vec!["Ingress".to_owned()]),
            ingress: Some(ingress),
            ..Default::default()
        }),
    }
}

pub fn instances(settings: &Settings) -> NetworkPolicy {
    let mut ingress = vec![
        rule(application_pods(), contract::DATABASE_PORT),
        rule(pods(pooler_pods()), contract::DATABASE_PORT),
        rule(pods(cluster_pods()), contract::DATABASE_PORT),
        rule(
            namespace(&settings.cloudnative_pg.operator_namespace),
            STATUS_PORT,
        ),
    ];
    if settings.monitoring.exporter {
        ingress.push(rule(
            namespace(&settings.monitoring.scraper_namespace),
            INSTANCE_METRICS_PORT,
        ));
    }
    policy(CLUSTER.to_owned(), DATABASE, cluster_pods(), ingress)
}

pub fn pooler(settings: &Settings) -> NetworkPolicy {
    let mut ingress = vec![rule(application_pods(), contract::DATABASE_PORT)];
    if settings.monitoring.exporter {
        ingress.push(rule(
            namespace(&settings.monitoring.scraper_namespace),
            POOLER_METRICS_PORT,
        ));
    }
    policy(
        format!("{POOLER}-pooler"),
        POOLER_WORKLOAD,
        pooler_pods(),
        ingress,
    )
}
