//! Security checks on the generated tree with a real scanner (Checkov), and
//! the rule that no committed non-dev file carries a credential.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::Path;
use std::process::Command;

use serde_json::Value;

use common::{PROFILES, palgen, readme_table, repo_root, stdout, tool};

/// Runs `checkov -d DIR --framework kustomize` and returns its JSON report.
fn checkov(dir: &Path) -> Value {
    let output = Command::new(tool("checkov"))
        .args([
            "--framework",
            "kustomize",
            "--skip-download",
            "--output",
            "json",
            "-d",
        ])
        .arg(dir)
        // Checkov's default process pool loses results on this machine's
        // two cores; one process gives a complete, deterministic report.
        .env("CHECKOV_PARALLELIZATION_TYPE", "none")
        .output()
        .expect("checkov runs");
    let text = String::from_utf8_lossy(&output.stdout);
    serde_json::from_str(&text).unwrap_or_else(|e| {
        panic!(
            "checkov printed no JSON report ({e}); stderr:\n{}",
            String::from_utf8_lossy(&output.stderr)
        )
    })
}

/// Checkov skips directories whose name starts with a dot, as tempfile's do.
fn visible_tempdir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("palgen-checkov-")
        .tempdir()
        .expect("temporary directory")
}

fn summary(report: &Value) -> &Value {
    let report = report.as_array().and_then(|r| r.first()).unwrap_or(report);
    &report["summary"]
}

fn results(report: &Value) -> &Value {
    let report = report.as_array().and_then(|r| r.first()).unwrap_or(report);
    &report["results"]
}

#[test]
fn checkov_finds_no_failed_check_in_any_overlay() {
    let tree = visible_tempdir();
    let rendered = palgen(&["render", "--all", "--out", tree.path().to_str().unwrap()]);
    assert!(rendered.status.success(), "{}", common::stderr(&rendered));
    let report = checkov(&tree.path().join("overlays"));
    let summary = summary(&report);
    assert_eq!(summary["parsing_errors"], 0, "{summary}");
    assert!(
        summary["resource_count"].as_u64().unwrap_or(0) >= 20,
        "{summary}"
    );
    let failed: Vec<String> = results(&report)["failed_checks"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|c| format!("{} on {}", c["check_id"], c["resource"]))
        .collect();
    assert!(failed.is_empty(), "failed checks:\n{}", failed.join("\n"));

    // What Checkov skipped is exactly what the README's skip table names,
    // check by check and object by object.
    let readme = fs::read_to_string(repo_root().join("README.md")).expect("README.md");
    let documented: BTreeSet<Skip> = readme_skips(&readme).into_iter().collect();
    let skipped: BTreeSet<Skip> = results(&report)["skipped_checks"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|skipped| {
            let resource = skipped["resource"].as_str().unwrap_or_default();
            // "overlay:aws-small:CronJob.paless.postgres-backup"
            let object = resource.rsplit(':').next().unwrap_or_default();
            let (kind, rest) = object.split_once('.').unwrap_or_default();
            let name = rest.rsplit('.').next().unwrap_or_default();
            (
                skipped["check_id"].as_str().unwrap_or_default().to_owned(),
                kind.to_owned(),
                name.to_owned(),
            )
        })
        .collect();
    assert_eq!(
        skipped, documented,
        "Checkov's skipped checks (left) vs the README skip table (right)"
    );
}

#[test]
fn checkov_does_fail_an_insecure_manifest() {
    let dir = visible_tempdir();
    fs::write(
        dir.path().join("kustomization.yaml"),
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n- pod.yaml\n",
    )
    .unwrap();
    fs::write(
        dir.path().join("pod.yaml"),
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: insecure\n  namespace: default\nspec:\n  containers:\n  - name: c\n    image: nginx\n    securityContext:\n      privileged: true\n",
    )
    .unwrap();
    let report = checkov(dir.path());
    let failed = summary(&report)["failed"].as_u64().unwrap_or(0);
    assert!(
        failed > 0,
        "checkov passed a privileged pod: {}",
        summary(&report)
    );
}

/// Secret values may only appear in the dev overlays and the dev-credentials
/// component, labelled dev-only.
#[test]
fn no_credential_in_committed_non_dev_files() {
    let dev_secret = palgen(&["build", "--profile", "dev-small"]);
    let objects = common::objects_by_identity(&stdout(&dev_secret));
    let secret = &objects["Secret/paless/postgres-credentials"];
    assert_eq!(
        secret["metadata"]["labels"]["paless.io/credentials"],
        "dev-only"
    );
    let passwords: Vec<String> = secret["stringData"]
        .as_object()
        .expect("dev secret has stringData")
        .values()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(passwords.len(), 4);

    for profile in PROFILES.iter().filter(|p| !p.starts_with("dev-")) {
        let built = stdout(&palgen(&["build", "--profile", profile]));
        let objects = common::objects_by_identity(&built);
        assert!(
            !objects.keys().any(|k| k.starts_with("Secret/")),
            "{profile} generates a Secret"
        );
        for password in &passwords {
            assert!(
                !built.contains(password.as_str()),
                "{profile} contains a dev password"
            );
        }
    }
    let root = repo_root();
    for relative in common::files_under(&root, &root.join("k8s")) {
        let entry = root.join(&relative);
        if relative.starts_with("k8s/overlays/dev-")
            || relative.starts_with("k8s/components/dev-credentials/")
        {
            continue;
        }
        let text = fs::read_to_string(&entry).unwrap();
        for password in &passwords {
            assert!(
                !text.contains(password.as_str()),
                "{relative} contains a dev password"
            );
        }
        assert!(
            !text.contains("stringData"),
            "{relative} carries secret data"
        );
    }
}

#[test]
fn namespace_enforces_restricted_pod_security() {
    for profile in PROFILES {
        let objects =
            common::objects_by_identity(&stdout(&palgen(&["build", "--profile", profile])));
        let labels = &objects["Namespace//paless"]["metadata"]["labels"];
        for mode in ["enforce", "audit", "warn"] {
            assert_eq!(
                labels[format!("pod-security.kubernetes.io/{mode}")],
                "restricted",
                "{profile}"
            );
        }
    }
}

/// A check skipped on one object: (check id, kind, name).
type Skip = (String, String, String);

/// The README's skip table, one entry per check and object a row names:
/// "StatefulSets `postgres` and `postgres-replica`, CronJob `postgres-backup`"
/// names three objects of two kinds.
fn readme_skips(readme: &str) -> Vec<Skip> {
    let rows = readme_table(readme, "## Security scan: justified Checkov skips", "check");
    assert!(!rows.is_empty(), "the README skip table has no rows");
    let mut skips = Vec::new();
    for row in rows {
        let check = row[0]
            .split_whitespace()
            .next()
            .unwrap_or_default()
            .to_owned();
        let mut kind = String::new();
        for (index, part) in row[1].split('`').enumerate() {
            if index % 2 == 1 {
                skips.push((check.clone(), kind.clone(), part.to_owned()));
            } else if let Some(word) = part
                .split(|c: char| !c.is_ascii_alphanumeric())
                .rfind(|w| w.starts_with(|c: char| c.is_ascii_uppercase()))
            {
                // "StatefulSets" is the plural of the kind StatefulSet.
                kind = word.strip_suffix('s').unwrap_or(word).to_owned();
            }
        }
    }
    skips
}

/// Every built-in profile's objects, by profile.
fn built_profiles() -> BTreeMap<&'static str, BTreeMap<String, Value>> {
    PROFILES
        .iter()
        .map(|p| {
            (
                *p,
                common::objects_by_identity(&stdout(&palgen(&["build", "--profile", p]))),
            )
        })
        .collect()
}

/// The checks each object's `checkov.io/skipN` annotations skip, by profile.
fn annotated_skips(
    built: &BTreeMap<&'static str, BTreeMap<String, Value>>,
) -> BTreeMap<&'static str, BTreeSet<Skip>> {
    let mut found = BTreeMap::new();
    for (profile, objects) in built {
        let skips: &mut BTreeSet<Skip> = found.entry(*profile).or_default();
        for object in objects.values() {
            let Some(annotations) = object["metadata"]["annotations"].as_object() else {
                continue;
            };
            for (key, value) in annotations {
                if !key.starts_with("checkov.io/skip") {
                    continue;
                }
                let check = value
                    .as_str()
                    .unwrap_or_default()
                    .split('=')
                    .next()
                    .unwrap_or_default();
                skips.insert((
                    check.to_owned(),
                    object["kind"].as_str().unwrap_or_default().to_owned(),
                    object["metadata"]["name"]
                        .as_str()
                        .unwrap_or_default()
                        .to_owned(),
                ));
            }
        }
    }
    found
}

/// How the README's skip table and the annotations disagree: an annotation
/// without a row naming its object, or a row naming an object that, in some
/// profile that has it, does not skip that check (or exists in none).
fn skip_table_mismatches(
    documented: &[Skip],
    built: &BTreeMap<&str, BTreeMap<String, Value>>,
    annotated: &BTreeMap<&str, BTreeSet<Skip>>,
) -> Vec<String> {
    let mut found = Vec::new();
    let all: BTreeSet<&Skip> = annotated.values().flatten().collect();
    for skip @ (check, kind, name) in &all {
        if !documented.contains(skip) {
            found.push(format!(
                "{kind} {name} skips {check}, but no README row names it for {check}"
            ));
        }
    }
    for skip @ (check, kind, name) in documented {
        let identity = format!("{kind}/paless/{name}");
        let having: Vec<&str> = built
            .iter()
            .filter(|(_, objects)| objects.contains_key(&identity))
            .map(|(profile, _)| *profile)
            .collect();
        if having.is_empty() {
            found.push(format!(
                "the README row {check} names {kind} {name}, which no built-in profile builds"
            ));
        }
        for profile in having {
            if !annotated[profile].contains(skip) {
                found.push(format!(
                    "the README row {check} names {kind} {name}, which does not skip it in {profile}"
                ));
            }
        }
    }
    found
}

#[test]
fn the_readme_skip_table_matches_the_skip_annotations() {
    let readme = fs::read_to_string(repo_root().join("README.md")).expect("README.md");
    let documented = readme_skips(&readme);
    let built = built_profiles();
    let annotated = annotated_skips(&built);
    assert!(annotated.values().map(BTreeSet::len).sum::<usize>() > 20);
    let mismatches = skip_table_mismatches(&documented, &built, &annotated);
    assert!(
        mismatches.is_empty(),
        "README skip table vs the built manifests:\n{}",
        mismatches.join("\n")
    );

    // The check can fail: a row losing an object, and a row naming one
    // that does not skip the check.
    let parsed = readme_skips(&readme);
    assert!(
        parsed.contains(&(
            "CKV_K8S_40".to_owned(),
            "StatefulSet".to_owned(),
            "postgres-replica".to_owned()
        )),
        "{parsed:?}"
    );
    let fewer = readme.replace(
        "StatefulSets `postgres` and `postgres-replica`, CronJobs `postgres-backup` and `postgres-restore` | the official",
        "StatefulSet `postgres`, CronJobs `postgres-backup` and `postgres-restore` | the official",
    );
    assert_ne!(fewer, readme, "the edit applies");
    assert_eq!(
        skip_table_mismatches(&readme_skips(&fewer), &built, &annotated),
        [
            "StatefulSet postgres-replica skips CKV_K8S_40, but no README row names it for CKV_K8S_40"
        ]
    );
    let more = readme.replace(
        "| Deployment `pgbouncer` | the CloudNativePG",
        "| Deployments `pgbouncer` and `postgres-exporter` | the CloudNativePG",
    );
    assert_ne!(more, readme, "the edit applies");
    assert_eq!(
        skip_table_mismatches(&readme_skips(&more), &built, &annotated),
        [
            "the README row CKV_K8S_40 names Deployment postgres-exporter, which no built-in profile builds"
        ]
    );
    let mut stripped = annotated.clone();
    let skip = (
        "CKV_K8S_43".to_owned(),
        "CronJob".to_owned(),
        "postgres-backup".to_owned(),
    );
    stripped.get_mut("gcp-medium").unwrap().remove(&skip);
    assert_eq!(
        skip_table_mismatches(&documented, &built, &stripped),
        [
            "the README row CKV_K8S_43 names CronJob postgres-backup, which does not skip it in gcp-medium"
        ]
    );
}

/// The credentials Secret's keys a container sees: every key (`*`) when it
/// mounts the whole Secret, else the `items` of its volume.
fn credential_keys(pod: &Value, container: &Value) -> Vec<String> {
    let volumes = pod["volumes"].as_array().cloned().unwrap_or_default();
    let mut keys = Vec::new();
    for mount in container["volumeMounts"].as_array().into_iter().flatten() {
        let Some(volume) = volumes.iter().find(|v| v["name"] == mount["name"]) else {
            continue;
        };
        if volume["secret"]["secretName"] != "postgres-credentials" {
            continue;
        }
        match volume["secret"]["items"].as_array() {
            None => keys.push("*".to_owned()),
            Some(items) => keys.extend(
                items
                    .iter()
                    .map(|item| item["key"].as_str().expect("a key").to_owned()),
            ),
        }
    }
    keys
}

/// Each container mounts only the Secret keys it uses: the superuser's
/// password only where the database runs or a restore loads a dump, the
/// others only where their role connects.
#[test]
fn each_container_sees_only_the_credentials_it_uses() {
    let expected: BTreeMap<(&str, &str), &[&str]> = BTreeMap::from([
        (("StatefulSet/paless/postgres", "postgres"), &["*"][..]),
        (
            ("StatefulSet/paless/postgres", "postgres-exporter"),
            &["exporter-password"],
        ),
        (
            ("StatefulSet/paless/postgres-replica", "postgres"),
            &["postgres-password"],
        ),
        (
            ("StatefulSet/paless/postgres-replica", "bootstrap"),
            &["replication-password"],
        ),
        (
            ("StatefulSet/paless/postgres-replica", "postgres-exporter"),
            &["exporter-password"],
        ),
        (
            ("CronJob/paless/postgres-backup", "dump"),
            &["app-password"],
        ),
        (("CronJob/paless/postgres-backup", "upload"), &[]),
        (
            ("CronJob/paless/postgres-restore", "restore"),
            &["postgres-password"],
        ),
        (("CronJob/paless/postgres-restore", "fetch"), &[]),
        (
            ("Deployment/paless/pgbouncer", "userlist"),
            &["app-password"],
        ),
        (("Deployment/paless/pgbouncer", "pgbouncer"), &[]),
    ]);
    let mut seen = BTreeSet::new();
    let mut wrong = Vec::new();
    for (profile, objects) in built_profiles() {
        for (identity, object) in &objects {
            let pod = if object["kind"] == "CronJob" {
                &object["spec"]["jobTemplate"]["spec"]["template"]["spec"]
            } else {
                &object["spec"]["template"]["spec"]
            };
            let containers = ["initContainers", "containers"]
                .iter()
                .filter_map(|list| pod[list].as_array())
                .flatten();
            for container in containers {
                let name = container["name"].as_str().expect("a name");
                let keys = credential_keys(pod, container);
                match expected.get(&(identity.as_str(), name)) {
                    Some(want) => {
                        seen.insert((identity.clone(), name.to_owned()));
                        if keys != *want {
                            wrong.push(format!(
                                "{profile}: {identity} {name} sees {keys:?}, not {want:?}"
                            ));
                        }
                    }
                    None if !keys.is_empty() => {
                        wrong.push(format!("{profile}: {identity} {name} sees {keys:?}"));
                    }
                    None => {}
                }
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    assert_eq!(seen.len(), expected.len(), "containers not built: {seen:?}");
}
