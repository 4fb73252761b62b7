//! Names, paths and limits that the Kubernetes objects, the generated
//! scripts and configuration files and the README must agree on: one
//! definition each. Templates receive every entry of [`TEXT`] and
//! [`NUMBERS`] under its key, and the tests below refuse a template or a
//! README example that writes one of these values literally instead.

/// The namespace of the base (`k8s/base`); a profile may move its overlay
/// to another (Kustomize's `namespace:` field).
pub const NAMESPACE: &str = "paless";
pub const DATABASE: &str = "paperless";
pub const APP_ROLE: &str = "paperless";
pub const EXPORTER_ROLE: &str = "postgres_exporter";
/// The image's superuser, also the OS user the probes connect as.
pub const SUPERUSER: &str = "postgres";
/// The database every cluster has, for connections that need no other.
pub const MAINTENANCE_DATABASE: &str = "postgres";

pub const DATABASE_SERVICE: &str = "postgres";
/// The primary's StatefulSet, named like its governing Service.
pub const DATABASE_STATEFULSET: &str = DATABASE_SERVICE;
pub const DATABASE_PORT: i32 = 5432;
pub const PGBOUNCER_SERVICE: &str = "pgbouncer";
pub const PGBOUNCER_PORT: i32 = 6432;
pub const EXPORTER_PORT: i32 = 9187;
/// The backup CronJob (and its Jobs' prefix), and the volume of its dumps.
pub const BACKUP_JOB: &str = "postgres-backup";
/// The suspended CronJob that holds the restore Job's template.
pub const RESTORE_JOB: &str = "postgres-restore";
pub const BACKUP_CLAIM: &str = "postgres-backups";
/// The replicas' governing (headless) Service, for stable pod names.
pub const REPLICA_SERVICE: &str = "postgres-replica";
/// The Service that spreads read-only connections over the replicas.
pub const READ_SERVICE: &str = "postgres-read";

/// Pods with this label may reach the database (the NetworkPolicy admits
/// them): the application's pods must carry it.
pub const PART_OF_KEY: &str = "app.kubernetes.io/part-of";
pub const PART_OF_VALUE: &str = "paless";

/// The Secret every profile reads its passwords from, and its keys.
pub const CREDENTIALS_SECRET: &str = "postgres-credentials";
pub const SUPERUSER_PASSWORD_KEY: &str = "postgres-password";
pub const APP_PASSWORD_KEY: &str = "app-password";
pub const EXPORTER_PASSWORD_KEY: &str = "exporter-password";
pub const REPLICATION_ROLE: &str = "replicator";
pub const REPLICATION_PASSWORD_KEY: &str = "replication-password";

/// Where containers find the Secret's files.
pub const CREDENTIALS_DIR: &str = "/etc/postgresql/credentials";
pub const BACKUP_DIR: &str = "/backups";
/// How long a backup Job may run (`activeDeadlineSeconds`): a dump that
/// hangs fails the Job and frees the schedule (`concurrencyPolicy: Forbid`
/// skips runs while one is active). A `.partial` file older than this was
/// left by a run that is over.
pub const BACKUP_DEADLINE_SECONDS: i64 = 6 * 3600;
/// pg_dump's wait for its table locks: a session holding an exclusive
/// lock (a migration, VACUUM FULL) fails the dump instead of stalling it.
pub const BACKUP_LOCK_WAIT_TIMEOUT: &str = "5min";
/// The exit status of the upload step of a profile that lacks the off-site
/// identity; the Job fails at once on it instead of retrying.
pub const OFFSITE_UNCONFIGURED_EXIT: i32 = 64;
pub const PGBOUNCER_AUTH_DIR: &str = "/etc/pgbouncer/auth";
/// Where the database container reads its configuration files.
pub const CONFIG_DIR: &str = "/etc/postgresql/config";
/// The server's socket directory, private to the pod.
pub const SOCKET_DIR: &str = "/var/run/postgresql";
/// Where replica pods find their bootstrap and readiness scripts.
pub const REPLICA_SCRIPTS_DIR: &str = "/etc/postgresql/replica";
/// Where the image's entrypoint runs first-start scripts from.
pub const INITDB_DIR: &str = "/docker-entrypoint-initdb.d";

/// Where every pod that speaks TLS to the database finds the certificate
/// Secret's files, and their names (those of a `kubernetes.io/tls` Secret
/// as cert-manager writes it).
pub const TLS_DIR: &str = "/etc/postgresql/tls";
pub const TLS_CERT_KEY: &str = "tls.crt";
pub const TLS_PRIVATE_KEY_KEY: &str = "tls.key";
pub const TLS_CA_KEY: &str = "ca.crt";
/// The CA certificate clients verify the server with.
pub fn tls_ca_file() -> String {
    format!("{TLS_DIR}/{TLS_CA_KEY}")
}
/// The DNS suffix of Services in a default Kubernetes cluster.
pub const CLUSTER_DOMAIN: &str = "cluster.local";

/// Every name of a Service in `namespace`, as clients in the cluster may
/// write it: `name`, `name.namespace`, `name.namespace.svc` and the fully
/// qualified one.
fn service_names(namespace: &str, name: &str) -> [String; 4] {
    [
        name.to_owned(),
        format!("{name}.{namespace}"),
        format!("{name}.{namespace}.svc"),
        format!("{name}.{namespace}.svc.{CLUSTER_DOMAIN}"),
    ]
}

/// The names the database's certificate must cover: the primary's Service
/// and pod, the replicas' Services and pods, the pooler's Service when
/// there is one, and `localhost`, which the exporter sidecar uses.
pub fn server_dns_names(namespace: &str, read_replicas: u32, pgbouncer: bool) -> Vec<String> {
    let service_names = |name: &str| service_names(namespace, name);
    let mut names = Vec::new();
    names.extend(service_names(DATABASE_SERVICE));
    names.extend(service_names(&format!(
        "{DATABASE_SERVICE}-0.{DATABASE_SERVICE}"
    )));
    if read_replicas > 0 {
        names.extend(service_names(READ_SERVICE));
        names.extend(service_names(REPLICA_SERVICE));
        for ordinal in 0..read_replicas {
            names.extend(service_names(&format!(
                "{REPLICA_SERVICE}-{ordinal}.{REPLICA_SERVICE}"
            )));
        }
    }
    if pgbouncer {
        names.extend(service_names(PGBOUNCER_SERVICE));
    }
    names.push("localhost".to_owned());
    names
}

/// Every name clients reach the CloudNativePG engine's servers by: the
/// Cluster's Services (read-write, any instance, read-only) and the
/// Pooler's, which serves the same clients with the Cluster's certificate.
pub fn cnpg_server_dns_names(namespace: &str) -> Vec<String> {
    let service_names = |name: &str| service_names(namespace, name);
    let mut names = Vec::new();
    for suffix in ["rw", "r", "ro"] {
        names.extend(service_names(&format!("{CNPG_CLUSTER}-{suffix}")));
    }
    names.extend(service_names(CNPG_POOLER));
    names.push("localhost".to_owned());
    names
}

/// The generated ConfigMaps and the files they hold.
pub const CONFIG_MAP: &str = "postgres-config";
pub const CONFIG_FILE: &str = "postgresql.conf";
pub const HBA_FILE: &str = "pg_hba.conf";
pub const TLS_RELOAD_SCRIPT: &str = "tls-reload.sh";
/// Touched by the reload loop every round; its container's probes read it.
pub const TLS_RELOAD_HEARTBEAT: &str = "/tmp/tls-reload.alive";
pub const INITDB_CONFIG_MAP: &str = "postgres-initdb";
pub const INITDB_SCRIPT: &str = "initdb-paperless.sh";
pub const BACKUP_SCRIPTS_CONFIG_MAP: &str = "postgres-backup-scripts";
pub const BACKUP_SCRIPT: &str = "backup.sh";
pub const RESTORE_SCRIPT: &str = "restore.sh";
pub const PGBOUNCER_CONFIG_MAP: &str = "pgbouncer-config";
pub const PGBOUNCER_FILE: &str = "pgbouncer.ini";
pub const PGBOUNCER_USERLIST_SCRIPT: &str = "pgbouncer-userlist.sh";
pub const REPLICA_SCRIPTS_CONFIG_MAP: &str = "postgres-replica-scripts";
pub const REPLICA_BOOTSTRAP_SCRIPT: &str = "replica-bootstrap.sh";
pub const REPLICA_READY_SCRIPT: &str = "replica-ready.sh";

/// The CloudNativePG engine's objects: the Cluster, the Pooler (named like
/// the statefulset engine's Service, so the application's address stays),
/// the Barman Cloud ObjectStore, and the application Secret the operator
/// generates for the Cluster.
pub const CNPG_CLUSTER: &str = "postgres-cluster";
pub const CNPG_POOLER: &str = DATABASE_SERVICE;
pub const CNPG_OBJECT_STORE: &str = "postgres-backups";
pub const CNPG_APP_SECRET: &str = "postgres-cluster-app";

/// WAL senders and replication slots the primary allows; each replica
/// holds one of each, and a base backup (a new replica's clone, or an
/// operator's `pg_basebackup`) needs a sender of its own.
pub const MAX_WAL_SENDERS: u32 = 10;
/// Senders kept free of replicas: one base backup and one spare.
pub const RESERVED_WAL_SENDERS: u32 = 2;
pub const MAX_READ_REPLICAS: u32 = MAX_WAL_SENDERS - RESERVED_WAL_SENDERS;

/// Every text value above by the key templates know it by.
pub const TEXT: &[(&str, &str)] = &[
    ("namespace", NAMESPACE),
    ("part_of_key", PART_OF_KEY),
    ("part_of_value", PART_OF_VALUE),
    ("database", DATABASE),
    ("app_role", APP_ROLE),
    ("exporter_role", EXPORTER_ROLE),
    ("superuser", SUPERUSER),
    ("maintenance_database", MAINTENANCE_DATABASE),
    ("database_statefulset", DATABASE_STATEFULSET),
    ("replica_statefulset", REPLICA_SERVICE),
    ("backup_job", BACKUP_JOB),
    ("backup_claim", BACKUP_CLAIM),
    ("cnpg_cluster", CNPG_CLUSTER),
    ("cnpg_pooler", CNPG_POOLER),
    ("cnpg_object_store", CNPG_OBJECT_STORE),
    ("cnpg_app_secret", CNPG_APP_SECRET),
    ("database_host", DATABASE_SERVICE),
    ("pgbouncer_service", PGBOUNCER_SERVICE),
    ("replica_service", REPLICA_SERVICE),
    ("read_service", READ_SERVICE),
    ("credentials_secret", CREDENTIALS_SECRET),
    ("superuser_password_key", SUPERUSER_PASSWORD_KEY),
    ("app_password_key", APP_PASSWORD_KEY),
    ("exporter_password_key", EXPORTER_PASSWORD_KEY),
    ("replication_role", REPLICATION_ROLE),
    ("replication_password_key", REPLICATION_PASSWORD_KEY),
    ("credentials_dir", CREDENTIALS_DIR),
    ("backup_dir", BACKUP_DIR),
    ("pgbouncer_auth_dir", PGBOUNCER_AUTH_DIR),
    ("config_dir", CONFIG_DIR),
    ("socket_dir", SOCKET_DIR),
    ("replica_scripts_dir", REPLICA_SCRIPTS_DIR),
    ("initdb_dir", INITDB_DIR),
    ("config_map", CONFIG_MAP),
    ("config_file", CONFIG_FILE),
    ("hba_file", HBA_FILE),
    ("tls_reload_script", TLS_RELOAD_SCRIPT),
    ("tls_reload_heartbeat", TLS_RELOAD_HEARTBEAT),
    ("initdb_config_map", INITDB_CONFIG_MAP),
    ("initdb_script", INITDB_SCRIPT),
    ("backup_scripts_config_map", BACKUP_SCRIPTS_CONFIG_MAP),
    ("backup_script", BACKUP_SCRIPT),
    ("restore_script", RESTORE_SCRIPT),
    ("pgbouncer_config_map", PGBOUNCER_CONFIG_MAP),
    ("pgbouncer_file", PGBOUNCER_FILE),
    ("pgbouncer_userlist_script", PGBOUNCER_USERLIST_SCRIPT),
    ("replica_bootstrap_script", REPLICA_BOOTSTRAP_SCRIPT),
    ("replica_ready_script", REPLICA_READY_SCRIPT),
];

/// Every number above by the key templates know it by.
pub const NUMBERS: &[(&str, i64)] = &[
    ("database_port", DATABASE_PORT as i64),
    ("pgbouncer_port", PGBOUNCER_PORT as i64),
    ("exporter_port", EXPORTER_PORT as i64),
    ("max_wal_senders", MAX_WAL_SENDERS as i64),
    ("reserved_wal_senders", RESERVED_WAL_SENDERS as i64),
    ("max_read_replicas", MAX_READ_REPLICAS as i64),
    ("backup_deadline_minutes", BACKUP_DEADLINE_SECONDS / 60),
];

#[cfg(test)]
mod tests {
    use super::*;

    /// The README's shell examples: each name they use is the contract's.
    #[test]
    fn readme_examples_use_the_contract_names() {
        let readme = include_str!("../README.md");
        let examples: String = readme
            .split("```")
            .skip(1)
            .step_by(2)
            .collect::<Vec<_>>()
            .join("\n");
        let mut checked = 0;
        let mut wrong = Vec::new();
        let mut expect = |what: &str, found: &str, allowed: &[&str]| {
            checked += 1;
            if !allowed.contains(&found) {
                wrong.push(format!("{what} {found:?}, expected one of {allowed:?}"));
            }
        };
        // The CloudNativePG operator's namespace is a setting, not a name of
        // ours: the README may use the base profile's default.
        let operator_namespace = include_str!("../profiles/builtin/base.yaml")
            .lines()
            .find_map(|line| line.trim().strip_prefix("operator_namespace:"))
            .map(str::trim)
            .expect("base.yaml sets cloudnative_pg.operator_namespace");
        let words: Vec<&str> = examples.split_whitespace().collect();
        for (at, pair) in words.windows(2).enumerate() {
            let argument = pair[1].trim_matches(|c| c == '"' || c == '\'');
            // A TLS Secret is named by the user's profile (`tls.secret`).
            let tls_secret = words
                .get(at + 2)
                .is_some_and(|w| w.starts_with("--type=kubernetes.io/tls"));
            match pair[0] {
                "generic" if tls_secret => {}
                "-n" | "--namespace" | "namespace" => {
                    expect("namespace", argument, &[NAMESPACE, operator_namespace])
                }
                "-U" | "--username" => expect("user", argument, &[SUPERUSER, APP_ROLE]),
                "generic" => expect("secret", argument, &[CREDENTIALS_SECRET]),
                _ => {}
            }
        }
        for word in &words {
            if let Some(key) = word
                .strip_prefix("--from-literal=")
                .and_then(|rest| rest.split('=').next())
            {
                expect(
                    "secret key",
                    key,
                    &[
                        SUPERUSER_PASSWORD_KEY,
                        APP_PASSWORD_KEY,
                        EXPORTER_PASSWORD_KEY,
                        REPLICATION_PASSWORD_KEY,
                    ],
                );
            }
            for (prefix, allowed) in [
                ("statefulset/", &[DATABASE_STATEFULSET, REPLICA_SERVICE][..]),
                ("cronjob/", &[BACKUP_JOB, RESTORE_JOB][..]),
            ] {
                if let Some(name) = word.strip_prefix(prefix) {
                    expect(prefix, name, allowed);
                }
            }
            // The restore Job's DUMP: a word of restore.sh, or a dump's name.
            if let Some(dump) = word.strip_prefix("DUMP=") {
                let name = format!("{DATABASE}-");
                let found = if ["list", "latest"].contains(&dump) {
                    dump
                } else {
                    &dump[..name.len().min(dump.len())]
                };
                expect("dump", found, &["list", "latest", &name]);
            }
        }
        assert!(wrong.is_empty(), "README examples: {}", wrong.join("; "));
        assert!(
            checked >= 10,
            "the README examples were not found ({checked} names checked)"
        );
    }
}
