use k8s_openapi::api::core::v1::ServiceAccount;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use super::labels;
use crate::names::{DATABASE_SERVICE as APP_NAME, NAMESPACE};

/// The database's own identity. It is bound to no Role: PostgreSQL never
/// talks to the Kubernetes API, so it gets no token either.
pub fn build() -> ServiceAccount {
    ServiceAccount {
        metadata: ObjectMeta {
            name: Some(APP_NAME.to_owned()),
            namespace: Some(NAMESPACE.to_owned()),
            labels: Some(labels::DATABASE.labels()),
            ..Default::default()
        },
        automount_service_account_token: Some(false),
        ..Default::default()
    }
}
