//! The reference of every key a profile file may set: the keys themselves
//! come from the parser (`Layer`, walked by asking it about an unknown key
//! at each level), the defaults from resolving the built-in profiles, and
//! type, accepted values and effect from the table below, which a test
//! holds to exactly the keys the parser accepts.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde_json::Value;
use serde_saphyr::Error;

use super::Catalog;
use super::error::ProfileError;
use super::layer::Layer;
use super::yaml_error::innermost;

/// One documented key: a leaf the parser accepts, or a key whose value is
/// a whole mapping or list (`storage.provision`, `scheduling.node_affinity`).
pub struct KeyDoc {
    pub key: &'static str,
    /// The type and the values accepted.
    pub accepts: &'static str,
    /// What the key changes in the generated tree.
    pub changes: &'static str,
}

const fn doc(key: &'static str, accepts: &'static str, changes: &'static str) -> KeyDoc {
    KeyDoc {
        key,
        accepts,
        changes,
    }
}

pub const KEYS: &[KeyDoc] = &[
    doc(
        "extends",
        "profile name (user profiles only)",
        "The profile this file starts from; its keys override that profile's.",
    ),
    doc(
        "description",
        "text",
        "The line `palgen list` and the overlay README show.",
    ),
    doc(
        "namespace",
        "DNS-1123 label, not `default` or `kube-*`",
        "The namespace of every object, DNS name and alert; the overlay moves the base there (Kustomize `namespace:`). Changing it on a running deployment is a data migration.",
    ),
    doc(
        "image",
        "image reference, PostgreSQL 15 or newer; a digest `sha256:` + 64 hex digits",
        "The database and replica containers' image; its major picks the data directory and the parameter ranges.",
    ),
    doc(
        "storage.class",
        "StorageClass name",
        "The data volume's StorageClass (and the backup volume's).",
    ),
    doc(
        "storage.size",
        "quantity, at least 1Gi",
        "The data volume of the primary and each replica.",
    ),
    doc(
        "storage.ssd",
        "boolean",
        "Planner costs in postgresql.conf (random_page_cost, effective_io_concurrency).",
    ),
    doc(
        "storage.provision",
        "`false`, or a mapping `provisioner` (CSI driver name) and `parameters` (string map)",
        "Defines the StorageClass in the overlay (the `ebs-storageclass` component) instead of using one the cluster has.",
    ),
    doc(
        "resources.requests.memory",
        "quantity",
        "The database container's memory request.",
    ),
    doc(
        "resources.requests.cpu",
        "CPU quantity (`500m`, `2`)",
        "The database container's CPU request.",
    ),
    doc(
        "resources.limits.memory",
        "quantity, at least the request",
        "The memory limit, and the memory settings derived from it (shared_buffers, effective_cache_size, work_mem).",
    ),
    doc(
        "resources.limits.cpu",
        "CPU quantity, at least the request",
        "The CPU limit, and the worker counts derived from it.",
    ),
    doc(
        "resources.guaranteed",
        "boolean",
        "Database pods request their limits (memory and CPU): Kubernetes' Guaranteed QoS class; a differing request is refused.",
    ),
    doc(
        "connections.max_connections",
        "whole number within PostgreSQL's range",
        "`max_connections` in postgresql.conf; the connection budget must fit in it.",
    ),
    doc(
        "connections.superuser_reserved",
        "whole number",
        "`superuser_reserved_connections`, kept out of the budget.",
    ),
    doc(
        "connections.web_pods",
        "whole number",
        "Paless web pods counted in the connection budget.",
    ),
    doc(
        "connections.worker_pods",
        "whole number",
        "Paless worker pods counted in the connection budget.",
    ),
    doc(
        "connections.per_pod",
        "whole number",
        "Connections each application pod opens.",
    ),
    doc(
        "connections.safety_margin_percent",
        "whole number (percent)",
        "Margin added to the budget (PgBouncer's `max_client_conn`).",
    ),
    doc(
        "postgres.slow_query_ms",
        "whole number (milliseconds)",
        "`log_min_duration_statement`: statements slower than this are logged.",
    ),
    doc(
        "postgres.shm_size",
        "quantity, above 0 and below the memory limit",
        "The memory-backed `/dev/shm` volume of the database pods.",
    ),
    doc(
        "postgres.max_wal_size",
        "quantity, 32Mi to a quarter of the data volume; unset derives it",
        "`max_wal_size` (and `min_wal_size`) in postgresql.conf.",
    ),
    doc(
        "dev_credentials",
        "boolean",
        "Writes the `dev-credentials` component: a Secret with published passwords (laptops only).",
    ),
    doc(
        "backup.enabled",
        "boolean",
        "The backup CronJob, its volume and the restore CronJob (the `backup` component); on CloudNativePG, WAL archiving and ScheduledBackup.",
    ),
    doc(
        "backup.schedule",
        "cron schedule as Kubernetes reads it (five fields or `@daily`...), UTC",
        "When the backup runs.",
    ),
    doc(
        "backup.retention_days",
        "whole number",
        "How long dumps (or base backups) are kept.",
    ),
    doc(
        "backup.size",
        "quantity",
        "The backup volume the dumps are written to.",
    ),
    doc(
        "backup.offsite.provider",
        "`none`, `s3`, `gcs` or `azureblob`",
        "Copies each dump to the platform's object store (rclone); CloudNativePG's Barman destination.",
    ),
    doc(
        "backup.offsite.bucket",
        "bucket (or container) name as the provider accepts it",
        "Where the copies go.",
    ),
    doc(
        "backup.offsite.prefix",
        "path; empty means the profile's name",
        "The directory in the bucket; two profiles may not write one path.",
    ),
    doc(
        "backup.offsite.region",
        "region name (s3)",
        "The bucket's region.",
    ),
    doc(
        "backup.offsite.endpoint",
        "`http://` or `https://` URL (S3-compatible store); empty for AWS",
        "The S3 endpoint.",
    ),
    doc(
        "backup.offsite.account",
        "storage account name (azureblob)",
        "The Azure storage account.",
    ),
    doc(
        "backup.offsite.role_arn",
        "IAM role ARN (s3 on EKS)",
        "The backup ServiceAccount's IRSA annotation.",
    ),
    doc(
        "backup.offsite.gcp_service_account",
        "Google service account e-mail (gcs on GKE)",
        "The backup ServiceAccount's Workload Identity annotation.",
    ),
    doc(
        "backup.offsite.azure_client_id",
        "client ID (azureblob on AKS)",
        "The backup ServiceAccount's workload identity annotation.",
    ),
    doc(
        "backup.offsite.credentials_secret",
        "Secret name with `access-key-id`, `secret-access-key` (s3)",
        "Access keys for a store without workload identity (MinIO).",
    ),
    doc(
        "backup.offsite.image",
        "pinned image reference",
        "The upload container's image (rclone).",
    ),
    doc(
        "monitoring.exporter",
        "boolean",
        "The postgres_exporter sidecar and its port.",
    ),
    doc(
        "monitoring.exporter_image",
        "pinned image reference",
        "The exporter sidecar's image.",
    ),
    doc(
        "monitoring.service_monitor",
        "boolean",
        "A ServiceMonitor and PrometheusRule (Prometheus Operator CRDs); PodMonitors on CloudNativePG.",
    ),
    doc(
        "monitoring.scraper_namespace",
        "DNS-1123 label",
        "The namespace the NetworkPolicy admits to the metrics port.",
    ),
    doc(
        "pgbouncer.from_app_pods",
        "whole number",
        "PgBouncer is added once web + worker pods reach this many.",
    ),
    doc(
        "pgbouncer.replicas",
        "whole number",
        "PgBouncer pods (or Pooler instances).",
    ),
    doc(
        "pgbouncer.image",
        "pinned image reference",
        "PgBouncer's image.",
    ),
    doc(
        "replication.read_replicas",
        "whole number, at most 8",
        "Streaming read replicas (the `read-replicas` component), with Service `postgres-read`.",
    ),
    doc(
        "replication.max_slot_wal_keep_size",
        "quantity, within the data volume",
        "`max_slot_wal_keep_size`: WAL kept for a lagging replica.",
    ),
    doc(
        "scheduling.spread_zones",
        "boolean",
        "Topology spread of database and PgBouncer pods over zones.",
    ),
    doc(
        "scheduling.node_selector",
        "map of label key to label value (replaces the parent's)",
        "`nodeSelector` of every database, PgBouncer and backup pod.",
    ),
    doc(
        "scheduling.tolerations",
        "list of `key`, `operator` (`Equal`, `Exists`), `value`, `effect` (`NoSchedule`, `PreferNoSchedule`, `NoExecute`)",
        "`tolerations` of those pods.",
    ),
    doc(
        "scheduling.priority_class_name",
        "PriorityClass name; empty for the cluster's default",
        "`priorityClassName` of those pods.",
    ),
    doc(
        "scheduling.priority_class_value",
        "whole number, 0 or 1 to 1000000000",
        "Above 0: the overlay defines PriorityClass `scheduling.priority_class_name` with this value (the `priorityclass` component); 0: the cluster has it.",
    ),
    doc(
        "scheduling.node_affinity",
        "`required` and `preferred` (with `weight` 1-100) lists of `key`, `operator` (`In`, `NotIn`, `Exists`, `DoesNotExist`, `Gt`, `Lt`), `values`",
        "`affinity.nodeAffinity` of those pods, beside the spread over nodes.",
    ),
    doc(
        "audit.log_statement",
        "`none`, `ddl`, `mod` or `all`",
        "`log_statement` in postgresql.conf: which statements the server logs in full.",
    ),
    doc(
        "audit.connections",
        "boolean",
        "`log_connections` and `log_disconnections` in postgresql.conf.",
    ),
    doc(
        "engine",
        "`statefulset` or `cloudnative-pg`",
        "What runs PostgreSQL: palgen's StatefulSets, or a CloudNativePG Cluster and Pooler.",
    ),
    doc(
        "cloudnative_pg.image",
        "CloudNativePG operand image of the same major as `image`",
        "The Cluster's `imageName`.",
    ),
    doc(
        "cloudnative_pg.operator_namespace",
        "DNS-1123 label",
        "The namespace the NetworkPolicy admits to the instances' status port.",
    ),
    doc(
        "cloudnative_pg.wal_size",
        "quantity; unset keeps WAL on the data volume",
        "A separate WAL volume of the Cluster.",
    ),
    doc(
        "cloudnative_pg.backup_destination",
        "deprecated: use `backup.offsite`",
        "The Barman Cloud destination; read one more release with a warning.",
    ),
    doc(
        "cloudnative_pg.backup_endpoint",
        "deprecated: use `backup.offsite.endpoint`",
        "The S3-compatible endpoint of the deprecated destination.",
    ),
    doc(
        "cloudnative_pg.backup_identity",
        "deprecated: use `backup.offsite`'s identity keys",
        "The cloud identity of the deprecated destination.",
    ),
    doc(
        "cloudnative_pg.backup_credentials_secret",
        "deprecated: use `backup.offsite.credentials_secret`",
        "Access keys of the deprecated destination.",
    ),
    doc(
        "tls.enabled",
        "boolean",
        "TLS on every connection: pg_hba.conf admits only `hostssl`, clients verify the server (verify-full).",
    ),
    doc(
        "tls.source",
        "`private-ca`, `issuer` or `secret`",
        "Where the server certificate comes from: a CA the objects set up, your cert-manager issuer, or a Secret you create.",
    ),
    doc(
        "tls.secret",
        "Secret name",
        "The `kubernetes.io/tls` Secret the servers mount (`tls.crt`, `tls.key`, `ca.crt`).",
    ),
    doc(
        "tls.issuer.name",
        "issuer name (with `tls.source: issuer`)",
        "The Certificate's `issuerRef.name`.",
    ),
    doc(
        "tls.issuer.kind",
        "`Issuer` or `ClusterIssuer`",
        "The Certificate's `issuerRef.kind`.",
    ),
    doc(
        "tls.issuer.group",
        "API group",
        "The Certificate's `issuerRef.group`.",
    ),
];

/// Every leaf key the parser accepts, dotted, in the order it declares them.
pub fn accepted() -> Vec<String> {
    let mut found = Vec::new();
    walk(&mut Vec::new(), &mut found);
    found
}

/// A mapping answers an unknown key with the keys it accepts; anything else
/// is a leaf.
fn walk(path: &mut Vec<String>, found: &mut Vec<String>) {
    let mut text = String::new();
    for (depth, part) in path.iter().enumerate() {
        let _ = writeln!(text, "{}{part}:", "  ".repeat(depth));
    }
    let _ = writeln!(text, "{}zz-not-a-key: 1", "  ".repeat(path.len()));
    let parsed = serde_saphyr::from_str::<Layer>(&text);
    match parsed.as_ref().map_err(innermost) {
        Err(Error::SerdeUnknownField { expected, .. }) => {
            for field in expected {
                path.push((*field).to_owned());
                walk(path, found);
                path.pop();
            }
        }
        _ => found.push(path.join(".")),
    }
}

/// The value of a dotted key in settings as `show` prints them.
fn lookup<'a>(settings: &'a Value, key: &str) -> &'a Value {
    key.split('.').fold(settings, |value, part| &value[part])
}

/// A value as the reference prints it: in backticks, or `unset`.
fn shown(value: &Value) -> String {
    match value {
        Value::Null => "unset".to_owned(),
        Value::String(text) => format!("`{text}`"),
        other => format!("`{other}`"),
    }
}

/// The documentation of a key the parser accepts: its own, or that of the
/// key whose whole value it is part of.
fn documentation(leaf: &str) -> Option<&'static KeyDoc> {
    KEYS.iter().find(|doc| {
        leaf == doc.key
            || leaf
                .strip_prefix(doc.key)
                .is_some_and(|rest| rest.starts_with('.'))
    })
}

/// The reference as Markdown: a row per key the parser accepts, with what
/// it accepts, the base's value, the built-in profiles that set another,
/// and what it changes.
pub fn reference(catalog: &Catalog) -> Result<String, ProfileError> {
    let settings = |profile: &super::Profile| {
        serde_json::to_value(&profile.settings).expect("settings serialise")
    };
    let base = settings(&catalog.base()?);
    let builtins: Vec<(String, Value)> = catalog
        .builtin_names()
        .into_iter()
        .map(|name| Ok((name.clone(), settings(&catalog.resolve(&name)?))))
        .collect::<Result<_, ProfileError>>()?;
    let mut out = String::from(
        "# Profile keys\n\n\
         Every key a profile file may set, as `palgen show --keys` prints it from the\n\
         parser's own list of keys and the built-in profiles (refresh this file with\n\
         `palgen show --keys > docs/profile-keys.md`; a test keeps it equal). \"Built-ins\n\
         that differ\" names the built-in profiles whose value is not the base's: a\n\
         size for every platform, a platform for every size.\n\n\
         | key | accepts | base | built-ins that differ | changes |\n\
         |---|---|---|---|---|\n",
    );
    let mut written: Vec<&str> = Vec::new();
    for leaf in accepted() {
        let Some(doc) = documentation(&leaf) else {
            let _ = writeln!(out, "| `{leaf}` | not documented | | | |");
            continue;
        };
        if written.contains(&doc.key) {
            continue;
        }
        written.push(doc.key);
        let base_value = shown(lookup(&base, doc.key));
        let mut differing: BTreeMap<String, Vec<&str>> = BTreeMap::new();
        for (name, values) in &builtins {
            let value = shown(lookup(values, doc.key));
            if value != base_value {
                differing.entry(value).or_default().push(name);
            }
        }
        let differ = differing
            .iter()
            .map(|(value, names)| format!("{}: {value}", grouped(names)))
            .collect::<Vec<_>>()
            .join("; ");
        let base_cell = if doc.key == "extends" {
            "—".to_owned()
        } else {
            base_value
        };
        let _ = writeln!(
            out,
            "| `{}` | {} | {} | {} | {} |",
            doc.key,
            doc.accepts,
            base_cell.replace('|', "\\|"),
            differ.replace('|', "\\|"),
            doc.changes
        );
    }
    Ok(out)
}

/// Profile names, shortened: `every large` for one size on every platform,
/// `aws` for every size of a platform, the rest by name.
fn grouped(names: &[&str]) -> String {
    let mut left: Vec<&str> = names.to_vec();
    let mut parts = Vec::new();
    for size in super::SIZES {
        let all: Vec<String> = super::PLATFORMS
            .iter()
            .map(|p| format!("{p}-{size}"))
            .collect();
        if all.iter().all(|n| left.contains(&n.as_str())) {
            left.retain(|n| !all.iter().any(|a| a == n));
            parts.push(format!("every {size}"));
        }
    }
    for platform in super::PLATFORMS {
        let all: Vec<String> = super::SIZES
            .iter()
            .map(|s| format!("{platform}-{s}"))
            .collect();
        if all.iter().all(|n| left.contains(&n.as_str())) {
            left.retain(|n| !all.iter().any(|a| a == n));
            parts.push(platform.to_owned());
        }
    }
    parts.extend(left.into_iter().map(str::to_owned));
    parts.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The table documents exactly the keys the parser accepts: a leaf is
    /// documented itself or by a key whose whole value it is part of.
    #[test]
    fn every_key_the_parser_accepts_is_documented_and_no_other() {
        let accepted = accepted();
        assert!(accepted.len() > 60, "{accepted:?}");
        let documents = |leaf: &str, key: &str| leaf == key || leaf.starts_with(&format!("{key}."));
        let undocumented: Vec<&String> = accepted
            .iter()
            .filter(|leaf| !KEYS.iter().any(|k| documents(leaf, k.key)))
            .collect();
        assert!(
            undocumented.is_empty(),
            "undocumented keys: {undocumented:?}"
        );
        let unknown: Vec<&str> = KEYS
            .iter()
            .map(|k| k.key)
            .filter(|key| !accepted.iter().any(|leaf| documents(leaf, key)))
            .collect();
        assert!(
            unknown.is_empty(),
            "documented keys the parser refuses: {unknown:?}"
        );
    }

    #[test]
    fn the_walk_finds_nested_and_whole_value_keys() {
        let accepted = accepted();
        for key in [
            "namespace",
            "backup.offsite.role_arn",
            "tls.issuer.group",
            "scheduling.tolerations",
        ] {
            assert!(
                accepted.iter().any(|k| k == key),
                "{key} not in {accepted:?}"
            );
        }
    }

    #[test]
    fn a_size_on_every_platform_and_a_platform_of_every_size_are_named_once() {
        assert_eq!(
            grouped(&[
                "aws-large",
                "aws-medium",
                "aws-small",
                "gcp-large",
                "dev-large",
                "azure-large",
                "gcp-small"
            ]),
            "every large, aws-medium, aws-small, gcp-small"
        );
        assert_eq!(
            grouped(&["aws-large", "aws-medium", "aws-small", "gcp-large"]),
            "aws, gcp-large"
        );
    }
}
