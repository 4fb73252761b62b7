//! The operators palgen writes custom resources for judge them, running
//! against the test control plane (scripts/control-plane.sh; built by
//! scripts/operators.sh): CloudNativePG 1.30's admission webhooks accept
//! every CloudNativePG overlay, default nothing palgen left out but its own
//! PostgreSQL parameters, and refuse what palgen refuses; its controller
//! makes the Services, Secrets, claims, initdb Job and pooler Deployment of a
//! Cluster, with the Barman Cloud plugin injecting its sidecar; cert-manager
//! turns palgen's Issuers and Certificates into the Secrets clients mount.
//! No container runs: the operator's pods stay Pending on a node without a
//! kubelet (see `operator::NO_KUBELET_NODE`).

mod cnpg;
mod common;
mod kube;
mod operator;

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

use serde_json::{Value, json};

use common::{PROFILES, palgen, stderr};
use kube::Cluster;
use operator::{NO_KUBELET_NODE, Operators, WEBHOOK_LABEL};

/// The statefulset profile whose cert-manager objects are issued: the one
/// with the most DNS names (read replicas have a Service of their own).
const CERTIFICATE_PROFILE: &str = "aws-large";
/// The CloudNativePG profile the operator reconciles: backups through the
/// Barman Cloud plugin, a pooler, TLS from cert-manager, three instances.
const RECONCILED_PROFILE: &str = "cnpg-aws-large";

struct Setup {
    cluster: Cluster,
    operators: Operators,
    /// Rendered profiles and trees.
    dir: PathBuf,
    /// Judged by the webhooks (server-side dry runs only).
    admit: String,
    /// Judged by the CRD schemas alone: what the server makes of an object
    /// without the operator's webhooks.
    plain: String,
    /// Where RECONCILED_PROFILE is applied and reconciled.
    reconcile: String,
    /// Where CERTIFICATE_PROFILE is applied and its certificates issued.
    certificates: String,
    /// Every CloudNativePG profile rendered.
    cnpg_profiles: Vec<String>,
}

fn setup() -> &'static Setup {
    static SETUP: OnceLock<Setup> = OnceLock::new();
    SETUP.get_or_init(|| {
        let cluster = Cluster::connect();
        // Earlier runs' namespaces hold pods that take the nodes' room.
        let earlier = cluster.kubectl(&["get", "namespaces", "-o", "name"]);
        let earlier: Vec<&str> = earlier
            .stdout
            .lines()
            .filter(|name| name.starts_with("namespace/t-op-"))
            .collect();
        if !earlier.is_empty() {
            let mut delete = vec!["delete", "--wait=false"];
            delete.extend(earlier);
            cluster.kubectl(&delete);
        }
        let id = std::process::id();
        let namespace = |role: &str| format!("t-op-{role}-{id}");
        let (admit, plain, reconcile, certificates) = (
            namespace("admit"),
            namespace("plain"),
            namespace("reconcile"),
            namespace("certs"),
        );
        for (name, judged) in [
            (&admit, true),
            (&plain, false),
            (&reconcile, true),
            (&certificates, false),
        ] {
            let mut labels = json!({});
            if judged {
                labels[WEBHOOK_LABEL] = json!(operator::webhook_label_value());
            }
            let run = cluster.kubectl_stdin(
                &[
                    "apply",
                    "--server-side",
                    "--field-manager=palgen-test",
                    "-f",
                    "-",
                ],
                &json!({"apiVersion": "v1", "kind": "Namespace",
                    "metadata": {"name": name, "labels": labels}})
                .to_string(),
            );
            assert!(run.success, "namespace {name}: {}", run.stderr);
        }

        let dir = tempfile::tempdir().expect("temporary directory").keep();
        let profiles = dir.join("profiles");
        fs::create_dir(&profiles).unwrap();
        cnpg::write_profiles(&profiles);
        fs::write(profiles.join("cnpg-minio.yaml"), cnpg::MINIO_PROFILE).unwrap();
        let mut cnpg_profiles: Vec<String> = PROFILES.iter().map(|p| format!("cnpg-{p}")).collect();
        cnpg_profiles.push("cnpg-minio".to_owned());
        let out = dir.join("k8s");
        let mut render = vec![
            "--profiles-dir",
            profiles.to_str().unwrap(),
            "render",
            "--out",
            out.to_str().unwrap(),
            "--profile",
            CERTIFICATE_PROFILE,
        ];
        for profile in &cnpg_profiles {
            render.extend(["--profile", profile]);
        }
        let rendered = palgen(&render);
        assert!(rendered.status.success(), "render: {}", stderr(&rendered));

        let operators = Operators::start(
            &cluster,
            &[&admit, &reconcile],
            &[&reconcile, &certificates],
        );
        Setup {
            cluster,
            operators,
            dir,
            admit,
            plain,
            reconcile,
            certificates,
            cnpg_profiles,
        }
    })
}

/// `kubectl kustomize` of a profile's overlay moved into `namespace` (as a
/// user runs two copies side by side), with extra `patches` of the test's.
fn built(setup: &Setup, profile: &str, namespace: &str, patches: &str) -> Vec<Value> {
    let wrapper = setup
        .dir
        .join("apply")
        .join(format!("{profile}-{namespace}"));
    fs::create_dir_all(&wrapper).unwrap();
    fs::write(
        wrapper.join("kustomization.yaml"),
        format!(
            "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n\
             namespace: {namespace}\nresources:\n- ../../k8s/overlays/{profile}\n{patches}"
        ),
    )
    .unwrap();
    let run = setup
        .cluster
        .kubectl(&["kustomize", wrapper.to_str().unwrap()]);
    assert!(run.success, "{profile}: kustomize: {}", run.stderr);
    serde_saphyr::from_multiple::<Value>(&run.stdout)
        .unwrap()
        .into_iter()
        .filter(|object| !object.is_null())
        .collect()
}

fn is_cloudnative_pg(object: &Value) -> bool {
    object["apiVersion"]
        .as_str()
        .is_some_and(|v| v.starts_with("postgresql.cnpg.io/"))
}

/// A server-side dry run of creating `object` in `namespace`: the object
/// the server would store, or what it said.
fn dry_run(cluster: &Cluster, object: &Value, namespace: &str) -> Result<Value, String> {
    let mut object = object.clone();
    object["metadata"]["namespace"] = json!(namespace);
    let run = cluster.kubectl_stdin(
        &["create", "--dry-run=server", "-o", "json", "-f", "-"],
        &object.to_string(),
    );
    if run.success && run.warnings().is_empty() {
        Ok(serde_json::from_str(&run.stdout).expect("kubectl prints JSON"))
    } else {
        Err(run.stderr)
    }
}

/// Paths (with values) that `after` has and `before` lacks; values that
/// differ are recorded in `changed`.
fn added(
    path: &str,
    before: &Value,
    after: &Value,
    out: &mut Vec<(String, Value)>,
    changed: &mut Vec<String>,
) {
    match (before, after) {
        (Value::Object(before), Value::Object(after)) => {
            for (key, value) in after {
                let child = format!("{path}.{key}");
                match before.get(key) {
                    Some(old) => added(&child, old, value, out, changed),
                    None => out.push((child, value.clone())),
                }
            }
            for key in before.keys().filter(|key| !after.contains_key(*key)) {
                changed.push(format!("{path}.{key}: removed"));
            }
        }
        (Value::Array(before), Value::Array(after)) if before.len() == after.len() => {
            for (index, (old, new)) in before.iter().zip(after).enumerate() {
                added(&format!("{path}[{index}]"), old, new, out, changed);
            }
        }
        (before, after) if before == after => {}
        (before, after) => changed.push(format!("{path}: {before} became {after}")),
    }
}

/// Every CloudNativePG object of every CloudNativePG overlay passes the
/// operator's mutating and validating webhooks, which change no value palgen
/// wrote and add nothing palgen left out but the operator's own PostgreSQL
/// parameters (server-side dry runs, in a namespace the webhooks judge and
/// one they do not, compared).
#[test]
fn every_cloudnative_pg_overlay_is_admitted_and_the_webhook_adds_only_its_own_parameters() {
    let setup = setup();
    let mut failures = Vec::new();
    let mut left_to_operator: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut judged = 0;
    for profile in &setup.cnpg_profiles {
        for object in built(setup, profile, &setup.admit, "")
            .iter()
            .filter(|o| is_cloudnative_pg(o))
        {
            let what = format!(
                "{profile}: {} {}",
                object["kind"].as_str().unwrap(),
                object["metadata"]["name"].as_str().unwrap()
            );
            let by_schema = match dry_run(&setup.cluster, object, &setup.plain) {
                Ok(stored) => stored,
                Err(refusal) => {
                    failures.push(format!("{what}: refused by the CRD schema: {refusal}"));
                    continue;
                }
            };
            let by_webhook = match dry_run(&setup.cluster, object, &setup.admit) {
                Ok(stored) => stored,
                Err(refusal) => {
                    failures.push(format!("{what}: refused by the webhook: {refusal}"));
                    continue;
                }
            };
            judged += 1;
            let mut additions = Vec::new();
            let mut changed = Vec::new();
            added(
                "",
                &by_schema["spec"],
                &by_webhook["spec"],
                &mut additions,
                &mut changed,
            );
            added(
                ".metadata.labels",
                &by_schema["metadata"]["labels"],
                &by_webhook["metadata"]["labels"],
                &mut additions,
                &mut changed,
            );
            for change in changed {
                failures.push(format!("{what}: the webhook rewrote .spec{change}"));
            }
            for (path, value) in additions {
                match path.strip_prefix(".postgresql.parameters.") {
                    Some(parameter) => {
                        left_to_operator
                            .entry(parameter.to_owned())
                            .or_default()
                            .insert(value.to_string());
                    }
                    None => failures.push(format!(
                        "{what}: the webhook adds .spec{path} = {value}; palgen should write this default"
                    )),
                }
            }
        }
    }
    println!("parameters the operator's webhook adds, left to it:");
    for (parameter, values) in &left_to_operator {
        println!(
            "  {parameter} = {}",
            values.iter().cloned().collect::<Vec<_>>().join(" | ")
        );
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(
        judged > setup.cnpg_profiles.len(),
        "judged only {judged} objects"
    );
}

/// A profile palgen refuses (exit 2, naming the key), and the object that
/// profile would have made, which the webhook refuses too while the CRD
/// schema alone accepts it.
struct Refused {
    what: &'static str,
    profile: &'static str,
    key: &'static str,
    /// The accepted profile whose object is changed as the refused one
    /// would change it.
    parent: &'static str,
    kind: &'static str,
    change: fn(&mut Value),
    /// What the webhook's refusal names.
    field: &'static str,
}

#[test]
fn the_webhook_refuses_what_palgen_refuses_first() {
    let setup = setup();
    let cases = [
        Refused {
            what: "a fixed parameter",
            profile: "extends: cnpg-dev-small\npostgres:\n  listen_addresses: 0.0.0.0\n",
            // No profile key sets a PostgreSQL parameter freely.
            key: "unknown key `listen_addresses`",
            parent: "cnpg-dev-small",
            kind: "Cluster",
            change: |cluster| {
                cluster["spec"]["postgresql"]["parameters"]["listen_addresses"] = json!("0.0.0.0")
            },
            field: "spec.postgresql.parameters.listen_addresses",
        },
        Refused {
            what: "a WAL volume max_wal_size fills",
            profile: "extends: cnpg-dev-small\ncloudnative_pg:\n  wal_size: 2Gi\n",
            key: "cloudnative_pg.wal_size",
            parent: "cnpg-dev-small",
            kind: "Cluster",
            change: |cluster| {
                cluster["spec"]["walStorage"] = json!({"size": "2Gi", "storageClass": "local-path"})
            },
            field: "spec.postgresql.parameters.max_wal_size",
        },
        Refused {
            what: "a ScheduledBackup with no valid schedule",
            profile: "extends: cnpg-aws-small\nbackup:\n  schedule: \"0 61 2 * *\"\n",
            key: "backup.schedule",
            parent: "cnpg-aws-small",
            kind: "ScheduledBackup",
            // The six-field form palgen writes for CloudNativePG.
            change: |backup| backup["spec"]["schedule"] = json!("0 0 61 2 * *"),
            field: "spec.schedule",
        },
    ];
    let profiles = cnpg::profiles_dir();
    let dir = profiles.path().to_str().unwrap();
    for case in cases {
        fs::write(profiles.path().join("refused.yaml"), case.profile).unwrap();
        let output = palgen(&["--profiles-dir", dir, "build", "--profile", "refused"]);
        let message = stderr(&output);
        assert_eq!(
            output.status.code(),
            Some(2),
            "{}: palgen: {message}",
            case.what
        );
        assert!(
            message.contains(case.key) && message.contains("refused.yaml"),
            "{}: palgen's refusal names neither {} nor the file: {message}",
            case.what,
            case.key
        );

        let mut object = built(setup, case.parent, &setup.admit, "")
            .into_iter()
            .find(|o| o["kind"] == case.kind && is_cloudnative_pg(o))
            .unwrap_or_else(|| panic!("{}: no {}", case.parent, case.kind));
        (case.change)(&mut object);
        if let Err(refusal) = dry_run(&setup.cluster, &object, &setup.plain) {
            panic!("{}: the CRD schema alone refuses it: {refusal}", case.what);
        }
        match dry_run(&setup.cluster, &object, &setup.admit) {
            Ok(_) => panic!("{}: the webhook accepted it", case.what),
            // The schema accepted the same object in a namespace the
            // webhooks do not judge: this refusal is the webhook's.
            Err(refusal) => assert!(
                refusal.contains(case.field),
                "{}: refused, but not on {}: {refusal}",
                case.what,
                case.field
            ),
        }
    }
}

/// Pins the Cluster's pods (instances and jobs) to the node without a
/// kubelet, so that none runs and the operator never calls a pod address.
const PIN_TO_NODE_WITHOUT_KUBELET: &str = "patches:
- target: {kind: Cluster}
  patch: |
    - op: add
      path: /spec/affinity/nodeSelector
      value: {palgen-no-kubelet: \"true\"}
    - op: add
      path: /spec/affinity/tolerations
      value: [{key: palgen-no-kubelet, operator: Exists, effect: NoSchedule}]
";

fn named<'a>(items: &'a [Value], name: &str) -> Option<&'a Value> {
    items.iter().find(|item| item["metadata"]["name"] == name)
}

/// The CloudNativePG operator and its Barman Cloud plugin reconcile a
/// Cluster with backups, a pooler and cert-manager TLS as far as they can
/// without a kubelet: the Services, the Secrets, the claims, the initdb Job
/// and its Pod (with the plugin's sidecar), the plugin's Role for the
/// ObjectStore, the pooler's Deployment; what they make carries the names
/// and labels palgen's NetworkPolicies and Services select.
#[test]
fn the_operator_reconciles_a_cluster_as_far_as_it_can_without_a_kubelet() {
    let setup = setup();
    let cluster = &setup.cluster;
    let namespace = &setup.reconcile;
    let objects = built(
        setup,
        RECONCILED_PROFILE,
        namespace,
        PIN_TO_NODE_WITHOUT_KUBELET,
    );
    let stream: Vec<String> = objects.iter().map(Value::to_string).collect();
    let apply = cluster.kubectl_stdin(
        &[
            "apply",
            "--server-side",
            "--field-manager=palgen-test",
            "-f",
            "-",
        ],
        &stream.join("\n"),
    );
    assert!(
        apply.success && apply.warnings().is_empty(),
        "{RECONCILED_PROFILE}: {}",
        apply.stderr
    );

    let services = [
        "postgres-cluster-rw",
        "postgres-cluster-ro",
        "postgres-cluster-r",
        "postgres",
    ];
    let secrets = [
        "postgres-cluster-app",
        "postgres-cluster-ca",
        "postgres-cluster-replication",
        "postgres-cluster-pooler",
        "postgres-tls",
    ];
    let claims = ["postgres-cluster-1", "postgres-cluster-1-wal"];
    let all_there = |cluster: &Cluster| {
        let has = |kind: &str, names: &[&str]| {
            let items = cluster.items(kind, namespace);
            names.iter().all(|name| named(&items, name).is_some())
        };
        has("services", &services)
            && has("secrets", &secrets)
            && has("persistentvolumeclaims", &claims)
            && has("jobs", &["postgres-cluster-1-initdb"])
            && cluster.items("pods", namespace).iter().any(|pod| {
                pod["metadata"]["labels"]["job-name"] == "postgres-cluster-1-initdb"
                    && pod["spec"]["nodeName"].is_string()
            })
            && cluster.items("deployments", namespace).iter().any(|d| {
                d["metadata"]["name"] == "postgres"
                    && d["status"]["availableReplicas"] == d["spec"]["replicas"]
            })
    };
    let started = std::time::Instant::now();
    while !all_there(cluster) {
        cluster.provision_claims(namespace);
        assert!(
            started.elapsed() < Duration::from_secs(300),
            "the operator did not make the Cluster's objects in 300s:\n{}\nits log ends:\n{}\nthe plugin's:\n{}",
            cluster
                .kubectl(&["get", "all,pvc,secrets,roles", "-n", namespace])
                .stdout,
            setup.operators.log_tail("cloudnative-pg"),
            setup.operators.log_tail("barman-cloud"),
        );
        std::thread::sleep(Duration::from_secs(1));
    }
    let mut listing = cluster
        .kubectl(&[
            "get",
            "services,secrets,pvc,jobs,pods,deployments,roles",
            "-n",
            namespace,
            "-o",
            "wide",
        ])
        .stdout;
    listing.insert_str(0, "what the operators made:\n");
    println!("{listing}");

    let pods = cluster.items("pods", namespace);
    let initdb = pods
        .iter()
        .find(|pod| pod["metadata"]["labels"]["job-name"] == "postgres-cluster-1-initdb")
        .unwrap();
    let labels = &initdb["metadata"]["labels"];
    assert_eq!(labels["cnpg.io/cluster"], "postgres-cluster", "{labels}");
    assert_eq!(labels["cnpg.io/jobRole"], "initdb", "{labels}");
    // Inherited from the Cluster's inheritedMetadata, which palgen writes
    // so that the application's NetworkPolicy rules reach the database.
    assert_eq!(labels["app.kubernetes.io/part-of"], "paless", "{labels}");
    assert_eq!(initdb["spec"]["nodeName"], NO_KUBELET_NODE);
    assert_eq!(initdb["status"]["phase"], "Pending", "no kubelet runs it");

    let claims_made = cluster.items("persistentvolumeclaims", namespace);
    for name in claims {
        let claim = named(&claims_made, name).unwrap();
        assert_eq!(
            claim["metadata"]["labels"]["cnpg.io/cluster"],
            "postgres-cluster"
        );
        assert_eq!(
            claim["spec"]["storageClassName"], "paless-postgres-gp3",
            "{name}"
        );
    }
    assert_eq!(
        named(&claims_made, "postgres-cluster-1").unwrap()["spec"]["resources"]["requests"]["storage"],
        "100Gi"
    );
    assert_eq!(
        named(&claims_made, "postgres-cluster-1-wal").unwrap()["spec"]["resources"]["requests"]["storage"],
        "20Gi"
    );

    // The Barman Cloud plugin took the ObjectStore: its Role lets the
    // Cluster's pods read it, and it is the WAL archiver of the Cluster.
    let roles = cluster.items("roles", namespace);
    let store_role = roles.iter().find(|role| {
        role["rules"].as_array().into_iter().flatten().any(|rule| {
            rule["resources"]
                .as_array()
                .is_some_and(|r| r.contains(&json!("objectstores")))
                && rule["resourceNames"]
                    .as_array()
                    .is_some_and(|names| names.contains(&json!("postgres-backups")))
        })
    });
    assert!(
        store_role.is_some(),
        "no Role grants the ObjectStore postgres-backups: {}",
        serde_json::to_string_pretty(&roles).unwrap()
    );

    // The pods' service account carries the workload identity palgen
    // wrote for the object store.
    let account = cluster.get(&["serviceaccount", "postgres-cluster", "-n", namespace]);
    assert_eq!(
        account["metadata"]["annotations"]["eks.amazonaws.com/role-arn"],
        cnpg::object_store_of("aws").unwrap().1,
        "{account}"
    );

    // palgen's NetworkPolicies select the pods the operator made, and
    // their ingress rules admit the pooler to the instances.
    let policies = cluster.items("networkpolicies", namespace);
    let policy =
        |name: &str| named(&policies, name).unwrap_or_else(|| panic!("NetworkPolicy {name}"));
    let database = policy("postgres-cluster");
    let pooler_policy = policy("postgres-pooler");
    assert!(
        kube::selects(&database["spec"]["podSelector"], labels),
        "{labels}"
    );
    let poolers: Vec<&Value> = pods
        .iter()
        .filter(|pod| pod["metadata"]["labels"]["cnpg.io/poolerName"] == "postgres")
        .collect();
    assert_eq!(poolers.len(), 2, "the Pooler's two pods");
    for pod in &poolers {
        let pod_labels = &pod["metadata"]["labels"];
        assert!(
            kube::selects(&pooler_policy["spec"]["podSelector"], pod_labels),
            "{pod_labels}"
        );
        assert!(
            database["spec"]["ingress"]
                .as_array()
                .unwrap()
                .iter()
                .any(|rule| {
                    rule["from"].as_array().into_iter().flatten().any(|peer| {
                        peer["podSelector"].is_object()
                            && kube::selects(&peer["podSelector"], pod_labels)
                    })
                }),
            "no ingress rule of postgres-cluster admits the pooler's pods {pod_labels}"
        );
    }
    // Each Service the operator made selects the pods palgen's policies
    // protect: the pooler's Service its pods, the instances' the Cluster's.
    let services_made = cluster.items("services", namespace);
    for name in services {
        let selector =
            json!({"matchLabels": named(&services_made, name).unwrap()["spec"]["selector"]});
        let protected_by = if name == "postgres" {
            pooler_policy
        } else {
            database
        };
        let sample = if name == "postgres" {
            poolers[0]["metadata"]["labels"].clone()
        } else {
            // An instance pod's labels: what the initdb pod has, as an
            // instance of the given role.
            let mut instance = labels.clone();
            instance["cnpg.io/podRole"] = json!("instance");
            instance["cnpg.io/instanceRole"] = json!(if name.ends_with("-rw") {
                "primary"
            } else {
                "replica"
            });
            instance
        };
        assert!(
            kube::selects(&selector, &sample),
            "Service {name} selects no {sample}"
        );
        assert!(
            kube::selects(&protected_by["spec"]["podSelector"], &sample),
            "Service {name}'s pods are outside palgen's NetworkPolicies"
        );
    }
}

/// The names a client may connect to for each Service of a build: the
/// Service's own forms, and for a headless Service of a StatefulSet each
/// pod's.
fn names_clients_use(objects: &[Value]) -> BTreeSet<String> {
    let forms = |host: &str, namespace: &str| {
        [
            host.to_owned(),
            format!("{host}.{namespace}"),
            format!("{host}.{namespace}.svc"),
            format!("{host}.{namespace}.svc.cluster.local"),
        ]
    };
    let mut names = BTreeSet::new();
    for service in objects.iter().filter(|o| o["kind"] == "Service") {
        let name = service["metadata"]["name"].as_str().unwrap();
        let namespace = service["metadata"]["namespace"].as_str().unwrap();
        names.extend(forms(name, namespace));
        for set in objects
            .iter()
            .filter(|o| o["kind"] == "StatefulSet" && o["spec"]["serviceName"] == name)
        {
            let set_name = set["metadata"]["name"].as_str().unwrap();
            for index in 0..set["spec"]["replicas"].as_u64().unwrap_or(1) {
                names.extend(forms(&format!("{set_name}-{index}.{name}"), namespace));
            }
        }
    }
    names
}

/// cert-manager's controller turns the statefulset engine's self-signed
/// Issuer, CA Certificate, CA Issuer and server Certificate into Secrets:
/// the server certificate carries every name clients use for the build's
/// Services (read by openssl) and chains to the `ca.crt` clients mount.
#[test]
fn cert_manager_issues_the_certificates_palgen_asks_for() {
    let setup = setup();
    let cluster = &setup.cluster;
    let namespace = &setup.certificates;
    let objects = built(setup, CERTIFICATE_PROFILE, namespace, "");
    assert!(
        objects.iter().any(|o| o["kind"] == "Certificate"),
        "{CERTIFICATE_PROFILE} has no Certificate"
    );
    let stream: Vec<String> = objects.iter().map(Value::to_string).collect();
    let apply = cluster.kubectl_stdin(
        &[
            "apply",
            "--server-side",
            "--field-manager=palgen-test",
            "-f",
            "-",
        ],
        &stream.join("\n"),
    );
    assert!(
        apply.success && apply.warnings().is_empty(),
        "{}",
        apply.stderr
    );
    let started = std::time::Instant::now();
    let issued = |name: &str| {
        cluster
            .items("secrets", namespace)
            .into_iter()
            .find(|s| s["metadata"]["name"] == name && s["data"]["tls.crt"].is_string())
    };
    while issued("postgres-tls").is_none() || issued("postgres-ca").is_none() {
        assert!(
            started.elapsed() < Duration::from_secs(180),
            "cert-manager issued no Secret in 180s:\n{}\nits log ends:\n{}",
            cluster
                .kubectl(&[
                    "get",
                    "issuers,certificates,certificaterequests,secrets",
                    "-n",
                    namespace
                ])
                .stdout,
            setup
                .operators
                .log_tail(&format!("cert-manager-{namespace}")),
        );
        std::thread::sleep(Duration::from_secs(1));
    }
    let ready = cluster.items("certificates", namespace);
    for certificate in &ready {
        let conditions = certificate["status"]["conditions"].to_string();
        assert!(
            conditions.contains("\"Ready\"") && conditions.contains("\"True\""),
            "{certificate}"
        );
    }

    let dir = tempfile::tempdir().unwrap();
    let decode = |secret: &Value, key: &str, file: &str| {
        let path = dir.path().join(file);
        fs::write(
            dir.path().join("b64"),
            secret["data"][key].as_str().unwrap(),
        )
        .unwrap();
        let run = Command::new("openssl")
            .args(["base64", "-d", "-A", "-in"])
            .arg(dir.path().join("b64"))
            .arg("-out")
            .arg(&path)
            .output()
            .unwrap();
        assert!(run.status.success());
        path
    };
    let server = issued("postgres-tls").unwrap();
    let certificate = decode(&server, "tls.crt", "server.crt");
    let mounted_ca = decode(&server, "ca.crt", "ca.crt");
    let authority = decode(&issued("postgres-ca").unwrap(), "tls.crt", "authority.crt");
    let openssl = |args: &[&std::ffi::OsStr]| {
        let run = Command::new("openssl").args(args).output().unwrap();
        (
            run.status.success(),
            String::from_utf8_lossy(&run.stdout).into_owned()
                + &String::from_utf8_lossy(&run.stderr),
        )
    };
    let (verified, said) = openssl(&[
        "verify".as_ref(),
        "-CAfile".as_ref(),
        mounted_ca.as_os_str(),
        certificate.as_os_str(),
    ]);
    assert!(
        verified,
        "the server certificate does not chain to the ca.crt clients mount: {said}"
    );
    assert_eq!(
        fs::read(&mounted_ca).unwrap(),
        fs::read(&authority).unwrap(),
        "ca.crt is not the CA Certificate's"
    );
    let (_, subject_names) = openssl(&[
        "x509".as_ref(),
        "-noout".as_ref(),
        "-ext".as_ref(),
        "subjectAltName".as_ref(),
        "-in".as_ref(),
        certificate.as_os_str(),
    ]);
    let carried: BTreeSet<&str> = subject_names
        .split([',', '\n'])
        .filter_map(|entry| entry.trim().strip_prefix("DNS:"))
        .collect();
    // The names are the profile's (namespace paless), as palgen builds it.
    let palgen_build = palgen(&["build", "--profile", CERTIFICATE_PROFILE]);
    assert!(palgen_build.status.success(), "{}", stderr(&palgen_build));
    let own: Vec<Value> = serde_saphyr::from_multiple::<Value>(&common::stdout(&palgen_build))
        .unwrap()
        .into_iter()
        .filter(|o| !o.is_null())
        .collect();
    let needed = names_clients_use(&own);
    assert!(needed.len() > 8, "{needed:?}");
    let missing: Vec<&String> = needed
        .iter()
        .filter(|name| !carried.contains(name.as_str()))
        .collect();
    assert!(
        missing.is_empty(),
        "the server certificate lacks {missing:?}; it carries {carried:?}"
    );
}

/// `palgen migrate`'s import Cluster passes the operator's webhooks.
#[test]
fn the_migrate_cluster_is_admitted_by_the_webhook() {
    let setup = setup();
    let profiles = cnpg::profiles_dir();
    let dir = profiles.path().to_str().unwrap();
    for profile in ["cnpg-aws-large", "cnpg-gcp-small", "cnpg-dev-medium"] {
        let migrate = palgen(&["--profiles-dir", dir, "migrate", "--profile", profile]);
        assert!(migrate.status.success(), "{profile}: {}", stderr(&migrate));
        let clusters: Vec<Value> = serde_saphyr::from_multiple::<Value>(&common::stdout(&migrate))
            .unwrap()
            .into_iter()
            .filter(|o| o["kind"] == "Cluster")
            .collect();
        assert_eq!(clusters.len(), 1, "{profile}: one Cluster");
        let cluster = &clusters[0];
        assert!(
            cluster["spec"]["bootstrap"]["initdb"]["import"].is_object(),
            "{cluster}"
        );
        if let Err(refusal) = dry_run(&setup.cluster, cluster, &setup.admit) {
            panic!("{profile}: the webhook refuses the migrate Cluster: {refusal}");
        }
    }
}
