//! The envelope every custom resource palgen writes shares (cert-manager,
//! CloudNativePG, Barman Cloud, Prometheus Operator): k8s-openapi has no
//! types for them, so each module types its `spec` and wraps it here.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::Serialize;

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CustomResource<Spec> {
    pub api_version: &'static str,
    pub kind: &'static str,
    pub metadata: ObjectMeta,
    pub spec: Spec,
}
