//! The off-site half of the backup job: its own ServiceAccount (the only
//! object that carries the workload identity) and the rclone container
//! that copies the dumps to the bucket.

use std::collections::BTreeMap;

use k8s_openapi::api::batch::v1::{
    PodFailurePolicy, PodFailurePolicyOnExitCodesRequirement, PodFailurePolicyRule,
};
use k8s_openapi::api::core::v1::{
    Container, EnvVar, EnvVarSource, SecretKeySelector, ServiceAccount, VolumeMount,
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
/// The upload step, with the mounts its pod gives it: the dumps (read-only),
/// the scripts and a scratch directory.
pub fn upload_container(
    offsite: &Offsite,
    retention_days: u32,
    scripts_dir: &str,
    volume_mounts: Vec<VolumeMount>,
) -> Container {
    // What differs between profiles first: an overlay's patch of the first
    // entries keeps the order.
    let mut env: Vec<EnvVar> = offsite
        .script_env()
        .into_iter()
        .map(|(name, value)| pod::env(&name, value))
        .collect();
    env.extend([
        pod::env("BACKUP_DIR", contract::BACKUP_DIR),
        pod::env("BACKUP_RETENTION_DAYS", retention_days.to_string()),
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
        volume_mounts: Some(volume_mounts),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::offsite::Provider;

    fn offsite(provider: Provider) -> Offsite {
        Offsite {
            provider,
            bucket: "paless-postgres-backups".to_owned(),
            prefix: "prod".to_owned(),
            region: String::new(),
            endpoint: String::new(),
            account: String::new(),
            role_arn: String::new(),
            gcp_service_account: String::new(),
            azure_client_id: String::new(),
            credentials_secret: String::new(),
            image: "rclone/rclone:1.71.1".to_owned(),
        }
    }

    fn env_of(container: &Container) -> Vec<(String, Option<String>)> {
        container
            .env
            .iter()
            .flatten()
            .map(|var| (var.name.clone(), var.value.clone()))
            .collect()
    }

    fn value<'e>(env: &'e [(String, Option<String>)], name: &str) -> Option<&'e str> {
        env.iter()
            .find(|(n, _)| n == name)
            .and_then(|(_, v)| v.as_deref())
    }

    #[test]
    fn each_platform_gets_its_workload_identity_on_the_job_service_account() {
        let aws = Offsite {
            region: "eu-central-1".to_owned(),
            role_arn: "arn:aws:iam::123456789012:role/backup".to_owned(),
            ..offsite(Provider::S3)
        };
        let gcp = Offsite {
            gcp_service_account: "backup@my-project.iam.gserviceaccount.com".to_owned(),
            ..offsite(Provider::Gcs)
        };
        let azure = Offsite {
            account: "palessbackups".to_owned(),
            azure_client_id: "0a1b2c3d-4e5f-6a7b-8c9d-0e1f2a3b4c5d".to_owned(),
            ..offsite(Provider::AzureBlob)
        };
        for (o, key, value) in [
            (&aws, "eks.amazonaws.com/role-arn", &aws.role_arn),
            (
                &gcp,
                "iam.gke.io/gcp-service-account",
                &gcp.gcp_service_account,
            ),
            (
                &azure,
                "azure.workload.identity/client-id",
                &azure.azure_client_id,
            ),
        ] {
            let account = service_account(o);
            assert_eq!(
                account.metadata.annotations,
                Some(BTreeMap::from([(key.to_owned(), value.clone())])),
                "{}",
                o.provider
            );
            assert_eq!(account.automount_service_account_token, Some(false));
            assert_eq!(o.missing_key(), None);
        }
        assert_eq!(
            azure.pod_label(),
            Some(("azure.workload.identity/use", "true"))
        );
        assert_eq!(aws.pod_label(), None);

        let env = env_of(&upload_container(&aws, 7, "/scripts", Vec::new()));
        assert_eq!(value(&env, "RCLONE_CONFIG_OFFSITE_TYPE"), Some("s3"));
        assert_eq!(value(&env, "RCLONE_CONFIG_OFFSITE_PROVIDER"), Some("AWS"));
        assert_eq!(value(&env, "RCLONE_CONFIG_OFFSITE_ENV_AUTH"), Some("true"));
        assert_eq!(
            value(&env, "RCLONE_CONFIG_OFFSITE_REGION"),
            Some("eu-central-1")
        );
        assert_eq!(
            value(&env, "OFFSITE_LOCATION"),
            Some("offsite:paless-postgres-backups/prod")
        );
        let env = env_of(&upload_container(&gcp, 7, "/scripts", Vec::new()));
        assert_eq!(
            value(&env, "RCLONE_CONFIG_OFFSITE_TYPE"),
            Some("google cloud storage")
        );
        assert_eq!(
            value(&env, "RCLONE_CONFIG_OFFSITE_BUCKET_POLICY_ONLY"),
            Some("true")
        );
        let env = env_of(&upload_container(&azure, 7, "/scripts", Vec::new()));
        assert_eq!(
            value(&env, "RCLONE_CONFIG_OFFSITE_ACCOUNT"),
            Some("palessbackups")
        );
        assert_eq!(value(&env, "RCLONE_CONFIG_OFFSITE_ENV_AUTH"), Some("true"));
    }

    #[test]
    fn access_keys_replace_the_workload_identity() {
        let minio = Offsite {
            region: "us-east-1".to_owned(),
            endpoint: "http://minio.minio.svc:9000".to_owned(),
            role_arn: "arn:aws:iam::123456789012:role/backup".to_owned(),
            credentials_secret: "minio-keys".to_owned(),
            ..offsite(Provider::S3)
        };
        assert_eq!(service_account(&minio).metadata.annotations, None);
        let container = upload_container(&minio, 7, "/scripts", Vec::new());
        let env = env_of(&container);
        assert_eq!(value(&env, "RCLONE_CONFIG_OFFSITE_ENV_AUTH"), Some("false"));
        assert_eq!(value(&env, "RCLONE_CONFIG_OFFSITE_PROVIDER"), Some("Other"));
        let from_secret: Vec<(String, String)> = container
            .env
            .iter()
            .flatten()
            .filter_map(|var| {
                let reference = var.value_from.as_ref()?.secret_key_ref.as_ref()?;
                Some((
                    var.name.clone(),
                    format!("{}/{}", reference.name, reference.key),
                ))
            })
            .collect();
        assert_eq!(
            from_secret,
            [
                (
                    "RCLONE_CONFIG_OFFSITE_ACCESS_KEY_ID".to_owned(),
                    "minio-keys/access-key-id".to_owned()
                ),
                (
                    "RCLONE_CONFIG_OFFSITE_SECRET_ACCESS_KEY".to_owned(),
                    "minio-keys/secret-access-key".to_owned()
                ),
            ]
        );
    }

    #[test]
    fn a_missing_identity_is_named_for_the_scripts() {
        let unset = offsite(Provider::S3);
        assert_eq!(unset.missing_key(), Some("backup.offsite.role_arn"));
        let env = env_of(&upload_container(&unset, 7, "/scripts", Vec::new()));
        assert_eq!(
            value(&env, "OFFSITE_UNSET_KEY"),
            Some("backup.offsite.role_arn")
        );
        assert_eq!(service_account(&unset).metadata.annotations, None);
    }
}
