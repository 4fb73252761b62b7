//! What applying one object's change does to a running cluster: the rules
//! of the Kubernetes API (immutable fields, pod template rollouts) and of
//! PostgreSQL (a data directory belongs to one major version).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde_json::{Map, Value};

use super::procedure::{self, StatefulSet};
use crate::model::image::Image;
use crate::model::quantity::Bytes;
use crate::objects::labels;

/// How safe a change is, from harmless to needing a manual procedure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Class {
    Unchanged,
    InPlace,
    RollsPods,
    NotApplicable,
    DataIncompatible,
    /// The data moves to another engine: a procedure that copies it first.
    DataMigration,
    Destructive,
}

impl Class {
    pub fn is_unsafe(self) -> bool {
        self >= Class::NotApplicable
    }

    pub fn label(self) -> &'static str {
        match self {
            Class::Unchanged => "no change",
            Class::InPlace => "in place",
            Class::RollsPods => "rolls pods",
            Class::NotApplicable => "CANNOT BE APPLIED",
            Class::DataIncompatible => "DATA-INCOMPATIBLE",
            Class::DataMigration => "DATA MIGRATION",
            Class::Destructive => "DESTRUCTIVE",
        }
    }
}

/// Why a workload's pods are replaced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Roll {
    /// Generated ConfigMaps whose content (so hashed name) changed.
    ConfigHash(Vec<String>),
    Image(Vec<String>),
    Resources(Vec<String>),
    OtherPodTemplateField(Vec<String>),
}

impl fmt::Display for Roll {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (what, details) = match self {
            Roll::ConfigHash(maps) => ("config hash", maps),
            Roll::Image(images) => ("image", images),
            Roll::Resources(changes) => ("resources", changes),
            Roll::OtherPodTemplateField(paths) => ("other pod-template field", paths),
        };
        write!(f, "{what} ({})", details.join("; "))
    }
}

/// One consequence of applying an object's change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Finding {
    Created,
    /// Fields `kubectl apply` updates without replacing anything.
    InPlace(Vec<String>),
    /// No longer generated; `kubectl apply -k` leaves it in the cluster.
    Removed {
        delete: String,
    },
    RollsPods {
        pods: String,
        why: Vec<Roll>,
    },
    NotApplicable {
        field: String,
        change: String,
        procedure: Vec<String>,
    },
    DataIncompatible {
        change: String,
        procedure: Vec<String>,
    },
    DataMigration {
        change: String,
        procedure: Vec<String>,
    },
    Destructive {
        change: String,
        procedure: Vec<String>,
    },
}

impl Finding {
    pub fn class(&self) -> Class {
        match self {
            Finding::Created | Finding::InPlace(_) | Finding::Removed { .. } => Class::InPlace,
            Finding::RollsPods { .. } => Class::RollsPods,
            Finding::NotApplicable { .. } => Class::NotApplicable,
            Finding::DataIncompatible { .. } => Class::DataIncompatible,
            Finding::DataMigration { .. } => Class::DataMigration,
            Finding::Destructive { .. } => Class::Destructive,
        }
    }

    pub fn description(&self) -> String {
        match self {
            Finding::Created => "created".to_owned(),
            Finding::InPlace(changes) => changes.join("; "),
            Finding::Removed { delete } => {
                format!("no longer generated; `kubectl apply -k` leaves it in place: {delete}")
            }
            Finding::RollsPods { pods, why } => format!(
                "replaces pods {pods}: {}",
                why.iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            Finding::NotApplicable { field, change, .. } => {
                format!("{field} is immutable: {change}")
            }
            Finding::DataIncompatible { change, .. }
            | Finding::DataMigration { change, .. }
            | Finding::Destructive { change, .. } => change.clone(),
        }
    }

    pub fn procedure(&self) -> &[String] {
        match self {
            Finding::NotApplicable { procedure, .. }
            | Finding::DataIncompatible { procedure, .. }
            | Finding::DataMigration { procedure, .. }
            | Finding::Destructive { procedure, .. } => procedure,
            _ => &[],
        }
    }
}

/// What the rules see besides the object: both object sets, for storage
/// classes and replicas, and how to apply the overlay.
pub struct Context<'a> {
    /// The profile planned, as `palgen migrate --profile` names it.
    pub profile: &'a str,
    /// The overlay directory, and the command that applies it.
    pub overlay: &'a str,
    pub apply: &'a str,
    pub old: &'a [Value],
    pub new: &'a [Value],
    /// Hashed name of every generated ConfigMap, on either side, to its
    /// name before hashing.
    pub generated: &'a BTreeMap<String, String>,
}

/// The consequences of turning `old` into `new` (either may be absent);
/// empty when nothing changes.
pub fn classify(old: Option<&Value>, new: Option<&Value>, cx: &Context) -> Vec<Finding> {
    match (old, new) {
        (None, None) => Vec::new(),
        (None, Some(_)) => vec![Finding::Created],
        (Some(old), None) => removed(old, cx),
        (Some(old), Some(new)) if old == new => Vec::new(),
        (Some(old), Some(new)) => match text(&new["kind"]) {
            "StatefulSet" => statefulset(old, new, cx),
            "Deployment" => deployment(old, new, cx),
            "Service" => with_immutable(old, new, &["clusterIP", "clusterIPs"], |field, change| {
                Finding::NotApplicable {
                    field,
                    change,
                    procedure: procedure::replace_object(
                        namespace(new),
                        "Service",
                        name(new),
                        "clients cannot resolve it until the apply recreates it",
                        cx.apply,
                    ),
                }
            }),
            "PersistentVolumeClaim" => claim(old, new, cx),
            "Cluster" if text(&new["apiVersion"]).starts_with("postgresql.cnpg.io/") => {
                cnpg_cluster(old, new, cx)
            }
            "StorageClass" => storage_class(old, new, cx),
            "PriorityClass" => priority_class(old, new, cx),
            "CronJob" => cron_job(old, new, cx),
            "ObjectStore" => object_store(old, new, cx),
            "ConfigMap" if cx.generated.contains_key(name(new)) => {
                vec![Finding::InPlace(vec![generated_config_map(old, new)])]
            }
            _ => {
                // Only a null where the other side has nothing: the same object.
                let changes = differences(old, new, "");
                match changes.is_empty() {
                    true => Vec::new(),
                    false => vec![Finding::InPlace(changes)],
                }
            }
        },
    }
}

/// The namespace of one side: the name of its Namespace object.
fn deployment_namespace(objects: &[Value]) -> Option<&str> {
    objects
        .iter()
        .find(|o| text(&o["kind"]) == "Namespace")
        .map(name)
}

/// The database server of one side, whichever engine runs it.
fn server(objects: &[Value], namespace: &str) -> Option<procedure::Server> {
    if let Some(primary) = database_statefulsets(objects)
        .into_iter()
        .find(|set| !set.clones_primary)
    {
        return Some(procedure::Server::StatefulSet(primary));
    }
    objects.iter().find(|o| is_cnpg_cluster(o)).map(|cluster| {
        procedure::Server::Cluster(procedure::CnpgCluster {
            namespace: namespace.to_owned(),
            name: name(cluster).to_owned(),
        })
    })
}

/// A profile whose namespace changed: every object is created anew in the
/// new namespace, and nothing of the old one, its data least of all, is
/// moved by an apply. One finding for the whole overlay, in place of the
/// per-object ones; none when the namespace stays.
pub fn namespace_move(cx: &Context) -> Option<(String, Finding)> {
    let (from, to) = (deployment_namespace(cx.old)?, deployment_namespace(cx.new)?);
    if from == to {
        return None;
    }
    let (Some(old_server), Some(new_server)) = (server(cx.old, from), server(cx.new, to)) else {
        return None;
    };
    let mut old_objects = Vec::new();
    let mut old_claims: Vec<String> = database_statefulsets(cx.old)
        .into_iter()
        .flat_map(|set| set.claims)
        .collect();
    for object in cx.old.iter().filter(|o| namespace(o) == from) {
        let kind = text(&object["kind"]).to_lowercase();
        if kind == "persistentvolumeclaim" {
            old_claims.push(name(object).to_owned());
            continue;
        }
        let group = text(&object["apiVersion"])
            .rsplit_once('/')
            .map(|(group, _)| format!(".{group}"))
            .unwrap_or_default();
        old_objects.push(format!("{kind}{group}/{}", name(object)));
    }
    let copy_credentials = matches!(new_server, procedure::Server::StatefulSet(_))
        && !cx.new.iter().any(|o| {
            text(&o["kind"]) == "Secret" && name(o) == crate::contract::CREDENTIALS_SECRET
        });
    let finding = Finding::DataMigration {
        change: format!(
            "the namespace becomes {to}: the apply creates every object there with an empty database and leaves namespace {from}, its data included, as it is"
        ),
        procedure: procedure::move_namespace(&procedure::NamespaceMove {
            from: old_server,
            to: new_server,
            old_objects,
            old_claims,
            copy_credentials,
            apply: cx.apply,
        }),
    };
    Some((from.to_owned(), finding))
}

/// A generated ConfigMap is never changed: a new one, named by its new
/// content hash, is created beside it.
fn generated_config_map(old: &Value, new: &Value) -> String {
    let keys = |o: &Value| -> Vec<String> {
        o["data"]
            .as_object()
            .map(|d| d.keys().cloned().collect())
            .unwrap_or_default()
    };
    let mut files = keys(old);
    files.extend(keys(new));
    files.sort();
    files.dedup();
    files.retain(|file| old["data"][file] != new["data"][file]);
    format!(
        "new ConfigMap {} for changed {}; the old one stays until deleted",
        name(new),
        files.join(", ")
    )
}

fn text(value: &Value) -> &str {
    value.as_str().unwrap_or_default()
}

fn name(object: &Value) -> &str {
    text(&object["metadata"]["name"])
}

fn namespace(object: &Value) -> &str {
    text(&object["metadata"]["namespace"])
}

fn kubectl(object: &Value) -> String {
    match namespace(object) {
        "" => "kubectl".to_owned(),
        ns => format!("kubectl -n {ns}"),
    }
}

fn removed(old: &Value, cx: &Context) -> Vec<Finding> {
    let kind = text(&old["kind"]);
    let (kubectl, name) = (kubectl(old), name(old));
    let finding = match kind {
        "PersistentVolumeClaim" => Finding::Destructive {
            change: format!("PVC {name} is no longer generated: its data goes once it is deleted"),
            procedure: procedure::copy_off_claim(namespace(old), name),
        },
        // A suspended CronJob (the restore Job's holder) never runs: its
        // removal stops nothing, and "a final run" of it would be a restore.
        "CronJob" if old["spec"]["suspend"] == true => Finding::Removed {
            delete: format!("{kubectl} delete cronjob {name}"),
        },
        "CronJob" => Finding::Destructive {
            change: format!(
                "CronJob {name} is no longer generated: its scheduled runs stop once it is deleted"
            ),
            procedure: procedure::stop_cron_job(namespace(old), name, cx.apply),
        },
        "Secret" => Finding::Destructive {
            change: format!(
                "Secret {name} is no longer generated: pods that read it cannot start without it"
            ),
            procedure: procedure::keep_secret(namespace(old), name),
        },
        "StatefulSet" => removed_statefulset(old, cx),
        "ObjectStore" | "ScheduledBackup" => Finding::Destructive {
            change: format!(
                "{kind} {name} is no longer generated: {} stop once it is deleted; what the bucket holds stays",
                if kind == "ObjectStore" {
                    "WAL archiving and base backups to it"
                } else {
                    "scheduled base backups"
                }
            ),
            procedure: procedure::cnpg_stop_backups(
                namespace(old),
                &archived_cluster(cx.old).unwrap_or_default(),
                Some((kind, name)),
                cx.apply,
            ),
        },
        "Cluster" if is_cnpg_cluster(old) => removed_cluster(old, cx),
        "StorageClass" => removed_storage_class(old, cx),
        _ => Finding::Removed {
            delete: format!("{kubectl} delete {} {name}", kind.to_lowercase()),
        },
    };
    vec![finding]
}

/// A class the old tree's claims were provisioned from stays: a claim's
/// class cannot change, and a claim grows only while its class exists and
/// allows expansion.
fn removed_storage_class(old: &Value, cx: &Context) -> Finding {
    let class = name(old);
    let mut claims: Vec<String> = Vec::new();
    for object in cx.old {
        match text(&object["kind"]) {
            // A standalone claim of another class in the new tree is
            // recreated by its own procedure.
            "PersistentVolumeClaim"
                if text(&object["spec"]["storageClassName"]) == class
                    && cx.new.iter().any(|o| {
                        text(&o["kind"]) == "PersistentVolumeClaim"
                            && name(o) == name(object)
                            && namespace(o) == namespace(object)
                            && text(&o["spec"]["storageClassName"]) == class
                    }) =>
            {
                claims.push(name(object).to_owned());
            }
            "StatefulSet" => {
                let set = statefulset_of(object, object);
                for template in object["spec"]["volumeClaimTemplates"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter(|t| text(&t["spec"]["storageClassName"]) == class)
                {
                    let prefix = format!("{}-{}-", name(template), set.name);
                    claims.extend(
                        set.claims
                            .iter()
                            .filter(|c| c.starts_with(&prefix))
                            .cloned(),
                    );
                }
            }
            _ => {}
        }
    }
    let delete = format!("kubectl delete storageclass {class}");
    Finding::Removed {
        delete: match claims.is_empty() {
            true => delete,
            false => format!(
                "keep it while claims {} exist: they were provisioned from it, and a claim grows only while its class exists ({delete} once they are gone)",
                claims.join(", ")
            ),
        },
    }
}

/// The name of the Cluster whose WAL the Barman Cloud plugin archives.
fn archived_cluster(objects: &[Value]) -> Option<String> {
    objects
        .iter()
        .find(|o| is_cnpg_cluster(o))
        .map(|o| name(o).to_owned())
}

/// The directory the WAL archiver writes under in the object store: the
/// plugin's `serverName`, by default the Cluster's name.
fn barman_server(cluster: &Value) -> Option<String> {
    cluster["spec"]["plugins"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|plugin| plugin["isWALArchiver"] == true)
        .map(|plugin| {
            plugin["parameters"]["serverName"]
                .as_str()
                .unwrap_or(name(cluster))
                .to_owned()
        })
}

/// Whether a Cluster archives its WAL through a plugin.
fn archives_wal(cluster: &Value) -> bool {
    cluster["spec"]["plugins"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|plugin| plugin["isWALArchiver"] == true)
}

/// The dump CronJob: a shorter retention deletes older dumps on its next
/// run; the rest of a change applies in place.
fn cron_job(old: &Value, new: &Value, cx: &Context) -> Vec<Finding> {
    let mut findings = Vec::new();
    let changes = differences(old, new, "");
    if !changes.is_empty() {
        findings.push(Finding::InPlace(changes));
    }
    let retention = |job: &Value| -> Option<u64> {
        containers(&job["spec"]["jobTemplate"]["spec"]["template"])
            .into_iter()
            .flat_map(|c| c["env"].as_array().into_iter().flatten())
            .find(|env| env["name"] == "BACKUP_RETENTION_DAYS")
            .and_then(|env| text(&env["value"]).parse().ok())
    };
    if let (Some(from), Some(to)) = (retention(old), retention(new))
        && to < from
    {
        let claim = old["spec"]["jobTemplate"]["spec"]["template"]["spec"]["volumes"]
            .as_array()
            .into_iter()
            .flatten()
            .find_map(|v| v["persistentVolumeClaim"]["claimName"].as_str())
            .unwrap_or_default();
        findings.push(Finding::Destructive {
            change: format!(
                "backup retention {from} -> {to} days: the next run deletes the dumps older than {to} days, on the volume and off site"
            ),
            procedure: procedure::shorter_dump_retention(
                namespace(new),
                name(new),
                claim,
                &to.to_string(),
                cx.apply,
            ),
        });
    }
    findings
}

/// The Barman Cloud ObjectStore: a shorter retention deletes older base
/// backups and their WAL; another destination starts an empty archive.
fn object_store(old: &Value, new: &Value, cx: &Context) -> Vec<Finding> {
    let mut findings = Vec::new();
    let changes = differences(old, new, "");
    if !changes.is_empty() {
        findings.push(Finding::InPlace(changes));
    }
    let cluster = archived_cluster(cx.new).unwrap_or_default();
    let days = |store: &Value| -> Option<u64> {
        text(&store["spec"]["retentionPolicy"])
            .strip_suffix('d')?
            .parse()
            .ok()
    };
    let destination =
        |store: &Value| text(&store["spec"]["configuration"]["destinationPath"]).to_owned();
    if let (Some(from), Some(to)) = (days(old), days(new))
        && to < from
    {
        findings.push(Finding::Destructive {
            change: format!(
                "retention {from}d -> {to}d: the plugin deletes the base backups older than {to} days, and the WAL they need"
            ),
            procedure: procedure::cnpg_shorter_retention(
                namespace(new),
                &cluster,
                &destination(old),
                &format!("{to}d"),
                cx.apply,
            ),
        });
    }
    if destination(old) != destination(new) {
        findings.push(Finding::Destructive {
            change: format!(
                "destination {} -> {}: archiving starts over there, with no base backup to recover from until one is taken",
                destination(old),
                destination(new)
            ),
            procedure: procedure::cnpg_new_destination(namespace(new), &cluster, cx.apply),
        });
    }
    findings
}

fn is_cnpg_cluster(object: &Value) -> bool {
    text(&object["kind"]) == "Cluster"
        && text(&object["apiVersion"]).starts_with("postgresql.cnpg.io/")
}

/// The database StatefulSets of one side, primary first.
fn database_statefulsets(objects: &[Value]) -> Vec<StatefulSet> {
    let mut sets: Vec<StatefulSet> = objects
        .iter()
        .filter(|o| text(&o["kind"]) == "StatefulSet" && !claim_template_names(o).is_empty())
        .map(|o| statefulset_of(o, o))
        .collect();
    sets.sort_by_key(|set| set.clones_primary);
    sets
}

/// A StatefulSet no longer generated. With a CloudNativePG Cluster in its
/// place the engine changes: its data moves by `palgen migrate`.
fn removed_statefulset(old: &Value, cx: &Context) -> Finding {
    let set = statefulset_of(old, old);
    let cluster = cx.new.iter().find(|o| is_cnpg_cluster(o));
    let sets = database_statefulsets(cx.old);
    let primary = sets.iter().find(|s| !s.clones_primary);
    match (cluster, primary) {
        (Some(cluster), _) => {
            let replicas: Vec<&StatefulSet> = sets.iter().filter(|s| s.clones_primary).collect();
            // Replicas are copies of the primary: they go by the primary's
            // migration, whose steps the overlay's procedure runs once.
            let migrated = match primary {
                Some(primary) if set.clones_primary => primary,
                _ => &set,
            };
            let object_store = cx
                .new
                .iter()
                .find(|o| text(&o["kind"]) == "ObjectStore")
                .map(|o| format!("{}/objectstore-{}.yaml", cx.overlay, name(o)));
            Finding::DataMigration {
                change: if migrated.name == set.name {
                    format!(
                        "StatefulSet {} is no longer generated: the engine becomes cloudnative-pg, whose Cluster {} starts empty unless it imports the data held by claims {}",
                        set.name,
                        name(cluster),
                        set.claims.join(", ")
                    )
                } else {
                    format!(
                        "StatefulSet {} is no longer generated: the engine becomes cloudnative-pg; claims {} are copies of StatefulSet {}, removed by its migration",
                        set.name,
                        set.claims.join(", "),
                        migrated.name
                    )
                },
                procedure: procedure::statefulset_to_cluster(
                    &procedure::Migration {
                        profile: cx.profile,
                        cluster: name(cluster),
                        object_store,
                        apply: cx.apply,
                    },
                    migrated,
                    &replicas,
                ),
            }
        }
        (None, _) if set.clones_primary => Finding::Destructive {
            change: format!(
                "StatefulSet {} is no longer generated: its pods stop, their replication slots keep WAL on the primary until dropped, and claims {} (copies of the primary) are left or deleted",
                set.name,
                set.claims.join(", ")
            ),
            procedure: procedure::remove_replicas(&set, primary),
        },
        (None, _) => Finding::Destructive {
            change: format!(
                "StatefulSet {} is no longer generated: its pods stop and claims {} are left or deleted",
                set.name,
                set.claims.join(", ")
            ),
            procedure: procedure::remove_primary(&set),
        },
    }
}

/// A CloudNativePG Cluster no longer generated: deleting it deletes its
/// instances' volumes. With palgen's StatefulSet in its place the engine
/// changes back: the data is dumped from the Cluster and restored into it.
fn removed_cluster(old: &Value, cx: &Context) -> Finding {
    let pooler = cx
        .old
        .iter()
        .find(|o| text(&o["kind"]) == "Pooler")
        .map(|o| name(o).to_owned());
    let cluster = procedure::CnpgCluster {
        namespace: namespace(old).to_owned(),
        name: name(old).to_owned(),
    };
    match database_statefulsets(cx.new).first() {
        Some(primary) if !primary.clones_primary => Finding::DataMigration {
            change: format!(
                "Cluster {} is no longer generated: the engine becomes statefulset, whose StatefulSet {} starts empty; deleting the Cluster deletes its volumes",
                cluster.name, primary.name
            ),
            procedure: procedure::cluster_to_statefulset(
                &cluster,
                pooler.as_deref(),
                primary,
                cx.apply,
            ),
        },
        _ => Finding::Destructive {
            change: format!(
                "Cluster {} is no longer generated: deleting it deletes its instances and their volumes",
                cluster.name
            ),
            procedure: procedure::remove_cluster(&cluster),
        },
    }
}

/// A copy of `object` without the given dotted paths.
fn without(object: &Value, paths: &[&str]) -> Value {
    let mut copy = object.clone();
    for path in paths {
        let mut parts: Vec<&str> = path.split('.').collect();
        let last = parts.pop().expect("non-empty path");
        let mut node = &mut copy;
        for part in parts {
            node = &mut node[part];
        }
        if let Value::Object(map) = node {
            map.remove(last);
        }
    }
    copy
}

/// `spec` fields in `immutable` become one finding each (made by
/// `not_applicable`), the rest of the change is in place.
fn with_immutable(
    old: &Value,
    new: &Value,
    immutable: &[&str],
    not_applicable: impl Fn(String, String) -> Finding,
) -> Vec<Finding> {
    let mut findings = Vec::new();
    for field in immutable {
        let (before, after) = (&old["spec"][field], &new["spec"][field]);
        if before != after {
            let path = format!("spec.{field}");
            findings.push(not_applicable(
                path.clone(),
                differences(before, after, &path).join("; "),
            ));
        }
    }
    let paths: Vec<String> = immutable.iter().map(|f| format!("spec.{f}")).collect();
    let paths: Vec<&str> = paths.iter().map(String::as_str).collect();
    let rest = differences(&without(old, &paths), &without(new, &paths), "");
    if !rest.is_empty() {
        findings.push(Finding::InPlace(rest));
    }
    findings
}

/// StatefulSet spec fields the API lets `kubectl apply` change.
const STATEFULSET_MUTABLE: [&str; 7] = [
    "replicas",
    "template",
    "updateStrategy",
    "persistentVolumeClaimRetentionPolicy",
    "minReadySeconds",
    "ordinals",
    "revisionHistoryLimit",
];

fn statefulset(old: &Value, new: &Value, cx: &Context) -> Vec<Finding> {
    let set = statefulset_of(old, new);
    let mut findings = Vec::new();
    let fields = |spec: &Value| -> Vec<String> {
        spec.as_object()
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default()
    };
    let mut immutable: Vec<String> = fields(&old["spec"]);
    immutable.extend(fields(&new["spec"]));
    immutable.sort();
    immutable.dedup();
    immutable.retain(|f| !STATEFULSET_MUTABLE.contains(&f.as_str()));
    for field in &immutable {
        let (before, after) = (&old["spec"][field], &new["spec"][field]);
        if before == after {
            continue;
        }
        if field == "volumeClaimTemplates" {
            findings.extend(claim_templates(old, new, &set, cx));
        } else {
            let path = format!("spec.{field}");
            findings.push(Finding::NotApplicable {
                change: differences(before, after, &path).join("; "),
                field: path,
                procedure: procedure::recreate_statefulset(&set, cx.apply),
            });
        }
    }
    findings.extend(pod_template(old, new, &pods_of_statefulset(new), cx));
    findings.extend(data_directory(old, new, &set, cx));
    findings.extend(fewer_replicas(old, new, &set, cx));
    let mut paths: Vec<String> = immutable.iter().map(|f| format!("spec.{f}")).collect();
    paths.push("spec.template".to_owned());
    let paths: Vec<&str> = paths.iter().map(String::as_str).collect();
    let rest = differences(&without(old, &paths), &without(new, &paths), "");
    if !rest.is_empty() {
        findings.push(Finding::InPlace(rest));
    }
    findings
}

/// Fewer pods of a replica StatefulSet: the slots of the stopped pods stay
/// on the primary, keeping WAL, until dropped.
fn fewer_replicas(old: &Value, new: &Value, set: &StatefulSet, cx: &Context) -> Vec<Finding> {
    let (from, to) = (replicas(old), replicas(new));
    if !set.clones_primary || to >= from {
        return Vec::new();
    }
    let sets = database_statefulsets(cx.old);
    let primary = sets.iter().find(|s| !s.clones_primary);
    let gone = &set.pods[usize::try_from(to)
        .unwrap_or(usize::MAX)
        .min(set.pods.len())..];
    vec![Finding::Destructive {
        change: format!(
            "replicas {from} -> {to}: pods {} stop; their replication slots keep WAL on the primary until dropped, and their claims stay",
            gone.join(", ")
        ),
        procedure: procedure::scale_down_replicas(
            set,
            primary,
            usize::try_from(to).unwrap_or(usize::MAX),
            cx.apply,
        ),
    }]
}

fn replicas(statefulset: &Value) -> u64 {
    statefulset["spec"]["replicas"].as_u64().unwrap_or(1)
}

fn pods_of_statefulset(set: &Value) -> String {
    let pods: Vec<String> = (0..replicas(set))
        .map(|i| format!("{}-{i}", name(set)))
        .collect();
    format!("of StatefulSet {} ({})", name(set), pods.join(", "))
}

fn claim_template_names(set: &Value) -> Vec<String> {
    set["spec"]["volumeClaimTemplates"]
        .as_array()
        .map(|templates| templates.iter().map(|t| name(t).to_owned()).collect())
        .unwrap_or_default()
}

/// The StatefulSet as it runs now (`old`: its pods and claims), named as
/// the procedures need it.
fn statefulset_of(old: &Value, new: &Value) -> StatefulSet {
    let templates = claim_template_names(old);
    let claims = templates
        .iter()
        .flat_map(|template| {
            (0..replicas(old)).map(move |i| format!("{template}-{}-{i}", name(old)))
        })
        .collect();
    let container = containers(&new["spec"]["template"])
        .into_iter()
        .chain(containers(&old["spec"]["template"]))
        .find(|c| mounts_any(c, &templates))
        .map(|c| text(&c["name"]).to_owned())
        .unwrap_or_default();
    StatefulSet {
        namespace: namespace(old).to_owned(),
        name: name(old).to_owned(),
        container,
        pods: (0..replicas(old))
            .map(|i| format!("{}-{i}", name(old)))
            .collect(),
        claims,
        clones_primary: text(&old["metadata"]["labels"]["app.kubernetes.io/component"])
            == labels::REPLICA.component,
    }
}

fn containers(template: &Value) -> Vec<&Value> {
    ["initContainers", "containers"]
        .iter()
        .filter_map(|list| template["spec"][list].as_array())
        .flatten()
        .collect()
}

fn mounts_any(container: &Value, volumes: &[String]) -> bool {
    container["volumeMounts"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|mount| volumes.iter().any(|v| v == text(&mount["name"])))
}

fn storage(template: &Value) -> &Value {
    &template["spec"]["resources"]["requests"]["storage"]
}

fn claim_templates(old: &Value, new: &Value, set: &StatefulSet, cx: &Context) -> Vec<Finding> {
    let by_name = |object: &Value| -> BTreeMap<String, Value> {
        object["spec"]["volumeClaimTemplates"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|t| (name(t).to_owned(), t.clone()))
            .collect()
    };
    let (before, after) = (by_name(old), by_name(new));
    let mut names: Vec<&String> = before.keys().chain(after.keys()).collect();
    names.sort();
    names.dedup();
    let field = "spec.volumeClaimTemplates".to_owned();
    let mut findings = Vec::new();
    for template in names {
        let path = format!("{field}[{template}]");
        let (old_template, new_template) = (before.get(template), after.get(template));
        let Some((old_template, new_template)) = old_template.zip(new_template) else {
            findings.push(Finding::NotApplicable {
                field: field.clone(),
                change: format!(
                    "template {template} {}",
                    if new_template.is_some() {
                        "added"
                    } else {
                        "removed"
                    }
                ),
                procedure: procedure::recreate_statefulset(set, cx.apply),
            });
            continue;
        };
        if old_template == new_template {
            continue;
        }
        let change = differences(old_template, new_template, &path).join("; ");
        let size_path = ["spec.resources.requests.storage"];
        let only_size = without(old_template, &size_path) == without(new_template, &size_path);
        let sizes = (
            text(storage(old_template)).parse::<Bytes>(),
            text(storage(new_template)).parse::<Bytes>(),
        );
        let class = text(&new_template["spec"]["storageClassName"]);
        let procedure = match sizes {
            (Ok(from), Ok(to)) if only_size && to > from => {
                let size = text(storage(new_template));
                match expansion(class, cx) {
                    Some(true) => procedure::grow_disk(set, template, size, None, cx.apply),
                    Some(false) => procedure::move_data(
                        set,
                        &format!("StorageClass {class} cannot expand volumes"),
                        cx.apply,
                    ),
                    None => procedure::grow_disk(
                        set,
                        template,
                        size,
                        Some(format!(
                            "kubectl get storageclass {class} -o jsonpath='{{.allowVolumeExpansion}}'   # must print true; if not, move the data as for a smaller disk"
                        )),
                        cx.apply,
                    ),
                }
            }
            _ if only_size => procedure::move_data(set, "a volume cannot shrink", cx.apply),
            _ if without(old_template, &CLASS) == without(new_template, &CLASS) => {
                let old_class = text(&old_template["spec"]["storageClassName"]);
                let claims: Vec<String> = set
                    .claims
                    .iter()
                    .filter(|c| c.starts_with(&format!("{template}-{}-", set.name)))
                    .cloned()
                    .collect();
                let retain = match retains(class, cx.new) && !retains(old_class, cx.old) {
                    true => claims.clone(),
                    false => Vec::new(),
                };
                findings.push(Finding::NotApplicable {
                    field: field.clone(),
                    change: format!(
                        "{change}; claims {} keep StorageClass {old_class} (a claim's class cannot change), claims made from now on use {class}; to move the data onto {class}, dump and restore as for a smaller disk",
                        claims.join(", ")
                    ),
                    procedure: procedure::new_class_for_new_claims(set, &retain, cx.apply),
                });
                continue;
            }
            _ if old_template["spec"]["storageClassName"]
                != new_template["spec"]["storageClassName"] =>
            {
                procedure::move_data(set, "the data moves to a volume of the new class", cx.apply)
            }
            _ => procedure::recreate_statefulset(set, cx.apply),
        };
        findings.push(Finding::NotApplicable {
            field: field.clone(),
            change,
            procedure,
        });
    }
    findings
}

/// A claim's StorageClass, the field of a claim (template) that names it.
const CLASS: [&str; 1] = ["spec.storageClassName"];

/// Whether the tree `objects` defines StorageClass `class` with volumes that
/// outlive their claim (a class it does not define is the cluster's, whose
/// policy palgen cannot know).
fn retains(class: &str, objects: &[Value]) -> bool {
    objects.iter().any(|o| {
        text(&o["kind"]) == "StorageClass" && name(o) == class && o["reclaimPolicy"] == "Retain"
    })
}

/// Whether StorageClass `class` expands volumes, when the tree defines it.
fn expansion(class: &str, cx: &Context) -> Option<bool> {
    cx.new
        .iter()
        .chain(cx.old)
        .find(|o| text(&o["kind"]) == "StorageClass" && name(o) == class)
        .map(|o| o["allowVolumeExpansion"].as_bool() == Some(true))
}

fn image_major(container: &Value) -> Option<u32> {
    text(&container["image"])
        .parse::<Image>()
        .ok()
        .map(|i| i.major())
}

/// A container that keeps its files on a claim of this StatefulSet and
/// changes PostgreSQL major version: the new server refuses the old data
/// directory.
fn data_directory(old: &Value, new: &Value, set: &StatefulSet, cx: &Context) -> Vec<Finding> {
    let templates = claim_template_names(old);
    let old_containers = containers(&old["spec"]["template"]);
    let moves: Vec<(u32, u32, String)> = containers(&new["spec"]["template"])
        .into_iter()
        .filter(|container| mounts_any(container, &templates))
        .filter_map(|container| {
            let before = old_containers
                .iter()
                .find(|c| c["name"] == container["name"])?;
            let (from, to) = (image_major(before)?, image_major(container)?);
            (from != to).then(|| {
                let change = format!(
                    "{} ({} -> {})",
                    text(&container["name"]),
                    text(&before["image"]),
                    text(&container["image"])
                );
                (from, to, change)
            })
        })
        .collect();
    let Some((from, to, _)) = moves.first().cloned() else {
        return Vec::new();
    };
    let procedure = if set.clones_primary {
        vec![format!(
            "nothing more for StatefulSet {}: the primary's steps above delete its claims, and its pods clone the new primary",
            set.name
        )]
    } else {
        let replicas: Vec<StatefulSet> = cx
            .old
            .iter()
            .filter(|o| text(&o["kind"]) == "StatefulSet" && *o != old)
            .map(|o| statefulset_of(o, o))
            .filter(|s| s.clones_primary)
            .collect();
        procedure::major_upgrade(set, &replicas, from, to, cx.apply)
    };
    let changes: Vec<String> = moves.into_iter().map(|(_, _, change)| change).collect();
    vec![Finding::DataIncompatible {
        change: format!(
            "PostgreSQL {from} -> {to} on the existing volumes {} ({}): the server refuses to start on the old data directory",
            set.claims.join(", "),
            changes.join(", ")
        ),
        procedure,
    }]
}

fn deployment(old: &Value, new: &Value, cx: &Context) -> Vec<Finding> {
    let mut findings = with_immutable(
        &without(old, &["spec.template"]),
        &without(new, &["spec.template"]),
        &["selector"],
        |field, change| Finding::NotApplicable {
            field,
            change,
            procedure: procedure::replace_object(
                namespace(new),
                "Deployment",
                name(new),
                "its pods stop until the apply has started new ones",
                cx.apply,
            ),
        },
    );
    let replicas = new["spec"]["replicas"].as_u64().unwrap_or(1);
    let pods = format!("of Deployment {} ({replicas} replicas)", name(new));
    findings.extend(pod_template(old, new, &pods, cx));
    findings
}

/// Renames hashed ConfigMap references to their unhashed names, so a
/// content change shows as a config hash and not as a field change.
fn unhashed(template: &Value, cx: &Context) -> Value {
    let renamed: BTreeMap<&str, String> = cx
        .generated
        .iter()
        .map(|(hashed, plain)| (hashed.as_str(), plain.clone()))
        .collect();
    let mut template = template.clone();
    crate::kustomize::build::rename_config_map_references(&mut template, &renamed);
    template
}

/// ConfigMaps a pod template references, by name.
fn config_map_references(value: &Value, found: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (key, child) in map {
                if matches!(
                    key.as_str(),
                    "configMap" | "configMapRef" | "configMapKeyRef"
                ) && let Some(name) = child["name"].as_str()
                {
                    found.push(name.to_owned());
                }
                config_map_references(child, found);
            }
        }
        Value::Array(items) => items.iter().for_each(|i| config_map_references(i, found)),
        _ => {}
    }
}

fn pod_template(old: &Value, new: &Value, pods: &str, cx: &Context) -> Vec<Finding> {
    let (before, after) = (&old["spec"]["template"], &new["spec"]["template"]);
    if before == after {
        return Vec::new();
    }
    let mut why = Vec::new();
    let (mut old_refs, mut new_refs) = (Vec::new(), Vec::new());
    config_map_references(before, &mut old_refs);
    config_map_references(after, &mut new_refs);
    let mut hashes: Vec<String> = new_refs
        .iter()
        .filter(|r| !old_refs.contains(r))
        .filter_map(|r| cx.generated.get(r))
        .filter(|plain| old_refs.iter().any(|o| cx.generated.get(o) == Some(plain)))
        .map(|plain| format!("ConfigMap {plain}"))
        .collect();
    hashes.sort();
    hashes.dedup();
    if !hashes.is_empty() {
        why.push(Roll::ConfigHash(hashes));
    }
    let (before, after) = (unhashed(before, cx), unhashed(after, cx));
    let old_containers = containers(&before);
    let (mut images, mut resources) = (Vec::new(), Vec::new());
    for container in containers(&after) {
        let Some(old_container) = old_containers
            .iter()
            .find(|c| c["name"] == container["name"])
        else {
            continue;
        };
        let container_name = text(&container["name"]);
        if old_container["image"] != container["image"] {
            images.push(format!(
                "{container_name}: {} -> {}",
                text(&old_container["image"]),
                text(&container["image"])
            ));
        }
        if old_container["resources"] != container["resources"] {
            resources.push(format!(
                "{container_name}: {}",
                differences(&old_container["resources"], &container["resources"], "").join(", ")
            ));
        }
    }
    if !images.is_empty() {
        why.push(Roll::Image(images));
    }
    if !resources.is_empty() {
        why.push(Roll::Resources(resources));
    }
    let other = differences(
        &without_images_and_resources(&before),
        &without_images_and_resources(&after),
        "spec.template",
    );
    if !other.is_empty() {
        why.push(Roll::OtherPodTemplateField(other));
    }
    if why.is_empty() {
        // The templates differ only by nulls: the pods stay as they are.
        return Vec::new();
    }
    vec![Finding::RollsPods {
        pods: pods.to_owned(),
        why,
    }]
}

fn without_images_and_resources(template: &Value) -> Value {
    let mut template = template.clone();
    for list in ["initContainers", "containers"] {
        if let Some(Value::Array(items)) = template["spec"].get_mut(list) {
            for container in items.iter_mut().filter_map(Value::as_object_mut) {
                container.remove("image");
                container.remove("resources");
            }
        }
    }
    template
}

fn claim(old: &Value, new: &Value, cx: &Context) -> Vec<Finding> {
    let size_path = ["spec.resources.requests.storage"];
    let (from, to) = (storage(old), storage(new));
    let mut findings = Vec::new();
    let replace = || procedure::replace_claim(namespace(new), name(new), cx.apply);
    if from != to {
        let change = format!("storage {} -> {}", text(from), text(to));
        let class = text(&new["spec"]["storageClassName"]);
        let grows = matches!(
            (text(from).parse::<Bytes>(), text(to).parse::<Bytes>()),
            (Ok(f), Ok(t)) if t > f
        );
        match (grows, expansion(class, cx)) {
            (true, Some(true)) => findings.push(Finding::InPlace(vec![format!(
                "{change} (StorageClass {class} expands volumes)"
            )])),
            (true, None) => findings.push(Finding::InPlace(vec![format!(
                "{change} (needs StorageClass {class} with allowVolumeExpansion: true)"
            )])),
            (true, Some(false)) => findings.push(Finding::NotApplicable {
                field: "spec.resources.requests.storage".to_owned(),
                change: format!("{change}, and StorageClass {class} cannot expand volumes"),
                procedure: replace(),
            }),
            (false, _) => findings.push(Finding::NotApplicable {
                field: "spec.resources.requests.storage".to_owned(),
                change: format!("{change}: a volume cannot shrink"),
                procedure: replace(),
            }),
        }
    }
    let (old, new) = (without(old, &size_path), without(new, &size_path));
    let spec_fields: Vec<String> = old["spec"]
        .as_object()
        .into_iter()
        .chain(new["spec"].as_object())
        .flat_map(Map::keys)
        .filter(|f| f.as_str() != "resources" && f.as_str() != "volumeAttributesClassName")
        .cloned()
        .collect::<BTreeSet<String>>()
        .into_iter()
        .collect();
    let spec_fields: Vec<&str> = spec_fields.iter().map(String::as_str).collect();
    findings.extend(with_immutable(&old, &new, &spec_fields, |field, change| {
        Finding::NotApplicable {
            field,
            change,
            procedure: replace(),
        }
    }));
    dedup_procedures(findings)
}

/// A CloudNativePG Cluster: the operator applies most changes itself, with
/// a rolling update of the instances, but not every one.
fn cnpg_cluster(old: &Value, new: &Value, cx: &Context) -> Vec<Finding> {
    let (namespace, cluster) = (namespace(new), name(new));
    let mut findings = Vec::new();
    let major = |cluster: &Value| {
        text(&cluster["spec"]["imageName"])
            .parse::<Image>()
            .ok()
            .map(|image| image.major())
    };
    if let (Some(from), Some(to)) = (major(old), major(new))
        && from != to
    {
        let change = format!(
            "PostgreSQL {from} -> {to} (imageName {} -> {})",
            text(&old["spec"]["imageName"]),
            text(&new["spec"]["imageName"])
        );
        findings.push(if to > from {
            Finding::DataIncompatible {
                change: format!(
                    "{change}: the operator upgrades the data directory offline with pg_upgrade, and there is no way back but a backup"
                ),
                procedure: procedure::cnpg_major_upgrade(namespace, cluster, cx.apply),
            }
        } else {
            Finding::NotApplicable {
                field: "spec.imageName".to_owned(),
                change: format!("{change}: the operator refuses a lower major version"),
                procedure: procedure::cnpg_new_cluster(namespace, cluster, cx.apply),
            }
        });
    }
    if let (Some(from), Some(to)) = (barman_server(old), barman_server(new))
        && from != to
    {
        findings.push(Finding::Destructive {
            change: format!(
                "Barman server name {from} -> {to}: archiving starts over in another directory of the object store, with no base backup to recover from until one is taken"
            ),
            procedure: procedure::cnpg_new_destination(namespace, cluster, cx.apply),
        });
    }
    if archives_wal(old) && !archives_wal(new) {
        findings.push(Finding::Destructive {
            change: "WAL archiving stops (the Barman Cloud plugin is no longer the WAL archiver): no point-in-time recovery past this apply".to_owned(),
            procedure: procedure::cnpg_stop_backups(namespace, cluster, None, cx.apply),
        });
    }
    let mut handled = vec!["spec.imageName"];
    for (volume, path) in [
        ("storage", "spec.storage.size"),
        ("walStorage", "spec.walStorage.size"),
    ] {
        let size = |cluster: &Value| text(&cluster["spec"][volume]["size"]).parse::<Bytes>().ok();
        if let (Some(from), Some(to)) = (size(old), size(new))
            && to < from
        {
            findings.push(Finding::NotApplicable {
                field: path.to_owned(),
                change: format!("{from} -> {to}: a volume cannot shrink"),
                procedure: procedure::cnpg_new_cluster(namespace, cluster, cx.apply),
            });
            handled.push(path);
        }
    }
    // What the operator rolls out itself: every other spec change.
    let changes: Vec<String> = differences(&without(old, &handled), &without(new, &handled), "")
        .into_iter()
        .filter(|change| !change.starts_with("spec.bootstrap"))
        .collect();
    if !changes.is_empty() {
        findings.push(Finding::InPlace(changes));
    }
    if old["spec"]["bootstrap"] != new["spec"]["bootstrap"] {
        findings.push(Finding::InPlace(vec![
            "spec.bootstrap changed: the operator reads it only when it creates the cluster"
                .to_owned(),
        ]));
    }
    dedup_procedures(findings)
}

fn storage_class(old: &Value, new: &Value, cx: &Context) -> Vec<Finding> {
    let mut fields: Vec<&str> = old
        .as_object()
        .into_iter()
        .chain(new.as_object())
        .flat_map(Map::keys)
        .map(String::as_str)
        .filter(|f| !["apiVersion", "kind", "metadata", "allowVolumeExpansion"].contains(f))
        .collect();
    fields.sort_unstable();
    fields.dedup();
    let mut findings = Vec::new();
    for field in &fields {
        if old[field] != new[field] {
            findings.push(Finding::NotApplicable {
                field: (*field).to_owned(),
                change: differences(&old[field], &new[field], field).join("; "),
                procedure: procedure::replace_storage_class(name(new), cx.apply),
            });
        }
    }
    let rest = differences(&without(old, &fields), &without(new, &fields), "");
    if !rest.is_empty() {
        findings.push(Finding::InPlace(rest));
    }
    dedup_procedures(findings)
}

/// A PriorityClass's value and preemption policy are immutable; pods keep
/// the priority they were admitted with.
fn priority_class(old: &Value, new: &Value, cx: &Context) -> Vec<Finding> {
    let mut findings = Vec::new();
    for field in ["value", "preemptionPolicy"] {
        if old[field] != new[field] {
            findings.push(Finding::NotApplicable {
                field: field.to_owned(),
                change: differences(&old[field], &new[field], field).join("; "),
                procedure: procedure::replace_priority_class(name(new), cx.apply),
            });
        }
    }
    let fields = ["value", "preemptionPolicy"];
    let rest = differences(&without(old, &fields), &without(new, &fields), "");
    if !rest.is_empty() {
        findings.push(Finding::InPlace(rest));
    }
    dedup_procedures(findings)
}

/// Several immutable fields of one object need the same procedure once:
/// the first finding carries it, the others none.
fn dedup_procedures(findings: Vec<Finding>) -> Vec<Finding> {
    let mut kept: Vec<Finding> = Vec::new();
    for finding in findings {
        let repeated = !finding.procedure().is_empty()
            && kept.iter().any(|k| k.procedure() == finding.procedure());
        match (repeated, finding) {
            (true, Finding::NotApplicable { field, change, .. }) => {
                kept.push(Finding::NotApplicable {
                    field,
                    change,
                    procedure: Vec::new(),
                });
            }
            (_, finding) => kept.push(finding),
        }
    }
    kept
}

/// Longest value shown inline; longer ones are only said to change.
const SHOWN_VALUE_CHARS: usize = 60;
/// Changed fields listed per object before the rest are counted.
const SHOWN_CHANGES: usize = 8;

/// The changed leaves between two values, as `path: old -> new`, in a
/// stable order; list elements are named by `name` where they have one.
pub fn differences(old: &Value, new: &Value, path: &str) -> Vec<String> {
    let mut found = Vec::new();
    walk(path, Some(old), Some(new), &mut found);
    if found.len() > SHOWN_CHANGES {
        let more = found.len() - SHOWN_CHANGES;
        found.truncate(SHOWN_CHANGES);
        found.push(format!("and {more} more"));
    }
    found
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}

fn walk(path: &str, old: Option<&Value>, new: Option<&Value>, found: &mut Vec<String>) {
    let (old, new) = (old.filter(|v| !v.is_null()), new.filter(|v| !v.is_null()));
    if old == new {
        return;
    }
    match (old, new) {
        (Some(Value::Object(a)), Some(Value::Object(b))) => {
            let mut keys: Vec<&String> = a.keys().chain(b.keys()).collect();
            keys.sort();
            keys.dedup();
            for key in keys {
                walk(&join(path, key), a.get(key), b.get(key), found);
            }
        }
        (Some(Value::Array(a)), Some(Value::Array(b))) => {
            let named = |items: &[Value]| items.iter().all(|i| i["name"].is_string());
            if named(a) && named(b) {
                let order = |items: &[Value]| -> Vec<String> {
                    items.iter().map(|i| text(&i["name"]).to_owned()).collect()
                };
                let (mut sorted_a, mut sorted_b) = (order(a), order(b));
                sorted_a.sort();
                sorted_b.sort();
                if sorted_a == sorted_b && order(a) != order(b) {
                    found.push(format!(
                        "{path}: order {} -> {}",
                        order(a).join(", "),
                        order(b).join(", ")
                    ));
                }
                let names: Vec<&str> = a.iter().chain(b).map(|i| text(&i["name"])).collect();
                let mut seen = Vec::new();
                for item in names {
                    if seen.contains(&item) {
                        continue;
                    }
                    seen.push(item);
                    let find = |items: &'_ [Value]| {
                        items.iter().find(|i| text(&i["name"]) == item).cloned()
                    };
                    walk(
                        &format!("{path}[{item}]"),
                        find(a).as_ref(),
                        find(b).as_ref(),
                        found,
                    );
                }
            } else if a.len() == b.len() {
                for (index, (x, y)) in a.iter().zip(b).enumerate() {
                    walk(&format!("{path}[{index}]"), Some(x), Some(y), found);
                }
            } else {
                found.push(format!("{path}: {} -> {}", shown(old), shown(new)));
            }
        }
        (Some(_), None) => found.push(format!("{path}: removed")),
        (None, Some(value)) => found.push(format!("{path}: added {}", shown(Some(value)))),
        _ => found.push(format!("{path}: {} -> {}", shown(old), shown(new))),
    }
}

fn shown(value: Option<&Value>) -> String {
    let text = match value {
        None => return "(none)".to_owned(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    };
    if text.contains('\n') || text.chars().count() > SHOWN_VALUE_CHARS {
        "(long value, not shown)".to_owned()
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::settings::Settings;
    use crate::plan::{ProfilePlan, profile_plan, sequence};
    use crate::profile::Catalog;
    use crate::{kustomize, objects};
    use std::path::Path;

    const OVERLAY: &str = "k8s/overlays/acme";
    const APPLY: &str = "kubectl apply -k k8s/overlays/acme";

    fn manifests(profile: &crate::profile::Profile) -> Vec<Value> {
        kustomize::build::final_manifests(&objects::build(profile))
    }

    /// The plan from `profile` as palgen generates it to the same profile
    /// with `change` made to its settings.
    fn plan(profile: &str, change: impl FnOnce(&mut Settings)) -> ProfilePlan {
        let before = Catalog::builtin().unwrap().resolve(profile).unwrap();
        let mut after = before.clone();
        change(&mut after.settings);
        // What is derived from the settings follows them, as resolving does.
        after.derived = crate::model::derived::derive(&after.settings);
        profile_plan(profile, OVERLAY, &manifests(&before), &manifests(&after))
    }

    /// The same, with the generated objects edited where no setting reaches.
    fn plan_edited(
        profile: &str,
        kind: &str,
        name: &str,
        edit: impl FnOnce(&mut Value),
    ) -> ProfilePlan {
        let old = manifests(&Catalog::builtin().unwrap().resolve(profile).unwrap());
        let mut new = old.clone();
        let object = new
            .iter_mut()
            .find(|o| o["kind"] == kind && o["metadata"]["name"] == name)
            .unwrap_or_else(|| panic!("{profile} has no {kind} {name}"));
        edit(object);
        profile_plan(profile, OVERLAY, &old, &new)
    }

    fn findings<'a>(plan: &'a ProfilePlan, kind: &str, name: &str) -> &'a [Finding] {
        plan.changes
            .iter()
            .find(|c| c.kind == kind && c.name == name)
            .map(|c| c.findings.as_slice())
            .unwrap_or_else(|| {
                let changed: Vec<String> = plan
                    .changes
                    .iter()
                    .map(|c| format!("{} {}", c.kind, c.name))
                    .collect();
                panic!("{kind} {name} did not change; changed: {changed:?}")
            })
    }

    fn classes(plan: &ProfilePlan) -> Vec<(String, Class)> {
        plan.changes
            .iter()
            .map(|c| (format!("{} {}", c.kind, c.name), c.class()))
            .collect()
    }

    fn only(findings: &[Finding], class: Class) -> Vec<&Finding> {
        findings.iter().filter(|f| f.class() == class).collect()
    }

    /// The plan between two cloudnative-pg versions of a built-in profile.
    fn cnpg_plan(profile: &str, change: impl FnOnce(&mut Settings)) -> ProfilePlan {
        let mut before = Catalog::builtin().unwrap().resolve(profile).unwrap();
        before.settings.engine = crate::model::settings::Engine::CloudNativePg;
        before.derived = crate::model::derived::derive(&before.settings);
        let mut after = before.clone();
        change(&mut after.settings);
        after.derived = crate::model::derived::derive(&after.settings);
        profile_plan(profile, OVERLAY, &manifests(&before), &manifests(&after))
    }

    #[test]
    fn a_cnpg_major_upgrade_is_data_incompatible_and_a_downgrade_cannot_be_applied() {
        let newer = "ghcr.io/cloudnative-pg/postgresql:19.0-standard-trixie";
        let plan = cnpg_plan("aws-large", |s| {
            s.cloudnative_pg.image = newer.parse().unwrap();
            s.image = "postgres:19".parse().unwrap();
        });
        let cluster = findings(&plan, "Cluster", "postgres-cluster");
        let [Finding::DataIncompatible { change, procedure }] =
            only(cluster, Class::DataIncompatible)[..]
        else {
            panic!("{cluster:?}")
        };
        assert!(change.starts_with("PostgreSQL 18 -> 19"), "{change}");
        assert!(
            procedure.iter().any(|step| step.contains("kind: Backup")),
            "{procedure:?}"
        );

        let older = "ghcr.io/cloudnative-pg/postgresql:17.6-standard-trixie";
        let plan = cnpg_plan("aws-large", |s| {
            s.cloudnative_pg.image = older.parse().unwrap();
            s.image = "postgres:17".parse().unwrap();
        });
        let cluster = findings(&plan, "Cluster", "postgres-cluster");
        assert_eq!(only(cluster, Class::NotApplicable).len(), 1, "{cluster:?}");
    }

    #[test]
    fn a_smaller_cnpg_volume_cannot_be_applied_and_more_instances_apply_in_place() {
        let plan = cnpg_plan("aws-large", |s| s.storage.size = "50Gi".parse().unwrap());
        let cluster = findings(&plan, "Cluster", "postgres-cluster");
        let [Finding::NotApplicable { field, .. }] = only(cluster, Class::NotApplicable)[..] else {
            panic!("{cluster:?}")
        };
        assert_eq!(field, "spec.storage.size");

        let plan = cnpg_plan("aws-large", |s| s.replication.read_replicas = 3);
        let cluster = findings(&plan, "Cluster", "postgres-cluster");
        assert!(
            cluster
                .iter()
                .all(|finding| finding.class() == Class::InPlace),
            "{cluster:?}"
        );
        assert!(
            cluster.contains(&Finding::InPlace(vec!["spec.instances: 3 -> 4".to_owned()])),
            "{cluster:?}"
        );
    }

    #[test]
    fn the_same_profile_changes_nothing() {
        let plan = plan("aws-large", |_| {});
        assert!(plan.changes.is_empty(), "{:?}", classes(&plan));
        let profile = Catalog::builtin().unwrap().resolve("aws-large").unwrap();
        assert_eq!(plan.unchanged, manifests(&profile).len());
    }

    #[test]
    fn a_first_render_creates_everything() {
        let new = manifests(&Catalog::builtin().unwrap().resolve("gcp-small").unwrap());
        let plan = profile_plan("gcp-small", OVERLAY, &[], &new);
        assert_eq!(plan.changes.len(), new.len());
        assert!(
            plan.changes
                .iter()
                .all(|c| c.findings == [Finding::Created])
        );
    }

    #[test]
    fn a_bigger_disk_cannot_be_applied_and_grows_each_claim_first() {
        let plan = plan("aws-large", |s| s.storage.size = "500Gi".parse().unwrap());
        let primary = only(
            findings(&plan, "StatefulSet", "postgres"),
            Class::NotApplicable,
        );
        let [
            Finding::NotApplicable {
                field, procedure, ..
            },
        ] = primary.as_slice()
        else {
            panic!("{primary:?}");
        };
        assert_eq!(field, "spec.volumeClaimTemplates");
        assert_eq!(
            procedure[0],
            r#"kubectl -n paless patch pvc postgres-data-postgres-0 -p '{"spec":{"resources":{"requests":{"storage":"500Gi"}}}}'"#
        );
        assert!(procedure.iter().any(|s| {
            s.starts_with("kubectl -n paless delete statefulset postgres --cascade=orphan")
        }));
        assert!(procedure.iter().any(|s| s.starts_with(APPLY)));
        let replica = findings(&plan, "StatefulSet", "postgres-replica");
        let claims: Vec<&String> = replica
            .iter()
            .flat_map(|f| f.procedure())
            .filter(|s| s.contains("patch pvc"))
            .collect();
        assert_eq!(claims.len(), 2, "{claims:?}");
        assert!(claims[1].contains("postgres-data-postgres-replica-1"));
    }

    #[test]
    fn a_bigger_disk_on_a_class_the_tree_does_not_define_checks_expansion_first() {
        let mut before = Catalog::builtin().unwrap().resolve("gcp-medium").unwrap();
        before.settings.storage.class = "standard-rwo".to_owned();
        before.settings.storage.provision = None;
        let mut after = before.clone();
        after.settings.storage.size = "80Gi".parse().unwrap();
        let plan = profile_plan(
            "gcp-medium",
            OVERLAY,
            &manifests(&before),
            &manifests(&after),
        );
        let procedure = findings(&plan, "StatefulSet", "postgres")[0].procedure();
        assert!(
            procedure[0].starts_with(
                "kubectl get storageclass standard-rwo -o jsonpath='{.allowVolumeExpansion}'"
            ),
            "{procedure:?}"
        );
    }

    #[test]
    fn a_smaller_disk_moves_the_data_and_rebuilds_replicas() {
        let plan = plan("aws-large", |s| s.storage.size = "50Gi".parse().unwrap());
        let primary = findings(&plan, "StatefulSet", "postgres")[0].procedure();
        assert!(
            primary.iter().any(|s| s.contains("pg_dump -U postgres")),
            "{primary:?}"
        );
        assert!(
            primary
                .iter()
                .any(|s| s.starts_with("kubectl -n paless delete pvc postgres-data-postgres-0"))
        );
        assert!(primary.iter().any(|s| s.contains("psql -U postgres")));
        let replica = findings(&plan, "StatefulSet", "postgres-replica")[0].procedure();
        assert!(
            !replica.iter().any(|s| s.contains("pg_dump")),
            "{replica:?}"
        );
        assert!(replica.iter().any(|s| {
            s.starts_with("kubectl -n paless delete pvc postgres-data-postgres-replica-1")
        }));
    }

    #[test]
    fn another_major_version_is_data_incompatible() {
        let plan = plan("aws-medium", |s| s.image = "postgres:17".parse().unwrap());
        let primary = findings(&plan, "StatefulSet", "postgres");
        let [Finding::DataIncompatible { change, procedure }] =
            only(primary, Class::DataIncompatible)[..]
        else {
            panic!("{primary:?}");
        };
        assert!(
            change.contains("PostgreSQL 18 -> 17") && change.contains("postgres-data-postgres-0"),
            "{change}"
        );
        assert!(procedure.iter().any(|s| s.contains("pg_dump")));
        assert!(
            !procedure.iter().any(|s| s.contains("pg_upgrade")),
            "no pg_upgrade downwards"
        );
        // The pods roll too, for the image and the data directory it implies.
        let rolls = only(primary, Class::RollsPods);
        let [Finding::RollsPods { why, .. }] = rolls[..] else {
            panic!("{rolls:?}")
        };
        assert!(
            // The TLS reload sidecar runs the server's image too.
            why.contains(&Roll::Image(vec![
                "postgres: postgres:18 -> postgres:17".to_owned(),
                "tls-reload: postgres:18 -> postgres:17".to_owned()
            ])),
            "{why:?}"
        );
        // The backup job runs pg_dump of the new version: no volume, in place.
        assert_eq!(
            classes(&plan)
                .iter()
                .find(|(o, _)| o == "CronJob postgres-backup")
                .map(|c| c.1),
            Some(Class::InPlace)
        );
    }

    #[test]
    fn an_upgrade_offers_pg_upgrade_and_rebuilds_the_replicas() {
        let plan = plan("aws-large", |s| s.image = "postgres:19".parse().unwrap());
        let procedure = only(
            findings(&plan, "StatefulSet", "postgres"),
            Class::DataIncompatible,
        )[0]
        .procedure();
        assert!(
            procedure
                .iter()
                .any(|s| s.contains("pg_upgrade from 18 to 19 on claim postgres-data-postgres-0"))
        );
        assert!(
            procedure
                .iter()
                .any(|s| s == "kubectl -n paless delete statefulset postgres-replica"),
            "{procedure:?}"
        );
        assert_eq!(
            only(
                findings(&plan, "StatefulSet", "postgres-replica"),
                Class::DataIncompatible
            )
            .len(),
            1
        );
    }

    #[test]
    fn a_minor_image_change_only_rolls_pods() {
        let plan = plan("aws-small", |s| s.image = "postgres:18.1".parse().unwrap());
        let primary = findings(&plan, "StatefulSet", "postgres");
        assert_eq!(primary.len(), 1, "{primary:?}");
        let Finding::RollsPods { pods, why } = &primary[0] else {
            panic!("{primary:?}")
        };
        assert_eq!(pods, "of StatefulSet postgres (postgres-0)");
        assert_eq!(
            why,
            &[Roll::Image(vec![
                "postgres: postgres:18 -> postgres:18.1".to_owned(),
                "tls-reload: postgres:18 -> postgres:18.1".to_owned()
            ])]
        );
    }

    #[test]
    fn no_backups_is_destructive_for_the_cron_job_and_its_claim() {
        let plan = plan("gcp-small", |s| s.backup.enabled = false);
        for (kind, name) in [
            ("CronJob", "postgres-backup"),
            ("PersistentVolumeClaim", "postgres-backups"),
        ] {
            let found = findings(&plan, kind, name);
            assert!(
                matches!(found, [Finding::Destructive { .. }]),
                "{kind}: {found:?}"
            );
        }
        assert!(
            findings(&plan, "PersistentVolumeClaim", "postgres-backups")[0]
                .procedure()
                .contains(&"kubectl -n paless delete pvc postgres-backups".to_owned())
        );
        // Its scripts' ConfigMap is merely left behind.
        assert!(matches!(
            findings(&plan, "ConfigMap", "postgres-backup-scripts"),
            [Finding::Removed { .. }]
        ));
    }

    #[test]
    fn dropping_read_replicas_is_destructive_for_their_claims() {
        let plan = plan("aws-large", |s| s.replication.read_replicas = 0);
        let [Finding::Destructive { change, procedure }] =
            findings(&plan, "StatefulSet", "postgres-replica")
        else {
            panic!()
        };
        assert!(
            change.contains("postgres-data-postgres-replica-0, postgres-data-postgres-replica-1"),
            "{change}"
        );
        assert_eq!(
            procedure[..3],
            [
                "kubectl -n paless delete statefulset postgres-replica",
                "kubectl -n paless wait --for=delete pod/postgres-replica-0 pod/postgres-replica-1 --timeout=5m",
                "kubectl -n paless exec postgres-0 -c postgres -- psql -U postgres -v ON_ERROR_STOP=1 -c \"SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name IN ('postgres_replica_0', 'postgres_replica_1')\"   # the primary keeps WAL for a slot until it is dropped",
            ]
        );
        assert!(
            procedure[4]
                .starts_with("kubectl -n paless delete pvc postgres-data-postgres-replica-1")
        );
    }

    #[test]
    fn fewer_read_replicas_drop_the_slots_of_the_stopped_pods() {
        let plan = plan("aws-large", |s| s.replication.read_replicas = 1);
        let found = only(
            findings(&plan, "StatefulSet", "postgres-replica"),
            Class::Destructive,
        );
        let [Finding::Destructive { change, procedure }] = found[..] else {
            panic!("{found:?}")
        };
        assert!(
            change.starts_with("replicas 2 -> 1: pods postgres-replica-1 stop"),
            "{change}"
        );
        assert_eq!(
            procedure[1],
            "kubectl -n paless wait --for=delete pod/postgres-replica-1 --timeout=5m"
        );
        assert!(
            procedure[2].contains("WHERE slot_name IN ('postgres_replica_1')"),
            "{procedure:?}"
        );
        assert!(
            procedure[3]
                .starts_with("kubectl -n paless delete pvc postgres-data-postgres-replica-1"),
            "{procedure:?}"
        );
        assert_eq!(procedure.len(), 4, "{procedure:?}");
    }

    #[test]
    fn no_dev_secret_is_destructive() {
        let plan = plan("dev-small", |s| s.dev_credentials = false);
        assert!(matches!(
            findings(&plan, "Secret", "postgres-credentials"),
            [Finding::Destructive { .. }]
        ));
    }

    #[test]
    fn more_memory_rolls_pods_for_resources_and_config_hash() {
        let plan = plan("dev-medium", |s| {
            s.resources.limits.memory = "4Gi".parse().unwrap()
        });
        let primary = findings(&plan, "StatefulSet", "postgres");
        let [Finding::RollsPods { why, .. }] = primary else {
            panic!("{primary:?}")
        };
        assert_eq!(
            why[0],
            Roll::ConfigHash(vec!["ConfigMap postgres-config".to_owned()])
        );
        assert_eq!(
            why[1],
            Roll::Resources(vec!["postgres: limits.memory: 2Gi -> 4Gi".to_owned()])
        );
        let config = findings(&plan, "ConfigMap", "postgres-config");
        let [Finding::InPlace(change)] = config else {
            panic!("{config:?}")
        };
        assert!(
            change[0].ends_with("for changed postgresql.conf; the old one stays until deleted"),
            "{change:?}"
        );
    }

    #[test]
    fn more_pooler_replicas_apply_in_place() {
        let plan = plan("aws-medium", |s| s.pgbouncer.replicas = 3);
        let pooler = findings(&plan, "Deployment", "pgbouncer");
        assert!(
            pooler.contains(&Finding::InPlace(vec!["spec.replicas: 2 -> 3".to_owned()])),
            "{pooler:?}"
        );
        // Each replica's pool shrinks to share the server's connections:
        // pgbouncer.ini changes, so the pooler's pods roll for it.
        assert!(
            pooler
                .iter()
                .any(|f| matches!(f, Finding::RollsPods { why, .. }
            if why == &[Roll::ConfigHash(vec!["ConfigMap pgbouncer-config".to_owned()])]))
        );
        assert!(pooler.iter().all(|f| !f.class().is_unsafe()));
    }

    #[test]
    fn a_backup_schedule_applies_in_place() {
        let plan = plan("azure-small", |s| {
            s.backup.schedule = "0 4 * * *".to_owned()
        });
        assert_eq!(
            findings(&plan, "CronJob", "postgres-backup"),
            [Finding::InPlace(vec![
                "spec.schedule: 30 2 * * * -> 0 4 * * *".to_owned()
            ])]
        );
    }

    #[test]
    fn a_bigger_backup_volume_grows_in_place_a_smaller_one_cannot() {
        let bigger = plan("aws-small", |s| s.backup.size = "40Gi".parse().unwrap());
        assert_eq!(
            findings(&bigger, "PersistentVolumeClaim", "postgres-backups"),
            [Finding::InPlace(vec![
                "storage 20Gi -> 40Gi (StorageClass paless-postgres-gp3 expands volumes)"
                    .to_owned()
            ])]
        );
        let smaller = plan("aws-small", |s| s.backup.size = "10Gi".parse().unwrap());
        let found = findings(&smaller, "PersistentVolumeClaim", "postgres-backups");
        assert!(
            matches!(found, [Finding::NotApplicable { field, .. }] if field == "spec.resources.requests.storage"),
            "{found:?}"
        );
    }

    #[test]
    fn storage_class_parameters_cannot_be_applied() {
        let plan = plan("aws-small", |s| {
            let class = s.storage.provision.as_mut().unwrap();
            class.parameters.insert("type".to_owned(), "io2".to_owned());
        });
        let found = findings(&plan, "StorageClass", "paless-postgres-gp3");
        let [
            Finding::NotApplicable {
                field,
                change,
                procedure,
            },
        ] = found
        else {
            panic!("{found:?}")
        };
        assert_eq!(field, "parameters");
        assert_eq!(change, "parameters.type: gp3 -> io2");
        assert_eq!(
            procedure[0].split("   #").next().unwrap(),
            "kubectl delete storageclass paless-postgres-gp3"
        );
    }

    /// The plan from a deployment rendered on StorageClass `old_class`
    /// (provisioned by the overlay or not) to the built-in profile.
    fn plan_from_class(profile: &str, old_class: &str, provisioned: bool) -> ProfilePlan {
        let after = Catalog::builtin().unwrap().resolve(profile).unwrap();
        let mut before = after.clone();
        before.settings.storage.class = old_class.to_owned();
        if !provisioned {
            before.settings.storage.provision = None;
        }
        before.derived = crate::model::derived::derive(&before.settings);
        profile_plan(profile, OVERLAY, &manifests(&before), &manifests(&after))
    }

    #[test]
    fn a_renamed_class_keeps_the_claims_and_replaces_only_the_statefulset_objects() {
        let plan = plan_from_class("aws-large", "ebs-sc", true);
        for (set, claims) in [
            ("postgres", "postgres-data-postgres-0"),
            (
                "postgres-replica",
                "postgres-data-postgres-replica-0, postgres-data-postgres-replica-1",
            ),
        ] {
            let found = findings(&plan, "StatefulSet", set);
            let [
                Finding::NotApplicable {
                    change, procedure, ..
                },
            ] = found
            else {
                panic!("{found:?}")
            };
            assert!(
                change.contains(&format!("claims {claims} keep StorageClass ebs-sc")),
                "{change}"
            );
            let commands: Vec<&str> = procedure
                .iter()
                .map(|step| step.split("   #").next().unwrap())
                .collect();
            assert_eq!(
                commands,
                [
                    format!("kubectl -n paless delete statefulset {set} --cascade=orphan"),
                    APPLY.to_owned(),
                    format!("kubectl -n paless rollout status statefulset/{set}"),
                ],
                "no dump, no claim deleted, no pod restarted; ebs-sc already retains"
            );
        }
        // One finding for the standalone claim's one immutable field.
        let backups = findings(&plan, "PersistentVolumeClaim", "postgres-backups");
        assert_eq!(backups.len(), 1, "{backups:?}");
        let [Finding::Removed { delete }] = findings(&plan, "StorageClass", "ebs-sc") else {
            panic!("{:?}", findings(&plan, "StorageClass", "ebs-sc"))
        };
        assert!(
            delete.starts_with(
                "keep it while claims postgres-data-postgres-0, postgres-data-postgres-replica-0, postgres-data-postgres-replica-1 exist"
            ),
            "{delete}"
        );
    }

    #[test]
    fn leaving_the_clusters_class_for_a_retaining_one_retains_the_existing_volumes() {
        for (profile, old_class) in [
            ("gcp-large", "standard-rwo"),
            ("azure-large", "managed-premium"),
        ] {
            let plan = plan_from_class(profile, old_class, false);
            let found = findings(&plan, "StatefulSet", "postgres-replica");
            let [Finding::NotApplicable { procedure, .. }] = found else {
                panic!("{found:?}")
            };
            let retained: Vec<&String> = procedure
                .iter()
                .filter(|step| step.contains("persistentVolumeReclaimPolicy"))
                .collect();
            assert_eq!(retained.len(), 2, "{procedure:#?}");
            assert!(
                retained[1].starts_with(
                    "kubectl patch pv \"$(kubectl -n paless get pvc postgres-data-postgres-replica-1 -o jsonpath='{.spec.volumeName}')\""
                ),
                "{procedure:#?}"
            );
            assert!(
                !procedure
                    .iter()
                    .any(|step| step.contains("pg_dump") || step.contains("delete pvc"))
            );
        }
    }

    #[test]
    fn a_priority_class_value_cannot_be_applied_its_description_can() {
        let plan = plan("gcp-small", |s| {
            s.scheduling.priority_class_value = 2_000_000
        });
        let found = findings(&plan, "PriorityClass", "paless-postgres");
        let [
            Finding::NotApplicable {
                field,
                change,
                procedure,
            },
        ] = found
        else {
            panic!("{found:?}")
        };
        assert_eq!(
            (field.as_str(), change.as_str()),
            ("value", "value: 1000000 -> 2000000")
        );
        assert_eq!(
            procedure[0].split("   #").next().unwrap(),
            "kubectl delete priorityclass paless-postgres"
        );
        let plan = plan_edited("gcp-small", "PriorityClass", "paless-postgres", |c| {
            c["description"] = "another".into()
        });
        let found = findings(&plan, "PriorityClass", "paless-postgres");
        assert!(matches!(found, [Finding::InPlace(_)]), "{found:?}");
    }

    #[test]
    fn a_cluster_ip_cannot_be_applied() {
        let plan = plan_edited("aws-small", "Service", "postgres", |s| {
            s["spec"]["clusterIP"] = "10.0.0.7".into()
        });
        let found = findings(&plan, "Service", "postgres");
        let [
            Finding::NotApplicable {
                field, procedure, ..
            },
        ] = found
        else {
            panic!("{found:?}")
        };
        assert_eq!(field, "spec.clusterIP");
        assert!(procedure[0].starts_with("kubectl -n paless delete service postgres"));
    }

    #[test]
    fn a_deployment_selector_cannot_be_applied() {
        let plan = plan_edited("aws-medium", "Deployment", "pgbouncer", |d| {
            d["spec"]["selector"]["matchLabels"]["tier"] = "pool".into();
        });
        let found = findings(&plan, "Deployment", "pgbouncer");
        assert!(
            matches!(found, [Finding::NotApplicable { field, .. }] if field == "spec.selector"),
            "{found:?}"
        );
    }

    #[test]
    fn statefulset_identity_fields_cannot_be_applied() {
        for (field, value) in [
            ("serviceName", Value::from("db")),
            ("podManagementPolicy", Value::from("Parallel")),
            (
                "selector",
                serde_json::json!({"matchLabels": {"app": "db"}}),
            ),
        ] {
            let plan = plan_edited("dev-small", "StatefulSet", "postgres", |s| {
                s["spec"][field] = value.clone()
            });
            let found = findings(&plan, "StatefulSet", "postgres");
            let [
                Finding::NotApplicable {
                    field: found_field,
                    procedure,
                    ..
                },
            ] = found
            else {
                panic!("{field}: {found:?}")
            };
            assert_eq!(found_field, &format!("spec.{field}"));
            assert_eq!(
                procedure[2].split("   #").next().unwrap(),
                "kubectl -n paless delete pod postgres-0"
            );
        }
    }

    #[test]
    fn a_null_where_the_other_side_has_nothing_is_no_change() {
        let plan = plan_edited("aws-small", "StatefulSet", "postgres", |s| {
            assert!(s["spec"]["template"]["spec"].get("hostname").is_none());
            s["spec"]["template"]["spec"]["hostname"] = Value::Null;
        });
        assert!(plan.changes.is_empty(), "{:?}", classes(&plan));
    }

    #[test]
    fn another_pod_template_field_rolls_pods() {
        let plan = plan("aws-small", |s| {
            s.postgres.shm_size = "512Mi".parse().unwrap()
        });
        let found = findings(&plan, "StatefulSet", "postgres");
        let [Finding::RollsPods { why, .. }] = found else {
            panic!("{found:?}")
        };
        assert!(
            why.iter().any(|w| matches!(w, Roll::OtherPodTemplateField(paths) if paths.iter().any(|p| p.contains("sizeLimit")))),
            "{why:?}"
        );
    }

    fn with_engine(settings: &mut Settings, engine: crate::model::settings::Engine) {
        settings.engine = engine;
        settings.cloudnative_pg.object_store = Some(crate::model::settings::ObjectStore {
            destination: "s3://acme-backups/postgres".to_owned(),
            endpoint: None,
            identity: None,
            credentials_secret: None,
            key: crate::model::settings::OFFSITE_KEY,
        });
    }

    /// A change to a profile's settings, by its name.
    type Change = Box<dyn Fn(&mut Settings)>;

    /// The plan of `change` on every built-in profile, run by either engine.
    /// The plan of `change` on every built-in profile and engine, with the
    /// objects of the changed overlay.
    fn plans_of(change: &dyn Fn(&mut Settings)) -> Vec<(ProfilePlan, Vec<Value>)> {
        use crate::model::settings::Engine;
        let catalog = Catalog::builtin().unwrap();
        let mut plans = Vec::new();
        for name in catalog.names() {
            for engine in [Engine::StatefulSet, Engine::CloudNativePg] {
                let mut before = catalog.resolve(&name).unwrap();
                with_engine(&mut before.settings, engine);
                before.derived = crate::model::derived::derive(&before.settings);
                let mut after = before.clone();
                change(&mut after.settings);
                after.derived = crate::model::derived::derive(&after.settings);
                let new = manifests(&after);
                plans.push((profile_plan(&name, OVERLAY, &manifests(&before), &new), new));
            }
        }
        plans
    }

    #[test]
    fn no_printed_procedure_deletes_data_before_it_is_elsewhere() {
        use crate::model::settings::Engine;
        let changes: Vec<(&str, Change)> = vec![
            (
                "bigger disk",
                Box::new(|s| s.storage.size = "900Gi".parse().unwrap()),
            ),
            (
                "smaller disk",
                Box::new(|s| s.storage.size = "2Gi".parse().unwrap()),
            ),
            (
                "other class",
                Box::new(|s| s.storage.class = "other".to_owned()),
            ),
            (
                "older major",
                Box::new(|s| {
                    s.image = "postgres:17".parse().unwrap();
                    s.cloudnative_pg.image =
                        "ghcr.io/cloudnative-pg/postgresql:17.6-standard-trixie"
                            .parse()
                            .unwrap();
                }),
            ),
            (
                "newer major",
                Box::new(|s| {
                    s.image = "postgres:19".parse().unwrap();
                    s.cloudnative_pg.image =
                        "ghcr.io/cloudnative-pg/postgresql:19.0-standard-trixie"
                            .parse()
                            .unwrap();
                }),
            ),
            ("no replicas", Box::new(|s| s.replication.read_replicas = 0)),
            (
                "more replicas",
                Box::new(|s| s.replication.read_replicas = 3),
            ),
            ("no backups", Box::new(|s| s.backup.enabled = false)),
            (
                "shorter retention",
                Box::new(|s| s.backup.retention_days = 1),
            ),
            (
                "other destination",
                Box::new(|s| {
                    if let Some(store) = s.cloudnative_pg.object_store.as_mut() {
                        store.destination = "s3://other/postgres".to_owned();
                    }
                }),
            ),
            (
                "smaller backup volume",
                Box::new(|s| s.backup.size = "1Gi".parse().unwrap()),
            ),
            ("no dev secret", Box::new(|s| s.dev_credentials = false)),
            (
                "statefulset engine",
                Box::new(|s| with_engine(s, Engine::StatefulSet)),
            ),
            (
                "cloudnative-pg engine",
                Box::new(|s| with_engine(s, Engine::CloudNativePg)),
            ),
        ];
        let mut walked = 0;
        for (what, change) in &changes {
            for (plan, new) in plans_of(change.as_ref()) {
                for object in &plan.changes {
                    for finding in &object.findings {
                        walked += usize::from(!finding.procedure().is_empty());
                        assert_eq!(
                            procedure::unsaved_deletion(finding.procedure()),
                            None,
                            "{what} on {}: {} {}: {finding:#?}",
                            plan.profile,
                            object.kind,
                            object.name
                        );
                    }
                }
                let overlay = sequence::overlay_procedure(
                    &plan.profile,
                    Path::new("k8s"),
                    &format!("kubectl apply -k {OVERLAY}"),
                    &plan.procedures(),
                );
                let applied = |kind: &str, name: &str| {
                    new.iter().any(|object| {
                        text(&object["kind"]).eq_ignore_ascii_case(kind)
                            && text(&object["metadata"]["name"]) == name
                    })
                };
                assert_eq!(
                    procedure::unsaved_deletion(&overlay),
                    None,
                    "{what} on {}: the overlay's procedure {overlay:#?}",
                    plan.profile
                );
                assert_eq!(
                    procedure::uses_deleted(&overlay, &applied),
                    None,
                    "{what} on {}: the overlay's procedure {overlay:#?}",
                    plan.profile
                );
            }
        }
        assert!(walked > 100, "only {walked} procedures walked");
    }

    #[test]
    fn an_engine_switch_is_a_data_migration_by_palgen_migrate() {
        use crate::model::settings::Engine;
        let to_cnpg = plan("aws-large", |s| with_engine(s, Engine::CloudNativePg));
        let primary = findings(&to_cnpg, "StatefulSet", "postgres");
        let [Finding::DataMigration { change, procedure }] = primary else {
            panic!("{primary:?}")
        };
        assert!(
            change.contains("the engine becomes cloudnative-pg"),
            "{change}"
        );
        assert!(
            procedure
                .iter()
                .any(|s| s.starts_with("palgen migrate --profile aws-large | kubectl apply -f -")),
            "{procedure:#?}"
        );
        assert!(
            procedure.iter().any(|s| s.starts_with(
                "kubectl apply -f k8s/overlays/acme/objectstore-postgres-backups.yaml"
            )),
            "{procedure:#?}"
        );
        let replica = findings(&to_cnpg, "StatefulSet", "postgres-replica");
        assert!(
            matches!(replica, [Finding::DataMigration { .. }]),
            "{replica:?}"
        );

        let back = cnpg_plan("aws-large", |s| s.engine = Engine::StatefulSet);
        let cluster = findings(&back, "Cluster", "postgres-cluster");
        let [Finding::DataMigration { procedure, .. }] = cluster else {
            panic!("{cluster:?}")
        };
        assert!(
            procedure
                .iter()
                .any(|s| s.contains("delete pooler postgres")),
            "{procedure:#?}"
        );
        assert!(
            procedure
                .last()
                .unwrap()
                .contains("delete cluster postgres-cluster"),
            "{procedure:#?}"
        );
    }

    #[test]
    fn losing_backups_is_destructive_with_a_final_backup_first_on_both_engines() {
        use crate::model::settings::Engine;
        // aws-large on the cloudnative-pg engine, archiving to a bucket.
        let cnpg_plan_of = |change: &dyn Fn(&mut Settings)| {
            let mut before = Catalog::builtin().unwrap().resolve("aws-large").unwrap();
            with_engine(&mut before.settings, Engine::CloudNativePg);
            before.derived = crate::model::derived::derive(&before.settings);
            let mut after = before.clone();
            change(&mut after.settings);
            after.derived = crate::model::derived::derive(&after.settings);
            profile_plan(
                "aws-large",
                OVERLAY,
                &manifests(&before),
                &manifests(&after),
            )
        };
        let off = cnpg_plan_of(&|s| s.backup.enabled = false);
        for (kind, name) in [
            ("Cluster", "postgres-cluster"),
            ("ObjectStore", "postgres-backups"),
            ("ScheduledBackup", "postgres-backup"),
        ] {
            let found = only(findings(&off, kind, name), Class::Destructive);
            let [finding] = found[..] else {
                panic!("{kind}: {found:?}")
            };
            assert!(
                finding.procedure()[0].contains("name: postgres-cluster-final"),
                "{kind}: {finding:?}"
            );
            assert!(
                finding.procedure()[1].contains("wait backup/postgres-cluster-final"),
                "{kind}: {finding:?}"
            );
        }
        let shorter = cnpg_plan_of(&|s| s.backup.retention_days = 3);
        let store = only(
            findings(&shorter, "ObjectStore", "postgres-backups"),
            Class::Destructive,
        );
        assert!(
            matches!(store[..], [Finding::Destructive { change, .. }] if change.starts_with("retention 7d -> 3d")),
            "{store:?}"
        );
        let longer = cnpg_plan_of(&|s| s.backup.retention_days = 30);
        assert!(
            findings(&longer, "ObjectStore", "postgres-backups")
                .iter()
                .all(|f| !f.class().is_unsafe())
        );

        let dumps = plan("gcp-small", |s| s.backup.retention_days = 3);
        let job = only(
            findings(&dumps, "CronJob", "postgres-backup"),
            Class::Destructive,
        );
        let [Finding::Destructive { change, procedure }] = job[..] else {
            panic!("{job:?}")
        };
        assert!(
            change.starts_with("backup retention 7 -> 3 days"),
            "{change}"
        );
        assert_eq!(
            procedure[0],
            "kubectl -n paless create job postgres-backup-final --from=cronjob/postgres-backup"
        );
        let off = plan("gcp-small", |s| s.backup.enabled = false);
        let stop = findings(&off, "CronJob", "postgres-backup")[0].procedure();
        assert!(
            stop.iter()
                .position(|s| s.contains("create job postgres-backup-final"))
                < stop.iter().position(|s| s.contains("delete cronjob")),
            "{stop:?}"
        );
    }

    #[test]
    fn another_barman_server_name_is_destructive() {
        use crate::model::settings::Engine;
        let plan = plan_edited("aws-large", "StatefulSet", "postgres", |_| {});
        assert!(plan.changes.is_empty());
        let mut profile = Catalog::builtin().unwrap().resolve("aws-large").unwrap();
        with_engine(&mut profile.settings, Engine::CloudNativePg);
        let old = manifests(&profile);
        let mut new = old.clone();
        let cluster = new.iter_mut().find(|o| o["kind"] == "Cluster").unwrap();
        cluster["spec"]["plugins"][0]["parameters"]["serverName"] = "renamed".into();
        let plan = profile_plan("aws-large", OVERLAY, &old, &new);
        let found = only(
            findings(&plan, "Cluster", "postgres-cluster"),
            Class::Destructive,
        );
        assert!(
            matches!(found[..], [Finding::Destructive { change, .. }] if change.starts_with("Barman server name aws-large -> renamed")),
            "{found:?}"
        );
    }
}
