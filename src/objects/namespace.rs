use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use crate::contract::{self, NAMESPACE};

/// The namespace, with Pod Security Admission enforcing `restricted`.
pub fn build() -> Namespace {
    let mut namespace_labels = BTreeMap::new();
    for mode in ["enforce", "audit", "warn"] {
        namespace_labels.insert(
            format!("pod-security.kubernetes.io/{mode}"),
            "restricted".to_owned(),
        );
        namespace_labels.insert(
            format!("pod-security.kubernetes.io/{mode}-version"),
            "latest".to_owned(),
        );
    }
    namespace_labels.insert(
        contract::PART_OF_KEY.to_owned(),
        contract::PART_OF_VALUE.to_owned(),
    );
    Namespace {
        metadata: ObjectMeta {
            name: Some(NAMESPACE.to_owned()),
            labels: Some(namespace_labels),
            ..Default::default()
        },
        ..Default::default()
    }
}
