//! The directories of the tree as Kustomize reads them: the base, one
//! component per feature, and overlays that list the base and their
//! profile's components and hold only what differs from them.

use std::collections::{HashMap, HashSet};

use serde_json::Value;

use super::component::Components;
use super::types::{Generator, GeneratorOptions, Kustomization, PatchRef};
use super::{BASE_DIR, COMPONENTS_DIR, Directory, identity_ref, patch};
use crate::contract;
use crate::objects::{Feature, FileConfigMap, ObjectSet};
use crate::yaml;

fn file_name(prefix: &str, object: &Value) -> String {
    let (_, kind, _, name) = identity_ref(object);
    format!("{prefix}{}-{name}.yaml", kind.to_lowercase())
}

/// The base directory: every object as its own file, config as generators.
pub fn base_directory(base: &ObjectSet) -> Directory {
    whole_directory(Kustomization::new(Vec::new()), base)
}

/// A component's directory, laid out like the base.
pub fn component_directory(component: &ObjectSet) -> Directory {
    whole_directory(Kustomization::component(), component)
}

fn whole_directory<'a>(mut kustomization: Kustomization<'a>, set: &'a ObjectSet) -> Directory {
    let mut files = Directory::new();
    for object in set.objects() {
        let name = file_name("", object);
        files.insert(name.clone(), yaml::generated_document(object));
        kustomization.resources.push(name);
    }
    for config_map in &set.config_maps {
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
        namespace: contract::NAMESPACE,
        behavior,
        files: files.cloned().collect(),
        options: behavior.is_none().then_some(GeneratorOptions {
            labels: &config_map.labels,
        }),
    }
}

/// A strategic-merge patch of a generated ConfigMap's data: the files that
/// differ, and null for those the profile does not have; none when equal.
fn config_map_patch(from: &FileConfigMap, to: &FileConfigMap) -> Option<Value> {
    let mut data = serde_json::Map::new();
    for (file, text) in &to.files {
        if from.files.get(file) != Some(text) {
            data.insert(file.clone(), Value::String(text.clone()));
        }
    }
    for file in from.files.keys().filter(|f| !to.files.contains_key(*f)) {
        data.insert(file.clone(), Value::Null);
    }
    (!data.is_empty()).then(|| {
        serde_json::json!({
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": to.name, "namespace": contract::NAMESPACE},
            "data": data,
        })
    })
}

/// The features of the profile that have a component: those its overlay lists.
pub fn listed_components(components: &Components, profile: &ObjectSet) -> Vec<Feature> {
    profile
        .features()
        .into_iter()
        .filter(|feature| components.contains_key(feature))
        .collect()
}

/// An overlay: the base and the components of the profile's features, plus
/// the profile's own objects, patches for objects that differ, and merged
/// generators for config files that differ; all in the base's namespace,
/// and moved to the profile's by the `namespace:` field when it has another.
pub fn overlay_directory(
    base: &ObjectSet,
    components: &Components,
    profile: &ObjectSet,
) -> Directory {
    let listed = listed_components(components, profile);
    // What the overlay starts from, borrowed: the base and the listed
    // components, in that order.
    let start_sets = || std::iter::once(base).chain(listed.iter().map(|f| &components[f]));
    let start_objects: Vec<&Value> = start_sets().flat_map(ObjectSet::objects).collect();
    let start_maps: Vec<&FileConfigMap> = start_sets().flat_map(|s| &s.config_maps).collect();
    // The first start object of each identity is the one a profile's
    // object is compared with.
    let mut start_by_identity = HashMap::new();
    for object in &start_objects {
        start_by_identity
            .entry(identity_ref(object))
            .or_insert(*object);
    }
    let profile_identities: HashSet<_> = profile.objects().map(identity_ref).collect();

    let mut files = Directory::new();
    let mut kustomization = Kustomization::new(vec![format!("../../{BASE_DIR}")]);
    kustomization.namespace = profile.namespace.as_deref();
    kustomization.components = listed
        .iter()
        .map(|feature| format!("../../{COMPONENTS_DIR}/{}", feature.name()))
        .collect();

    for object in profile.objects() {
        match start_by_identity.get(&identity_ref(object)) {
            None => {
                let name = file_name("", object);
                files.insert(name.clone(), yaml::generated_document(object));
                kustomization.resources.push(name);
            }
            Some(start_object) => {
                if let Some(patch) = patch::strategic_merge_patch(start_object, object) {
                    let name = file_name("patch-", object);
                    files.insert(name.clone(), yaml::generated_document(&patch));
                    kustomization.patches.push(PatchRef { path: name });
                }
            }
        }
    }
    for start_object in start_objects {
        if !profile_identities.contains(&identity_ref(start_object)) {
            let name = file_name("delete-", start_object);
            files.insert(
                name.clone(),
                yaml::generated_document(&patch::delete_patch(start_object)),
            );
            kustomization.patches.push(PatchRef { path: name });
        }
    }

    for config_map in &profile.config_maps {
        let start_map = start_maps
            .iter()
            .find(|b| b.name == config_map.name)
            .copied();
        let in_base = base.config_maps.iter().any(|b| b.name == config_map.name);
        if let (Some(component_map), false) = (start_map, in_base) {
            // Kustomize runs an overlay's generators before it adds its
            // components, so a generator cannot merge into a component's
            // ConfigMap; a patch, applied after both, can.
            if let Some(patch) = config_map_patch(component_map, config_map) {
                let name = file_name("patch-", &patch);
                files.insert(name.clone(), yaml::generated_document(&patch));
                kustomization.patches.push(PatchRef { path: name });
            }
            continue;
        }
        let (behavior, changed): (Option<&'static str>, Vec<&String>) = match start_map {
            None => (None, config_map.files.keys().collect()),
            Some(start_map) if start_map.files == config_map.files => continue,
            Some(start_map)
                if start_map
                    .files
                    .keys()
                    .all(|k| config_map.files.contains_key(k)) =>
            {
                (
                    Some("merge"),
                    config_map
                        .files
                        .iter()
                        .filter(|(name, text)| start_map.files.get(*name) != Some(*text))
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
    // Kustomize matches a patch to a generated ConfigMap by the name it is
    // generated from, so a delete patch removes one the profile does not use.
    for gone in start_maps
        .iter()
        .filter(|b| !profile.config_maps.iter().any(|p| p.name == b.name))
    {
        let object = serde_json::json!({
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": gone.name, "namespace": contract::NAMESPACE},
        });
        let name = file_name("delete-", &object);
        files.insert(
            name.clone(),
            yaml::generated_document(&patch::delete_patch(&object)),
        );
        kustomization.patches.push(PatchRef { path: name });
    }

    files.insert(
        "kustomization.yaml".to_owned(),
        yaml::generated_document(&kustomization),
    );
    files
}
