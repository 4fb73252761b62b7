//! What applying one object's change does to a running cluster: the rules
//! of the Kubernetes API (immutable fields, pod template rollouts) and of
//! PostgreSQL (a data directory belongs to one major version).

use std::collections::BTreeMap;
use std::fmt;

use serde_json::{Map, Value};

use super::procedure::{self, StatefulSet};
use crate::image::Image;
use crate::objects::labels;
use crate::quantity::Bytes;

/// How safe a change is, from harmless to needing a manual procedure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Class {
    Unchanged,
    InPlace,
    RollsPods,
    NotApplicable,
    DataIncompatible,
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
            Finding::DataIncompatible { change, .. } | Finding::Destructive { change, .. } => {
                change.clone()
            }
        }
    }

    pub fn procedure(&self) -> &[String] {
        match self {
            Finding::NotApplicable { procedure, .. }
            | Finding::DataIncompatible { procedure, .. }
            | Finding::Destructive { procedure, .. } => procedure,
            _ => &[],
        }
    }
}

/// What the rules see besides the object: both object sets, for storage
/// classes and replicas, and how to apply the overlay.
pub struct Context<'a> {
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
        (Some(old), None) => removed(old),
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
            "StorageClass" => storage_class(old, new, cx),
            "ConfigMap" if cx.generated.contains_key(name(new)) => {
                vec![Finding::InPlace(vec![generated_config_map(old, new)])]
            }
            _ => vec![Finding::InPlace(differences(old, new, ""))],
        },
    }
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

fn removed(old: &Value) -> Vec<Finding> {
    let kind = text(&old["kind"]);
    let (kubectl, name) = (kubectl(old), name(old));
    let finding = match kind {
        "PersistentVolumeClaim" => Finding::Destructive {
            change: format!("PVC {name} is no longer generated: its data goes once it is deleted"),
            procedure: vec![
                format!(
                    "`kubectl apply -k` leaves PVC {name} and its data in place; copy off what you keep (a pod that mounts it, then `kubectl cp`)"
                ),
                format!("{kubectl} delete pvc {name}"),
            ],
        },
        "CronJob" => Finding::Destructive {
            change: format!(
                "CronJob {name} is no longer generated: its scheduled runs stop once it is deleted"
            ),
            procedure: vec![
                format!("`kubectl apply -k` leaves CronJob {name} running on its old schedule"),
                format!(
                    "{kubectl} delete cronjob {name}   # only if you mean to stop it; what it wrote stays on its volume"
                ),
            ],
        },
        "Secret" => Finding::Destructive {
            change: format!(
                "Secret {name} is no longer generated: pods that read it cannot start without it"
            ),
            procedure: vec![format!(
                "{kubectl} get secret {name}   # `kubectl apply -k` leaves it in place; create it by hand before you ever delete it (README: Applying)"
            )],
        },
        "StatefulSet" => {
            let set = statefulset_of(old, old);
            let mut procedure = vec![format!("{kubectl} delete statefulset {name}")];
            procedure.extend(set.claims.iter().map(|claim| {
                format!("{kubectl} delete pvc {claim}   # claims outlive their StatefulSet; deleting one drops its data")
            }));
            Finding::Destructive {
                change: format!(
                    "StatefulSet {name} is no longer generated: its pods stop and claims {} are left or deleted",
                    set.claims.join(", ")
                ),
                procedure,
            }
        }
        _ => Finding::Removed {
            delete: format!("{kubectl} delete {} {name}", kind.to_lowercase()),
        },
    };
    vec![finding]
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
    let mut paths: Vec<String> = immutable.iter().map(|f| format!("spec.{f}")).collect();
    paths.push("spec.template".to_owned());
    let paths: Vec<&str> = paths.iter().map(String::as_str).collect();
    let rest = differences(&without(old, &paths), &without(new, &paths), "");
    if !rest.is_empty() {
        findings.push(Finding::InPlace(rest));
    }
    findings
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
            "upgrade the primary first: its procedure rebuilds the replicas of StatefulSet {}",
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
    crate::kustomize::rename_config_map_references(&mut template, &renamed);
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
                ) {
                    if let Some(name) = child["name"].as_str() {
                        found.push(name.to_owned());
                    }
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

/// Several immutable fields of one object need the same procedure once.
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
                    procedure: vec!["(the procedure above covers it)".to_owned()],
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
                let mut names: Vec<&str> = a.iter().chain(b).map(|i| text(&i["name"])).collect();
                names.dedup();
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
