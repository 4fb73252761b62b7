//! Kustomize's `namespace:` field, as it moves the objects of palgen's
//! trees: an overlay whose profile names another namespace than the base's
//! lists the base and its patches unchanged (they name the base's
//! namespace, and Kustomize applies patches first) and moves the result.

use serde_json::Value;

/// Kinds Kustomize knows to have no namespace. Kinds it does not know
/// (custom resources) it treats as namespaced, and so does this.
const CLUSTER_SCOPED: [&str; 12] = [
    "Namespace",
    "StorageClass",
    "PriorityClass",
    "ClusterRole",
    "ClusterRoleBinding",
    "CustomResourceDefinition",
    "PersistentVolume",
    "APIService",
    "MutatingWebhookConfiguration",
    "ValidatingWebhookConfiguration",
    "IngressClass",
    "RuntimeClass",
];

/// Moves one object to `namespace`: a namespaced object gets it as its
/// `metadata.namespace` (set or added), and a Namespace object is renamed
/// to it; other cluster-scoped objects stay as they are.
pub fn move_to(object: &mut Value, namespace: &str) {
    let kind = object["kind"].as_str().unwrap_or_default();
    let field = if kind == "Namespace" {
        "name"
    } else if CLUSTER_SCOPED.contains(&kind) {
        return;
    } else {
        "namespace"
    };
    if let Some(metadata) = object.get_mut("metadata").and_then(Value::as_object_mut) {
        metadata.insert(field.to_owned(), Value::String(namespace.to_owned()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespaced_objects_move_the_namespace_is_renamed_cluster_objects_stay() {
        let mut objects = [
            serde_json::json!({"kind": "Service", "metadata": {"name": "postgres", "namespace": "paless"}}),
            serde_json::json!({"kind": "Certificate", "metadata": {"name": "tls"}}),
            serde_json::json!({"kind": "Namespace", "metadata": {"name": "paless"}}),
            serde_json::json!({"kind": "StorageClass", "metadata": {"name": "ebs-sc"}}),
        ];
        for object in &mut objects {
            move_to(object, "staging");
        }
        assert_eq!(objects[0]["metadata"]["namespace"], "staging");
        assert_eq!(objects[1]["metadata"]["namespace"], "staging");
        assert_eq!(objects[2]["metadata"]["name"], "staging");
        assert_eq!(
            objects[3]["metadata"],
            serde_json::json!({"name": "ebs-sc"})
        );
    }
}
