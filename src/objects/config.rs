use std::collections::BTreeMap;

use super::labels::{BACKUP, DATABASE, POOLER, REPLICA, Workload};
use super::offsite::{FETCH_SCRIPT, UPLOAD_SCRIPT};
use super::{Feature, FileConfigMap};
use crate::contract::{
    BACKUP_SCRIPT, BACKUP_SCRIPTS_CONFIG_MAP, CONFIG_FILE, CONFIG_MAP, HBA_FILE, INITDB_CONFIG_MAP,
    INITDB_SCRIPT, PGBOUNCER_CONFIG_MAP, PGBOUNCER_FILE, PGBOUNCER_USERLIST_SCRIPT,
    REPLICA_BOOTSTRAP_SCRIPT, REPLICA_READY_SCRIPT, REPLICA_SCRIPTS_CONFIG_MAP, RESTORE_SCRIPT,
    TLS_RELOAD_SCRIPT,
};
use crate::profile::Profile;
use crate::templates;

/// The ConfigMaps made from templates: the database's own, and those of the
/// backup job and PgBouncer where the profile has them.
pub fn file_config_maps(profile: &Profile) -> Vec<FileConfigMap> {
    let settings = &profile.settings;
    let templates = templates::Context::new(profile);
    let config_map = |name: &'static str,
                      feature: Option<Feature>,
                      workload: Workload,
                      files: &[&str]| FileConfigMap {
        name,
        feature,
        labels: workload.labels(),
        files: files
            .iter()
            .map(|file| (file.to_string(), templates.render(file)))
            .collect::<BTreeMap<_, _>>(),
    };
    let server_files: &[&str] = if settings.tls.enabled {
        &[CONFIG_FILE, HBA_FILE, TLS_RELOAD_SCRIPT]
    } else {
        &[CONFIG_FILE, HBA_FILE]
    };
    let mut maps = vec![
        config_map(CONFIG_MAP, None, DATABASE, server_files),
        config_map(INITDB_CONFIG_MAP, None, DATABASE, &[INITDB_SCRIPT]),
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
            &[BACKUP_SCRIPT, RESTORE_SCRIPT, UPLOAD_SCRIPT, FETCH_SCRIPT]
        } else {
            &[BACKUP_SCRIPT, RESTORE_SCRIPT]
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
