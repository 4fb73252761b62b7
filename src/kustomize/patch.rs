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

fn diff_keyed_list(key: &str, base: &[Value], target: &[Value]) -> Value {
    let base_keys: Vec<&Value> = base.iter().map(|item| &item[key]).collect();
    let target_keys: Vec<&Value> = target.iter().map(|item| &item[key]).collect();
    let kept_in_order: Vec<&Value> = base_keys
        .iter()
        .copied()
        .filter(|k| target_keys.contains(k))
        .collect();
    let additions_trail = target_keys.starts_with(&kept_in_order);
    if !additions_trail {
        // The merge would keep the old order; only a replacement gives the new one.
        let mut replacement = vec![serde_json::json!({ "$patch": "replace" })];
        replacement.extend(target.iter().cloned());
        return Value::Array(replacement);
    }
    let mut patch = Vec::new();
    for old in base {
        match target.iter().find(|new| new[key] == old[key]) {
            Some(new) => {
                if let Some(Value::Object(mut change)) = diff(None, old, new) {
                    change.insert(key.to_owned(), old[key].clone());
                    patch.push(Value::Object(change));
                }
            }
            None => patch.push(serde_json::json!({ key: old[key], "$patch": "delete" })),
        }
    }
    patch.extend(target[kept_in_order.len()..].iter().cloned());
    // Kustomize's merge puts the patch's items first, in the patch's order,
    // then the items it leaves alone in their old order: where that is not
    // the new order, only a replacement gives it.
    let patched: Vec<&Value> = patch
        .iter()
        .filter(|item| item.get("$patch").is_none())
        .map(|item| &item[key])
        .collect();
    let merged: Vec<&Value> = patched
        .iter()
        .copied()
        .chain(
            kept_in_order
                .iter()
                .copied()
                .filter(|k| !patched.contains(k)),
        )
        .collect();
    if merged != target_keys {
        let mut replacement = vec![serde_json::json!({ "$patch": "replace" })];
        replacement.extend(target.iter().cloned());
        return Value::Array(replacement);
    }
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
    fn keyed_lists_patch_only_the_changed_element() {
        let base = json!({"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "db", "namespace": "n"},
            "spec": {"containers": [{"name": "a", "image": "x"}, {"name": "b", "image": "y"}]}});
        let target = json!({"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "db", "namespace": "n"},
            "spec": {"containers": [{"name": "a", "image": "v"}, {"name": "b", "image": "y"}]}});
        let patch = strategic_merge_patch(&base, &target).unwrap();
        assert_eq!(
            patch["spec"]["containers"],
            json!([{"name": "a", "image": "v"}])
        );
        assert_eq!(patch["metadata"], json!({"name": "db", "namespace": "n"}));
    }

    /// `kubectl kustomize` merges a patch of `[b', c]` into `[a, b]` as
    /// `[b', c, a]` (the patch's items first): the new order `[a, b', c]`
    /// takes a replacement.
    #[test]
    fn keyed_lists_whose_merge_would_reorder_are_replaced() {
        let base = json!({"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "db", "namespace": "n"},
            "spec": {"containers": [{"name": "a", "image": "x"}, {"name": "b", "image": "y"}]}});
        let target = json!({"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "db", "namespace": "n"},
            "spec": {"containers": [{"name": "a", "image": "x"}, {"name": "b", "image": "z"}, {"name": "c", "image": "w"}]}});
        let patch = strategic_merge_patch(&base, &target).unwrap();
        assert_eq!(
            patch["spec"]["containers"],
            json!([{"$patch": "replace"}, {"name": "a", "image": "x"}, {"name": "b", "image": "z"}, {"name": "c", "image": "w"}])
        );
    }

    #[test]
    fn unkeyed_lists_and_removed_keys() {
        let base = json!({"apiVersion": "v1", "kind": "X", "metadata": {"name": "a"}, "spec": {"args": ["1"], "gone": 1}});
        let target = json!({"apiVersion": "v1", "kind": "X", "metadata": {"name": "a"}, "spec": {"args": ["1", "2"]}});
        let patch = strategic_merge_patch(&base, &target).unwrap();
        assert_eq!(patch["spec"], json!({"args": ["1", "2"], "gone": null}));
    }
}
