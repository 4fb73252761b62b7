//! What each component holds: a feature's objects as most built-in profiles
//! that have the feature build them, so that most overlays list the
//! component and patch nothing of it.

use std::collections::BTreeMap;

use super::identity_ref;
use crate::objects::{Feature, FileConfigMap, ObjectSet, Resource};

/// The object set of each component, by feature.
pub type Components = BTreeMap<Feature, ObjectSet>;

/// The components of the features these profiles have. An object or file
/// is in a component when every profile with the feature has it; its
/// content is the version most of them share (the first such profile's, on
/// a tie), so the result depends only on the profiles and their order. A
/// feature of which every profile has its own objects has no component.
pub fn from_profiles(profiles: &[ObjectSet]) -> Components {
    let mut components = Components::new();
    let mut features: Vec<Feature> = profiles.iter().flat_map(ObjectSet::features).collect();
    features.sort();
    features.dedup();
    for feature in features {
        let users: Vec<FeatureOnly<'_>> = profiles
            .iter()
            .filter(|set| set.features().contains(&feature))
            .map(|set| feature_only(set, feature))
            .collect();
        let shared = common(&users);
        // Nothing every profile shares (each names its own StorageClass):
        // no component, each overlay holds its own objects.
        if !shared.resources.is_empty() || !shared.config_maps.is_empty() {
            components.insert(feature, shared);
        }
    }
    components
}

/// The objects and files of one feature in one profile's set, borrowed.
struct FeatureOnly<'a> {
    resources: Vec<&'a Resource>,
    config_maps: Vec<&'a FileConfigMap>,
}

fn feature_only(set: &ObjectSet, feature: Feature) -> FeatureOnly<'_> {
    FeatureOnly {
        resources: set
            .resources
            .iter()
            .filter(|r| r.feature == Some(feature))
            .collect(),
        config_maps: set
            .config_maps
            .iter()
            .filter(|c| c.feature == Some(feature))
            .collect(),
    }
}

fn common(users: &[FeatureOnly<'_>]) -> ObjectSet {
    let first = &users[0];
    let resources = first
        .resources
        .iter()
        .filter_map(|resource| {
            let wanted = identity_ref(&resource.object);
            let versions: Option<Vec<&Resource>> = users
                .iter()
                .map(|set| {
                    set.resources
                        .iter()
                        .find(|r| identity_ref(&r.object) == wanted)
                        .copied()
                })
                .collect();
            versions.map(|versions| most_common(&versions).clone())
        })
        .collect();
    let config_maps = first
        .config_maps
        .iter()
        .filter_map(|config_map| {
            let versions: Option<Vec<&FileConfigMap>> = users
                .iter()
                .map(|set| {
                    set.config_maps
                        .iter()
                        .find(|c| c.name == config_map.name)
                        .copied()
                })
                .collect();
            let versions = versions?;
            let files = config_map
                .files
                .keys()
                .filter_map(|file| {
                    let texts: Option<Vec<&String>> =
                        versions.iter().map(|c| c.files.get(file)).collect();
                    texts.map(|texts| (file.clone(), most_common(&texts).clone()))
                })
                .collect();
            Some(FileConfigMap {
                files,
                name: config_map.name,
                feature: config_map.feature,
                labels: config_map.labels.clone(),
            })
        })
        .collect();
    // Components are listed by overlays of any namespace: they stay in
    // the base's, like the base.
    ObjectSet {
        resources,
        config_maps,
        namespace: None,
    }
}

/// The value that occurs most often; the earliest of those on a tie.
/// Equal values are compared once per distinct value, not pairwise: the
/// profiles mostly agree.
fn most_common<'a, T: PartialEq>(values: &[&'a T]) -> &'a T {
    // Distinct values in the order they first occur, with their counts.
    let mut distinct: Vec<(&'a T, usize)> = Vec::new();
    for value in values {
        match distinct.iter_mut().find(|(seen, _)| *seen == *value) {
            Some((_, count)) => *count += 1,
            None => distinct.push((value, 1)),
        }
    }
    let mut best = distinct[0];
    for candidate in distinct {
        if candidate.1 > best.1 {
            best = candidate;
        }
    }
    best.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn backup_set(schedule: &str) -> ObjectSet {
        ObjectSet {
            resources: vec![Resource {
                feature: Some(Feature::Backup),
                object: json!({"apiVersion": "batch/v1", "kind": "CronJob",
                    "metadata": {"name": "b", "namespace": "n"}, "spec": {"schedule": schedule}}),
            }],
            config_maps: Vec::new(),
            namespace: None,
        }
    }

    #[test]
    fn a_component_holds_the_version_most_profiles_share() {
        let profiles = [
            backup_set("1 * * * *"),
            backup_set("2 * * * *"),
            backup_set("2 * * * *"),
            ObjectSet::default(),
        ];
        let components = from_profiles(&profiles);
        assert_eq!(components.len(), 1);
        let backup = &components[&Feature::Backup];
        assert_eq!(backup.resources[0].object["spec"]["schedule"], "2 * * * *");
    }

    #[test]
    fn on_a_tie_the_first_profile_wins() {
        let profiles = [backup_set("1 * * * *"), backup_set("2 * * * *")];
        let components = from_profiles(&profiles);
        assert_eq!(
            components[&Feature::Backup].resources[0].object["spec"]["schedule"],
            "1 * * * *"
        );
    }
}
