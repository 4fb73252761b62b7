//! Strategic-merge patches derived from two versions of one object.
//!
//! Lists that Kubernetes merges by key (containers by name, mounts by path,
//! ...) are patched element by element; every other list is replaced whole,
//! exactly as the strategic-merge rules for those fields say.

use serde_json::{Map, Value};

/// The patch that turns `base` into `target`, or `None` when they are equal.
pub fn strategic_merge_patch(base: &Value, target: &Value) -> Option<Value> {
    let mut patch = diff(None, base, target)?;
    let object = patch.as_object_mut()?;
    for identity in ["apiVersion", "kind"] {
        object.insert(identity.to_owned(), target[identity].clone());
    }
    let metadata = object
        .entry("metadata")
        .or_insert_with(|| Value::Object(Map::new()));
    if let Some(metadata) = metadata.as_object_mut() {
        for identity in ["name", "namespace"] {
            if let Some(value) = target["metadata"].get(identity) {
                metadata.insert(identity.to_owned(), value.clone());
            }
        }
    }
    Some(patch)
}

/// A patch that removes the object from the build.
pub fn delete_patch(object: &Value) -> Value {
    let mut metadata = Map::new();
    for identity in ["name", "namespace"] {
        if let Some(value) = object["metadata"].get(identity) {
            metadata.insert(identity.to_owned(), value.clone());
        }
    }
    serde_json::json!({
        "$patch": "delete",
        "apiVersion": object["apiVersion"],
        "kind": object["kind"],
        "metadata": metadata,
    })
}

fn diff(field: Option<&str>, base: &Value, target: &Value) -> Option<Value> {
    match (base, target) {
        // Two maps are equal exactly when their patch is empty: comparing
        // them first as well would compare every level of a deep object
        // once per level above it.
        (Value::Object(base), Value::Object(target)) => {
            let patch = diff_map(base, target);
            (!patch.is_empty()).then_some(Value::Object(patch))
        }
        _ if base == target => None,
        (Value::Array(base), Value::Array(target)) => {
            match field.and_then(|f| merge_key(f, base, target)) {
                Some(key) => Some(diff_keyed_list(key, base, target)),
                None => Some(Value::Array(target.clone())),
            }
        }
        _ => Some(target.clone()),
    }
}

fn diff_map(base: &Map<String, Value>, target: &Map<String, Value>) -> Map<String, Value> {
    let mut patch = Map::new();
    for (key, new) in target {
        match base.get(key) {
            Some(old) => {
                if let Some(change) = diff(Some(key), old, new) {
                    patch.insert(key.clone(), change);
                }
            }
            None => {
                patch.insert(key.clone(), new.clone());
            }
        }
    }
    for key in base.keys().filter(|key| !target.contains_key(*key)) {
        patch.insert(key.clone(), Value::Null);
    }
    patch
}

/// The merge key of the lists palgen generates that Kubernetes merges by key.
fn merge_key(field: &str, base: &[Value], target: &[Value]) -> Option<&'static str> {
    let key = field_merge_key(field, target)?;
    let keyed = |items: &[Value]| items.iter().all(|item| item.get(key).is_some());
    (keyed(base) && keyed(target)).then_some(key)
}

/// Container ports are keyed by `containerPort`, Service ports by `port`:
/// the items tell which list this is.
fn field_merge_key(field: &str, items: &[Value]) -> Option<&'static str> {
    Some(match field {
        "containers" | "initContainers" | "volumes" | "env" | "imagePullSecrets" => "name",
        "volumeMounts" => "mountPath",
        "ports" if items.iter().all(|p| p.get("containerPort").is_some()) => "containerPort",
        "ports" => "port",
        _ => return None,
    })
}

/// A keyed list patched element by element. Kustomize puts the elements a
/// patch names first, in the patch's order, and the other elements of the
/// base after them; when that is not the target's order, the patch names
/// every element of the target (unchanged ones by their key alone), which
/// pins the order.
fn diff_keyed_list(key: &str, base: &[Value], target: &[Value]) -> Value {
    fn find<'v>(items: &'v [Value], key: &str, wanted: &Value) -> Option<&'v Value> {
        items.iter().find(|item| item[key] == *wanted)
    }
    let element_patch = |old: &Value, new: &Value| -> Option<Value> {
        match diff(None, old, new) {
            Some(Value::Object(mut change)) => {
                change.insert(key.to_owned(), old[key].clone());
                Some(Value::Object(change))
            }
            _ => None,
        }
    };
    let deletions: Vec<Value> = base
        .iter()
        .filter(|old| find(target, key, &old[key]).is_none())
        .map(|old| serde_json::json!({ key: old[key], "$patch": "delete" }))
        .collect();
    let mut minimal: Vec<Value> = base
        .iter()
        .filter_map(|old| element_patch(old, find(target, key, &old[key])?))
        .collect();
    minimal.extend(
        target
            .iter()
            .filter(|new| find(base, key, &new[key]).is_none())
            .cloned(),
    );
    let named: Vec<&Value> = minimal.iter().map(|item| &item[key]).collect();
    let kustomize_order: Vec<&Value> = named
        .iter()
        .copied()
        .chain(
            base.iter()
                .map(|old| &old[key])
                .filter(|k| !named.contains(k) && find(target, key, k).is_some()),
        )
        .collect();
    let target_order: Vec<&Value> = target.iter().map(|item| &item[key]).collect();
    let mut patch = if kustomize_order == target_order {
        minimal
    } else {
        target
            .iter()
            .map(|new| match find(base, key, &new[key]) {
                Some(old) => {
                    element_patch(old, new).unwrap_or_else(|| serde_json::json!({ key: new[key] }))
                }
                None => new.clone(),
            })
            .collect()
    };
    patch.extend(deletions);
    Value::Array(patch)
}

/// Whether a patch document deletes its target object.
pub fn deletes_object(patch: &Value) -> bool {
    patch.get(DIRECTIVE).and_then(Value::as_str) == Some("delete")
}

const DIRECTIVE: &str = "$patch";

/// `base` with a strategic-merge `patch` applied, as Kustomize applies the
/// patches `strategic_merge_patch` writes: maps merge and `null` removes a
/// key, keyed lists merge by key (`$patch: delete` removes an element,
/// a leading `$patch: replace` replaces the list), other lists and scalars
/// are replaced.
pub fn apply_strategic_merge(base: &Value, patch: &Value) -> Value {
    apply(None, Some(base), patch)
}

fn apply(field: Option<&str>, base: Option<&Value>, patch: &Value) -> Value {
    match (base, patch) {
        (_, Value::Object(changes)) if directive(changes) == Some("replace") => {
            Value::Object(without_directive(changes))
        }
        (Some(Value::Object(base)), Value::Object(changes)) => {
            let mut merged = base.clone();
            for (key, change) in changes {
                if key == DIRECTIVE {
                    continue;
                }
                let deleted = change.is_null()
                    || change
                        .as_object()
                        .is_some_and(|c| directive(c) == Some("delete"));
                if deleted {
                    merged.remove(key);
                } else {
                    let value = apply(Some(key), base.get(key), change);
                    merged.insert(key.clone(), value);
                }
            }
            Value::Object(merged)
        }
        (_, Value::Array(items)) => apply_list(field, base.and_then(Value::as_array), items),
        (None | Some(_), Value::Object(changes)) => Value::Object(without_directive(changes)),
        (_, scalar) => scalar.clone(),
    }
}

fn apply_list(field: Option<&str>, base: Option<&Vec<Value>>, items: &[Value]) -> Value {
    let replaces = items
        .first()
        .and_then(Value::as_object)
        .is_some_and(|first| directive(first) == Some("replace") && first.len() == 1);
    if replaces {
        return Value::Array(items[1..].to_vec());
    }
    let base = base.map(Vec::as_slice).unwrap_or_default();
    let sample: Vec<Value> = base.iter().chain(items).cloned().collect();
    let Some(key) = field.and_then(|f| field_merge_key(f, &sample)) else {
        return Value::Array(items.to_vec());
    };
    // The named elements first, in the patch's order, then the others.
    let named: Vec<&Value> = items.iter().filter_map(|item| item.get(key)).collect();
    let mut merged = Vec::new();
    for item in items {
        let deletes = item
            .as_object()
            .is_some_and(|i| directive(i) == Some("delete"));
        if deletes {
            continue;
        }
        let old = base
            .iter()
            .find(|old| old.get(key).is_some() && old.get(key) == item.get(key));
        merged.push(apply(None, old, item));
    }
    merged.extend(
        base.iter()
            .filter(|old| !old.get(key).is_some_and(|k| named.contains(&k)))
            .cloned(),
    );
    Value::Array(merged)
}

fn directive(map: &Map<String, Value>) -> Option<&str> {
    map.get(DIRECTIVE).and_then(Value::as_str)
}

fn without_directive(map: &Map<String, Value>) -> Map<String, Value> {
    let mut map = map.clone();
    map.remove(DIRECTIVE);
    map
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn equal_objects_need_no_patch() {
        let object = json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "a"}});
        assert_eq!(strategic_merge_patch(&object, &object), None);
    }

    #[test]
    fn keyed_lists_patch_changed_elements_and_name_the_others_for_their_order() {
        let base = json!({"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "db", "namespace": "n"},
            "spec": {"containers": [{"name": "a", "image": "x"}, {"name": "b", "image": "y"}]}});
        let target = json!({"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "db", "namespace": "n"},
            "spec": {"containers": [{"name": "a", "image": "x"}, {"name": "b", "image": "z"}, {"name": "c", "image": "w"}]}});
        let patch = strategic_merge_patch(&base, &target).unwrap();
        assert_eq!(
            patch["spec"]["containers"],
            json!([{"name": "a"}, {"name": "b", "image": "z"}, {"name": "c", "image": "w"}])
        );
        assert_eq!(patch["metadata"], json!({"name": "db", "namespace": "n"}));
    }

    #[test]
    fn unkeyed_lists_and_removed_keys() {
        let base = json!({"apiVersion": "v1", "kind": "X", "metadata": {"name": "a"}, "spec": {"args": ["1"], "gone": 1}});
        let target = json!({"apiVersion": "v1", "kind": "X", "metadata": {"name": "a"}, "spec": {"args": ["1", "2"]}});
        let patch = strategic_merge_patch(&base, &target).unwrap();
        assert_eq!(patch["spec"], json!({"args": ["1", "2"], "gone": null}));
    }

    #[test]
    fn keyed_lists_keep_the_target_order_under_kustomize() {
        // Kustomize would move a patched `b` in front of `a`: the patch names
        // `a` too, by its key alone.
        let base = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
            "spec": {"volumes": [{"name": "a", "x": 1}, {"name": "b", "x": 1}]}});
        let target = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
            "spec": {"volumes": [{"name": "a", "x": 1}, {"name": "b", "x": 2}]}});
        let patch = strategic_merge_patch(&base, &target).unwrap();
        assert_eq!(
            patch["spec"]["volumes"],
            json!([{"name": "a"}, {"name": "b", "x": 2}])
        );
        // A change of the first element keeps the order as it is.
        let target = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
            "spec": {"volumes": [{"name": "a", "x": 2}, {"name": "b", "x": 1}]}});
        let patch = strategic_merge_patch(&base, &target).unwrap();
        assert_eq!(patch["spec"]["volumes"], json!([{"name": "a", "x": 2}]));
    }

    #[test]
    fn apply_merges_keyed_lists_and_deletes() {
        let base = json!({"spec": {"containers": [{"name": "a", "image": "x", "args": ["1"]}, {"name": "b", "image": "y"}],
            "keep": 1, "gone": 2}});
        let patch = json!({"spec": {"containers": [{"name": "a", "args": ["2"]}, {"name": "b", "$patch": "delete"}, {"name": "c", "image": "z"}],
            "gone": null}});
        assert_eq!(
            apply_strategic_merge(&base, &patch),
            json!({"spec": {"containers": [{"name": "a", "image": "x", "args": ["2"]}, {"name": "c", "image": "z"}], "keep": 1}})
        );
        let replace = json!({"spec": {"containers": [{"$patch": "replace"}, {"name": "c"}]}});
        assert_eq!(
            apply_strategic_merge(&base, &replace)["spec"]["containers"],
            json!([{"name": "c"}])
        );
    }

    #[test]
    fn apply_undoes_diff_for_every_builtin_profile() {
        let catalog = crate::profile::Catalog::builtin().unwrap();
        let base = crate::objects::build(&catalog.base().unwrap());
        let mut patched = 0;
        for name in catalog.names() {
            let profile = crate::objects::build(&catalog.resolve(&name).unwrap());
            for target in profile.objects() {
                let Some(old) = base.objects().find(|b| {
                    b["kind"] == target["kind"]
                        && b["metadata"]["name"] == target["metadata"]["name"]
                }) else {
                    continue;
                };
                if let Some(patch) = strategic_merge_patch(old, target) {
                    assert_eq!(&apply_strategic_merge(old, &patch), target, "{name}");
                    patched += 1;
                }
            }
        }
        assert!(patched >= 12, "only {patched} patched objects were tried");
    }

    #[test]
    fn apply_undoes_diff_for_reordered_and_removed_elements() {
        let base = json!({"apiVersion": "v1", "kind": "X", "metadata": {"name": "a"},
            "spec": {"env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}, {"name": "C"}],
                     "volumes": [{"name": "v"}, {"name": "w"}], "gone": {"x": 1}}});
        let target = json!({"apiVersion": "v1", "kind": "X", "metadata": {"name": "a", "labels": {"l": "1"}},
            "spec": {"env": [{"name": "C"}, {"name": "A", "value": "3"}],
                     "volumes": [{"name": "w"}, {"name": "u"}]}});
        let patch = strategic_merge_patch(&base, &target).unwrap();
        assert_eq!(apply_strategic_merge(&base, &patch), target);
    }

    /// Lists of named elements (some kept, changed, dropped, added, in any
    /// order): the derived patch applied to the base gives the target.
    #[test]
    fn apply_undoes_diff_for_random_keyed_lists() {
        use proptest::prelude::*;
        use proptest::test_runner::{Config, RngAlgorithm, RngSeed, TestRunner};

        let element = (0..6usize, proptest::option::of(0..3u8));
        let list = proptest::collection::vec(element, 0..6).prop_map(|items| {
            let mut seen = Vec::new();
            items
                .into_iter()
                .filter(|(name, _)| {
                    let fresh = !seen.contains(name);
                    seen.push(*name);
                    fresh
                })
                .map(|(name, value)| match value {
                    Some(value) => json!({"name": format!("e{name}"), "value": value}),
                    None => json!({"name": format!("e{name}")}),
                })
                .collect::<Vec<_>>()
        });
        let object = |env: Vec<Value>| json!({"apiVersion": "v1", "kind": "X", "metadata": {"name": "a"}, "spec": {"env": env}});
        let config = Config {
            cases: 512,
            rng_algorithm: RngAlgorithm::ChaCha,
            rng_seed: RngSeed::Fixed(10),
            failure_persistence: None,
            ..Config::default()
        };
        TestRunner::new(config)
            .run(&(list.clone(), list), |(base, target)| {
                let (base, target) = (object(base), object(target));
                let applied = match strategic_merge_patch(&base, &target) {
                    Some(patch) => apply_strategic_merge(&base, &patch),
                    None => base.clone(),
                };
                prop_assert_eq!(applied, target);
                Ok(())
            })
            .unwrap();
    }
}
