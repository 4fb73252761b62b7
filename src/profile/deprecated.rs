//! Keys a user profile may still set for one release, each with the key
//! that replaces it; `render`, `check` and `plan` warn about them.

use super::Profile;

/// The CloudNativePG engine's object store of issue 17, now read from
/// `backup.offsite` as the statefulset engine's dumps are.
const REPLACED: [(&str, &str); 4] = [
    (
        "cloudnative_pg.backup_destination",
        "backup.offsite (provider, bucket, prefix, account)",
    ),
    ("cloudnative_pg.backup_endpoint", "backup.offsite.endpoint"),
    (
        "cloudnative_pg.backup_identity",
        "backup.offsite.role_arn, gcp_service_account or azure_client_id",
    ),
    (
        "cloudnative_pg.backup_credentials_secret",
        "backup.offsite.credentials_secret",
    ),
];

/// One warning per deprecated key the profile sets, naming where.
pub fn warnings(profile: &Profile) -> Vec<String> {
    REPLACED
        .iter()
        .filter_map(|(old, new)| {
            profile.origins.get(old).map(|origin| {
                format!(
                    "{origin}: {old} is deprecated and will be refused in the next release; set {new}, which both engines read"
                )
            })
        })
        .collect()
}
