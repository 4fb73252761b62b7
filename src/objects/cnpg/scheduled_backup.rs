//! The ScheduledBackup: base backups through the Barman Cloud plugin on the
//! profile's backup schedule.

use super::super::custom_resource::CustomResource;
use serde::Serialize;

use super::{BARMAN_PLUGIN, CLUSTER};
use crate::model::cron;
use crate::model::settings::Settings;
use crate::objects::labels::BACKUP;

pub type ScheduledBackup = CustomResource<Spec>;

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Spec {
    schedule: String,
    cluster: super::cluster::LocalRef,
    method: &'static str,
    plugin_configuration: PluginRef,
    /// A first backup as soon as the Cluster is up, not on the next slot.
    immediate: bool,
    /// Backups belong to the ScheduledBackup, so deleting it cleans them up.
    backup_owner_reference: &'static str,
}

#[derive(Serialize)]
struct PluginRef {
    name: &'static str,
}

pub fn build(settings: &Settings) -> ScheduledBackup {
    ScheduledBackup {
        api_version: "postgresql.cnpg.io/v1",
        kind: "ScheduledBackup",
        metadata: BACKUP.metadata(BACKUP.app),
        spec: Spec {
            schedule: cron::with_seconds(&settings.backup.schedule),
            cluster: super::cluster::LocalRef::to(CLUSTER),
            method: "plugin",
            plugin_configuration: PluginRef {
                name: BARMAN_PLUGIN,
            },
            immediate: true,
            backup_owner_reference: "self",
        },
    }
}
