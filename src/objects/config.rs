use std::collections::BTreeMap;

use super::labels::{BACKUP, DATABASE, POOLER, REPLICA, Workload};
use super::offsite::{FETCH_SCRIPT, UPLOAD_SCRIPT};
use super::{Feature, FileConfigMap};
use crate::profile::Profile;
use crate::templates;

pub const CONFIG_MAP: &str = "postgres-config";
pub const INITDB_CONFIG_MAP: &str = "postgres-initdb";
pub const BACKUP_SCRIPTS_CONFIG_MAP: &str = "postgres-backup-scripts";
pub const PGBOUNCER_CONFIG_MAP: &str = "pgbouncer-config";
pub const REPLICA_SCRIPTS_CONFIG_MAP: &str = "postgres-replica-scripts";
pub const REPLICA_BOOTSTRAP_SCRIPT: &str = "replica-bootstrap.sh";
pub const REPLICA_READY_SCRIPT: &str = "replica-ready.sh";
pub const CONFIG_FILE: &str = "postgresql.conf";
pub const PGBOUNCER_FILE: &str = "pgbouncer.ini";
pub const PGBOUNCER_USERLIST_SCRIPT: &str = "pgbouncer-userlist.sh";

/// The ConfigMaps made from templates: the database's own, and those of the
/// backup job and PgBouncer where the profile has them.
pub fn file_config_maps(profile: &Profile) -> Vec<FileConfigMap> {
    let settings = &profile.settings;
    let config_map = |name: &'static str,
                      feature: Option<Feature>,
                      workload: Workload,
                      files: &[&str]| FileConfigMap {
        name,
        feature,
        labels: workload.labels(),
        files: files
            .iter()
            .map(|file| (file.to_string(), templates::render(file, profile)))
            .collect::<BTreeMap<_, _>>(),
    };
    let mut maps = vec![
        config_map(CONFIG_MAP, None, DATABASE, &[CONFIG_FILE, "pg_hba.conf"]),
        config_map(INITDB_CONFIG_MAP, None, DATABASE, &["initdb-paperless.sh"]),
    ];
    if settings.replication.read_replicas > 0 {
        maps.push(config_map(
            REPLICA_SCRIPTS_CONFIG_MAP,
            Some(Feature::ReadReplicas),
            REPLICA,
            &[REPLICA_BOOTSTRAP_SCRIPT, REPLICA_READY_SCRIPT],
        ));
    }
    if settings.backup.enabled {
        let scripts: &[&str] = if settings.backup.offsite.enabled() {
            &["backup.sh", "restore.sh", UPLOAD_SCRIPT, FETCH_SCRIPT]
        } else {
            &["backup.sh", "restore.sh"]
        };
        maps.push(config_map(
            BACKUP_SCRIPTS_CONFIG_MAP,
            Some(Feature::Backup),
            BACKUP,
            scripts,
        ));
    }
    if profile.derived.connection_budget.uses_pgbouncer() {
        maps.push(config_map(
            PGBOUNCER_CONFIG_MAP,
            Some(Feature::PgBouncer),
            POOLER,
            &[PGBOUNCER_FILE, PGBOUNCER_USERLIST_SCRIPT],
        ));
    }
    maps
}
