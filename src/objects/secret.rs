use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use super::labels::DATABASE;
use crate::contract;

/// Public, well-known passwords, for laptop clusters only. Every other
/// profile expects the Secret to be created out of band (see the README).
const DEV_PASSWORDS: [(&str, &str); 4] = [
    (
        contract::SUPERUSER_PASSWORD_KEY,
        "dev-only-postgres-insecure",
    ),
    (contract::APP_PASSWORD_KEY, "dev-only-paperless-insecure"),
    (
        contract::EXPORTER_PASSWORD_KEY,
        "dev-only-exporter-insecure",
    ),
    (
        contract::REPLICATION_PASSWORD_KEY,
        "dev-only-replication-insecure",
    ),
];

pub fn dev_credentials() -> Secret {
    let mut labels = DATABASE.labels();
    labels.insert("paless.io/credentials".to_owned(), "dev-only".to_owned());
    Secret {
        metadata: ObjectMeta {
            labels: Some(labels),
            annotations: Some(BTreeMap::from([(
                "paless.io/warning".to_owned(),
                "Development only: these passwords are published in the palgen repository. Never use the dev profile outside a laptop cluster.".to_owned(),
            )])),
            ..DATABASE.metadata(contract::CREDENTIALS_SECRET)
        },
        type_: Some("Opaque".to_owned()),
        string_data: Some(
            DEV_PASSWORDS
                .iter()
                .map(|(key, value)| (key.to_string(), value.to_string()))
                .collect(),
        ),
        ..Default::default()
    }
}
