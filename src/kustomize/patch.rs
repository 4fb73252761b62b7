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
    if base == target {
        return None;
    }
    match (base, target) {
        (Value::Object(base), Value::Object(target)) => Some(diff_map(base, target)),
        (Value::Array(base), Value::Array(target)) => {
            match field.and_then(|f| merge_key(f, base, target)) {
                Some(key) => Some(diff_keyed_list(key, base, target)),
                None => Some(Value::Array(target.clone())),
            }
        }
        _ => Some(target.clone()),
    }
}

fn diff_map(base: &Map<String, Value>, target: &Map<String, Value>) -> Value {
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
    Value::Object(patch)
}

/// The merge key of the lists palgen generates that Kubernetes merges by key.
fn merge_key(field: &str, base: &[Value], target: &[Value]) -> Option<&'static str> {
    let key = match field {
        "containers" | "initContainers" | "volumes" | "env" | "imagePullSecrets" => "name",
        "volumeMounts" => "mountPath",
        "ports" if target.iter().all(|p| p.get("containerPort").is_some()) => "containerPort",
        "ports" => "port",
        _ => return None,
    };
    let keyed = |items: &[Value]| items.iter().all(|item| item.get(key).is_some());
    (keyed(base) && keyed(target)).then_some(key)
}

/// A keyed list patched element by element. Kustomize puts the elements a
/// patch names first, in the patch's order, and the other elements of the
/// base after them; when that is not the target's order, the patch names
/// every element of the target (unchanged ones by their key alone), which
/// pins the order.
fn diff_keyed_list(key: &str, base: &[Value], target: &[Value]) -> Value {
    let find = |items: &'_ [Value], wanted: &Value| -> Option<Value> {
        items.iter().find(|item| item[key] == *wanted).cloned()
    };
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
        .filter(|old| find(target, &old[key]).is_none())
        .map(|old| serde_json::json!({ key: old[key], "$patch": "delete" }))
        .collect();
    let mut minimal: Vec<Value> = base
        .iter()
        .filter_map(|old| element_patch(old, &find(target, &old[key])?))
        .collect();
    minimal.extend(
        target
            .iter()
            .filter(|new| find(base, &new[key]).is_none())
            .cloned(),
    );
    let named: Vec<&Value> = minimal.iter().map(|item| &item[key]).collect();
    let kustomize_order: Vec<&Value> = named
        .iter()
        .copied()
        .chain(
            base.iter()
                .map(|old| &old[key])
                .filter(|k| !named.contains(k) && find(target, k).is_some()),
        )
        .collect();
    let target_order: Vec<&Value> = target.iter().map(|item| &item[key]).collect();
    let mut patch = if kustomize_order == target_order {
        minimal
    } else {
        target
            .iter()
            .map(|new| match find(base, &new[key]) {
                Some(old) => {
                    element_patch(&old, new).unwrap_or_else(|| serde_json::json!({ key: new[key] }))
                }
                None => new.clone(),
            })
            .collect()
    };
    patch.extend(deletions);
    Value::Array(patch)
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
}
