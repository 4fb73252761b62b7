//! Whether resolved settings can work: values Kubernetes and PostgreSQL
//! accept, a connection budget that fits, each refusal naming the key and
//! the file that set it.

use super::blame::Blame;
use super::error::SettingsError;
use super::offsite;
use super::postgres_limits;
use super::together;
use crate::contract;
use crate::model::derived::Derived;
use crate::model::quantity::Bytes;
use crate::model::settings::{
    CertificateSource, Cloud, DEPRECATED_DESTINATION_KEY, Engine, NodeAffinity, NodeOperator,
    ObjectStore, Settings, TolerationOperator, is_dns_label, is_dns_subdomain,
};
use crate::model::{cron, image};

/// The smallest data volume palgen will generate: PostgreSQL's own files and a
/// little WAL already take hundreds of megabytes.
const MIN_STORAGE: Bytes = Bytes::gibibytes(1);

/// StorageClasses the platforms create in every cluster: a profile that
/// defines a class of one of these names would redefine the cluster's own.
const BUILT_IN_CLASSES: [(&str, &str); 17] = [
    ("gp2", "EKS"),
    ("standard", "GKE (and kind, minikube)"),
    ("standard-rwo", "GKE"),
    ("premium-rwo", "GKE"),
    ("standard-rwx", "GKE"),
    ("premium-rwx", "GKE"),
    ("enterprise-rwx", "GKE"),
    ("default", "AKS"),
    ("managed", "AKS"),
    ("managed-csi", "AKS"),
    ("managed-csi-premium", "AKS"),
    ("managed-premium", "AKS"),
    ("azurefile", "AKS"),
    ("azurefile-csi", "AKS"),
    ("azurefile-csi-premium", "AKS"),
    ("azurefile-premium", "AKS"),
    ("local-path", "k3s"),
];

/// The highest value of a PriorityClass that is not one of Kubernetes' own.
const MAX_USER_PRIORITY: i32 = 1_000_000_000;

/// The kinds a cert-manager `issuerRef` names (external issuers bring their
/// own group but use these kinds too).
const ISSUER_KINDS: [&str; 2] = ["Issuer", "ClusterIssuer"];

pub(super) fn validate(s: &Settings, d: &Derived, r: &Blame<'_>) -> Result<(), SettingsError> {
    validate_namespace(s, r)?;
    validate_storage(s, r)?;
    validate_resources(s, r)?;
    validate_connections(s, d, r)?;
    validate_backup(s, r)?;
    offsite::validate(s, r)?;
    validate_images(s, r)?;
    validate_replication(s, r)?;
    validate_cloudnative_pg(s, d, r)?;
    validate_scheduling(s, r)?;
    postgres_limits::validate_wal(s, r)?;
    postgres_limits::validate_ranges(s, d, r)?;
    postgres_limits::validate_memory(s, d, r)?;
    validate_tls(s, r)?;
    together::validate(s, r)
}

/// A name Kubernetes accepts for a namespace, and one palgen may own: its
/// Namespace object sets Pod Security labels on the whole namespace, which
/// must not be the cluster's `default` or one Kubernetes reserves (`kube-`).
fn validate_namespace(s: &Settings, r: &Blame<'_>) -> Result<(), SettingsError> {
    let name = &s.namespace;
    let problem = if !is_dns_label(name) {
        "is not a valid namespace name (lowercase letters, digits and '-', at most 63, starting and ending with a letter or digit)"
    } else if name == "default" || name.starts_with("kube-") {
        "is a namespace of the cluster itself: palgen's Namespace object would set Pod Security labels on it; name one for this deployment"
    } else {
        return Ok(());
    };
    Err(r.invalid("namespace", format!("{name:?} {problem}")))
}

/// Names Kubernetes accepts for the Secret and the issuer; an issuer kind
/// cert-manager knows.
fn validate_tls(s: &Settings, r: &Blame<'_>) -> Result<(), SettingsError> {
    if !is_dns_subdomain(&s.tls.secret) {
        return Err(r.invalid(
            "tls.secret",
            format!(
                "{:?} is not a valid Secret name (lower-case letters, digits, '-' and '.')",
                s.tls.secret
            ),
        ));
    }
    let issuer = &s.tls.issuer;
    match &issuer.name {
        None if s.tls.source == CertificateSource::Issuer => {
            return Err(r.invalid(
                "tls.source",
                "\"issuer\" needs tls.issuer.name, the cert-manager Issuer or ClusterIssuer that signs the certificate".to_owned(),
            ));
        }
        Some(name) if !is_dns_subdomain(name) => {
            return Err(r.invalid(
                "tls.issuer.name",
                format!("{name:?} is not a valid issuer name"),
            ));
        }
        _ => {}
    }
    if !ISSUER_KINDS.contains(&issuer.kind.as_str()) {
        return Err(r.invalid(
            "tls.issuer.kind",
            format!(
                "{:?} is not an issuer kind; write {}",
                issuer.kind,
                ISSUER_KINDS.join(" or ")
            ),
        ));
    }
    if !is_dns_subdomain(&issuer.group) {
        return Err(r.invalid(
            "tls.issuer.group",
            format!(
                "{:?} is not an API group such as cert-manager.io",
                issuer.group
            ),
        ));
    }
    Ok(())
}

/// The data volume: a class Kubernetes accepts, room for PostgreSQL.
fn validate_storage(s: &Settings, r: &Blame<'_>) -> Result<(), SettingsError> {
    if !is_dns_subdomain(&s.storage.class) {
        return Err(r.invalid(
            "storage.class",
            format!(
                "{:?} is not a valid StorageClass name (lower-case letters, digits, '-' and '.')",
                s.storage.class
            ),
        ));
    }
    if s.storage.size < MIN_STORAGE {
        return Err(r.invalid(
            "storage.size",
            format!("{} is below the minimum of {MIN_STORAGE}", s.storage.size),
        ));
    }
    if let Some(class) = &s.storage.provision {
        if let Some((_, platform)) = BUILT_IN_CLASSES
            .iter()
            .find(|(name, _)| *name == s.storage.class)
        {
            return Err(r.invalid(
                r.most_specific(&["storage.provision", "storage.class"]),
                format!(
                    "{:?} is a StorageClass {platform} creates; the overlay would redefine it with provisioner {:?}. Set storage.provision: false to use the cluster's class, or name yours differently",
                    s.storage.class, class.provisioner
                ),
            ));
        }
        if !is_qualified_name(&class.provisioner) {
            return Err(r.invalid(
                "storage.provision",
                format!(
                    "provisioner {:?} is not a provisioner name; write the CSI driver's name, such as ebs.csi.aws.com",
                    class.provisioner
                ),
            ));
        }
    }
    Ok(())
}

/// Node labels Kubernetes accepts, tolerations it accepts, a PriorityClass
/// name; the CloudNativePG engine has its own scheduling, not generated yet.
fn validate_scheduling(s: &Settings, r: &Blame<'_>) -> Result<(), SettingsError> {
    let scheduling = &s.scheduling;
    for (key, value) in &scheduling.node_selector {
        if !is_qualified_name(key) {
            return Err(r.invalid(
                "scheduling.node_selector",
                format!("{key:?} is not a label key (`[prefix/]name`, e.g. node-pool or example.com/pool)"),
            ));
        }
        if !is_label_value(value) {
            return Err(r.invalid(
                "scheduling.node_selector",
                format!("{key}: {value:?} is not a label value (at most 63 letters, digits, '-', '_' and '.', starting and ending with a letter or digit)"),
            ));
        }
    }
    for toleration in &scheduling.tolerations {
        let (key, value) = (&toleration.key, &toleration.value);
        if !key.is_empty() && !is_qualified_name(key) {
            return Err(r.invalid(
                "scheduling.tolerations",
                format!("key {key:?} is not a taint key (`[prefix/]name`)"),
            ));
        }
        match toleration.operator {
            TolerationOperator::Exists if !value.is_empty() => {
                return Err(r.invalid(
                    "scheduling.tolerations",
                    format!("key {key:?}: operator Exists takes no value (found {value:?})"),
                ));
            }
            TolerationOperator::Equal if key.is_empty() => {
                return Err(r.invalid(
                    "scheduling.tolerations",
                    "a toleration without key must use operator Exists (it then tolerates every taint)".to_owned(),
                ));
            }
            TolerationOperator::Equal if !is_label_value(value) => {
                return Err(r.invalid(
                    "scheduling.tolerations",
                    format!("key {key}: {value:?} is not a taint value"),
                ));
            }
            _ => {}
        }
    }
    let class = &scheduling.priority_class_name;
    if !class.is_empty() && !is_dns_subdomain(class) {
        return Err(r.invalid(
            "scheduling.priority_class_name",
            format!(
                "{class:?} is not a PriorityClass name (lower-case letters, digits, '-' and '.')"
            ),
        ));
    }
    let value = scheduling.priority_class_value;
    let layer = |key| r.origins.get(key).map_or(0, |o| o.layer);
    if value != 0 {
        let value_key = "scheduling.priority_class_value";
        let refusal = if !(1..=MAX_USER_PRIORITY).contains(&value) {
            Some((
                value_key,
                format!(
                    "{value} is not a priority a cluster's own class may have (1 to {MAX_USER_PRIORITY}; 0 for a class the cluster has)"
                ),
            ))
        } else if class.is_empty() {
            Some((
                value_key,
                format!(
                    "{value} defines a PriorityClass, and scheduling.priority_class_name is empty: name it"
                ),
            ))
        } else if layer(value_key) < layer("scheduling.priority_class_name") {
            // A user naming the cluster's own class under a cloud profile
            // would otherwise have palgen redefine it (its value is
            // immutable, so the apply would fail).
            Some((
                "scheduling.priority_class_name",
                format!(
                    "{class:?} would be defined with the inherited scheduling.priority_class_value {value}: write priority_class_value: 0 beside it if the cluster has that class, or a value for palgen to define it"
                ),
            ))
        } else if class.starts_with("system-") {
            Some((
                value_key,
                format!(
                    "defines PriorityClass {class:?}, and names starting with system- are Kubernetes' own"
                ),
            ))
        } else {
            None
        };
        if let Some((key, message)) = refusal {
            return Err(r.invalid(key, message));
        }
    }
    validate_node_affinity(&scheduling.node_affinity, r)?;
    // The Cluster takes the PriorityClass (priorityClassName); node
    // placement is the Cluster's own affinity, set by a patch.
    let customised = !scheduling.node_selector.is_empty()
        || !scheduling.tolerations.is_empty()
        || !scheduling.node_affinity.is_empty();
    if customised && s.engine == Engine::CloudNativePg {
        let key = r.most_specific(&[
            "scheduling.node_selector",
            "scheduling.tolerations",
            "scheduling.node_affinity",
        ]);
        return Err(r.invalid(
            key,
            "is not generated for engine: cloudnative-pg yet; set the Cluster's affinity by a Kustomize patch".to_owned(),
        ));
    }
    Ok(())
}

/// Node selector requirements as the API server checks them: a label key,
/// values as the operator needs them (some for In and NotIn, none for
/// Exists and DoesNotExist, one integer for Gt and Lt), weights 1-100.
fn validate_node_affinity(affinity: &NodeAffinity, r: &Blame<'_>) -> Result<(), SettingsError> {
    const KEY: &str = "scheduling.node_affinity";
    let preferred = affinity
        .preferred
        .iter()
        .map(|p| (Some(p.weight), &p.key, p.operator, &p.values));
    let required = affinity
        .required
        .iter()
        .map(|q| (None, &q.key, q.operator, &q.values));
    for (weight, key, operator, values) in required.chain(preferred) {
        if let Some(weight) = weight
            && !(1..=100).contains(&weight)
        {
            return Err(r.invalid(
                KEY,
                format!("key {key:?}: weight {weight} is not between 1 and 100"),
            ));
        }
        if !is_qualified_name(key) {
            return Err(r.invalid(KEY, format!("{key:?} is not a label key (`[prefix/]name`)")));
        }
        let problem = match operator {
            NodeOperator::In | NodeOperator::NotIn if values.is_empty() => {
                Some("needs at least one value")
            }
            NodeOperator::Exists | NodeOperator::DoesNotExist if !values.is_empty() => {
                Some("takes no values")
            }
            NodeOperator::Gt | NodeOperator::Lt
                if values.len() != 1 || values[0].parse::<i64>().is_err() =>
            {
                Some("takes exactly one integer value")
            }
            _ => values
                .iter()
                .any(|v| !is_label_value(v))
                .then_some("has a value that is not a label value"),
        };
        if let Some(problem) = problem {
            return Err(r.invalid(
                KEY,
                format!("key {key:?}: operator {operator} {problem} (found {values:?})"),
            ));
        }
    }
    Ok(())
}

/// A label value: empty, or at most 63 letters, digits, '-', '_' and '.',
/// starting and ending with a letter or digit.
fn is_label_value(value: &str) -> bool {
    value.is_empty()
        || (value.len() <= 63
            && value
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
            && value
                .bytes()
                .next()
                .is_some_and(|b| b.is_ascii_alphanumeric())
            && value
                .bytes()
                .last()
                .is_some_and(|b| b.is_ascii_alphanumeric()))
}

/// A Kubernetes qualified name, as a StorageClass provisioner must be:
/// `[prefix/]name`, the prefix a DNS subdomain, the name at most 63
/// letters, digits, '-', '_' and '.', starting and ending alphanumeric.
fn is_qualified_name(text: &str) -> bool {
    let text = text.to_ascii_lowercase();
    let (prefix, name) = match text.split_once('/') {
        Some((prefix, name)) => (Some(prefix), name),
        None => (None, text.as_str()),
    };
    let name_ok = !name.is_empty()
        && name.len() <= 63
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        && name
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_alphanumeric())
        && name
            .bytes()
            .last()
            .is_some_and(|b| b.is_ascii_alphanumeric());
    name_ok && prefix.is_none_or(is_dns_subdomain)
}

/// Requests and limits: positive, limits at least the requests.
fn validate_resources(s: &Settings, r: &Blame<'_>) -> Result<(), SettingsError> {
    let amounts = [
        (
            "resources.requests.memory",
            s.resources.requests.memory.as_bytes(),
        ),
        (
            "resources.requests.cpu",
            s.resources.requests.cpu.as_millicores(),
        ),
        (
            "resources.limits.memory",
            s.resources.limits.memory.as_bytes(),
        ),
        (
            "resources.limits.cpu",
            s.resources.limits.cpu.as_millicores(),
        ),
    ];
    for (key, amount) in amounts {
        if amount == 0 {
            return Err(r.invalid(key, "must be greater than zero".to_owned()));
        }
    }
    if s.resources.limits.memory < s.resources.requests.memory {
        return Err(r.invalid(
            "resources.limits.memory",
            format!(
                "limit {} is below the request {}",
                s.resources.limits.memory, s.resources.requests.memory
            ),
        ));
    }
    if s.resources.limits.cpu < s.resources.requests.cpu {
        return Err(r.invalid(
            "resources.limits.cpu",
            format!(
                "limit {} is below the request {}",
                s.resources.limits.cpu, s.resources.requests.cpu
            ),
        ));
    }
    if s.postgres.shm_size == Bytes::from_bytes(0) {
        return Err(r.invalid(
            "postgres.shm_size",
            "0 leaves PostgreSQL no /dev/shm for parallel queries; write a size such as 256Mi"
                .to_owned(),
        ));
    }
    if s.postgres.shm_size >= s.resources.limits.memory {
        return Err(r.invalid(
            "postgres.shm_size",
            format!(
                "{} must stay below the memory limit {}: /dev/shm is counted against it",
                s.postgres.shm_size, s.resources.limits.memory
            ),
        ));
    }
    Ok(())
}

/// The connection budget, directly or through PgBouncer.
fn validate_connections(s: &Settings, d: &Derived, r: &Blame<'_>) -> Result<(), SettingsError> {
    let c = &s.connections;
    let budget = &d.connection_budget;
    for (key, value) in [
        ("connections.max_connections", c.max_connections),
        ("connections.per_pod", c.per_pod),
        ("connections.web_pods", c.web_pods),
    ] {
        if value == 0 {
            return Err(r.invalid(key, "must be greater than zero".to_owned()));
        }
    }
    if c.superuser_reserved >= c.max_connections {
        return Err(r.invalid(
            "connections.superuser_reserved",
            format!(
                "{} leaves no connection of max_connections {} for the application",
                c.superuser_reserved, c.max_connections
            ),
        ));
    }
    // Session pooling gives every client its own server connection, so the
    // pool must hold all clients, and all pools together must fit the server.
    let over_budget = budget.needed_with_margin > budget.available
        || (budget.uses_pgbouncer() && budget.server_connections < budget.needed_with_margin);
    if over_budget {
        let through_pool = match &budget.pgbouncer {
            Some(pool) => format!(
                ", through PgBouncer {} replicas x pool {} = {}",
                pool.replicas, pool.pool_size_per_replica, budget.server_connections
            ),
            None => String::new(),
        };
        let blamed = r.most_specific(&[
            "connections.max_connections",
            "connections.superuser_reserved",
            "connections.web_pods",
            "connections.worker_pods",
            "connections.per_pod",
            "connections.safety_margin_percent",
            "pgbouncer.replicas",
            "pgbouncer.from_app_pods",
        ]);
        return Err(r.invalid(
            blamed,
            format!(
                "connection budget exceeded: {}{through_pool}; {}",
                budget.need_explained, budget.available_explained
            ),
        ));
    }
    if s.pgbouncer.replicas < 2 {
        return Err(r.invalid(
            "pgbouncer.replicas",
            format!(
                "{} is too few: a single PgBouncer is a single point of failure; use at least 2",
                s.pgbouncer.replicas
            ),
        ));
    }
    Ok(())
}

/// The backup schedule, retention and volume.
fn validate_backup(s: &Settings, r: &Blame<'_>) -> Result<(), SettingsError> {
    if let Err(error) = cron::check(&s.backup.schedule) {
        return Err(r.invalid(
            "backup.schedule",
            format!("{:?} is not a cron schedule: {error}", s.backup.schedule),
        ));
    }
    if s.backup.retention_days == 0 {
        return Err(r.invalid("backup.retention_days", "must be at least 1 day".to_owned()));
    }
    if s.backup.size < MIN_STORAGE {
        return Err(r.invalid(
            "backup.size",
            format!("{} is below the minimum of {MIN_STORAGE}", s.backup.size),
        ));
    }
    Ok(())
}

/// Sidecar and pooler images pinned; the scraper namespace a valid name.
fn validate_images(s: &Settings, r: &Blame<'_>) -> Result<(), SettingsError> {
    for (key, image) in [
        ("monitoring.exporter_image", &s.monitoring.exporter_image),
        ("pgbouncer.image", &s.pgbouncer.image),
        ("backup.offsite.image", &s.backup.offsite.image),
    ] {
        if let Err(error) = image::check_pinned(image) {
            return Err(r.invalid(key, format!("{image:?} is not a pinned image: {error}")));
        }
    }
    if !is_dns_label(&s.monitoring.scraper_namespace) {
        return Err(r.invalid(
            "monitoring.scraper_namespace",
            format!(
                "{:?} is not a valid namespace name",
                s.monitoring.scraper_namespace
            ),
        ));
    }
    Ok(())
}

/// Replicas the primary can serve, WAL retention the volume can hold.
fn validate_replication(s: &Settings, r: &Blame<'_>) -> Result<(), SettingsError> {
    if s.replication.read_replicas > contract::MAX_READ_REPLICAS {
        return Err(r.invalid(
            "replication.read_replicas",
            format!(
                "{} is more than {}: each replica holds a replication slot and a WAL sender on the primary ({} senders, {} kept for base backups)",
                s.replication.read_replicas,
                contract::MAX_READ_REPLICAS,
                contract::MAX_WAL_SENDERS,
                contract::RESERVED_WAL_SENDERS
            ),
        ));
    }
    // Without replicas no slot should exist (the plan's procedures drop
    // them): a small volume is fine there.
    if s.replication.read_replicas > 0 && s.replication.max_slot_wal_keep_size >= s.storage.size {
        return Err(r.invalid(
            "replication.max_slot_wal_keep_size",
            format!(
                "{} must stay below the data volume {}: WAL kept for a lagging replica would fill it",
                s.replication.max_slot_wal_keep_size, s.storage.size
            ),
        ));
    }
    Ok(())
}
/// The object store of each cloud platform: where its workload identity
/// reaches.
const PLATFORM_CLOUDS: [(&str, Cloud); 3] = [
    ("aws", Cloud::S3),
    ("gcp", Cloud::Google),
    ("azure", Cloud::Azure),
];

/// A CloudNativePG object store on the cloud of the profile's platform (its
/// built-in ancestor's): the pods' workload identity reaches no other.
/// S3-compatible servers (an endpoint) and the dev platform take any.
pub(super) fn platform(
    s: &Settings,
    platform: Option<&str>,
    r: &Blame<'_>,
) -> Result<(), SettingsError> {
    let used = s.engine == Engine::CloudNativePg && s.backup.enabled;
    // backup.offsite is checked for its provider by profile::offsite, for
    // both engines alike.
    let deprecated = |store: &&ObjectStore| store.key == DEPRECATED_DESTINATION_KEY;
    let Some(store) = s
        .cloudnative_pg
        .object_store
        .as_ref()
        .filter(|_| used)
        .filter(deprecated)
    else {
        return Ok(());
    };
    let expected = PLATFORM_CLOUDS
        .iter()
        .find(|(name, _)| Some(*name) == platform);
    if let (Some((platform, expected)), Some(cloud), None) =
        (expected, Cloud::of(&store.destination), &store.endpoint)
        && cloud != *expected
    {
        return Err(r.invalid(
            "cloudnative_pg.backup_destination",
            format!(
                "{:?} is {}, but the profile's platform is {platform}, whose object store is {}; \
                 write a destination there, or set cloudnative_pg.backup_endpoint for an S3-compatible server",
                store.destination,
                cloud.describe(),
                expected.describe()
            ),
        ));
    }
    Ok(())
}

/// The `cloudnative_pg` section, where the profile runs that engine.
fn validate_cloudnative_pg(s: &Settings, d: &Derived, r: &Blame<'_>) -> Result<(), SettingsError> {
    let c = &s.cloudnative_pg;
    if !is_dns_label(&c.operator_namespace) {
        return Err(r.invalid(
            "cloudnative_pg.operator_namespace",
            format!("{:?} is not a valid namespace name", c.operator_namespace),
        ));
    }
    if s.engine != Engine::CloudNativePg {
        return Ok(());
    }
    if c.image.major() != s.image.major() {
        return Err(r.invalid(
            r.most_specific(&["image", "cloudnative_pg.image"]),
            format!(
                "cloudnative_pg.image {} runs PostgreSQL {} but image {} runs {}; both must be the same major",
                c.image,
                c.image.major(),
                s.image,
                s.image.major()
            ),
        ));
    }
    if s.backup.enabled && cron::five_fields(&s.backup.schedule).is_none() {
        return Err(r.invalid(
            "backup.schedule",
            format!(
                "{:?} has no six-field form for CloudNativePG's ScheduledBackup (@every counts from when the operator started, and its webhook warns); with engine cloudnative-pg write five fields, e.g. \"0 */6 * * *\"",
                s.backup.schedule
            ),
        ));
    }
    if let Some(size) = c.wal_size
        && size < MIN_STORAGE
    {
        return Err(r.invalid(
            "cloudnative_pg.wal_size",
            format!("{size} is below the minimum of {MIN_STORAGE}"),
        ));
    }
    // The operator's webhook refuses a WAL volume that max_wal_size would
    // fill: PostgreSQL keeps up to max_wal_size of WAL between checkpoints.
    let max_wal_size = &d.postgresql.max_wal_size;
    if let Some(size) = c.wal_size
        && size <= max_wal_size.amount
    {
        return Err(r.invalid(
            r.most_specific(&["cloudnative_pg.wal_size", "postgres.max_wal_size"]),
            format!(
                "{size} does not hold max_wal_size {} ({}): the WAL volume must be larger, or CloudNativePG refuses the Cluster",
                max_wal_size.value, max_wal_size.rule
            ),
        ));
    }
    match &c.object_store {
        None if s.backup.enabled => Err(r.invalid(
            "engine",
            "cloudnative-pg with backup.enabled needs backup.offsite, the object store for WAL \
             and base backups: set backup.offsite.provider (s3, gcs or azureblob) and \
             backup.offsite.bucket"
                .to_owned(),
        )),
        Some(store) if store.key == DEPRECATED_DESTINATION_KEY => validate_object_store(store, r),
        _ => Ok(()),
    }
}

fn validate_object_store(store: &ObjectStore, r: &Blame<'_>) -> Result<(), SettingsError> {
    let Some(cloud) = Cloud::of(&store.destination) else {
        return Err(r.invalid(
            "cloudnative_pg.backup_destination",
            format!(
                "{:?} is not an object-store URL; write s3://BUCKET/PREFIX, gs://BUCKET/PREFIX \
                 or https://ACCOUNT.blob.core.windows.net/CONTAINER/PREFIX",
                store.destination
            ),
        ));
    };
    if let Some(endpoint) = &store.endpoint {
        if cloud != Cloud::S3 {
            return Err(r.invalid(
                "cloudnative_pg.backup_endpoint",
                "an endpoint is for S3-compatible servers; it needs an s3:// destination"
                    .to_owned(),
            ));
        }
        let scheme_ok = endpoint.starts_with("https://") || endpoint.starts_with("http://");
        if !scheme_ok || endpoint.chars().any(char::is_whitespace) {
            return Err(r.invalid(
                "cloudnative_pg.backup_endpoint",
                format!("{endpoint:?} is not an http:// or https:// URL"),
            ));
        }
    }
    if let Some(identity) = &store.identity
        && (identity.is_empty() || identity.chars().any(char::is_whitespace))
    {
        return Err(r.invalid(
                "cloudnative_pg.backup_identity",
                format!("{identity:?} is not an identity (an IAM role ARN, a Google service account e-mail or an Azure client ID)"),
            ));
    }
    if let Some(secret) = &store.credentials_secret {
        let key = "cloudnative_pg.backup_credentials_secret";
        if cloud != Cloud::S3 {
            return Err(r.invalid(
                key,
                format!(
                    "{secret:?}: access keys are for S3 and S3-compatible servers; cloudnative_pg.backup_destination {:?} is not s3://",
                    store.destination
                ),
            ));
        }
        if !is_dns_subdomain(secret) {
            return Err(r.invalid(
                key,
                format!("{secret:?} is not a valid Secret name (lower-case letters, digits, '-' and '.')"),
            ));
        }
        if store.identity.is_some() {
            return Err(r.invalid(
                key,
                format!(
                    "cloudnative_pg.backup_identity and {key} ({secret:?}) are two ways to the same bucket; set one"
                ),
            ));
        }
    }
    Ok(())
}
