//! Who may reach the database pods and PgBouncer: pods of the Paless
//! application (labelled `app.kubernetes.io/part-of: paless`; PgBouncer and
//! the backup job carry it too) on the database port, and the Prometheus
//! namespace on the metrics port. A policy that selects pods for ingress
//! denies everything it does not list.

use std::collections::BTreeMap;

use k8s_openapi::api::networking::v1::{
    NetworkPolicy, NetworkPolicyIngressRule, NetworkPolicyPeer, NetworkPolicyPort,
    NetworkPolicySpec,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::labels::{DATABASE, REPLICA, Workload};
use crate::contract;
use crate::model::settings::Settings;

fn selector(labels: BTreeMap<String, String>) -> LabelSelector {
    LabelSelector {
        match_labels: Some(labels),
        ..Default::default()
    }
}

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

fn application_pods() -> NetworkPolicyPeer {
    NetworkPolicyPeer {
        pod_selector: Some(selector(BTreeMap::from([(
            contract::PART_OF_KEY.to_owned(),
            contract::PART_OF_VALUE.to_owned(),
        )]))),
        ..Default::default()
    }
}

fn policy(
    metadata: ObjectMeta,
    pods: BTreeMap<String, String>,
    ingress: Vec<NetworkPolicyIngressRule>,
) -> NetworkPolicy {
    NetworkPolicy {
        metadata,
        spec: Some(NetworkPolicySpec {
            pod_selector: Some(selector(pods)),
            policy_types: Some(vec!["Ingress".to_owned()]),
            ingress: Some(ingress),
            ..Default::default()
        }),
    }
}

/// Admits the application's pods, in this namespace, to one port.
pub fn admit_application(
    metadata: ObjectMeta,
    pods: BTreeMap<String, String>,
    port: i32,
) -> NetworkPolicy {
    policy(metadata, pods, vec![rule(application_pods(), port)])
}

/// The primary's policy. Replicas reach it for replication on the same port
/// as queries: the rule for them is explicit, and pg_hba.conf admits
/// replication connections for the replication role only.
pub fn primary(settings: &Settings) -> NetworkPolicy {
    let mut policy = database(settings, DATABASE);
    if settings.replication.read_replicas > 0 {
        let replicas = NetworkPolicyPeer {
            pod_selector: Some(selector(REPLICA.selector())),
            ..Default::default()
        };
        if let Some(spec) = policy.spec.as_mut() {
            spec.ingress
                .get_or_insert_with(Vec::new)
                .insert(1, rule(replicas, contract::DATABASE_PORT));
        }
    }
    policy
}

/// The replicas admit what the primary admits, except replication.
pub fn replicas(settings: &Settings) -> NetworkPolicy {
    database(settings, REPLICA)
}

fn database(settings: &Settings, workload: Workload) -> NetworkPolicy {
    let mut ingress = vec![rule(application_pods(), contract::DATABASE_PORT)];
    if settings.monitoring.exporter {
        let scraper = NetworkPolicyPeer {
            namespace_selector: Some(selector(BTreeMap::from([(
                "kubernetes.io/metadata.name".to_owned(),
                settings.monitoring.scraper_namespace.clone(),
            )]))),
            ..Default::default()
        };
        ingress.push(rule(scraper, contract::EXPORTER_PORT));
    }
    policy(
        workload.metadata(workload.app),
        workload.selector(),
        ingress,
    )
}
