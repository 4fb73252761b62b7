//! The `cloudnative-pg` engine: instead of palgen's own StatefulSets,
//! PgBouncer Deployment and dump CronJob, custom resources that the
//! CloudNativePG operator and its Barman Cloud plugin turn into them.
//!
//! The CRDs are not in k8s-openapi (and the generated crate for them pins
//! another k8s-openapi), so each module types the fields palgen sets; the
//! tests validate them against CloudNativePG's own schemas.

mod cluster;
mod network_policy;
mod object_store;
pub mod parameters;
mod pod_monitor;
mod pooler;
mod scheduled_backup;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use std::collections::BTreeMap;

use serde_json::Value;

use super::{
    Feature, ObjectSet, Resource, certificate_objects, namespace, storage_class, to_value,
};
use crate::contract;
use crate::model::settings::Engine;
use crate::profile::Profile;

/// The Cluster; the operator names its pods, Services (`-rw`, `-ro`, `-r`)
/// and Secrets (`-app`) after it.
pub const CLUSTER: &str = contract::CNPG_CLUSTER;
/// The Pooler, and so its Service: the application keeps connecting to
/// `postgres:5432`, the address of the statefulset engine.
pub const POOLER: &str = contract::CNPG_POOLER;
pub const OBJECT_STORE: &str = contract::CNPG_OBJECT_STORE;
/// The Barman Cloud plugin, as the operator knows it.
pub const BARMAN_PLUGIN: &str = "barman-cloud.cloudnative-pg.io";
/// The Secret the operator generates for the initdb owner (basic-auth).
pub const APP_SECRET: &str = contract::CNPG_APP_SECRET;

/// Labels CloudNativePG puts on the pods it creates.
const CLUSTER_LABEL: &str = "cnpg.io/cluster";
const POOLER_LABEL: &str = "cnpg.io/poolerName";
/// The instance manager's status port, which the operator polls.
const STATUS_PORT: i32 = 8000;
/// Metrics ports of the instance manager and of the pooler.
const INSTANCE_METRICS_PORT: i32 = 9187;
const POOLER_METRICS_PORT: i32 = 9127;

fn cluster_pods() -> LabelSelector {
    match_labels(CLUSTER_LABEL, CLUSTER)
}

fn pooler_pods() -> LabelSelector {
    match_labels(POOLER_LABEL, POOLER)
}

fn match_labels(key: &str, value: &str) -> LabelSelector {
    LabelSelector {
        match_labels: Some(BTreeMap::from([(key.to_owned(), value.to_owned())])),
        ..Default::default()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum MigrationError {
    #[error(
        "profile {0}: engine is statefulset; migrate prints the Cluster of a profile with `engine: cloudnative-pg` (see README, Migrating to CloudNativePG)"
    )]
    NotCloudNativePg(String),
    #[error(
        "--from-service {0:?} is not a valid Service name (lower-case letters, digits and '-')"
    )]
    Service(String),
}

/// The Cluster that replaces a running statefulset deployment: the
/// profile's own, bootstrapped by importing the application database from
/// `source_service`.
pub fn migration(
    profile: &Profile,
    source_service: &str,
) -> Result<serde_json::Value, MigrationError> {
    if profile.settings.engine != Engine::CloudNativePg {
        return Err(MigrationError::NotCloudNativePg(profile.name.clone()));
    }
    if !crate::model::settings::is_dns_label(source_service) {
        return Err(MigrationError::Service(source_service.to_owned()));
    }
    Ok(to_value(&cluster::migration_cluster(
        profile,
        source_service,
    )))
}

pub fn build(profile: &Profile) -> ObjectSet {
    let settings = &profile.settings;
    let engine = |object: Value| Resource {
        feature: None,
        object,
    };
    let mut resources = vec![
        engine(to_value(&namespace::build())),
        engine(to_value(&cluster::build(profile))),
        engine(to_value(&pooler::build(
            settings,
            &profile.derived.connection_budget,
        ))),
        engine(to_value(&network_policy::instances(settings))),
        engine(to_value(&network_policy::pooler(settings))),
    ];
    resources.extend(
        certificate_objects(
            settings,
            contract::cnpg_server_dns_names(&settings.namespace),
        )
        .into_iter()
        .map(engine),
    );
    if let Some(class) = &settings.storage.provision {
        resources.push(Resource {
            feature: Some(Feature::StorageClass),
            object: to_value(&storage_class::build(&settings.storage.class, class)),
        });
    }
    // The Cluster's pods name the class: an overlay that defines it has it
    // whichever engine runs the database.
    let scheduling = &settings.scheduling;
    if scheduling.priority_class_value > 0 {
        resources.push(Resource {
            feature: Some(Feature::PriorityClass),
            object: to_value(&super::priority_class::build(
                &scheduling.priority_class_name,
                scheduling.priority_class_value,
            )),
        });
    }
    if let (true, Some(store)) = (
        settings.backup.enabled,
        &settings.cloudnative_pg.object_store,
    ) {
        resources.push(engine(to_value(&object_store::build(settings, store))));
        resources.push(engine(to_value(&scheduled_backup::build(settings))));
    }
    if settings.monitoring.service_monitor {
        resources.push(engine(to_value(&pod_monitor::instances())));
        resources.push(engine(to_value(&pod_monitor::pooler())));
    }
    ObjectSet {
        resources,
        config_maps: Vec::new(),
        namespace: super::moved_namespace(settings),
    }
}
