use k8s_openapi::api::storage::v1::StorageClass;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use super::labels;
use crate::model::settings::ProvisionedClass;

/// A StorageClass the platform lacks. Volumes bind where the pod is
/// scheduled (a zonal disk must be in the pod's zone), can grow, and outlive
/// their claim: a deleted PVC must not take the database with it.
pub fn build(name: &str, class: &ProvisionedClass) -> StorageClass {
    StorageClass {
        metadata: ObjectMeta {
            name: Some(name.to_owned()),
            labels: Some(labels::DATABASE.labels()),
            ..Default::default()
        },
        provisioner: class.provisioner.clone(),
        parameters: Some(class.parameters.clone()),
        volume_binding_mode: Some("WaitForFirstConsumer".to_owned()),
        allow_volume_expansion: Some(true),
        reclaim_policy: Some("Retain".to_owned()),
        ..Default::default()
    }
}
