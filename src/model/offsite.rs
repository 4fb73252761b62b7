//! Off-site copies of the dumps: where they go (a bucket of the platform's
//! object store) and how the upload job proves who it is (the platform's
//! workload identity, or an access-key Secret for S3-compatible stores).

use std::fmt;
use std::str::FromStr;

use serde::Serialize;

use super::settings::{OFFSITE_KEY, ObjectStore};

/// The object store the dumps are copied to; each is an rclone backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Provider {
    /// Dumps stay on the backup volume only.
    None,
    S3,
    Gcs,
    AzureBlob,
}

impl Provider {
    pub const ACCEPTED: &str = "none, s3, gcs or azureblob";

    pub fn name(self) -> &'static str {
        match self {
            Provider::None => "none",
            Provider::S3 => "s3",
            Provider::Gcs => "gcs",
            Provider::AzureBlob => "azureblob",
        }
    }

    /// rclone's name of the backend.
    pub fn rclone_type(self) -> &'static str {
        match self {
            Provider::None => "none",
            Provider::S3 => "s3",
            Provider::Gcs => "google cloud storage",
            Provider::AzureBlob => "azureblob",
        }
    }
}

impl fmt::Display for Provider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Provider {
    type Err = ();

    fn from_str(text: &str) -> Result<Provider, ()> {
        [
            Provider::None,
            Provider::S3,
            Provider::Gcs,
            Provider::AzureBlob,
        ]
        .into_iter()
        .find(|provider| provider.name() == text)
        .ok_or(())
    }
}

/// `backup.offsite` of a profile. Empty strings are keys the profile does
/// not set.
#[derive(Debug, Clone, Serialize)]
pub struct Offsite {
    pub provider: Provider,
    /// The bucket (the container on Azure).
    pub bucket: String,
    /// Where in the bucket this profile's dumps go; the profile's name
    /// unless set, so that profiles sharing a bucket never prune or restore
    /// each other's dumps.
    pub prefix: String,
    /// S3 only: the bucket's region.
    pub region: String,
    /// S3 only: the URL of an S3-compatible store (MinIO, ...); empty for AWS.
    pub endpoint: String,
    /// Azure only: the storage account that holds the container.
    pub account: String,
    /// EKS (IRSA): the IAM role the job's ServiceAccount assumes.
    pub role_arn: String,
    /// GKE Workload Identity: the Google service account it acts as.
    pub gcp_service_account: String,
    /// Azure workload identity: the client id of the managed identity.
    pub azure_client_id: String,
    /// S3 only: a Secret with keys `access-key-id` and `secret-access-key`,
    /// used instead of a workload identity.
    pub credentials_secret: String,
    /// The rclone image of the upload step.
    pub image: String,
}

/// The keys of the access-key Secret.
pub const ACCESS_KEY_ID_KEY: &str = "access-key-id";
pub const SECRET_ACCESS_KEY_KEY: &str = "secret-access-key";

impl Offsite {
    pub fn enabled(&self) -> bool {
        self.provider != Provider::None
    }

    /// `remote:bucket/prefix`, as the scripts name the place in rclone's terms.
    pub fn location(&self) -> String {
        format!("{}:{}/{}", RCLONE_REMOTE, self.bucket, self.prefix)
    }

    /// Whether the job authenticates with the access keys of a Secret.
    pub fn uses_access_keys(&self) -> bool {
        self.provider == Provider::S3 && !self.credentials_secret.is_empty()
    }

    /// The key a working upload still needs (the identity or the Azure
    /// account), if any. The built-in profiles cannot know them; a user
    /// profile must set them.
    pub fn missing_key(&self) -> Option<&'static str> {
        match self.provider {
            Provider::None => None,
            Provider::S3 if self.role_arn.is_empty() && self.credentials_secret.is_empty() => {
                Some("backup.offsite.role_arn")
            }
            Provider::Gcs if self.gcp_service_account.is_empty() => {
                Some("backup.offsite.gcp_service_account")
            }
            Provider::AzureBlob if self.account.is_empty() => Some("backup.offsite.account"),
            Provider::AzureBlob if self.azure_client_id.is_empty() => {
                Some("backup.offsite.azure_client_id")
            }
            _ => None,
        }
    }

    /// The same place as the CloudNativePG engine's Barman Cloud object
    /// store, so that one setting serves both engines. Barman writes under
    /// the server name (the profile's) below the prefix. An unset Azure
    /// account gives a host the plugin cannot reach: the archive then fails
    /// loudly, as the upload job does, and render warns (profile::identity).
    pub fn object_store(&self) -> Option<ObjectStore> {
        let place = |root: String| {
            if self.prefix.is_empty() {
                root
            } else {
                format!("{root}/{}", self.prefix)
            }
        };
        let destination = match self.provider {
            Provider::None => return None,
            Provider::S3 => place(format!("s3://{}", self.bucket)),
            Provider::Gcs => place(format!("gs://{}", self.bucket)),
            Provider::AzureBlob => place(format!(
                "https://{}.blob.core.windows.net/{}",
                self.account, self.bucket
            )),
        };
        let set = |value: &str| (!value.is_empty()).then(|| value.to_owned());
        let identity = match self.provider {
            _ if self.uses_access_keys() => None,
            Provider::S3 => set(&self.role_arn),
            Provider::Gcs => set(&self.gcp_service_account),
            _ => set(&self.azure_client_id),
        };
        Some(ObjectStore {
            destination,
            endpoint: set(&self.endpoint),
            identity,
            credentials_secret: set(&self.credentials_secret),
            key: OFFSITE_KEY,
        })
    }

    /// The workload-identity annotation of the job's ServiceAccount.
    pub fn service_account_annotation(&self) -> Option<(&'static str, &str)> {
        match self.provider {
            Provider::S3 if !self.uses_access_keys() && !self.role_arn.is_empty() => {
                Some(("eks.amazonaws.com/role-arn", &self.role_arn))
            }
            Provider::Gcs if !self.gcp_service_account.is_empty() => {
                Some(("iam.gke.io/gcp-service-account", &self.gcp_service_account))
            }
            Provider::AzureBlob if !self.azure_client_id.is_empty() => {
                Some(("azure.workload.identity/client-id", &self.azure_client_id))
            }
            _ => None,
        }
    }

    /// The pod label Azure's workload-identity webhook acts on.
    pub fn pod_label(&self) -> Option<(&'static str, &'static str)> {
        (self.provider == Provider::AzureBlob).then_some(("azure.workload.identity/use", "true"))
    }

    /// The upload container's variables: where the dumps go, what the
    /// profile lacks (the scripts refuse to run then), and rclone's
    /// configuration of the remote as the environment variables rclone
    /// reads it from (no config file). Credentials never appear here:
    /// the workload identity's webhook or metadata server provides them, or
    /// the Secret does (see [`Offsite::uses_access_keys`]).
    pub fn script_env(&self) -> Vec<(String, String)> {
        let option = |name: &str| format!("RCLONE_CONFIG_{}_{name}", RCLONE_REMOTE.to_uppercase());
        let mut env = vec![("OFFSITE_LOCATION".to_owned(), self.location())];
        if let Some(key) = self.missing_key() {
            env.push(("OFFSITE_UNSET_KEY".to_owned(), key.to_owned()));
        }
        env.push((option("TYPE"), self.provider.rclone_type().to_owned()));
        let mut set = |name: &str, value: &str| env.push((option(name), value.to_owned()));
        match self.provider {
            Provider::None => {}
            Provider::S3 => {
                set(
                    "PROVIDER",
                    if self.endpoint.is_empty() {
                        "AWS"
                    } else {
                        "Other"
                    },
                );
                // IRSA: the AWS SDK's web-identity credentials from the
                // token file and role the EKS webhook injects.
                set(
                    "ENV_AUTH",
                    if self.uses_access_keys() {
                        "false"
                    } else {
                        "true"
                    },
                );
                set("REGION", &self.region);
                if !self.endpoint.is_empty() {
                    set("ENDPOINT", &self.endpoint);
                }
                // The job may write objects, not create buckets.
                set("NO_CHECK_BUCKET", "true");
            }
            Provider::Gcs => {
                // Application Default Credentials: GKE's metadata server.
                set("ENV_AUTH", "true");
                set("NO_CHECK_BUCKET", "true");
                // Uniform bucket-level access: no per-object ACLs.
                set("BUCKET_POLICY_ONLY", "true");
            }
            Provider::AzureBlob => {
                set("ACCOUNT", &self.account);
                // azidentity's default chain, which reads the federated
                // token the workload-identity webhook projects.
                set("ENV_AUTH", "true");
                set("NO_CHECK_CONTAINER", "true");
            }
        }
        env
    }

    /// The environment variables that carry the Secret's access keys.
    pub fn access_key_env(&self) -> [(String, &'static str); 2] {
        let option = |name: &str| format!("RCLONE_CONFIG_{}_{name}", RCLONE_REMOTE.to_uppercase());
        [
            (option("ACCESS_KEY_ID"), ACCESS_KEY_ID_KEY),
            (option("SECRET_ACCESS_KEY"), SECRET_ACCESS_KEY_KEY),
        ]
    }
}

/// The name of rclone's remote in the scripts and its variables.
pub const RCLONE_REMOTE: &str = "offsite";
