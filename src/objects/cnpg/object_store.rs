//! The Barman Cloud plugin's ObjectStore (`barmancloud.cnpg.io/v1`): where
//! the plugin archives WAL and base backups, and with which credentials.
//! Credentials come from the pod's cloud identity (workload identity), so no
//! key is stored in the cluster.

use super::super::custom_resource::CustomResource;
use serde::Serialize;

use super::OBJECT_STORE;
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

#[derive(Serialize)]
struct S3Credentials {
    #[serde(rename = "inheritFromIAMRole")]
    inherit_from_iam_role: bool,
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
        s3_credentials: (cloud == Some(Cloud::S3)).then_some(S3Credentials {
            inherit_from_iam_role: true,
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
