//! What `kubectl kustomize` prints for an object set: generated ConfigMaps
//! named with their content hash and referenced by that name, everything
//! moved to the set's namespace, in Kustomize's default (legacy) order.

use std::collections::BTreeMap;

use serde_json::Value;

use super::{hash, identity, namespace};
use crate::contract;
use crate::objects::ObjectSet;

/// The objects `kubectl kustomize` prints for this object set: generated
/// ConfigMaps named with their content hash and referenced by that name,
/// in Kustomize's default (legacy) order.
pub fn final_manifests(set: &ObjectSet) -> Vec<Value> {
    let renamed: BTreeMap<&str, String> = set
        .config_maps
        .iter()
        .map(|c| {
            (
                c.name,
                format!("{}-{}", c.name, hash::config_map_suffix(&c.files)),
            )
        })
        .collect();
    let mut manifests: Vec<Value> = set
        .config_maps
        .iter()
        .map(|c| {
            serde_json::json!({
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {
                    "name": renamed[c.name],
                    "namespace": contract::NAMESPACE,
                    "labels": c.labels,
                },
                "data": c.files,
            })
        })
        .collect();
    for object in set.objects() {
        let mut object = object.clone();
        rename_config_map_references(&mut object, &renamed);
        manifests.push(object);
    }
    if let Some(target) = &set.namespace {
        for object in &mut manifests {
            namespace::move_to(object, target);
        }
    }
    manifests.sort_by_key(legacy_order);
    manifests
}

pub(crate) fn rename_config_map_references(value: &mut Value, renamed: &BTreeMap<&str, String>) {
    match value {
        Value::Object(map) => {
            for (key, child) in map.iter_mut() {
                let is_reference = matches!(
                    key.as_str(),
                    "configMap" | "configMapRef" | "configMapKeyRef"
                );
                if let (true, Some(Value::String(name))) = (is_reference, child.get_mut("name"))
                    && let Some(new_name) = renamed.get(name.as_str())
                {
                    *name = new_name.clone();
                }
                rename_config_map_references(child, renamed);
            }
        }
        Value::Array(items) => items
            .iter_mut()
            .for_each(|item| rename_config_map_references(item, renamed)),
        _ => {}
    }
}

/// Kustomize's legacy sort: kinds in dependency order, other kinds by
/// group, version and kind, then by name.
pub(crate) fn legacy_order(object: &Value) -> (usize, String, String, String) {
    const FIRST: [&str; 22] = [
        "Namespace",
        "ResourceQuota",
        "StorageClass",
        "CustomResourceDefinition",
        "ServiceAccount",
        "PodSecurityPolicy",
        "Role",
        "ClusterRole",
        "RoleBinding",
        "ClusterRoleBinding",
        "ConfigMap",
        "Secret",
        "Endpoints",
        "Service",
        "LimitRange",
        "PriorityClass",
        "PersistentVolume",
        "PersistentVolumeClaim",
        "Deployment",
        "StatefulSet",
        "CronJob",
        "PodDisruptionBudget",
    ];
    const LAST: [&str; 2] = [
        "MutatingWebhookConfiguration",
        "ValidatingWebhookConfiguration",
    ];
    let (api_version, kind, namespace, name) = identity(object);
    let (group, version) = api_version.rsplit_once('/').unwrap_or(("", &api_version));
    let group_version_kind = format!("{group}_{version}_{kind}");
    let rank = FIRST
        .iter()
        .position(|k| *k == kind)
        .or_else(|| {
            LAST.iter()
                .position(|k| *k == kind)
                .map(|i| FIRST.len() + 2 + i)
        })
        .unwrap_or(FIRST.len() + 1);
    (rank, group_version_kind, namespace, name)
}
