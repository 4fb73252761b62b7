//! The Kustomize tree: `base/` from the base object set, and one overlay per
//! profile holding only the difference between its object set and the base's.
//!
//! Because every overlay is derived from the two object sets, what
//! `kubectl kustomize` builds from it equals `palgen build` by construction;
//! the tests prove it with the real kustomize.

pub mod hash;
mod patch;

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

use crate::objects::{FileConfigMap, ObjectSet};
use crate::yaml;

pub const BASE_DIR: &str = "base";
pub const OVERLAYS_DIR: &str = "overlays";

/// Files of one kustomization directory, by file name.
pub type Directory = BTreeMap<String, String>;

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Kustomization<'a> {
    api_version: &'static str,
    kind: &'static str,
    resources: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    patches: Vec<PatchRef>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    config_map_generator: Vec<Generator<'a>>,
}

#[derive(Serialize)]
struct PatchRef {
    path: String,
}

#[derive(Serialize)]
struct Generator<'a> {
    name: &'a str,
    namespace: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    behavior: Option<&'static str>,
    files: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    options: Option<GeneratorOptions<'a>>,
}

#[derive(Serialize)]
struct GeneratorOptions<'a> {
    labels: &'a BTreeMap<String, String>,
}

impl<'a> Kustomization<'a> {
    fn new(resources: Vec<String>) -> Self {
        Kustomization {
            api_version: "kustomize.config.k8s.io/v1beta1",
            kind: "Kustomization",
            resources,
            patches: Vec::new(),
            config_map_generator: Vec::new(),
        }
    }
}

/// The identity Kustomize matches objects by.
fn identity(object: &Value) -> (String, String, String, String) {
    let text = |v: &Value| v.as_str().unwrap_or_default().to_owned();
    (
        text(&object["apiVersion"]),
        text(&object["kind"]),
        text(&object["metadata"]["namespace"]),
        text(&object["metadata"]["name"]),
    )
}

fn file_name(prefix: &str, object: &Value) -> String {
    let (_, kind, _, name) = identity(object);
    format!("{prefix}{}-{name}.yaml", kind.to_lowercase())
}

/// The base directory: every object as its own file, config as generators.
pub fn base_directory(base: &ObjectSet) -> Directory {
    let mut files = Directory::new();
    let mut kustomization = Kustomization::new(Vec::new());
    for object in &base.resources {
        let name = file_name("", object);
        files.insert(name.clone(), yaml::generated_document(object));
        kustomization.resources.push(name);
    }
    for config_map in &base.config_maps {
        kustomization.config_map_generator.push(generator(
            config_map,
            None,
            config_map.files.keys(),
        ));
        files.extend(config_map.files.clone());
    }
    files.insert(
        "kustomization.yaml".to_owned(),
        yaml::generated_document(&kustomization),
    );
    files
}

fn generator<'a>(
    config_map: &'a FileConfigMap,
    behavior: Option<&'static str>,
    files: impl Iterator<Item = &'a String>,
) -> Generator<'a> {
    Generator {
        name: config_map.name,
        namespace: crate::names::NAMESPACE,
        behavior,
        files: files.cloned().collect(),
        options: behavior.is_none().then_some(GeneratorOptions {
            labels: &config_map.labels,
        }),
    }
}

#[derive(Debug, thiserror::Error)]
#[error("an overlay cannot express the removal of generated ConfigMap {0}")]
pub struct OverlayError(String);

/// An overlay: the base plus the profile's own objects, patches for objects
/// that differ, and merged generators for config files that differ.
pub fn overlay_directory(base: &ObjectSet, profile: &ObjectSet) -> Result<Directory, OverlayError> {
    let mut files = Directory::new();
    let mut kustomization = Kustomization::new(vec![format!("../../{BASE_DIR}")]);

    for object in &profile.resources {
        match base
            .resources
            .iter()
            .find(|b| identity(b) == identity(object))
        {
            None => {
                let name = file_name("", object);
                files.insert(name.clone(), yaml::generated_document(object));
                kustomization.resources.push(name);
            }
            Some(base_object) => {
                if let Some(patch) = patch::strategic_merge_patch(base_object, object) {
                    let name = file_name("patch-", object);
                    files.insert(name.clone(), yaml::generated_document(&patch));
                    kustomization.patches.push(PatchRef { path: name });
                }
            }
        }
    }
    for base_object in &base.resources {
        if !profile
            .resources
            .iter()
            .any(|o| identity(o) == identity(base_object))
        {
            let name = file_name("delete-", base_object);
            files.insert(
                name.clone(),
                yaml::generated_document(&patch::delete_patch(base_object)),
            );
            kustomization.patches.push(PatchRef { path: name });
        }
    }

    for config_map in &profile.config_maps {
        let base_map = base.config_maps.iter().find(|b| b.name == config_map.name);
        let (behavior, changed): (Option<&'static str>, Vec<&String>) = match base_map {
            None => (None, config_map.files.keys().collect()),
            Some(base_map) if base_map == config_map => continue,
            Some(base_map)
                if base_map
                    .files
                    .keys()
                    .all(|k| config_map.files.contains_key(k)) =>
            {
                (
                    Some("merge"),
                    config_map
                        .files
                        .iter()
                        .filter(|(name, text)| base_map.files.get(*name) != Some(*text))
                        .map(|(name, _)| name)
                        .collect(),
                )
            }
            Some(_) => (Some("replace"), config_map.files.keys().collect()),
        };
        for name in &changed {
            files.insert((*name).clone(), config_map.files[*name].clone());
        }
        kustomization.config_map_generator.push(generator(
            config_map,
            behavior,
            changed.into_iter(),
        ));
    }
    if let Some(gone) = base
        .config_maps
        .iter()
        .find(|b| !profile.config_maps.iter().any(|p| p.name == b.name))
    {
        return Err(OverlayError(gone.name.to_owned()));
    }

    files.insert(
        "kustomization.yaml".to_owned(),
        yaml::generated_document(&kustomization),
    );
    Ok(files)
}

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
                    "namespace": crate::names::NAMESPACE,
                    "labels": c.labels,
                },
                "data": c.files,
            })
        })
        .collect();
    for object in &set.resources {
        let mut object = object.clone();
        rename_config_map_references(&mut object, &renamed);
        manifests.push(object);
    }
    manifests.sort_by_key(legacy_order);
    manifests
}

fn rename_config_map_references(value: &mut Value, renamed: &BTreeMap<&str, String>) {
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

/// Kustomize's legacy sort: kinds in dependency order, then by name.
fn legacy_order(object: &Value) -> (usize, String, String, String) {
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
    let (_, kind, namespace, name) = identity(object);
    let rank = FIRST
        .iter()
        .position(|k| *k == kind)
        .or_else(|| {
            LAST.iter()
                .position(|k| *k == kind)
                .map(|i| FIRST.len() + 2 + i)
        })
        .unwrap_or(FIRST.len() + 1);
    (rank, kind, namespace, name)
}
