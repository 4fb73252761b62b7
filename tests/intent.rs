//! Rules every object set palgen builds must satisfy, whatever the profile:
//! the intent behind the snapshots, checked on `palgen build` of every
//! built-in profile and of user profiles that push the settings to where
//! mistakes hide (three replicas, no backup, PgBouncer forced by pod count,
//! requests equal to limits, an image older than 18, no exporter).
//!
//! Each rule is a checker that returns its violations, each naming the
//! profile, the object and the field; the `*_reports_*` tests feed checkers
//! hand-broken objects to show that they can fail.

mod common;

use std::collections::BTreeMap;
use std::fs;
use std::sync::OnceLock;

use serde_json::{Value, json};

use common::{PROFILES, STRESS_PROFILES, objects_by_identity, palgen, stderr, stdout};

/// One profile's build: its objects by identity and its resolved settings.
struct Build {
    profile: String,
    objects: BTreeMap<String, Value>,
    settings: Value,
}

fn build(profiles_dir: Option<&str>, profile: &str) -> Build {
    let mut prefix = Vec::new();
    if let Some(dir) = profiles_dir {
        prefix.extend(["--profiles-dir", dir]);
    }
    let run = |args: &[&str]| {
        let args: Vec<&str> = prefix.iter().chain(args).copied().collect();
        let output = palgen(&args);
        assert!(
            output.status.success(),
            "palgen {args:?} failed: {}",
            stderr(&output)
        );
        stdout(&output)
    };
    let objects = objects_by_identity(&run(&["build", "--profile", profile]));
    let shown: Value =
        serde_json::from_str(&run(&["show", "--profile", profile, "--format", "json"]))
            .expect("show prints JSON");
    Build {
        profile: profile.to_owned(),
        objects,
        settings: shown["settings"].clone(),
    }
}

/// Every built-in profile and every user profile, built once per test run.
fn builds() -> &'static [Build] {
    static BUILDS: OnceLock<Vec<Build>> = OnceLock::new();
    BUILDS.get_or_init(|| {
        let dir = tempfile::tempdir().expect("temporary directory");
        for (name, text) in STRESS_PROFILES {
            fs::write(dir.path().join(format!("{name}.yaml")), text).expect("user profile");
        }
        let profiles_dir = dir.path().to_str().expect("UTF-8 path");
        PROFILES
            .iter()
            .map(|profile| build(None, profile))
            .chain(
                STRESS_PROFILES
                    .iter()
                    .map(|(name, _)| build(Some(profiles_dir), name)),
            )
            .collect()
    })
}

fn user_build(name: &str) -> &'static Build {
    builds()
        .iter()
        .find(|b| b.profile == name)
        .expect("a user profile of STRESS_PROFILES")
}

/// Runs `check` on every build and fails with all violations it reports.
fn assert_rule(check: fn(&Build) -> Vec<String>) {
    let builds = builds();
    assert_eq!(builds.len(), PROFILES.len() + STRESS_PROFILES.len());
    let violations: Vec<String> = builds.iter().flat_map(check).collect();
    assert!(
        violations.is_empty(),
        "{} violations:\n{}",
        violations.len(),
        violations.join("\n")
    );
}

/// A copy of a build's objects with `edit` applied to the object `identity`,
/// for negative controls.
fn mutated(profile: &str, identity: &str, edit: impl FnOnce(&mut Value)) -> Build {
    let original = builds()
        .iter()
        .find(|b| b.profile == profile)
        .expect("a built profile");
    let mut objects = original.objects.clone();
    edit(
        objects
            .get_mut(identity)
            .unwrap_or_else(|| panic!("{profile} has no {identity}")),
    );
    Build {
        profile: format!("{profile} (mutated)"),
        objects,
        settings: original.settings.clone(),
    }
}

/// Asserts that `check` finds nothing on the unmutated profile and, on the
/// mutated copy, a violation containing every one of `expected`.
fn assert_reports(check: fn(&Build) -> Vec<String>, broken: &Build, expected: &[&str]) {
    let profile = broken.profile.trim_end_matches(" (mutated)");
    let clean = builds().iter().find(|b| b.profile == profile).unwrap();
    assert_eq!(check(clean), Vec::<String>::new(), "{profile} unmutated");
    let violations = check(broken);
    assert!(
        violations
            .iter()
            .any(|v| expected.iter().all(|part| v.contains(part))),
        "expected a violation naming {expected:?}, got {violations:#?}"
    );
}

// ---- Walking the object set ----------------------------------------------

/// The pod template of a workload, and the path to it for messages.
fn pod_template(object: &Value) -> Option<(&Value, &'static str)> {
    match object["kind"].as_str()? {
        "StatefulSet" | "Deployment" | "DaemonSet" | "ReplicaSet" | "Job" => {
            Some((&object["spec"]["template"], "spec.template"))
        }
        "CronJob" => Some((
            &object["spec"]["jobTemplate"]["spec"]["template"],
            "spec.jobTemplate.spec.template",
        )),
        "Pod" => Some((object, "")),
        _ => None,
    }
}

fn pod_templates(build: &Build) -> Vec<(&str, &Value, &'static str)> {
    build
        .objects
        .iter()
        .filter_map(|(identity, object)| {
            pod_template(object).map(|(template, path)| (identity.as_str(), template, path))
        })
        .collect()
}

fn array(value: &Value) -> &[Value] {
    value.as_array().map(Vec::as_slice).unwrap_or_default()
}

/// Containers and init containers of a pod template, with their field name.
fn containers(template: &Value) -> Vec<(&'static str, &Value)> {
    let spec = &template["spec"];
    array(&spec["initContainers"])
        .iter()
        .map(|c| ("initContainers", c))
        .chain(array(&spec["containers"]).iter().map(|c| ("containers", c)))
        .collect()
}

fn name(value: &Value) -> &str {
    value["name"].as_str().unwrap_or("<unnamed>")
}

fn namespace_of(identity: &str) -> &str {
    identity.split('/').nth(1).unwrap_or_default()
}

fn of_kind<'a>(build: &'a Build, kind: &str) -> Vec<(&'a str, &'a Value)> {
    let prefix = format!("{kind}/");
    build
        .objects
        .iter()
        .filter(|(identity, _)| identity.starts_with(&prefix))
        .map(|(identity, object)| (identity.as_str(), object))
        .collect()
}

// ---- Containers -----------------------------------------------------------

/// An image reference pinned by a digest, or by a tag other than `latest`.
fn image_is_pinned(image: &str) -> bool {
    if let Some((_, digest)) = image.split_once('@') {
        return digest.starts_with("sha256:") && digest.len() == "sha256:".len() + 64;
    }
    let last_segment = image.rsplit('/').next().unwrap_or(image);
    matches!(last_segment.split_once(':'), Some((_, tag)) if !tag.is_empty() && tag != "latest")
}

fn check_containers(build: &Build) -> Vec<String> {
    let mut found = Vec::new();
    for (identity, template, path) in pod_templates(build) {
        for (field, container) in containers(template) {
            let at = format!(
                "{}: {identity} {path}.spec.{field}[{}]",
                build.profile,
                name(container)
            );
            for (section, resource) in [
                ("requests", "cpu"),
                ("requests", "memory"),
                ("limits", "cpu"),
                ("limits", "memory"),
            ] {
                if container["resources"][section][resource].as_str().is_none() {
                    found.push(format!("{at}: resources.{section}.{resource} is not set"));
                }
            }
            let security = &container["securityContext"];
            for (key, wanted) in [
                ("readOnlyRootFilesystem", true),
                ("runAsNonRoot", true),
                ("allowPrivilegeEscalation", false),
            ] {
                if security[key] != wanted {
                    found.push(format!(
                        "{at}: securityContext.{key} is {}, not {wanted}",
                        security[key]
                    ));
                }
            }
            if security["capabilities"]["drop"] != json!(["ALL"]) {
                found.push(format!(
                    "{at}: securityContext.capabilities.drop is {}, not [\"ALL\"]",
                    security["capabilities"]["drop"]
                ));
            }
            let image = container["image"].as_str().unwrap_or_default();
            if !image_is_pinned(image) {
                found.push(format!(
                    "{at}: image {image:?} is pinned by neither a tag (other than latest) nor a digest"
                ));
            }
        }
    }
    found
}

#[test]
fn containers_have_resources_restricted_security_and_pinned_images() {
    assert_rule(check_containers);
}

#[test]
fn the_container_rule_reports_missing_limits_writable_root_and_latest() {
    let sts = "StatefulSet/paless/postgres";
    let broken = mutated("aws-large", sts, |o| {
        o["spec"]["template"]["spec"]["containers"][1]["resources"]["limits"]
            .as_object_mut()
            .unwrap()
            .remove("memory");
    });
    assert_reports(
        check_containers,
        &broken,
        &[
            sts,
            "containers[postgres-exporter]",
            "resources.limits.memory",
        ],
    );
    let broken = mutated("aws-large", "Deployment/paless/pgbouncer", |o| {
        o["spec"]["template"]["spec"]["initContainers"][0]["securityContext"]["readOnlyRootFilesystem"] =
            json!(false);
    });
    assert_reports(
        check_containers,
        &broken,
        &[
            "initContainers[userlist]",
            "securityContext.readOnlyRootFilesystem",
        ],
    );
    for image in ["postgres:latest", "postgres", "registry:5000/postgres"] {
        let broken = mutated("aws-large", sts, |o| {
            o["spec"]["template"]["spec"]["containers"][0]["image"] = json!(image);
        });
        assert_reports(check_containers, &broken, &["containers[postgres]", image]);
    }
    assert!(image_is_pinned("registry:5000/postgres:18"));
    assert!(image_is_pinned(
        "postgres@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
    ));
}

// ---- Scheduling -----------------------------------------------------------

/// The profile's tolerations as Kubernetes writes them.
fn expected_tolerations(settings: &Value) -> Option<Value> {
    let tolerations = array(&settings["scheduling"]["tolerations"]);
    if tolerations.is_empty() {
        return None;
    }
    let written = tolerations
        .iter()
        .map(|t| {
            let mut k8s = serde_json::Map::new();
            if t["key"] != "" {
                k8s.insert("key".to_owned(), t["key"].clone());
            }
            k8s.insert("operator".to_owned(), t["operator"].clone());
            if t["operator"] == "Equal" {
                k8s.insert("value".to_owned(), t["value"].clone());
            }
            if !t["effect"].is_null() {
                k8s.insert("effect".to_owned(), t["effect"].clone());
            }
            Value::Object(k8s)
        })
        .collect();
    Some(Value::Array(written))
}

/// The node affinity the profile's `scheduling.node_affinity` asks for, as
/// Kubernetes writes it: one required term of every expression, and one
/// weighted term per preference.
fn expected_node_affinity(settings: &Value) -> Option<Value> {
    let affinity = &settings["scheduling"]["node_affinity"];
    let expression = |e: &Value| {
        let mut written = json!({"key": e["key"], "operator": e["operator"]});
        if array(&e["values"]).iter().len() > 0 {
            written["values"] = e["values"].clone();
        }
        written
    };
    let required = array(&affinity["required"]);
    let preferred = array(&affinity["preferred"]);
    let mut written = serde_json::Map::new();
    if !required.is_empty() {
        written.insert(
            "requiredDuringSchedulingIgnoredDuringExecution".to_owned(),
            json!({"nodeSelectorTerms": [{"matchExpressions": required.iter().map(expression).collect::<Vec<_>>()}]}),
        );
    }
    if !preferred.is_empty() {
        written.insert(
            "preferredDuringSchedulingIgnoredDuringExecution".to_owned(),
            preferred
                .iter()
                .map(|p| json!({"weight": p["weight"], "preference": {"matchExpressions": [expression(p)]}}))
                .collect(),
        );
    }
    (!written.is_empty()).then_some(Value::Object(written))
}

/// Every pod (database, replicas, PgBouncer, backup) has the profile's node
/// selector, tolerations, PriorityClass and node affinity, and none other.
fn check_scheduling(build: &Build) -> Vec<String> {
    let scheduling = &build.settings["scheduling"];
    let selector = &scheduling["node_selector"];
    let expected_selector =
        (selector.as_object().is_some_and(|m| !m.is_empty())).then(|| selector.clone());
    let class = &scheduling["priority_class_name"];
    let expected_class = (class != "").then(|| class.clone());
    let expected_tolerations = expected_tolerations(&build.settings);
    let expected_node_affinity = expected_node_affinity(&build.settings);
    let mut violations = Vec::new();
    for (identity, template, path) in pod_templates(build) {
        let spec = &template["spec"];
        let found = spec["affinity"].get("nodeAffinity").cloned();
        if found != expected_node_affinity {
            violations.push(format!(
                "{}: {identity}: {path}.spec.affinity.nodeAffinity is {found:?}, the profile says {expected_node_affinity:?}",
                build.profile
            ));
        }
        for (field, expected) in [
            ("nodeSelector", &expected_selector),
            ("tolerations", &expected_tolerations),
            ("priorityClassName", &expected_class),
        ] {
            let found = spec.get(field).cloned();
            if found != *expected {
                violations.push(format!(
                    "{}: {identity}: {path}.spec.{field} is {found:?}, the profile says {expected:?}",
                    build.profile
                ));
            }
        }
    }
    violations
}

#[test]
fn every_pod_runs_where_the_profile_schedules_it() {
    assert_rule(check_scheduling);
    // The pool profile reaches all three kinds of pod.
    let pool = user_build("dedicated-pool");
    let kinds: Vec<&str> = pod_templates(pool)
        .iter()
        .filter(|(_, template, _)| !template["spec"]["nodeSelector"].is_null())
        .map(|(identity, _, _)| identity.split('/').next().unwrap())
        .collect();
    for kind in ["StatefulSet", "Deployment", "CronJob"] {
        assert!(kinds.contains(&kind), "{kind} not scheduled: {kinds:?}");
    }
    // Its node affinity sits beside the spread over nodes, not in place of it.
    let database = &pool.objects["StatefulSet/paless/postgres-replica"];
    let affinity = &database["spec"]["template"]["spec"]["affinity"];
    assert!(affinity["nodeAffinity"].is_object(), "{affinity}");
    assert!(affinity["podAntiAffinity"].is_object(), "{affinity}");
}

#[test]
fn the_scheduling_rule_reports_a_pod_off_the_pool() {
    let broken = mutated("dedicated-pool", "Deployment/paless/pgbouncer", |o| {
        o["spec"]["template"]["spec"]
            .as_object_mut()
            .unwrap()
            .remove("tolerations");
    });
    assert_reports(
        check_scheduling,
        &broken,
        &[
            "Deployment/paless/pgbouncer",
            "spec.template.spec.tolerations",
        ],
    );
    let broken = mutated("dedicated-pool", "CronJob/paless/postgres-backup", |o| {
        o["spec"]["jobTemplate"]["spec"]["template"]["spec"]["affinity"]["nodeAffinity"]
            .as_object_mut()
            .unwrap()
            .remove("preferredDuringSchedulingIgnoredDuringExecution");
    });
    assert_reports(
        check_scheduling,
        &broken,
        &["CronJob/paless/postgres-backup", "affinity.nodeAffinity"],
    );
}

// ---- Namespace ------------------------------------------------------------

/// Every string of `value`, with the key it is found under.
fn strings<'a>(value: &'a Value, key: &'a str, found: &mut Vec<(&'a str, &'a str)>) {
    match value {
        Value::String(text) => found.push((key, text)),
        Value::Array(items) => items.iter().for_each(|i| strings(i, key, found)),
        Value::Object(map) => map.iter().for_each(|(k, v)| strings(v, k, found)),
        _ => {}
    }
}

/// The namespaces a text names: `<service>.<namespace>.svc...`, a name
/// `<service>.<namespace>` whose `.svc` form the object also has (the
/// short forms of a certificate's DNS names), and `namespace="..."`.
fn namespaces_named<'a>(text: &'a str, all: &[(&str, &str)]) -> Vec<&'a str> {
    let mut named = Vec::new();
    let labels: Vec<&str> = text.split('.').collect();
    let svc_form = format!("{text}.svc");
    if let Some(svc) = labels
        .iter()
        .position(|l| *l == "svc" || l.starts_with("svc:"))
        && svc >= 2
    {
        named.push(labels[svc - 1]);
    } else if labels.len() >= 2 && all.iter().any(|(_, t)| *t == svc_form) {
        named.push(labels[labels.len() - 1]);
    }
    for (_, rest) in text
        .match_indices("namespace=\"")
        .map(|(at, m)| ((), &text[at + m.len()..]))
    {
        named.push(rest.split('"').next().unwrap_or_default());
    }
    named
}

/// Every object is in the profile's namespace (the Namespace is named so),
/// and every DNS name and alert matcher of the database's own Services
/// names that namespace. An S3-compatible endpoint of another namespace
/// (`backup.offsite.endpoint`) is the user's.
fn check_namespace(build: &Build) -> Vec<String> {
    let expected = build.settings["namespace"]
        .as_str()
        .expect("show prints the namespace");
    let endpoint = build.settings["backup"]["offsite"]["endpoint"]
        .as_str()
        .unwrap_or_default();
    let mut violations = Vec::new();
    for (identity, object) in &build.objects {
        let metadata = &object["metadata"];
        let found = if object["kind"] == "Namespace" {
            metadata["name"].as_str()
        } else {
            metadata["namespace"].as_str()
        };
        let cluster_wide = ["StorageClass", "PriorityClass"]
            .contains(&object["kind"].as_str().unwrap_or_default());
        if !cluster_wide && found != Some(expected) {
            violations.push(format!(
                "{}: {identity}: namespace {found:?}, the profile says {expected:?}",
                build.profile
            ));
        }
        let mut texts = Vec::new();
        strings(object, "", &mut texts);
        for &(key, text) in &texts {
            if !endpoint.is_empty() && text.contains(endpoint) {
                continue;
            }
            for named in namespaces_named(text, &texts) {
                if named != expected {
                    violations.push(format!(
                        "{}: {identity}: {key} {text:?} names namespace {named:?}, the profile says {expected:?}",
                        build.profile
                    ));
                }
            }
        }
    }
    violations
}

#[test]
fn every_object_and_name_is_in_the_profiles_namespace() {
    assert_rule(check_namespace);
    let staging = user_build("staging-namespace");
    assert!(
        staging
            .objects
            .contains_key("Certificate/staging/postgres-tls")
    );
    assert!(
        staging
            .objects
            .contains_key("PrometheusRule/staging/postgres")
    );
}

#[test]
fn the_namespace_rule_reports_an_object_or_name_left_in_another() {
    let broken = mutated(
        "staging-namespace",
        "Certificate/staging/postgres-tls",
        |o| {
            o["spec"]["dnsNames"][2] = json!("postgres.paless.svc");
        },
    );
    assert_reports(
        check_namespace,
        &broken,
        &[
            "Certificate/staging/postgres-tls",
            "\"postgres.paless.svc\" names namespace \"paless\"",
        ],
    );
    let broken = mutated(
        "staging-namespace",
        "PrometheusRule/staging/postgres",
        |o| {
            o["spec"]["groups"][0]["rules"][1]["expr"] = json!("pg_up{namespace=\"paless\"} == 0");
        },
    );
    assert_reports(check_namespace, &broken, &["names namespace \"paless\""]);
    let broken = mutated("staging-namespace", "Service/staging/postgres", |o| {
        o["metadata"]["namespace"] = json!("paless");
    });
    assert_reports(
        check_namespace,
        &broken,
        &["Service/staging/postgres: namespace Some(\"paless\")"],
    );
}

// ---- Volumes --------------------------------------------------------------

/// The credentials Secret the README tells the user to create.
const CREDENTIALS_SECRET: &str = "postgres-credentials";

/// Kustomize's content-hash suffix: `-` and ten lowercase letters or digits.
fn has_content_hash(name: &str) -> bool {
    name.rsplit_once('-').is_some_and(|(_, hash)| {
        hash.len() == 10
            && hash
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
    })
}

fn check_volumes(build: &Build) -> Vec<String> {
    let mut found = Vec::new();
    for (identity, template, path) in pod_templates(build) {
        let at = format!("{}: {identity} {path}.spec", build.profile);
        let object = &build.objects[identity];
        let claims: Vec<&str> = array(&object["spec"]["volumeClaimTemplates"])
            .iter()
            .map(|c| c["metadata"]["name"].as_str().unwrap_or_default())
            .collect();
        let volumes = array(&template["spec"]["volumes"]);
        let mut declared: Vec<&str> = volumes.iter().map(name).collect();
        declared.extend(&claims);

        let mut mounted = Vec::new();
        for (field, container) in containers(template) {
            for mount in array(&container["volumeMounts"]) {
                let volume = name(mount);
                mounted.push(volume);
                if !declared.contains(&volume) {
                    found.push(format!(
                        "{at}.{field}[{}].volumeMounts[{volume}]: names no volume of the pod",
                        name(container)
                    ));
                }
            }
        }
        for volume in &declared {
            if !mounted.contains(volume) {
                found.push(format!(
                    "{at}.volumes[{volume}]: mounted by no container (dangling)"
                ));
            }
        }
        let namespace = namespace_of(identity);
        for volume in volumes {
            if let Some(config_map) = volume["configMap"]["name"].as_str() {
                let key = format!("ConfigMap/{namespace}/{config_map}");
                if !build.objects.contains_key(&key) {
                    found.push(format!(
                        "{at}.volumes[{}].configMap.name: {config_map} is not in the build",
                        name(volume)
                    ));
                } else if !has_content_hash(config_map) {
                    found.push(format!(
                        "{at}.volumes[{}].configMap.name: {config_map} carries no content hash, so a change would not roll the pod",
                        name(volume)
                    ));
                }
            }
            if let Some(secret) = volume.get("secret") {
                let secret_name = secret["secretName"].as_str().unwrap_or_default();
                // The TLS Secret is the profile's `tls.secret`, when TLS is on.
                let tls_secret = (build.settings["tls"]["enabled"] == true)
                    .then(|| build.settings["tls"]["secret"].as_str())
                    .flatten();
                if secret_name != CREDENTIALS_SECRET && Some(secret_name) != tls_secret {
                    found.push(format!(
                        "{at}.volumes[{}].secret.secretName: {secret_name:?}, neither the documented {CREDENTIALS_SECRET} nor the profile's tls.secret",
                        name(volume)
                    ));
                }
            }
        }
    }
    found
}

#[test]
fn volumes_are_declared_mounted_and_name_objects_that_exist() {
    assert_rule(check_volumes);
}

#[test]
fn the_volume_rule_reports_dangling_missing_and_foreign_volumes() {
    let sts = "StatefulSet/paless/postgres";
    let broken = mutated("aws-large", sts, |o| {
        o["spec"]["template"]["spec"]["volumes"]
            .as_array_mut()
            .unwrap()
            .push(json!({"name": "spare", "emptyDir": {}}));
    });
    assert_reports(check_volumes, &broken, &[sts, "volumes[spare]", "dangling"]);

    let broken = mutated("aws-large", sts, |o| {
        o["spec"]["template"]["spec"]["containers"][0]["volumeMounts"][0]["name"] =
            json!("postgres-dat");
    });
    assert_reports(
        check_volumes,
        &broken,
        &[
            "containers[postgres].volumeMounts[postgres-dat]",
            "no volume",
        ],
    );

    let broken = mutated("aws-large", "CronJob/paless/postgres-backup", |o| {
        let volumes = &mut o["spec"]["jobTemplate"]["spec"]["template"]["spec"]["volumes"];
        for volume in volumes.as_array_mut().unwrap() {
            if volume.get("configMap").is_some() {
                volume["configMap"]["name"] = json!("postgres-backup-scripts");
            }
            if volume.get("secret").is_some() {
                volume["secret"]["secretName"] = json!("backup-credentials");
            }
        }
    });
    assert_reports(
        check_volumes,
        &broken,
        &[
            "volumes[scripts].configMap.name",
            "postgres-backup-scripts is not in the build",
        ],
    );
    assert_reports(
        check_volumes,
        &broken,
        &[
            "volumes[credentials-app].secret.secretName",
            "backup-credentials",
        ],
    );
}

// ---- Selectors and governing Services -------------------------------------

fn labels_match(selector: &Value, labels: &Value) -> bool {
    selector
        .as_object()
        .is_some_and(|selector| selector.iter().all(|(key, value)| &labels[key] == value))
}

/// Identities of the workloads in `namespace` whose pod template carries
/// every label of `selector`.
fn selected<'a>(build: &'a Build, namespace: &str, selector: &Value) -> Vec<&'a str> {
    pod_templates(build)
        .into_iter()
        .filter(|(identity, template, _)| {
            namespace_of(identity) == namespace
                && labels_match(selector, &template["metadata"]["labels"])
        })
        .map(|(identity, _, _)| identity)
        .collect()
}

/// What is wrong with a selector of `identity`, if it selects no pod.
fn selection_problem(
    build: &Build,
    identity: &str,
    field: &str,
    selector: &Value,
) -> Option<String> {
    let problem = match selector.as_object() {
        Some(labels) if labels.is_empty() => "is empty: it selects every pod",
        None => "is missing",
        Some(_) if selected(build, namespace_of(identity), selector).is_empty() => {
            "selects no pod template of the build"
        }
        Some(_) => return None,
    };
    Some(format!(
        "{}: {identity} {field} {selector} {problem}",
        build.profile
    ))
}

fn check_selectors(build: &Build) -> Vec<String> {
    let mut found = Vec::new();
    for (identity, service) in of_kind(build, "Service") {
        found.extend(selection_problem(
            build,
            identity,
            "spec.selector",
            &service["spec"]["selector"],
        ));
    }
    for (identity, policy) in of_kind(build, "NetworkPolicy") {
        let selector = &policy["spec"]["podSelector"];
        if selector.get("matchExpressions").is_some() {
            found.push(format!(
                "{}: {identity} spec.podSelector.matchExpressions: not understood by this test",
                build.profile
            ));
        }
        found.extend(selection_problem(
            build,
            identity,
            "spec.podSelector.matchLabels",
            &selector["matchLabels"],
        ));
    }
    for (identity, budget) in of_kind(build, "PodDisruptionBudget") {
        found.extend(selection_problem(
            build,
            identity,
            "spec.selector.matchLabels",
            &budget["spec"]["selector"]["matchLabels"],
        ));
    }
    for (identity, template, path) in pod_templates(build) {
        let object = &build.objects[identity];
        if let Some(selector) = object["spec"]["selector"].get("matchLabels")
            && !labels_match(selector, &template["metadata"]["labels"])
        {
            found.push(format!(
                    "{}: {identity} spec.selector.matchLabels {selector} does not match its own {path}.metadata.labels",
                    build.profile
                ));
        }
    }
    for (identity, set) in of_kind(build, "StatefulSet") {
        let service_name = set["spec"]["serviceName"].as_str().unwrap_or_default();
        let key = format!("Service/{}/{service_name}", namespace_of(identity));
        match build.objects.get(&key) {
            None => found.push(format!(
                "{}: {identity} spec.serviceName {service_name:?} names no Service of the build",
                build.profile
            )),
            Some(service) if service["spec"]["clusterIP"] != "None" => found.push(format!(
                "{}: {identity} spec.serviceName {service_name:?}: {key} spec.clusterIP is {}, not None (headless)",
                build.profile, service["spec"]["clusterIP"]
            )),
            Some(service) => {
                if !labels_match(
                    &service["spec"]["selector"],
                    &set["spec"]["template"]["metadata"]["labels"],
                ) {
                    found.push(format!(
                        "{}: {identity} spec.serviceName {service_name:?}: {key} spec.selector does not select this StatefulSet's pods",
                        build.profile
                    ));
                }
            }
        }
    }
    found
}

#[test]
fn selectors_select_workloads_and_statefulsets_have_headless_services() {
    assert_rule(check_selectors);
}

#[test]
fn the_selector_rule_reports_selectors_that_select_nothing() {
    let broken = mutated("aws-large", "Service/paless/postgres-read", |o| {
        o["spec"]["selector"]["app"] = json!("postgres-replicas");
    });
    assert_reports(
        check_selectors,
        &broken,
        &[
            "Service/paless/postgres-read",
            "spec.selector",
            "selects no pod",
        ],
    );
    let broken = mutated("aws-medium", "PodDisruptionBudget/paless/pgbouncer", |o| {
        o["spec"]["selector"]["matchLabels"]["app.kubernetes.io/component"] = json!("pooler");
    });
    assert_reports(
        check_selectors,
        &broken,
        &[
            "PodDisruptionBudget/paless/pgbouncer",
            "spec.selector.matchLabels",
        ],
    );
    let broken = mutated("dev-small", "NetworkPolicy/paless/postgres", |o| {
        o["spec"]["podSelector"] = json!({});
    });
    assert_reports(
        check_selectors,
        &broken,
        &["NetworkPolicy/paless/postgres", "spec.podSelector"],
    );
    let broken = mutated("gcp-small", "Service/paless/postgres", |o| {
        o["spec"]["clusterIP"] = json!("10.0.0.7");
    });
    assert_reports(
        check_selectors,
        &broken,
        &[
            "StatefulSet/paless/postgres",
            "spec.serviceName",
            "not None",
        ],
    );
}

// ---- Service accounts -----------------------------------------------------

fn check_service_accounts(build: &Build) -> Vec<String> {
    let mut found = Vec::new();
    for (identity, account) in of_kind(build, "ServiceAccount") {
        if account["automountServiceAccountToken"] != false {
            found.push(format!(
                "{}: {identity} automountServiceAccountToken is {}, not false",
                build.profile, account["automountServiceAccountToken"]
            ));
        }
    }
    for (identity, template, path) in pod_templates(build) {
        let spec = &template["spec"];
        let account = spec["serviceAccountName"].as_str().unwrap_or_default();
        let key = format!("ServiceAccount/{}/{account}", namespace_of(identity));
        if !build.objects.contains_key(&key) {
            found.push(format!(
                "{}: {identity} {path}.spec.serviceAccountName {account:?} is no ServiceAccount of the build",
                build.profile
            ));
        }
        if spec["automountServiceAccountToken"] != false {
            found.push(format!(
                "{}: {identity} {path}.spec.automountServiceAccountToken is {}, not false",
                build.profile, spec["automountServiceAccountToken"]
            ));
        }
    }
    found
}

#[test]
fn service_accounts_exist_and_mount_no_token() {
    assert_rule(check_service_accounts);
}

#[test]
fn the_service_account_rule_reports_tokens_and_unknown_accounts() {
    let broken = mutated("aws-medium", "ServiceAccount/paless/pgbouncer", |o| {
        o["automountServiceAccountToken"] = json!(true);
    });
    assert_reports(
        check_service_accounts,
        &broken,
        &[
            "ServiceAccount/paless/pgbouncer",
            "automountServiceAccountToken",
        ],
    );
    let broken = mutated("aws-small", "CronJob/paless/postgres-backup", |o| {
        o["spec"]["jobTemplate"]["spec"]["template"]["spec"]["serviceAccountName"] =
            json!("default");
    });
    assert_reports(
        check_service_accounts,
        &broken,
        &[
            "CronJob/paless/postgres-backup",
            "serviceAccountName \"default\"",
        ],
    );
}

// ---- The data volume ------------------------------------------------------

/// The major version in an image tag: `postgres:18.1@sha256:...` is 18.
fn image_major(image: &str) -> u32 {
    let name = image.split('@').next().unwrap_or(image);
    let tag = name.rsplit('/').next().unwrap_or(name).split(':').nth(1);
    let digits: String = tag
        .unwrap_or_default()
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits
        .parse()
        .unwrap_or_else(|_| panic!("no major version in {image:?}"))
}

fn env_value<'a>(container: &'a Value, key: &str) -> Option<&'a str> {
    array(&container["env"])
        .iter()
        .find(|e| e["name"] == key)
        .and_then(|e| e["value"].as_str())
}

fn check_data_volume(build: &Build) -> Vec<String> {
    let mut found = Vec::new();
    let storage = &build.settings["storage"];
    let image = build.settings["image"].as_str().expect("settings.image");
    let sets = of_kind(build, "StatefulSet");
    if sets.is_empty() {
        found.push(format!("{}: no StatefulSet", build.profile));
    }
    for (identity, set) in sets {
        let at = format!("{}: {identity}", build.profile);
        let claims = array(&set["spec"]["volumeClaimTemplates"]);
        if claims.len() != 1 {
            found.push(format!(
                "{at} spec.volumeClaimTemplates: {} claims, expected the data volume alone",
                claims.len()
            ));
        }
        for claim in claims {
            let claim_name = claim["metadata"]["name"].as_str().unwrap_or_default();
            let spec = &claim["spec"];
            let field = format!("{at} spec.volumeClaimTemplates[{claim_name}].spec");
            if spec["storageClassName"] != storage["class"] {
                found.push(format!(
                    "{field}.storageClassName is {}, the profile's storage.class is {}",
                    spec["storageClassName"], storage["class"]
                ));
            }
            if spec["resources"]["requests"]["storage"] != storage["size"] {
                found.push(format!(
                    "{field}.resources.requests.storage is {}, the profile's storage.size is {}",
                    spec["resources"]["requests"]["storage"], storage["size"]
                ));
            }
            if spec["accessModes"] != json!(["ReadWriteOnce"]) {
                found.push(format!(
                    "{field}.accessModes is {}, not [ReadWriteOnce]",
                    spec["accessModes"]
                ));
            }
            for (field_name, container) in containers(&set["spec"]["template"]) {
                let Some(mount) = array(&container["volumeMounts"])
                    .iter()
                    .find(|m| m["name"] == claim_name)
                else {
                    continue;
                };
                let mount_path = mount["mountPath"].as_str().unwrap_or_default();
                let at = format!("{at} spec.template.spec.{field_name}[{}]", name(container));
                let Some(pgdata) = env_value(container, "PGDATA") else {
                    found.push(format!("{at}: mounts {claim_name} but sets no env PGDATA"));
                    continue;
                };
                let under = pgdata
                    .strip_prefix(mount_path)
                    .is_some_and(|rest| rest.len() > 1 && rest.starts_with('/'));
                if !under {
                    found.push(format!(
                        "{at}: env PGDATA {pgdata} does not lie below volumeMounts[{claim_name}].mountPath {mount_path}"
                    ));
                }
                // Where the image named by the profile initialises its data.
                let major = image_major(image);
                let (expected_pgdata, refused_mount) = if major >= 18 {
                    (
                        format!("/var/lib/postgresql/{major}/docker"),
                        Some("/var/lib/postgresql/data"),
                    )
                } else {
                    ("/var/lib/postgresql/data/pgdata".to_owned(), None)
                };
                if pgdata != expected_pgdata {
                    found.push(format!(
                        "{at}: env PGDATA {pgdata}, but {image} keeps its data in {expected_pgdata}"
                    ));
                }
                if refused_mount == Some(mount_path) {
                    found.push(format!(
                        "{at}: volumeMounts[{claim_name}].mountPath {mount_path}: {image} refuses to start with a volume there"
                    ));
                }
            }
        }
    }
    let backup = &build.settings["backup"];
    let namespace = build.settings["namespace"].as_str().unwrap_or_default();
    let claim = build.objects.get(&format!(
        "PersistentVolumeClaim/{namespace}/postgres-backups"
    ));
    let job = build
        .objects
        .get(&format!("CronJob/{namespace}/postgres-backup"));
    match (backup["enabled"].as_bool(), claim, job) {
        (Some(true), Some(claim), Some(_)) => {
            let spec = &claim["spec"];
            if spec["storageClassName"] != storage["class"]
                || spec["resources"]["requests"]["storage"] != backup["size"]
            {
                found.push(format!(
                    "{}: PersistentVolumeClaim/{namespace}/postgres-backups spec: class {} and size {}, the profile has {} and {}",
                    build.profile,
                    spec["storageClassName"],
                    spec["resources"]["requests"]["storage"],
                    storage["class"],
                    backup["size"]
                ));
            }
        }
        (Some(false), None, None) => {}
        (enabled, claim, job) => found.push(format!(
            "{}: backup.enabled {enabled:?}, but backup volume present: {}, CronJob present: {}",
            build.profile,
            claim.is_some(),
            job.is_some()
        )),
    }
    found
}

#[test]
fn the_data_volume_has_the_profile_class_and_size_and_holds_pgdata() {
    assert_rule(check_data_volume);
}

// ---- Audit logging --------------------------------------------------------

/// `name = value` of a postgresql.conf palgen wrote, quotes removed.
fn conf_value<'a>(conf: &'a str, name: &str) -> Option<&'a str> {
    conf.lines().find_map(|line| {
        let (key, value) = line.split_once('=')?;
        (key.trim() == name).then(|| value.trim().trim_matches('\''))
    })
}

/// The database's postgresql.conf logs what the profile's `audit` says:
/// `log_statement` at its level, connections and disconnections only when
/// `audit.connections`, and every line of a session names the user, the
/// database, the client's address and its application.
fn check_audit(build: &Build) -> Vec<String> {
    let configs: Vec<(&str, &str)> = of_kind(build, "ConfigMap")
        .into_iter()
        .filter_map(|(identity, map)| Some((identity, map["data"]["postgresql.conf"].as_str()?)))
        .collect();
    if configs.is_empty() {
        return vec![format!(
            "{}: no ConfigMap holds postgresql.conf",
            build.profile
        )];
    }
    let audit = &build.settings["audit"];
    let connections = audit["connections"].as_bool().expect("audit.connections");
    let mut violations = Vec::new();
    for (identity, conf) in configs {
        let mut expect = |name: &str, ok: &dyn Fn(&str) -> bool, want: String| {
            let value = conf_value(conf, name);
            if !value.is_some_and(ok) {
                violations.push(format!(
                    "{}: {identity}: postgresql.conf {name} = {value:?}, want {want}",
                    build.profile
                ));
            }
        };
        let level = audit["log_statement"]
            .as_str()
            .expect("audit.log_statement");
        expect("log_statement", &|v| v == level, level.to_owned());
        let (logged, want) = if connections {
            (true, "logged")
        } else {
            (false, "off")
        };
        expect(
            "log_connections",
            &|v| (v != "off") == logged,
            format!("connections {want}"),
        );
        expect(
            "log_disconnections",
            &|v| (v == "on") == logged,
            format!("disconnections {want}"),
        );
        expect(
            "log_line_prefix",
            &|v| {
                ["%u", "%d", "%r", "%a"]
                    .iter()
                    .all(|escape| v.contains(escape))
            },
            "user, database, client and application (%u %d %r %a)".to_owned(),
        );
    }
    violations
}

#[test]
fn the_server_logs_what_the_profile_audits() {
    assert_rule(check_audit);
}

#[test]
fn cloud_profiles_audit_schema_changes_and_connections_by_default() {
    for build in &builds()[..PROFILES.len()] {
        let cloud = !build.profile.starts_with("dev-");
        let level = &build.settings["audit"]["log_statement"];
        assert_eq!(
            level,
            if cloud { "ddl" } else { "none" },
            "{}: audit.log_statement",
            build.profile
        );
        assert_eq!(
            build.settings["audit"]["connections"], true,
            "{}",
            build.profile
        );
    }
}

#[test]
fn the_audit_rule_reports_another_level_and_unlogged_connections() {
    let quiet = mutated("aws-large", &postgres_config("aws-large"), |map| {
        let conf = map["data"]["postgresql.conf"].as_str().unwrap();
        let conf = conf
            .replace("log_statement = 'ddl'", "log_statement = 'none'")
            .replace("log_disconnections = on", "log_disconnections = off");
        map["data"]["postgresql.conf"] = Value::String(conf);
    });
    assert_reports(
        check_audit,
        &quiet,
        &["log_statement = Some(\"none\")", "want ddl"],
    );
    assert_reports(
        check_audit,
        &quiet,
        &["log_disconnections", "disconnections logged"],
    );
    let anonymous = mutated("aws-large", &postgres_config("aws-large"), |map| {
        let conf = map["data"]["postgresql.conf"].as_str().unwrap();
        map["data"]["postgresql.conf"] = Value::String(conf.replace(" app=%a", ""));
    });
    assert_reports(check_audit, &anonymous, &["log_line_prefix", "%a"]);
}

/// The identity of the ConfigMap holding a built-in profile's postgresql.conf.
fn postgres_config(profile: &str) -> String {
    let build = builds().iter().find(|b| b.profile == profile).unwrap();
    of_kind(build, "ConfigMap")
        .into_iter()
        .find(|(_, map)| map["data"]["postgresql.conf"].is_string())
        .map(|(identity, _)| identity.to_owned())
        .expect("a ConfigMap with postgresql.conf")
}

#[test]
fn the_user_profiles_reach_the_cases_they_stand_for() {
    let replicas = user_build("three-replicas");
    assert_eq!(
        replicas.objects["StatefulSet/paless/postgres-replica"]["spec"]["replicas"],
        3
    );
    assert!(
        replicas
            .objects
            .contains_key("ServiceMonitor/paless/postgres")
    );
    let no_backup = user_build("no-backup");
    assert!(
        !no_backup
            .objects
            .contains_key("CronJob/paless/postgres-backup")
    );
    let database = &no_backup.objects["StatefulSet/paless/postgres"]["spec"]["template"];
    assert!(
        containers(database)
            .iter()
            .all(|(_, container)| container["name"] != "postgres-exporter"),
        "no exporter sidecar"
    );
    assert_eq!(no_backup.settings["audit"]["log_statement"], "mod");
    assert_eq!(no_backup.settings["audit"]["connections"], false);
    assert!(
        user_build("pooled-small")
            .objects
            .contains_key("Deployment/paless/pgbouncer")
    );
    let old = user_build("postgres-16");
    assert_eq!(old.settings["storage"]["class"], "fast-nvme");
    assert_eq!(
        old.objects["StatefulSet/paless/postgres"]["spec"]["volumeClaimTemplates"][0]["spec"]["storageClassName"],
        "fast-nvme"
    );
}

#[test]
fn the_data_volume_rule_reports_class_size_and_pgdata_mistakes() {
    let sts = "StatefulSet/paless/postgres";
    let broken = mutated("aws-large", sts, |o| {
        let claim = &mut o["spec"]["volumeClaimTemplates"][0]["spec"];
        claim["storageClassName"] = json!("gp2");
        claim["accessModes"] = json!(["ReadWriteMany"]);
    });
    assert_reports(
        check_data_volume,
        &broken,
        &[sts, "storageClassName", "paless-postgres-gp3"],
    );
    assert_reports(check_data_volume, &broken, &[sts, "accessModes"]);
    let broken = mutated(
        "three-replicas",
        "StatefulSet/paless/postgres-replica",
        |o| {
            o["spec"]["volumeClaimTemplates"][0]["spec"]["resources"]["requests"]["storage"] =
                json!("100Gi");
        },
    );
    assert_reports(check_data_volume, &broken, &["postgres-replica", "500Gi"]);
    // The postgres:18 trap: the volume at .../data with PGDATA beside it.
    let broken = mutated("dev-small", sts, |o| {
        let container = &mut o["spec"]["template"]["spec"]["containers"][0];
        container["volumeMounts"][0]["mountPath"] = json!("/var/lib/postgresql/data");
    });
    assert_reports(
        check_data_volume,
        &broken,
        &[
            "containers[postgres]",
            "PGDATA /var/lib/postgresql/18/docker does not lie below",
        ],
    );
    assert_reports(check_data_volume, &broken, &["refuses to start"]);
    let broken = mutated("postgres-16", sts, |o| {
        let container = &mut o["spec"]["template"]["spec"]["containers"][0];
        container["env"][0] = json!({"name": "PGDATA", "value": "/var/lib/postgresql/16/docker"});
    });
    assert_reports(
        check_data_volume,
        &broken,
        &["keeps its data in /var/lib/postgresql/data/pgdata"],
    );
}

// ---- Resources of the database --------------------------------------------

/// The database containers: those of a StatefulSet running the profile's image.
/// The server's own container (`postgres`) of each StatefulSet, not the
/// sidecars beside it, also where they run the same image.
fn database_containers(build: &Build) -> Vec<(&str, &Value)> {
    let image = &build.settings["image"];
    of_kind(build, "StatefulSet")
        .into_iter()
        .flat_map(|(identity, set)| {
            array(&set["spec"]["template"]["spec"]["containers"])
                .iter()
                .filter(|c| &c["image"] == image && c["name"] == "postgres")
                .map(move |c| (identity, c))
        })
        .collect()
}

fn check_database_resources(build: &Build) -> Vec<String> {
    let mut found = Vec::new();
    let wanted = &build.settings["resources"];
    let databases = database_containers(build);
    if databases.is_empty() {
        found.push(format!("{}: no database container", build.profile));
    }
    for (identity, container) in databases {
        for section in ["requests", "limits"] {
            for resource in ["cpu", "memory"] {
                let value = &container["resources"][section][resource];
                if value != &wanted[section][resource] {
                    found.push(format!(
                        "{}: {identity} containers[{}].resources.{section}.{resource} is {value}, the profile's resources.{section}.{resource} is {}",
                        build.profile,
                        name(container),
                        wanted[section][resource]
                    ));
                }
            }
        }
    }
    found
}

#[test]
fn the_database_container_has_the_profile_requests_and_limits() {
    assert_rule(check_database_resources);
    // So a profile that sets requests equal to limits gets a database
    // container with requests equal to limits.
    let guaranteed = user_build("guaranteed");
    let resources = &guaranteed.settings["resources"];
    assert_eq!(resources["requests"], resources["limits"]);
    let (_, database) = database_containers(guaranteed)[0];
    assert_eq!(
        database["resources"]["requests"],
        database["resources"]["limits"]
    );
}

#[test]
fn the_resource_rule_reports_a_database_off_its_profile() {
    let sts = "StatefulSet/paless/postgres";
    let broken = mutated("guaranteed", sts, |o| {
        o["spec"]["template"]["spec"]["containers"][0]["resources"]["requests"]["memory"] =
            json!("512Mi");
    });
    assert_reports(
        check_database_resources,
        &broken,
        &[sts, "containers[postgres].resources.requests.memory", "2Gi"],
    );
}

/// Kubernetes' QoS class of a pod template: Guaranteed only when every
/// container and init container has requests equal to limits for CPU and
/// memory.
fn qos_class(template: &Value) -> &'static str {
    let all = containers(template);
    let guaranteed = all.iter().all(|(_, c)| {
        let resources = &c["resources"];
        ["cpu", "memory"].iter().all(|r| {
            resources["limits"][r].is_string() && resources["requests"][r] == resources["limits"][r]
        })
    });
    let any_set = all.iter().any(|(_, c)| {
        c["resources"]["requests"].is_object() || c["resources"]["limits"].is_object()
    });
    match (guaranteed, any_set) {
        (true, _) => "Guaranteed",
        (false, true) => "Burstable",
        (false, false) => "BestEffort",
    }
}

/// The README: "For Guaranteed QoS, set the requests equal to the limits in
/// your own profile." Kubernetes grants it per pod, so the exporter sidecar
/// counts as much as the database container.
#[test]
fn equal_requests_and_limits_make_the_database_pod_guaranteed() {
    let guaranteed = user_build("guaranteed");
    for (identity, set) in of_kind(guaranteed, "StatefulSet") {
        assert_eq!(
            qos_class(&set["spec"]["template"]),
            "Guaranteed",
            "{identity} of a profile with requests equal to limits"
        );
    }
}

#[test]
fn the_qos_class_follows_kubernetes_rules() {
    let built =
        &user_build("guaranteed").objects["StatefulSet/paless/postgres"]["spec"]["template"];
    assert_eq!(qos_class(built), "Guaranteed");
    // One container below its limits (a sidecar's smaller request) makes
    // the whole pod Burstable.
    let mut sidecar_below = built.clone();
    let containers = sidecar_below["spec"]["containers"].as_array_mut().unwrap();
    let last = containers.last_mut().unwrap();
    last["resources"]["requests"]["cpu"] = serde_json::json!("1m");
    assert_eq!(qos_class(&sidecar_below), "Burstable");
    let built = &builds()[0].objects["StatefulSet/paless/postgres"]["spec"]["template"];
    assert_eq!(qos_class(built), "Burstable", "{}", builds()[0].profile);
}

// ---- Probes -----------------------------------------------------------------

/// The reference's probe, `pg_isready`, as a role that never authenticates
/// so that probes are not logged (tests/probes.rs).
const PG_ISREADY: [&str; 3] = ["pg_isready", "-U", "pg_probe"];
/// Liveness passes on pg_isready's exit 1 too: a server in crash recovery
/// rejects connections but is alive (tests/probes.rs runs both).
const PG_ISREADY_ANSWERS: [&str; 3] = ["sh", "-c", "pg_isready -U pg_probe; test $? -le 1"];

fn check_probes(build: &Build) -> Vec<String> {
    let mut found = Vec::new();
    let mut expect = |identity: &str,
                      container: &Value,
                      probe: &str,
                      delay: u64,
                      period: u64,
                      command: Option<&[&str]>| {
        let at = format!(
            "{}: {identity} containers[{}].{probe}",
            build.profile,
            name(container)
        );
        let value = &container[probe];
        if let Some(command) = command
            && value["exec"]["command"] != json!(command)
        {
            found.push(format!(
                "{at}.exec.command is {}, not {command:?}",
                value["exec"]["command"]
            ));
        }
        if value["initialDelaySeconds"] != delay || value["periodSeconds"] != period {
            found.push(format!(
                "{at}: initialDelaySeconds {} and periodSeconds {}, the reference has {delay}s and {period}s",
                value["initialDelaySeconds"], value["periodSeconds"]
            ));
        }
    };
    for (identity, container) in database_containers(build) {
        expect(
            identity,
            container,
            "livenessProbe",
            30,
            10,
            Some(&PG_ISREADY_ANSWERS),
        );
        // A replica's readiness means "streaming standby" (README, read
        // replicas): its own script, on the reference's timing.
        let readiness = if identity.ends_with("/postgres-replica") {
            None
        } else {
            Some(&PG_ISREADY[..])
        };
        expect(identity, container, "readinessProbe", 5, 5, readiness);
    }
    found
}

#[test]
fn database_probes_are_the_reference_pg_isready() {
    assert_rule(check_probes);
    let replica = &user_build("three-replicas").objects["StatefulSet/paless/postgres-replica"];
    let readiness = &replica["spec"]["template"]["spec"]["containers"][0]["readinessProbe"];
    assert_eq!(
        readiness["exec"]["command"],
        json!(["sh", "/etc/postgresql/replica/replica-ready.sh"])
    );
}

#[test]
fn the_probe_rule_reports_other_commands_and_periods() {
    let sts = "StatefulSet/paless/postgres";
    let broken = mutated("azure-small", sts, |o| {
        o["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]["periodSeconds"] =
            json!(10);
    });
    assert_reports(
        check_probes,
        &broken,
        &[
            sts,
            "containers[postgres].readinessProbe",
            "periodSeconds 10",
        ],
    );
    let broken = mutated("azure-small", sts, |o| {
        o["spec"]["template"]["spec"]["containers"][0]["livenessProbe"]["exec"]["command"] =
            json!(["pg_isready"]);
    });
    assert_reports(check_probes, &broken, &["livenessProbe.exec.command"]);
}

/// Replicas start one at a time (the default OrderedReady): each clones the
/// primary, and two clones at once share its disk. A replica that is not
/// ready may always be evicted, or it would block node drains.
#[test]
fn replicas_start_one_at_a_time_and_unready_ones_may_be_evicted() {
    let objects = &user_build("three-replicas").objects;
    let replicas = &objects["StatefulSet/paless/postgres-replica"]["spec"];
    assert!(
        replicas.get("podManagementPolicy").is_none()
            || replicas["podManagementPolicy"] == "OrderedReady",
        "{}",
        replicas["podManagementPolicy"]
    );
    let budget = &objects["PodDisruptionBudget/paless/postgres-replica"]["spec"];
    assert_eq!(
        budget["unhealthyPodEvictionPolicy"], "AlwaysAllow",
        "{budget}"
    );
    assert_eq!(budget["maxUnavailable"], 1, "{budget}");
}

/// PgBouncer's pods prefer distinct nodes, and on cloud profiles spread
/// over zones: losing a node or a zone leaves a pooler to connect through.
#[test]
fn pgbouncer_pods_spread_over_nodes_and_cloud_zones() {
    for (profile, zones) in [("aws-medium", true), ("dev-medium", false)] {
        let build = builds().iter().find(|b| b.profile == profile).unwrap();
        let pod = &build.objects["Deployment/paless/pgbouncer"]["spec"]["template"]["spec"];
        let term = &pod["affinity"]["podAntiAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"]
            [0]["podAffinityTerm"];
        assert_eq!(
            term["topologyKey"], "kubernetes.io/hostname",
            "{profile}: {pod}"
        );
        assert_eq!(
            term["labelSelector"]["matchLabels"]["app"], "pgbouncer",
            "{profile}: {pod}"
        );
        let spread = &pod["topologySpreadConstraints"];
        if zones {
            assert_eq!(
                spread[0]["topologyKey"], "topology.kubernetes.io/zone",
                "{profile}"
            );
            assert_eq!(
                spread[0]["whenUnsatisfiable"], "ScheduleAnyway",
                "{profile}"
            );
        } else {
            assert!(spread.is_null(), "{profile}: {spread}");
        }
    }
}
