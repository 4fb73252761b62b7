//! Every object of the `cloudnative-pg` engine against schemas palgen does
//! not write: CloudNativePG's, the Barman Cloud plugin's and the Prometheus
//! Operator's (npm `@kubernetes-models/*`, JSON schemas and TypeScript
//! interfaces, see tests/schema/validate.mjs) for the custom resources,
//! kubernetes-validate --strict for the core objects; and the real
//! `kubectl kustomize` of each overlay equals `palgen build`.

mod cnpg;
mod common;

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

use serde_json::Value;

use cnpg::{build, profiles_dir};
use common::{PROFILES, palgen, repo_root, stderr, stdout, tool, validate_cert_manager};

const CORE_API_VERSIONS: [&str; 4] = [
    "v1",
    "storage.k8s.io/v1",
    "networking.k8s.io/v1",
    "scheduling.k8s.io/v1",
];

/// Where scripts/test.sh installs scripts/schema/package.json.
fn schema_tools() -> PathBuf {
    let dir = repo_root().join(".tools/schema");
    assert!(
        dir.join("node_modules/@kubernetes-models/cloudnative-pg")
            .is_dir()
            && dir.join("node_modules/typescript").is_dir(),
        "the schema packages are not installed in {}; run ./scripts/test.sh, which installs them",
        dir.display()
    );
    dir
}

fn validate_custom_resources(objects: &[Value]) -> Output {
    let mut child = Command::new(tool("node"))
        .arg(repo_root().join("tests/schema/validate.mjs"))
        .arg(schema_tools())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("node runs");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(serde_json::to_string(objects).unwrap().as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

/// The cloudnative-pg profiles, and one with the PodMonitors on.
fn all_profiles() -> (tempfile::TempDir, Vec<String>) {
    let dir = profiles_dir();
    std::fs::write(
        dir.path().join("watched.yaml"),
        "extends: cnpg-azure-large\nmonitoring:\n  service_monitor: true\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("minio.yaml"), cnpg::MINIO_PROFILE).unwrap();
    let mut names: Vec<String> = PROFILES.iter().map(|p| format!("cnpg-{p}")).collect();
    names.push("watched".to_owned());
    names.push("minio".to_owned());
    (dir, names)
}

#[test]
fn every_custom_resource_passes_cloudnative_pg_schemas() {
    let (dir, names) = all_profiles();
    let mut objects = Vec::new();
    for name in &names {
        objects.extend(
            build(dir.path(), name)
                .into_iter()
                .filter(|o| !CORE_API_VERSIONS.contains(&o["apiVersion"].as_str().unwrap())),
        );
    }
    // And the Clusters `palgen migrate` prints.
    for name in ["cnpg-aws-large", "cnpg-dev-small"] {
        let migrated = palgen(&[
            "--profiles-dir",
            dir.path().to_str().unwrap(),
            "migrate",
            "--profile",
            name,
        ]);
        assert!(migrated.status.success(), "{}", stderr(&migrated));
        objects.push(serde_saphyr::from_str(&stdout(&migrated)).unwrap());
    }
    // The server certificate's objects are cert-manager's: its own schemas.
    let (cert_manager, objects): (Vec<Value>, Vec<Value>) = objects.into_iter().partition(|o| {
        o["apiVersion"]
            .as_str()
            .is_some_and(|v| v.starts_with("cert-manager.io/"))
    });
    assert!(!cert_manager.is_empty());
    if let Err(report) = validate_cert_manager(&cert_manager) {
        panic!("{report}");
    }
    let kinds: std::collections::BTreeSet<String> = objects
        .iter()
        .map(|o| o["kind"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        kinds.into_iter().collect::<Vec<_>>(),
        [
            "Cluster",
            "ObjectStore",
            "PodMonitor",
            "Pooler",
            "ScheduledBackup"
        ]
    );
    let output = validate_custom_resources(&objects);
    let printed = stdout(&output);
    assert!(output.status.success(), "{printed}{}", stderr(&output));
    assert_eq!(
        printed.lines().filter(|l| l.starts_with("ok ")).count(),
        objects.len(),
        "{printed}"
    );
}

#[test]
fn the_schemas_reject_broken_objects() {
    let dir = profiles_dir();
    let objects = build(dir.path(), "cnpg-aws-large");
    let find = |kind: &str| objects.iter().find(|o| o["kind"] == kind).cloned().unwrap();
    let mut misspelt_field = find("Cluster");
    let initdb = misspelt_field["spec"]["bootstrap"]["initdb"]
        .as_object_mut()
        .unwrap();
    let statements = initdb.remove("postInitTemplateSQL").unwrap();
    initdb.insert("postInitTemplateSql".to_owned(), statements);
    let mut wrong_type = find("Cluster");
    wrong_type["spec"]["instances"] = Value::from("three");
    let mut bad_enum = find("Pooler");
    bad_enum["spec"]["pgbouncer"]["poolMode"] = Value::from("sessions");
    let mut bad_credentials = find("ObjectStore");
    bad_credentials["spec"]["configuration"]["s3Credentials"] =
        serde_json::json!({"inheritFromIamRole": true});
    let mut bad_retention = find("ObjectStore");
    bad_retention["spec"]["retentionPolicy"] = Value::from("7 days");
    let mut missing_schedule = find("ScheduledBackup");
    missing_schedule["spec"]
        .as_object_mut()
        .unwrap()
        .remove("schedule");
    let cases = [
        (
            misspelt_field,
            "'\"postInitTemplateSql\"' does not exist in type",
        ),
        (wrong_type, "data/spec/instances must be integer"),
        (
            bad_enum,
            "data/spec/pgbouncer/poolMode must be equal to one of the allowed values",
        ),
        (
            bad_credentials,
            "'\"inheritFromIamRole\"' does not exist in type 'IS3Credentials'",
        ),
        (bad_retention, "does not match ^[1-9][0-9]*[dwm]$"),
        (
            missing_schedule,
            "data/spec must have required property schedule",
        ),
    ];
    // One run for all (the TypeScript check compiles them together), with
    // an intact object among them that must still pass.
    let mut batch: Vec<Value> = cases.iter().map(|(object, _)| object.clone()).collect();
    batch.push(find("Pooler"));
    let output = validate_custom_resources(&batch);
    let printed = stdout(&output);
    assert_eq!(
        output.status.code(),
        Some(1),
        "{printed}{}",
        stderr(&output)
    );
    let lines: Vec<&str> = printed.lines().collect();
    assert_eq!(lines.len(), batch.len(), "{printed}");
    for (line, (_, expected)) in lines.iter().zip(&cases) {
        assert!(
            line.starts_with("error ") && line.contains(expected),
            "want {expected:?}, got: {line}"
        );
    }
    assert_eq!(lines.last(), Some(&"ok Pooler/postgres"), "{printed}");
}

#[test]
fn core_objects_pass_kubernetes_validate_strict() {
    let (dir, names) = all_profiles();
    let scratch = tempfile::tempdir().unwrap();
    for name in &names {
        let core: Vec<Value> = build(dir.path(), name)
            .into_iter()
            .filter(|o| CORE_API_VERSIONS.contains(&o["apiVersion"].as_str().unwrap()))
            .collect();
        let file = scratch.path().join(format!("{name}.yaml"));
        let text: Vec<String> = core
            .iter()
            .map(|o| serde_saphyr::to_string(o).unwrap())
            .collect();
        std::fs::write(&file, text.join("---\n")).unwrap();
        let output = Command::new(tool("kubernetes-validate"))
            .args(["--strict", "-k", "1.33.0"])
            .arg(&file)
            .output()
            .expect("kubernetes-validate runs");
        let printed = stdout(&output);
        assert!(
            output.status.success(),
            "{name}: {printed}{}",
            stderr(&output)
        );
        assert_eq!(
            printed
                .lines()
                .filter(|l| l.starts_with("INFO ") && l.contains(" passed "))
                .count(),
            core.len(),
            "{name}: {printed}"
        );
        assert_eq!(printed.lines().count(), core.len(), "{name}: {printed}");
    }
}

#[test]
fn kustomize_of_every_cloudnative_pg_overlay_equals_palgen_build() {
    let (dir, names) = all_profiles();
    let out = tempfile::tempdir().unwrap();
    let profiles = dir.path().to_str().unwrap();
    let mut args = vec!["--profiles-dir", profiles, "render", "--out"];
    args.push(out.path().to_str().unwrap());
    for name in &names {
        args.extend(["--profile", name.as_str()]);
    }
    let rendered = palgen(&args);
    assert!(rendered.status.success(), "{}", stderr(&rendered));
    for name in &names {
        let overlay = out.path().join("overlays").join(name);
        let built = Command::new(tool("kubectl"))
            .arg("kustomize")
            .arg(&overlay)
            .output()
            .expect("kubectl runs");
        assert!(built.status.success(), "{name}: {}", stderr(&built));
        assert_eq!(stderr(&built), "", "{name}: kustomize warnings");
        let from_kustomize: Vec<Value> = serde_saphyr::from_multiple(&stdout(&built)).unwrap();
        assert_eq!(from_kustomize, build(dir.path(), name), "{name}");
        assert!(
            !stdout(&built).contains("kind: StatefulSet"),
            "{name}: the base's StatefulSet is left in"
        );
    }
}
