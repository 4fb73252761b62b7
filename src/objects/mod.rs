//! The typed Kubernetes objects of one profile.
//!
//! Each submodule builds the objects of one kind or one workload from the
//! resolved settings; `build` gathers them into the object set that the
//! Kustomize tree and `palgen build` are both made from.

mod backup;
mod config;
mod disruption_budget;
pub mod labels;
mod namespace;
mod network_policy;
mod pgbouncer;
mod pod;
mod secret;
mod service;
mod service_account;
mod service_monitor;
mod statefulset;
mod storage_class;

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

use crate::profile::Profile;
use crate::tuning;

/// A ConfigMap whose data are generated files: Kustomize's
/// `configMapGenerator` makes it, with a content hash in its name, so a
/// change of any file rolls the pods that mount it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileConfigMap {
    pub name: &'static str,
    pub labels: BTreeMap<String, String>,
    pub files: BTreeMap<String, String>,
}

/// Everything one profile deploys.
#[derive(Debug, Clone)]
pub struct ObjectSet {
    /// Kubernetes objects as their API serialises them, in a stable order.
    pub resources: Vec<Value>,
    pub config_maps: Vec<FileConfigMap>,
}

impl ObjectSet {
    /// "Kind `name`" of every object, for a reader: generated ConfigMaps by
    /// the name they are generated from.
    pub fn inventory(&self) -> Vec<String> {
        let text = |v: &Value| v.as_str().unwrap_or_default().to_owned();
        let mut objects: Vec<String> = self
            .resources
            .iter()
            .map(|o| format!("{} `{}`", text(&o["kind"]), text(&o["metadata"]["name"])))
            .collect();
        objects.extend(self.config_maps.iter().map(|c| {
            format!(
                "ConfigMap `{}` (from {})",
                c.name,
                c.files.keys().cloned().collect::<Vec<_>>().join(", ")
            )
        }));
        objects
    }
}

fn to_value<T: Serialize>(object: &T) -> Value {
    serde_json::to_value(object).expect("Kubernetes objects serialise to JSON")
}

pub fn build(profile: &Profile) -> ObjectSet {
    let settings = &profile.settings;
    let tuning = tuning::derive(settings);
    let config_maps = config::file_config_maps(profile, &tuning);

    let mut resources = vec![
        to_value(&namespace::build()),
        to_value(&service_account::build()),
        to_value(&service::primary(settings)),
        to_value(&statefulset::primary(settings)),
        to_value(&network_policy::primary(settings)),
    ];
    if settings.replication.read_replicas > 0 {
        resources.push(to_value(&service::replicas(settings)));
        resources.push(to_value(&service::reads()));
        resources.push(to_value(&statefulset::replicas(settings)));
        resources.push(to_value(&network_policy::replicas(settings)));
        resources.push(to_value(&disruption_budget::replicas()));
    }
    if let Some(class) = &settings.storage.provision {
        resources.push(to_value(&storage_class::build(
            &settings.storage.class,
            class,
        )));
    }
    if settings.dev_credentials {
        resources.push(to_value(&secret::dev_credentials()));
    }
    if settings.monitoring.service_monitor {
        resources.push(to_value(&service_monitor::build()));
    }
    if settings.backup.enabled {
        resources.push(to_value(&backup::claim(settings)));
        resources.push(to_value(&backup::cron_job(settings)));
    }
    if settings.uses_pgbouncer() {
        resources.push(to_value(&pgbouncer::service_account()));
        resources.push(to_value(&pgbouncer::service()));
        resources.push(to_value(&pgbouncer::deployment(settings)));
        resources.push(to_value(&pgbouncer::network_policy()));
        resources.push(to_value(&disruption_budget::at_least_one(labels::POOLER)));
    }
    ObjectSet {
        resources,
        config_maps,
    }
}
