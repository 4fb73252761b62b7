//! The off-site half of the backup job: its own ServiceAccount (the only
//! object that carries the workload identity) and the rclone container
//! that copies the dumps to the bucket.

use std::collections::BTreeMap;

use k8s_openapi::api::batch::v1::{
    PodFailurePolicy, PodFailurePolicyOnExitCodesRequirement, PodFailurePolicyRule,
};
use k8s_openapi::api::core::v1::{
    Container, EnvVar, EnvVarSource, SecretKeySelector, ServiceAccount,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use super::labels::BACKUP;
use super::pod::{self, POSTGRES_USER};
use crate::contract;
use crate::model::offsite::Offsite;
use crate::model::quantity::{Bytes, MilliCpu};
use crate::model::settings::Amounts;

pub const UPLOAD_SCRIPT: &str = "offsite-upload.sh";
pub const FETCH_SCRIPT: &str = "offsite-fetch.sh";
const UPLOAD_CONTAINER: &str = "upload";

const REQUESTS: Amounts = Amounts {
    memory: Bytes::mebibytes(64),
    cpu: MilliCpu::millicores(50),
};
const LIMITS: Amounts = Amounts {
    memory: Bytes::mebibytes(256),
    cpu: MilliCpu::millicores(500),
};

/// The backup job's identity, apart from the database's so that the
/// object-store role is granted to this job alone. No API token is mounted:
/// IRSA and Azure workload identity have their webhooks project a token of
/// their own audience into the pod (whatever automount says), and GKE
/// Workload Identity answers from the node's metadata server.
pub fn service_account(offsite: &Offsite) -> ServiceAccount {
    let annotations = offsite
        .service_account_annotation()
        .map(|(key, value)| BTreeMap::from([(key.to_owned(), value.to_owned())]));
    ServiceAccount {
        metadata: ObjectMeta {
            annotations,
            ..BACKUP.metadata(BACKUP.app)
        },
        automount_service_account_token: Some(false),
        ..Default::default()
    }
}

/// Runs after the dump (an init container): uploads the dumps the bucket
/// lacks, then prunes the bucket.
pub fn upload_container(offsite: &Offsite, scripts_dir: &str) -> Container {
    // What differs between profiles first: an overlay's patch of the first
    // entries keeps the order.
    let mut env: Vec<EnvVar> = offsite
        .script_env()
        .into_iter()
        .map(|(name, value)| pod::env(&name, value))
        .collect();
    env.extend([
        pod::env("BACKUP_DIR", contract::BACKUP_DIR),
        // rclone is configured by these variables alone; it keeps no file.
        pod::env("RCLONE_CONFIG", "/dev/null"),
        pod::env("HOME", "/tmp"),
    ]);
    if offsite.uses_access_keys() {
        env.extend(offsite.access_key_env().map(|(name, key)| EnvVar {
            name,
            value_from: Some(EnvVarSource {
                secret_key_ref: Some(SecretKeySelector {
                    name: offsite.credentials_secret.clone(),
                    key: key.to_owned(),
                    optional: Some(false),
                }),
                ..Default::default()
            }),
            ..Default::default()
        }));
    }
    Container {
        name: UPLOAD_CONTAINER.to_owned(),
        image: Some(offsite.image.clone()),
        image_pull_policy: Some("IfNotPresent".to_owned()),
        command: Some(vec![
            "sh".to_owned(),
            format!("{scripts_dir}/{UPLOAD_SCRIPT}"),
        ]),
        env: Some(env),
        resources: Some(pod::resources(&REQUESTS, &LIMITS)),
        // The dumps belong to the postgres user; the same uid reads them and
        // writes fetched ones for a restore.
        security_context: Some(pod::container_security(POSTGRES_USER)),
        volume_mounts: Some(vec![
            pod::read_only_mount("backups", contract::BACKUP_DIR),
            pod::read_only_mount("scripts", scripts_dir),
            pod::mount("tmp", "/tmp"),
        ]),
        ..Default::default()
    }
}

/// A profile without its identity fails for good, at once: retrying the
/// pod would only dump the database again for nothing.
pub fn failure_policy() -> PodFailurePolicy {
    PodFailurePolicy {
        rules: vec![PodFailurePolicyRule {
            action: "FailJob".to_owned(),
            on_exit_codes: Some(PodFailurePolicyOnExitCodesRequirement {
                container_name: Some(UPLOAD_CONTAINER.to_owned()),
                operator: "In".to_owned(),
                values: vec![contract::OFFSITE_UNCONFIGURED_EXIT],
            }),
            ..Default::default()
        }],
    }
}
