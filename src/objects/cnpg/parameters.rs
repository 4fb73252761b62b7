//! `spec.postgresql.parameters` of the Cluster: the statefulset engine's
//! postgresql.conf (PGTune memory, planner, WAL and logging settings from
//! the same template), less what CloudNativePG sets itself.

use std::collections::BTreeMap;

use crate::contract;
use crate::profile::Profile;
use crate::templates;

/// Parameters CloudNativePG fixes or blocks: its admission webhook rejects
/// a Cluster that sets any of them. From the operator's fixed-parameter list
/// (its "PostgreSQL Configuration" documentation, `pkg/postgres` in its
/// source), taken over recent releases, so that a parameter one release
/// moved off the list is still left alone for the others.
pub const FIXED_BY_OPERATOR: [&str; 74] = [
    "allow_system_table_mods",
    "archive_cleanup_command",
    "archive_command",
    "archive_mode",
    "archive_timeout",
    "bonjour",
    "bonjour_name",
    "cluster_name",
    "config_file",
    "data_directory",
    "data_sync_retry",
    "dynamic_shared_memory_type",
    "event_source",
    "external_pid_file",
    "full_page_writes",
    "hba_file",
    "hot_standby",
    "huge_pages",
    "ident_file",
    "jit_provider",
    "listen_addresses",
    "log_destination",
    "log_directory",
    "log_file_mode",
    "log_filename",
    "log_rotation_age",
    "log_rotation_size",
    "log_truncate_on_rotation",
    "logging_collector",
    "pg_failover_slots.primary_dsn",
    "pg_failover_slots.standby_slot_names",
    "port",
    "primary_conninfo",
    "primary_slot_name",
    "promote_trigger_file",
    "recovery_end_command",
    "recovery_min_apply_delay",
    "recovery_target",
    "recovery_target_action",
    "recovery_target_inclusive",
    "recovery_target_lsn",
    "recovery_target_name",
    "recovery_target_time",
    "recovery_target_timeline",
    "recovery_target_xid",
    "restart_after_crash",
    "restore_command",
    "shared_memory_type",
    "shared_preload_libraries",
    "ssl",
    "ssl_ca_file",
    "ssl_cert_file",
    "ssl_ciphers",
    "ssl_crl_file",
    "ssl_dh_params_file",
    "ssl_ecdh_curve",
    "ssl_key_file",
    "ssl_max_protocol_version",
    "ssl_min_protocol_version",
    "ssl_passphrase_command",
    "ssl_passphrase_command_supports_reload",
    "ssl_prefer_server_ciphers",
    "stats_temp_directory",
    "synchronized_standby_slots",
    "synchronous_standby_names",
    "syslog_facility",
    "syslog_ident",
    "syslog_sequence_numbers",
    "syslog_split_messages",
    "temp_tablespaces",
    "unix_socket_directories",
    "unix_socket_group",
    "unix_socket_permissions",
    "wal_level",
];

/// Accepted by the webhook, but sized by the operator for the instances it
/// runs (replication slots and WAL senders for its own standbys).
const SIZED_BY_OPERATOR: [&str; 2] = ["max_replication_slots", "max_wal_senders"];

/// Every `name = value` of the rendered postgresql.conf that the operator
/// leaves to the user, values unquoted as PostgreSQL reads them.
pub fn parameters(profile: &Profile) -> BTreeMap<String, String> {
    let conf = templates::render(contract::CONFIG_FILE, profile);
    parse_conf(&conf)
        .into_iter()
        .filter(|(name, _)| {
            !FIXED_BY_OPERATOR.contains(&name.as_str())
                && !SIZED_BY_OPERATOR.contains(&name.as_str())
        })
        .collect()
}

/// The settings of a postgresql.conf that palgen wrote: one `name = value`
/// per line, strings in single quotes with `''` for a quote.
pub fn parse_conf(conf: &str) -> BTreeMap<String, String> {
    conf.lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .filter_map(|line| line.split_once('='))
        .map(|(name, value)| {
            let value = value.trim();
            let value = match value.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')) {
                Some(quoted) => quoted.replace("''", "'"),
                None => value.to_owned(),
            };
            (name.trim().to_owned(), value)
        })
        .collect()
}
