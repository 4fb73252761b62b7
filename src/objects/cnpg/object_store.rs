//! The Barman Cloud plugin's ObjectStore (`barmancloud.cnpg.io/v1`): where
//! the plugin archives WAL and base backups, and with which credentials.
//! Credentials come from the pod's cloud identity (workload identity), so no
//! key is stored in the cluster; an S3-compatible server takes the access
//! keys of a Secret the user creates.

use super::super::custom_resource::CustomResource;
use serde::Serialize;

use super::OBJECT_STORE;
use crate::model::offsite;
use crate::model::settings::{Cloud, ObjectStore as Target, Settings};
use crate::objects::labels::BACKUP;

pub type ObjectStore = CustomResource<Spec>;

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Spec {
    /// Base backups (and the WAL they need) older than this are deleted.
    retention_policy: String,
    configuration: Configuration,
}

/// Barman Cloud's `BarmanObjectStoreConfiguration`, as far as palgen sets it.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Configuration {
    pub destination_path: String,
    #[serde(rename = "endpointURL", skip_serializing_if = "Option::is_none")]
    pub endpoint_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    s3_credentials: Option<S3Credentials>,
    #[serde(skip_serializing_if = "Option::is_none")]
    google_credentials: Option<GoogleCredentials>,
    #[serde(skip_serializing_if = "Option::is_none")]
    azure_credentials: Option<AzureCredentials>,
    pub wal: Wal,
    pub data: Data,
}

/// The pod's IAM role, or the access keys of a Secret (S3-compatible
/// servers, which have no workload identity).
#[derive(Serialize)]
#[serde(untagged)]
enum S3Credentials {
    Role {
        #[serde(rename = "inheritFromIAMRole")]
        inherit_from_iam_role: bool,
    },
    #[serde(rename_all = "camelCase")]
    Keys {
        access_key_id: SecretKey,
        secret_access_key: SecretKey,
    },
}

#[derive(Serialize)]
struct SecretKey {
    name: String,
    key: &'static str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct GoogleCredentials {
    gke_environment: bool,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct AzureCredentials {
    use_default_azure_credentials: bool,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Wal {
    pub compression: &'static str,
    pub max_parallel: u32,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Data {
    pub compression: &'static str,
    pub jobs: u32,
}

/// gzip: every barman-cloud release and object store reads it.
pub const COMPRESSION: &str = "gzip";

pub fn configuration(target: &Target) -> Configuration {
    let cloud = Cloud::of(&target.destination);
    Configuration {
        destination_path: target.destination.clone(),
        endpoint_url: target.endpoint.clone(),
        s3_credentials: (cloud == Some(Cloud::S3)).then(|| match &target.credentials_secret {
            Some(secret) => S3Credentials::Keys {
                access_key_id: SecretKey {
                    name: secret.clone(),
                    key: offsite::ACCESS_KEY_ID_KEY,
                },
                secret_access_key: SecretKey {
                    name: secret.clone(),
                    key: offsite::SECRET_ACCESS_KEY_KEY,
                },
            },
            None => S3Credentials::Role {
                inherit_from_iam_role: true,
            },
        }),
        google_credentials: (cloud == Some(Cloud::Google)).then_some(GoogleCredentials {
            gke_environment: true,
        }),
        azure_credentials: (cloud == Some(Cloud::Azure)).then_some(AzureCredentials {
            use_default_azure_credentials: true,
        }),
        wal: Wal {
            compression: COMPRESSION,
            max_parallel: 2,
        },
        data: Data {
            compression: COMPRESSION,
            jobs: 2,
        },
    }
}

pub fn build(settings: &Settings, target: &Target) -> ObjectStore {
    ObjectStore {
        api_version: "barmancloud.cnpg.io/v1",
        kind: "ObjectStore",
        metadata: BACKUP.metadata(OBJECT_STORE),
        spec: Spec {
            retention_policy: format!("{}d", settings.backup.retention_days),
            configuration: configuration(target),
        },
    }
}
