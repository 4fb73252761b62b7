//! Names and paths that the Kubernetes objects and the generated scripts must
//! agree on: one definition, used by both.

pub const NAMESPACE: &str = "paless";
pub const DATABASE: &str = "paperless";
pub const APP_ROLE: &str = "paperless";
pub const EXPORTER_ROLE: &str = "postgres_exporter";

pub const DATABASE_SERVICE: &str = "postgres";
pub const DATABASE_PORT: i32 = 5432;
pub const PGBOUNCER_PORT: i32 = 6432;
pub const EXPORTER_PORT: i32 = 9187;

/// The Secret every profile reads its passwords from, and its keys.
pub const CREDENTIALS_SECRET: &str = "postgres-credentials";
pub const SUPERUSER_PASSWORD_KEY: &str = "postgres-password";
pub const APP_PASSWORD_KEY: &str = "app-password";
pub const EXPORTER_PASSWORD_KEY: &str = "exporter-password";

/// Where containers find the Secret's files.
pub const CREDENTIALS_DIR: &str = "/etc/postgresql/credentials";
pub const BACKUP_DIR: &str = "/backups";
/// The exit status of the upload step of a profile that lacks the off-site
/// identity; the Job fails at once on it instead of retrying.
pub const OFFSITE_UNCONFIGURED_EXIT: i32 = 64;
pub const PGBOUNCER_AUTH_DIR: &str = "/etc/pgbouncer/auth";

pub const REPLICATION_ROLE: &str = "replicator";
pub const REPLICATION_PASSWORD_KEY: &str = "replication-password";
/// The replicas' governing (headless) Service, for stable pod names.
pub const REPLICA_SERVICE: &str = "postgres-replica";
/// The Service that spreads read-only connections over the replicas.
pub const READ_SERVICE: &str = "postgres-read";

/// Where the database container reads its configuration files.
pub const CONFIG_DIR: &str = "/etc/postgresql/config";
/// The server's socket directory, private to the pod.
pub const SOCKET_DIR: &str = "/var/run/postgresql";
/// Where replica pods find their bootstrap and readiness scripts.
pub const REPLICA_SCRIPTS_DIR: &str = "/etc/postgresql/replica";
