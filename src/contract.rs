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
/// The pooler's Service.
pub const PGBOUNCER_SERVICE: &str = "pgbouncer";

/// Every name of a Service, as clients in the cluster may write it: `name`,
/// `name.namespace`, `name.namespace.svc` and the fully qualified one.
fn service_names(name: &str) -> [String; 4] {
    [
        name.to_owned(),
        format!("{name}.{NAMESPACE}"),
        format!("{name}.{NAMESPACE}.svc"),
        format!("{name}.{NAMESPACE}.svc.{CLUSTER_DOMAIN}"),
    ]
}

/// The names the database's certificate must cover: the primary's Service
/// and pod, the replicas' Services and pods, the pooler's Service when
/// there is one, and `localhost`, which the exporter sidecar uses.
pub fn server_dns_names(read_replicas: u32, pgbouncer: bool) -> Vec<String> {
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
