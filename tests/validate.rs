//! Schema validation of the built manifests with the real `kubernetes-validate`
//! (PyPI), strict, for the oldest Kubernetes version palgen targets and for
//! the newest one the installed kubernetes-validate ships; and a round trip
//! of YAML 1.1 look-alike strings through serde-saphyr, `kubectl kustomize`
//! and kubernetes-validate.
//!
//! kubernetes-validate exits 0 in cases that are no pass at all: a document
//! whose kind it has no schema for only gets a `WARN` line, and an empty file
//! prints nothing. So its exit status alone proves little: [`validate`] also
//! requires exactly one `INFO ... passed` line per document and version, and
//! nothing else. The negative controls at the end show that it can fail.

mod common;

use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;
use std::sync::OnceLock;

use common::{PROFILES, palgen, stderr, stdout, tool, validate_cert_manager};
use serde_json::{Value, json};

/// The oldest Kubernetes version palgen targets (its k8s-openapi feature).
const OLDEST_KUBERNETES: &str = "1.33.0";

/// Kinds that are not part of Kubernetes (custom resources), so that
/// kubernetes-validate has no schema for them: for these, and only these, its
/// `WARN ... Couldn't find schema` line is what is expected. Every other
/// document must pass its schema.
const CUSTOM_RESOURCES: [(&str, &str); 4] = [
    ("monitoring.coreos.com/v1", "ServiceMonitor"),
    ("monitoring.coreos.com/v1", "PrometheusRule"),
    ("cert-manager.io/v1", "Certificate"),
    ("cert-manager.io/v1", "Issuer"),
];

/// Strings that a YAML 1.1 reader (`kubectl apply -f`, PyYAML) turns into a
/// boolean, a number or a timestamp unless they are quoted.
const YAML11_LOOKALIKES: [&str; 8] = ["on", "off", "yes", "no", "y", "n", "12:30", "2024-01-01"];

// ---------------------------------------------------------------------------
// Running kubernetes-validate

/// The newest Kubernetes version the installed kubernetes-validate ships
/// schemas for: its default, which its `--help` names ("Defaults to X").
fn newest_kubernetes() -> &'static str {
    static NEWEST: OnceLock<String> = OnceLock::new();
    NEWEST.get_or_init(|| {
        let output = Command::new(tool("kubernetes-validate"))
            .arg("--help")
            .env("COLUMNS", "1000")
            .output()
            .expect("kubernetes-validate runs");
        assert!(
            output.status.success(),
            "--help failed: {}",
            stderr(&output)
        );
        let help = stdout(&output);
        let words: Vec<&str> = help.split_whitespace().collect();
        let version = words
            .windows(3)
            .find(|w| w[0] == "Defaults" && w[1] == "to")
            .map(|w| w[2].trim_end_matches('.'))
            .unwrap_or_else(|| panic!("no 'Defaults to VERSION' in --help:\n{help}"));
        assert!(
            parse_version(version).is_some(),
            "not a version: {version:?} in --help:\n{help}"
        );
        version.to_owned()
    })
}

fn parse_version(version: &str) -> Option<(u32, u32, u32)> {
    let mut parts = version.split('.').map(|p| p.parse::<u32>().ok());
    let parsed = (parts.next()??, parts.next()??, parts.next()??);
    parts.next().is_none().then_some(parsed)
}

/// `1.33.0` -> `1.33`, as kubernetes-validate reports the version it used.
fn major_minor(version: &str) -> String {
    let (major, minor, _) = parse_version(version).expect("a version");
    format!("{major}.{minor}")
}

/// The Kubernetes versions every built profile is validated for.
fn versions() -> Vec<&'static str> {
    let newest = newest_kubernetes();
    if parse_version(newest) == parse_version(OLDEST_KUBERNETES) {
        vec![OLDEST_KUBERNETES]
    } else {
        vec![OLDEST_KUBERNETES, newest]
    }
}

/// Runs `kubernetes-validate --strict -k V ... FILE` (never its stdin mode,
/// which breaks with several `-k`). Ok with its output when it exits 0 and
/// prints exactly one `INFO ... passed` line for each document and version
/// (the expected `WARN` for a [`CUSTOM_RESOURCES`] kind) and nothing else;
/// Err with a report otherwise.
fn validate(file: &Path, versions: &[&str]) -> Result<String, String> {
    let text = std::fs::read_to_string(file).expect("readable file");
    let documents: Vec<Value> = serde_saphyr::from_multiple(&text)
        .map_err(|error| format!("{} is not YAML: {error}", file.display()))?;
    let documents: Vec<Value> = documents
        .into_iter()
        .filter(|d| !d.is_null() && d.as_object().is_none_or(|o| !o.is_empty()))
        .collect();
    if documents.is_empty() {
        return Err(format!("{} holds no document", file.display()));
    }

    let name = file.to_str().expect("UTF-8 path");
    let mut command = Command::new(tool("kubernetes-validate"));
    command.arg("--strict");
    for version in versions {
        command.args(["-k", version]);
    }
    let output = command
        .arg(name)
        .output()
        .expect("kubernetes-validate runs");
    let printed = stdout(&output);
    let report = format!(
        "kubernetes-validate --strict {} {name}: {}\n--- stdout\n{printed}--- stderr\n{}",
        versions
            .iter()
            .map(|v| format!("-k {v}"))
            .collect::<Vec<_>>()
            .join(" "),
        output.status,
        stderr(&output)
    );

    let mut expected = Vec::new();
    for version in versions {
        let version = major_minor(version);
        for document in &documents {
            let api_version = document["apiVersion"].as_str().unwrap_or_default();
            let kind = document["kind"].as_str().unwrap_or_default();
            let object = format!(
                "{}/{}",
                kind.to_lowercase(),
                document["metadata"]["name"].as_str().unwrap_or_default()
            );
            expected.push(if CUSTOM_RESOURCES.contains(&(api_version, kind)) {
                format!(
                    "WARN {name} Couldn't find schema for kind {kind} with api version \
                     {api_version} for kubernetes version {version}"
                )
            } else {
                format!("INFO {name} passed for resource {object} against version {version}")
            });
        }
    }
    let mut actual: Vec<String> = printed.lines().map(str::to_owned).collect();
    expected.sort();
    actual.sort();

    let mut problems = String::new();
    if !output.status.success() {
        writeln!(problems, "exit status: {}", output.status).unwrap();
    }
    for line in actual.iter().filter(|l| !expected.contains(l)) {
        writeln!(problems, "unexpected: {line}").unwrap();
    }
    for line in expected.iter().filter(|l| !actual.contains(l)) {
        writeln!(problems, "missing:    {line}").unwrap();
    }
    if problems.is_empty() && actual != expected {
        writeln!(problems, "lines repeated or missing").unwrap();
    }
    if problems.is_empty() {
        Ok(report)
    } else {
        Err(format!("{problems}{report}"))
    }
}

fn built(profile: &str) -> String {
    let output = palgen(&["build", "--profile", profile]);
    assert!(
        output.status.success(),
        "palgen build --profile {profile} failed: {}",
        stderr(&output)
    );
    stdout(&output)
}

fn write(dir: &Path, name: &str, text: &str) -> std::path::PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("writable temporary file");
    path
}

fn to_yaml(value: &Value) -> String {
    serde_saphyr::to_string(value).expect("serialises")
}

// ---------------------------------------------------------------------------
// The built profiles

#[test]
fn every_built_profile_passes_strict_schema_validation() {
    let versions = versions();
    let dir = tempfile::tempdir().expect("temporary directory");
    let mut failures = Vec::new();
    for profile in PROFILES {
        let file = write(dir.path(), &format!("{profile}.yaml"), &built(profile));
        if let Err(report) = validate(&file, &versions) {
            failures.push(format!("== {profile}\n{report}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} profiles fail kubernetes-validate --strict for {versions:?}:\n\n{}",
        failures.len(),
        PROFILES.len(),
        failures.join("\n")
    );
}

#[test]
fn newest_kubernetes_version_is_the_newest_kubernetes_validate_ships() {
    let newest = newest_kubernetes();
    let (major, minor, _) = parse_version(newest).unwrap();
    assert!(
        parse_version(newest) >= parse_version(OLDEST_KUBERNETES),
        "kubernetes-validate's newest Kubernetes {newest} is older than {OLDEST_KUBERNETES}"
    );

    let dir = tempfile::tempdir().expect("temporary directory");
    let namespace = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "x"}});
    let file = write(dir.path(), "namespace.yaml", &to_yaml(&namespace));
    validate(&file, &[newest]).unwrap_or_else(|report| panic!("{report}"));

    // One minor version later is refused: there is no newer schema set.
    let next = format!("{major}.{}.0", minor + 1);
    let output = Command::new(tool("kubernetes-validate"))
        .args(["--strict", "-k", &next])
        .arg(&file)
        .output()
        .expect("kubernetes-validate runs");
    assert!(
        !output.status.success() && stdout(&output).contains("does not support"),
        "kubernetes-validate accepts {next}, newer than {newest}:\n{}{}",
        stdout(&output),
        stderr(&output)
    );
}

// ---------------------------------------------------------------------------
// Quoting: YAML 1.1 look-alike strings survive serde-saphyr, kubectl
// kustomize and kubernetes-validate as strings

/// `(where, expected string)` for every place the look-alikes are put.
fn quoting_fixture(dir: &Path) -> Vec<(String, String)> {
    let mut expected = Vec::new();
    let mut labels = serde_json::Map::new();
    let mut annotations = serde_json::Map::new();
    let mut env = Vec::new();
    let mut data = serde_json::Map::new();
    let mut common_annotations = serde_json::Map::new();
    let mut literals = Vec::new();
    for (i, value) in YAML11_LOOKALIKES.iter().enumerate() {
        let key = format!("v{i}");
        // A label value may not hold ':' (the API server's label syntax), so
        // `12:30` is left out of the labels; it is in every other place.
        if !value.contains(':') {
            labels.insert(key.clone(), json!(value));
            for object in ["Deployment/quoting", "ConfigMap/quoting"] {
                expected.push((
                    format!("{object} /metadata/labels/{key}"),
                    value.to_string(),
                ));
            }
            expected.push((
                format!("Deployment/quoting /spec/template/metadata/labels/{key}"),
                value.to_string(),
            ));
        }
        annotations.insert(key.clone(), json!(value));
        env.push(json!({"name": format!("V{i}"), "value": value}));
        data.insert(key.clone(), json!(value));
        common_annotations.insert(format!("kustomization-{key}"), json!(value));
        literals.push(json!(format!("{key}={value}")));
        for object in [
            "Deployment/quoting",
            "ConfigMap/quoting",
            "ConfigMap/generated",
        ] {
            expected.push((
                format!("{object} /metadata/annotations/{key}"),
                value.to_string(),
            ));
            expected.push((
                format!("{object} /metadata/annotations/kustomization-{key}"),
                value.to_string(),
            ));
        }
        expected.push((
            format!("Deployment/quoting /spec/template/metadata/annotations/{key}"),
            value.to_string(),
        ));
        expected.push((
            format!("Deployment/quoting /spec/template/spec/containers/0/env/{i}/value"),
            value.to_string(),
        ));
        for object in ["ConfigMap/quoting", "ConfigMap/generated"] {
            expected.push((format!("{object} /data/{key}"), value.to_string()));
        }
    }

    let mut selector = labels.clone();
    selector.insert("app".into(), json!("quoting"));
    let deployment = json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "quoting", "labels": labels, "annotations": annotations},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": "quoting"}},
            "template": {
                "metadata": {"labels": selector, "annotations": annotations},
                "spec": {"containers": [{"name": "c", "image": "busybox:1.36", "env": env}]},
            },
        },
    });
    let config_map = json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "quoting", "labels": labels, "annotations": annotations},
        "data": data,
    });
    let generated_annotations = annotations.clone();
    let kustomization = json!({
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "resources": ["deployment.yaml", "configmap.yaml"],
        "commonAnnotations": common_annotations,
        "configMapGenerator": [{
            "name": "generated",
            "literals": literals,
            "options": {"annotations": generated_annotations},
        }],
    });
    for (name, value) in [
        ("deployment.yaml", &deployment),
        ("configmap.yaml", &config_map),
        ("kustomization.yaml", &kustomization),
    ] {
        let text = to_yaml(value);
        // serde-saphyr itself must write every look-alike quoted.
        let bare = bare_lookalikes(&text);
        assert!(
            bare.is_empty(),
            "serde-saphyr wrote {bare:?} unquoted in {name}:\n{text}"
        );
        write(dir, name, &text);
    }
    expected
}

/// Look-alikes written as plain (unquoted) scalar values, as `line: scalar`.
/// A YAML 1.2 reader gives them back as strings, so parsing alone would not
/// notice; a YAML 1.1 reader (go-yaml v2 takes `y` and `n` as booleans too,
/// which PyYAML does not) would not.
fn bare_lookalikes(yaml: &str) -> Vec<String> {
    let mut found = Vec::new();
    for (number, line) in yaml.lines().enumerate() {
        let mut rest = line.trim_start();
        while let Some(item) = rest.strip_prefix("- ") {
            rest = item.trim_start();
        }
        let scalar = match rest.split_once(": ") {
            Some((_, value)) => value.trim(),
            None => rest.trim(),
        };
        if YAML11_LOOKALIKES.contains(&scalar) {
            found.push(format!("{}: {line}", number + 1));
        }
    }
    found
}

#[test]
fn yaml11_lookalike_strings_round_trip_through_kustomize_and_validate_as_strings() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let expected = quoting_fixture(dir.path());

    let kustomize = Command::new(tool("kubectl"))
        .arg("kustomize")
        .arg(dir.path())
        .output()
        .expect("kubectl runs");
    assert!(
        kustomize.status.success(),
        "kubectl kustomize failed: {}",
        stderr(&kustomize)
    );
    assert_eq!(stderr(&kustomize), "", "kubectl kustomize warned");
    let text = stdout(&kustomize);

    let bare = bare_lookalikes(&text);
    assert!(
        bare.is_empty(),
        "kustomize printed {bare:?} unquoted:\n{text}"
    );

    let documents: Vec<Value> = serde_saphyr::from_multiple(&text).expect("kustomize prints YAML");
    let object = |kind: &str, name: &str| -> &Value {
        documents
            .iter()
            .find(|d| {
                d["kind"] == kind
                    && d["metadata"]["name"]
                        .as_str()
                        .is_some_and(|n| n == name || n.starts_with(&format!("{name}-")))
            })
            .unwrap_or_else(|| panic!("no {kind}/{name} in:\n{text}"))
    };
    let mut wrong = Vec::new();
    for (place, value) in &expected {
        let (identity, pointer) = place.split_once(' ').unwrap();
        let (kind, name) = identity.split_once('/').unwrap();
        let found = object(kind, name).pointer(pointer);
        if found != Some(&Value::String(value.clone())) {
            wrong.push(format!("{place}: {found:?}, not the string {value:?}"));
        }
    }
    assert!(wrong.is_empty(), "{}\n\n{text}", wrong.join("\n"));

    let file = write(dir.path(), "built.yaml", &text);
    validate(&file, &versions()).unwrap_or_else(|report| panic!("{report}"));
}

// ---------------------------------------------------------------------------
// Negative controls: the checks above can fail

/// A real built StatefulSet with one field Kubernetes does not have.
#[test]
fn kubernetes_validate_rejects_a_statefulset_with_an_unknown_field() {
    let mut documents: Vec<Value> =
        serde_saphyr::from_multiple(&built("dev-small")).expect("palgen builds YAML");
    let statefulset = documents
        .iter_mut()
        .find(|d| d["kind"] == "StatefulSet")
        .expect("dev-small has a StatefulSet");
    statefulset["spec"]["template"]["spec"]["containers"][0]["notAField"] = json!(true);
    let stream = documents
        .iter()
        .map(to_yaml)
        .collect::<Vec<_>>()
        .join("---\n");

    let dir = tempfile::tempdir().expect("temporary directory");
    let file = write(dir.path(), "broken.yaml", &stream);
    let report = validate(&file, &versions()).expect_err("an unknown field must fail");
    for version in versions() {
        let line = format!(
            "ERROR {} did not validate for resource statefulset/postgres against version {}: \
             spec.template.spec.containers.0: Additional properties are not allowed \
             ('notAField' was unexpected)",
            file.display(),
            major_minor(version)
        );
        assert!(report.contains(&line), "no {line:?} in:\n{report}");
    }
    assert!(report.contains("exit status"), "{report}");
}

/// PyYAML, which kubernetes-validate reads with, takes a plain `on` as a
/// boolean, as `kubectl apply -f` does: the quoting test's validation step
/// catches an unquoted look-alike.
#[test]
fn kubernetes_validate_rejects_an_unquoted_boolean_label() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let file = write(
        dir.path(),
        "unquoted.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n  labels:\n    a: on\n",
    );
    let report = validate(&file, &versions()).expect_err("a boolean label must fail");
    assert!(report.contains("True is not of type 'string'"), "{report}");
    assert_eq!(
        bare_lookalikes("  labels:\n    a: on\n  - n\n  b: 'y'\n").len(),
        2
    );
}

/// kubernetes-validate exits 0 for a kind it has no schema for (it prints a
/// WARN) and for an empty file: neither is a pass here.
#[test]
fn unknown_kinds_and_empty_files_are_no_pass() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let widget = write(
        dir.path(),
        "widget.yaml",
        "apiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: w\n",
    );
    let report = validate(&widget, &versions()).expect_err("no schema is no pass");
    assert!(report.contains("unexpected: WARN"), "{report}");

    let empty = write(dir.path(), "empty.yaml", "");
    validate(&empty, &versions()).expect_err("nothing is no pass");
}

// ---------------------------------------------------------------------------
// cert-manager's kinds, which kubernetes-validate has no schema for.

fn cert_manager_objects(yaml: &str) -> Vec<Value> {
    let documents: Vec<Value> = serde_saphyr::from_multiple(yaml).expect("valid YAML");
    documents
        .into_iter()
        .filter(|d| {
            d["apiVersion"]
                .as_str()
                .is_some_and(|v| v.starts_with("cert-manager.io/"))
        })
        .collect()
}

#[test]
fn cert_manager_objects_of_every_profile_pass_cert_managers_schemas() {
    for profile in PROFILES {
        let objects = cert_manager_objects(&built(profile));
        assert_eq!(
            objects.len(),
            4,
            "{profile}: the private CA's two Issuers and two Certificates"
        );
        if let Err(report) = validate_cert_manager(&objects) {
            panic!("{profile}: {report}");
        }
    }
    // A Certificate signed by a ClusterIssuer of the cluster.
    let dir = tempfile::tempdir().expect("temporary directory");
    std::fs::write(
        dir.path().join("acme.yaml"),
        "extends: aws-large\ntls:\n  source: issuer\n  issuer:\n    name: corporate-ca\n",
    )
    .expect("write a user profile");
    let profiles = dir.path().to_str().expect("UTF-8 path");
    let output = palgen(&["--profiles-dir", profiles, "build", "--profile", "acme"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let objects = cert_manager_objects(&stdout(&output));
    assert_eq!(objects.len(), 1, "only the server Certificate");
    assert_eq!(objects[0]["spec"]["issuerRef"]["kind"], "ClusterIssuer");
    if let Err(report) = validate_cert_manager(&objects) {
        panic!("{report}");
    }
}

/// Negative controls: the schemas do reject a value cert-manager refuses,
/// and an object the script has no schema for fails.
#[test]
fn cert_manager_schemas_reject_a_wrong_usage_and_unknown_kinds() {
    let mut objects = cert_manager_objects(&built("aws-small"));
    let certificate = objects
        .iter_mut()
        .find(|o| o["metadata"]["name"] == "postgres-tls")
        .expect("the server Certificate");
    certificate["spec"]["usages"] = json!(["server-auth"]);
    let report = validate_cert_manager(&objects).expect_err("a wrong usage must fail");
    assert!(
        report.contains("FAIL Certificate postgres-tls") && report.contains("usages"),
        "{report}"
    );
    let unknown =
        json!({"apiVersion": "cert-manager.io/v1", "kind": "Bogus", "metadata": {"name": "x"}});
    let report = validate_cert_manager(&[unknown]).expect_err("an unknown kind must fail");
    assert!(report.contains("no schema"), "{report}");
}
