use k8s_openapi::api::core::v1::ServiceAccount;

use super::labels;

/// The database's own identity. It is bound to no Role: PostgreSQL never
/// talks to the Kubernetes API, so it gets no token either.
pub fn build() -> ServiceAccount {
    ServiceAccount {
        metadata: labels::DATABASE.metadata(labels::DATABASE.app),
        automount_service_account_token: Some(false),
        ..Default::default()
    }
}
