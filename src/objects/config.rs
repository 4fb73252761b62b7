use std::collections::BTreeMap;

use super::{FileConfigMap, labels};
use crate::profile::Profile;
use crate::templates;
use crate::tuning::Tuning;

pub const CONFIG_MAP: &str = "postgres-config";
pub const INITDB_CONFIG_MAP: &str = "postgres-initdb";
pub const CONFIG_FILE: &str = "postgresql.conf";

pub fn file_config_maps(profile: &Profile, tuning: &Tuning) -> Vec<FileConfigMap> {
    let file = |name: &str| (name.to_owned(), templates::render(name, profile, tuning));
    vec![
        FileConfigMap {
            name: CONFIG_MAP,
            labels: labels::common(),
            files: BTreeMap::from([file(CONFIG_FILE)]),
        },
        FileConfigMap {
            name: INITDB_CONFIG_MAP,
            labels: labels::common(),
            files: BTreeMap::from([file("initdb-extensions.sql")]),
        },
    ]
}
