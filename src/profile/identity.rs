//! Whether a profile's off-site copies can authenticate: the rclone upload
//! of the statefulset engine, or the WAL archive of the cloudnative-pg
//! engine. The built-in cloud profiles cannot know the user's role or
//! service account, so this is said at render time rather than left to fail
//! in the cluster.

use crate::model::settings::{Engine, OFFSITE_KEY, Settings};

/// The key a profile must set for its upload or WAL archive to reach the
/// bucket, if any.
pub fn missing_key(settings: &Settings) -> Option<&'static str> {
    if !settings.backup.enabled {
        return None;
    }
    match settings.engine {
        Engine::StatefulSet => settings.backup.offsite.missing_key(),
        Engine::CloudNativePg => {
            let store = settings.cloudnative_pg.object_store.as_ref()?;
            if store.key == OFFSITE_KEY {
                settings.backup.offsite.missing_key()
            } else if store.credentials_secret.is_some() {
                None
            } else if store.endpoint.is_some() {
                // An S3-compatible server has no workload identity.
                Some("cloudnative_pg.backup_credentials_secret")
            } else if store.identity.is_none() {
                Some("cloudnative_pg.backup_identity")
            } else {
                None
            }
        }
    }
}

/// The warning line for one profile that lacks its identity.
pub fn warning(profile: &str, key: &str) -> String {
    format!(
        "{profile}: the off-site backup cannot authenticate to its bucket; set {key} in the profile"
    )
}
