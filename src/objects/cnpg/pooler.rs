//! The Pooler: PgBouncer in session mode in front of the primary, run by
//! the operator. Named `postgres`, its Service keeps the address the
//! application uses with the statefulset engine.

use super::super::custom_resource::CustomResource;
use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    Affinity, Container, PodAffinityTerm, PodAntiAffinity, PodSpec, TopologySpreadConstraint,
    WeightedPodAffinityTerm,
};
use serde::Serialize;

use super::cluster::{LocalRef, TemplateMetadata};
use super::{CLUSTER, POOLER, pooler_pods};
use crate::model::derived::Budget;
use crate::model::quantity::{Bytes, MilliCpu};
use crate::model::settings::{Amounts, Settings};
use crate::objects::labels::POOLER as POOLER_WORKLOAD;
use crate::objects::pod;

const REQUESTS: Amounts = Amounts {
    memory: Bytes::mebibytes(32),
    cpu: MilliCpu::millicores(50),
};
const LIMITS: Amounts = Amounts {
    memory: Bytes::mebibytes(128),
    cpu: MilliCpu::millicores(500),
};

pub type Pooler = CustomResource<Spec>;

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Spec {
    cluster: LocalRef,
    instances: u32,
    #[serde(rename = "type")]
    type_: &'static str,
    pgbouncer: PgBouncer,
    template: Template,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PgBouncer {
    pool_mode: &'static str,
    parameters: BTreeMap<String, String>,
}

#[derive(Serialize)]
struct Template {
    metadata: TemplateMetadata,
    spec: PodSpec,
}

pub fn build(settings: &Settings, budget: &Budget) -> Pooler {
    let pool = budget
        .pgbouncer
        .as_ref()
        .expect("the cloudnative-pg engine always pools connections");
    let spread_over_nodes = Affinity {
        pod_anti_affinity: Some(PodAntiAffinity {
            preferred_during_scheduling_ignored_during_execution: Some(vec![
                WeightedPodAffinityTerm {
                    weight: 100,
                    pod_affinity_term: PodAffinityTerm {
                        label_selector: Some(pooler_pods()),
                        topology_key: "kubernetes.io/hostname".to_owned(),
                        ..Default::default()
                    },
                },
            ]),
            ..Default::default()
        }),
        ..Default::default()
    };
    let spread_over_zones = settings.scheduling.spread_zones.then(|| {
        vec![TopologySpreadConstraint {
            max_skew: 1,
            topology_key: "topology.kubernetes.io/zone".to_owned(),
            when_unsatisfiable: "ScheduleAnyway".to_owned(),
            label_selector: Some(pooler_pods()),
            ..Default::default()
        }]
    });
    Pooler {
        api_version: "postgresql.cnpg.io/v1",
        kind: "Pooler",
        metadata: POOLER_WORKLOAD.metadata(POOLER),
        spec: Spec {
            cluster: LocalRef::to(CLUSTER),
            instances: settings.pgbouncer.replicas,
            type_: "rw",
            pgbouncer: PgBouncer {
                // Paperless relies on session state (advisory locks,
                // prepared statements): one server connection per client.
                pool_mode: "session",
                parameters: BTreeMap::from([
                    (
                        "max_client_conn".to_owned(),
                        pool.max_client_conn_per_replica.to_string(),
                    ),
                    (
                        "default_pool_size".to_owned(),
                        pool.pool_size_per_replica.to_string(),
                    ),
                ]),
            },
            template: Template {
                metadata: TemplateMetadata {
                    labels: POOLER_WORKLOAD.labels(),
                },
                spec: PodSpec {
                    containers: vec![Container {
                        name: "pgbouncer".to_owned(),
                        resources: Some(pod::resources(&REQUESTS, &LIMITS)),
                        ..Default::default()
                    }],
                    affinity: Some(spread_over_nodes),
                    topology_spread_constraints: spread_over_zones,
                    ..Default::default()
                },
            },
        },
    }
}
