use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use super::{CREDENTIALS_SECRET, NAMESPACE, SUPERUSER_PASSWORD_KEY, labels};

/// A public, well-known password, for laptop clusters only. Every other
/// profile expects the Secret to be created out of band.
const DEV_PASSWORD: &str = "paless-dev-only-insecure";

pub fn dev_credentials() -> Secret {
    let mut secret_labels = labels::common();
    secret_labels.insert("paless.io/credentials".to_owned(), "dev-only".to_owned());
    Secret {
        metadata: ObjectMeta {
            name: Some(CREDENTIALS_SECRET.to_owned()),
            namespace: Some(NAMESPACE.to_owned()),
            labels: Some(secret_labels),
            annotations: Some(BTreeMap::from([(
                "paless.io/warning".to_owned(),
                "Development only: this password is published in the palgen repository. Never use the dev profile outside a laptop cluster.".to_owned(),
            )])),
            ..Default::default()
        },
        type_: Some("Opaque".to_owned()),
        string_data: Some(BTreeMap::from([(
            SUPERUSER_PASSWORD_KEY.to_owned(),
            DEV_PASSWORD.to_owned(),
        )])),
        ..Default::default()
    }
}
