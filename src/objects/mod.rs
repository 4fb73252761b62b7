//! The typed Kubernetes objects of one profile.
//!
//! Each submodule builds the objects of one kind or one workload from the
//! resolved settings; `build` gathers them into the object set that the
//! Kustomize tree and `palgen build` are both made from.

mod backup;
mod certificate;
pub mod cnpg;
mod config;
mod custom_resource;
mod disruption_budget;
pub mod labels;
mod namespace;
mod network_policy;
mod offsite;
mod pgbouncer;
mod pod;
mod priority_class;
mod prometheus_rule;
mod secret;
mod service;
mod service_account;
mod service_monitor;
mod statefulset;
mod storage_class;

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

use crate::contract;
use crate::model::settings::{CertificateSource, Engine, Settings};
use crate::profile::Profile;

/// An optional part of the deployment. The objects only a feature adds are
/// kept together in the tree as a Kustomize component, so an overlay lists
/// the feature instead of repeating its files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Feature {
    Backup,
    PgBouncer,
    ReadReplicas,
    StorageClass,
    PriorityClass,
    DevCredentials,
    ServiceMonitor,
}

impl Feature {
    /// The component directory's name.
    pub fn name(self) -> &'static str {
        match self {
            Feature::Backup => "backup",
            Feature::PgBouncer => "pgbouncer",
            Feature::ReadReplicas => "read-replicas",
            Feature::StorageClass => "storageclass",
            Feature::PriorityClass => "priorityclass",
            Feature::DevCredentials => "dev-credentials",
            Feature::ServiceMonitor => "service-monitor",
        }
    }
}

/// One Kubernetes object as its API serialises it, and the feature that
/// adds it (none for the objects every profile has).
#[derive(Debug, Clone, PartialEq)]
pub struct Resource {
    pub feature: Option<Feature>,
    pub object: Value,
}

/// A ConfigMap whose data are generated files: Kustomize's
/// `configMapGenerator` makes it, with a content hash in its name, so a
/// change of any file rolls the pods that mount it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileConfigMap {
    pub name: &'static str,
    pub feature: Option<Feature>,
    pub labels: BTreeMap<String, String>,
    pub files: BTreeMap<String, String>,
}

/// Everything one profile deploys.
#[derive(Debug, Clone, Default)]
pub struct ObjectSet {
    /// In a stable order, in the base's namespace (`contract::NAMESPACE`),
    /// as an overlay's patches see them.
    pub resources: Vec<Resource>,
    pub config_maps: Vec<FileConfigMap>,
    /// The namespace Kustomize moves every object to (the overlay's
    /// `namespace:` field); none keeps the base's.
    pub namespace: Option<String>,
}

impl ObjectSet {
    /// "Kind `name`" of every object, for a reader: generated ConfigMaps by
    /// the name they are generated from.
    pub fn inventory(&self) -> Vec<String> {
        let text = |v: &Value| v.as_str().unwrap_or_default().to_owned();
        let mut objects: Vec<String> = self
            .resources
            .iter()
            .map(|r| {
                let o = &r.object;
                let kind = text(&o["kind"]);
                // The Namespace is named as Kustomize renames it.
                let name = match (&self.namespace, kind.as_str()) {
                    (Some(moved), "Namespace") => moved.clone(),
                    _ => text(&o["metadata"]["name"]),
                };
                format!("{kind} `{name}`")
            })
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

    /// The features this set has, in order.
    pub fn features(&self) -> Vec<Feature> {
        let mut features: Vec<Feature> = self
            .resources
            .iter()
            .filter_map(|r| r.feature)
            .chain(self.config_maps.iter().filter_map(|c| c.feature))
            .collect();
        features.sort();
        features.dedup();
        features
    }

    /// Kubernetes objects without their features, for `palgen build`.
    pub fn objects(&self) -> impl Iterator<Item = &Value> {
        self.resources.iter().map(|r| &r.object)
    }
}

fn to_value<T: Serialize>(object: &T) -> Value {
    serde_json::to_value(object).expect("Kubernetes objects serialise to JSON")
}

/// The features a profile's object set has, in order, decided from its
/// settings without building it (`ObjectSet::features` of `build`'s set):
/// which components the overlays of many profiles list is known before any
/// is built.
pub fn features(profile: &Profile) -> Vec<Feature> {
    let settings = &profile.settings;
    let statefulset = settings.engine != Engine::CloudNativePg;
    [
        (Feature::Backup, statefulset && settings.backup.enabled),
        (
            Feature::PgBouncer,
            statefulset && profile.derived.connection_budget.uses_pgbouncer(),
        ),
        (
            Feature::ReadReplicas,
            statefulset && settings.replication.read_replicas > 0,
        ),
        (Feature::StorageClass, settings.storage.provision.is_some()),
        (
            Feature::PriorityClass,
            settings.scheduling.priority_class_value > 0,
        ),
        (
            Feature::DevCredentials,
            statefulset && settings.dev_credentials,
        ),
        (
            Feature::ServiceMonitor,
            statefulset && settings.monitoring.service_monitor,
        ),
    ]
    .into_iter()
    .filter_map(|(feature, present)| present.then_some(feature))
    .collect()
}

/// The objects of `profile`, built in the base's namespace. Values that
/// name the namespace inside an object (DNS names, alert expressions) name
/// the profile's, so moving the objects is all that remains.
pub fn build(profile: &Profile) -> ObjectSet {
    if profile.settings.engine == Engine::CloudNativePg {
        return cnpg::build(profile);
    }
    let settings = &profile.settings;
    let core = |object: Value| Resource {
        feature: None,
        object,
    };
    let mut resources = vec![
        core(to_value(&namespace::build())),
        core(to_value(&service_account::build())),
        core(to_value(&service::primary(settings))),
        core(to_value(&statefulset::primary(
            settings,
            &profile.derived.startup,
        ))),
        core(to_value(&network_policy::primary(settings))),
    ];
    resources.extend(server_certificate(profile).into_iter().map(core));
    let mut add = |feature: Feature, objects: Vec<Value>| {
        resources.extend(objects.into_iter().map(|object| Resource {
            feature: Some(feature),
            object,
        }));
    };
    if settings.replication.read_replicas > 0 {
        add(
            Feature::ReadReplicas,
            vec![
                to_value(&service::replicas(settings)),
                to_value(&service::reads()),
                to_value(&statefulset::replicas(settings, &profile.derived.startup)),
                to_value(&network_policy::replicas(settings)),
                to_value(&disruption_budget::replicas()),
            ],
        );
    }
    if let Some(class) = &settings.storage.provision {
        add(
            Feature::StorageClass,
            vec![to_value(&storage_class::build(
                &settings.storage.class,
                class,
            ))],
        );
    }
    let scheduling = &settings.scheduling;
    if scheduling.priority_class_value > 0 {
        add(
            Feature::PriorityClass,
            vec![to_value(&priority_class::build(
                &scheduling.priority_class_name,
                scheduling.priority_class_value,
            ))],
        );
    }
    if settings.dev_credentials {
        add(
            Feature::DevCredentials,
            vec![to_value(&secret::dev_credentials())],
        );
    }
    if settings.monitoring.service_monitor {
        add(
            Feature::ServiceMonitor,
            vec![
                to_value(&service_monitor::build()),
                to_value(&prometheus_rule::build(settings)),
            ],
        );
    }
    if settings.backup.enabled {
        add(
            Feature::Backup,
            vec![
                to_value(&offsite::service_account(&settings.backup.offsite)),
                to_value(&backup::claim(settings)),
                to_value(&backup::cron_job(settings)),
                to_value(&backup::restore_cron_job(settings)),
            ],
        );
    }
    if profile.derived.connection_budget.uses_pgbouncer() {
        add(
            Feature::PgBouncer,
            vec![
                to_value(&pgbouncer::service_account()),
                to_value(&pgbouncer::service()),
                to_value(&pgbouncer::deployment(settings)),
                to_value(&pgbouncer::network_policy()),
                to_value(&disruption_budget::at_least_one(labels::POOLER)),
            ],
        );
    }
    ObjectSet {
        resources,
        config_maps: config::file_config_maps(profile),
        namespace: moved_namespace(settings),
    }
}

/// The profile's namespace where it is not the base's: objects are built
/// in the base's, and the overlay moves them.
fn moved_namespace(settings: &Settings) -> Option<String> {
    (settings.namespace != contract::NAMESPACE).then(|| settings.namespace.clone())
}

/// The cert-manager objects that make the TLS Secret of the statefulset
/// engine's servers.
fn server_certificate(profile: &Profile) -> Vec<Value> {
    let settings = &profile.settings;
    certificate_objects(
        settings,
        contract::server_dns_names(
            &settings.namespace,
            settings.replication.read_replicas,
            profile.derived.connection_budget.uses_pgbouncer(),
        ),
    )
}

/// The cert-manager objects that make the TLS Secret for servers known by
/// `dns_names`, as the profile's certificate source asks: none when the
/// user provides it.
fn certificate_objects(settings: &Settings, dns_names: Vec<String>) -> Vec<Value> {
    if !settings.tls.enabled {
        return Vec::new();
    }
    let server = || to_value(&certificate::server(settings, dns_names.clone()));
    match settings.tls.source {
        CertificateSource::PrivateCa => vec![
            to_value(&certificate::self_signed_issuer()),
            to_value(&certificate::private_ca()),
            to_value(&certificate::private_ca_issuer()),
            server(),
        ],
        CertificateSource::Issuer => vec![server()],
        CertificateSource::Secret => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::derived;
    use crate::model::settings::ProvisionedClass;
    use crate::profile::Catalog;

    /// Every built-in profile on both engines, as it is and with each
    /// feature's setting turned the other way.
    #[test]
    fn features_decided_from_settings_are_those_of_the_built_set() {
        let catalog = Catalog::builtin().unwrap();
        let toggles: [fn(&mut Settings); 7] = [
            |_| {},
            |s| s.backup.enabled = !s.backup.enabled,
            |s| {
                s.pgbouncer.from_app_pods = if s.pgbouncer.from_app_pods > 1 {
                    1
                } else {
                    1000
                }
            },
            |s| {
                s.replication.read_replicas = if s.replication.read_replicas > 0 {
                    0
                } else {
                    1
                }
            },
            |s| {
                s.storage.provision = match s.storage.provision {
                    Some(_) => None,
                    None => Some(ProvisionedClass {
                        provisioner: "ebs.csi.aws.com".to_owned(),
                        parameters: BTreeMap::new(),
                    }),
                }
            },
            |s| s.dev_credentials = !s.dev_credentials,
            |s| s.monitoring.service_monitor = !s.monitoring.service_monitor,
        ];
        let mut seen = std::collections::BTreeSet::new();
        for name in catalog.builtin_names() {
            let resolved = catalog.resolve(&name).unwrap();
            for engine in [Engine::StatefulSet, Engine::CloudNativePg] {
                for (index, toggle) in toggles.iter().enumerate() {
                    let mut profile = resolved.clone();
                    profile.settings.engine = engine;
                    toggle(&mut profile.settings);
                    profile.derived = derived::derive(&profile.settings);
                    let built = build(&profile).features();
                    assert_eq!(
                        features(&profile),
                        built,
                        "{name}, {engine:?}, toggle {index}"
                    );
                    seen.extend(built);
                }
            }
        }
        assert_eq!(
            seen.len(),
            7,
            "every feature was present somewhere: {seen:?}"
        );
    }
}
