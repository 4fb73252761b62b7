//! Every overlay, applied with `kubectl apply -k --server-side` to a real
//! Kubernetes control plane (scripts/control-plane.sh: kube-apiserver with
//! PodSecurity and PersistentVolumeClaimResize admission, etcd, the
//! controller-manager, the scheduler and three fake nodes in three zones):
//! admitted with no warning, stored as written, and its workloads create the
//! pods, claims and jobs they intend. No container runs (there is no
//! kubelet); PostgreSQL itself is proven by the PostgreSQL suites.

mod cnpg;
mod common;
mod kube;

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;
use std::sync::OnceLock;
use std::time::Duration;

use serde_json::Value;

use common::{PROFILES, STRESS_PROFILES, objects_by_identity, palgen, stderr};
use kube::{Cluster, Run, ZONES, selects};

/// One profile's overlay as applied to the control plane.
struct Applied {
    profile: String,
    namespace: String,
    /// What `kubectl kustomize` of the applied directory prints, by identity.
    objects: BTreeMap<String, Value>,
    apply: Run,
}

/// Renders every built-in profile, the stressing user profiles and the
/// CloudNativePG user profile of each built-in one, and applies each
/// overlay into a namespace of its own (a Kustomization around the overlay
/// sets it, as a user would to run two copies side by side), once per test
/// run.
fn applied() -> &'static (Cluster, Vec<Applied>) {
    static APPLIED: OnceLock<(Cluster, Vec<Applied>)> = OnceLock::new();
    APPLIED.get_or_init(|| {
        let cluster = Cluster::connect();
        // Earlier runs' namespaces hold pods that take the nodes' room.
        let earlier = cluster.kubectl(&["get", "namespaces", "-o", "name"]);
        let earlier: Vec<&str> = earlier
            .stdout
            .lines()
            .filter(|name| name.starts_with("namespace/t-"))
            .collect();
        if !earlier.is_empty() {
            let mut delete = vec!["delete", "--wait=false"];
            delete.extend(earlier);
            cluster.kubectl(&delete);
        }
        let dir = tempfile::tempdir().expect("temporary directory").keep();
        let profiles_dir = dir.join("profiles");
        fs::create_dir(&profiles_dir).unwrap();
        for (name, text) in STRESS_PROFILES {
            fs::write(profiles_dir.join(format!("{name}.yaml")), text).unwrap();
        }
        cnpg::write_profiles(&profiles_dir);
        let out = dir.join("k8s");
        let mut render = vec![
            "--profiles-dir",
            profiles_dir.to_str().unwrap(),
            "render",
            "--out",
            out.to_str().unwrap(),
        ];
        let cnpg_profiles: Vec<String> = PROFILES.iter().map(|p| format!("cnpg-{p}")).collect();
        let names: Vec<&str> = PROFILES
            .iter()
            .copied()
            .chain(STRESS_PROFILES.iter().map(|(name, _)| *name))
            .chain(cnpg_profiles.iter().map(String::as_str))
            .collect();
        for name in &names {
            render.extend(["--profile", name]);
        }
        let rendered = palgen(&render);
        assert!(rendered.status.success(), "render: {}", stderr(&rendered));

        // Three at a time: the server, not kubectl, is the bottleneck.
        let applied = names
            .chunks(3)
            .flat_map(|chunk| {
                std::thread::scope(|scope| {
                    let running: Vec<_> = chunk
                        .iter()
                        .map(|profile| scope.spawn(|| apply_overlay(&cluster, &dir, profile)))
                        .collect();
                    running
                        .into_iter()
                        .map(|handle| handle.join().expect("apply thread"))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        (cluster, applied)
    })
}

fn apply_overlay(cluster: &Cluster, dir: &Path, profile: &str) -> Applied {
    // A namespace of this run's own: a control plane kept between runs
    // still holds the last run's, and deleting them waits on finalizers.
    let namespace = format!("t-{profile}-{}", std::process::id());
    let wrapper = dir.join("apply").join(profile);
    fs::create_dir_all(&wrapper).unwrap();
    fs::write(
        wrapper.join("kustomization.yaml"),
        format!(
            "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n\
             namespace: {namespace}\nresources:\n- ../../k8s/overlays/{profile}\n"
        ),
    )
    .unwrap();
    let wrapper = wrapper.to_str().unwrap();
    let built = cluster.kubectl(&["kustomize", wrapper]);
    assert!(built.success, "{profile}: kustomize: {}", built.stderr);
    cluster.fresh_namespace(&namespace);
    let apply = cluster.kubectl(&[
        "apply",
        "-k",
        wrapper,
        "--server-side",
        "--field-manager=palgen-test",
    ]);
    Applied {
        profile: profile.to_owned(),
        namespace,
        objects: objects_by_identity(&built.stdout),
        apply,
    }
}

#[test]
fn every_overlay_is_admitted_with_no_error_and_no_warning() {
    let (_, applied) = applied();
    let failures: Vec<String> = applied
        .iter()
        .filter(|a| !a.apply.success || !a.apply.warnings().is_empty())
        .map(|a| format!("{}:\n{}", a.profile, a.apply.stderr))
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// What the server stores equals what palgen wrote, apart from the fields
/// the server adds: a value rewritten on the way in (1024Mi stored as 1Gi,
/// 0.5 as 500m) shows up as a difference in GitOps tools forever.
#[test]
fn the_server_stores_every_value_as_written() {
    let (cluster, applied) = applied();
    let mut differences = Vec::new();
    for overlay in applied.iter().filter(|a| a.apply.success) {
        for (identity, written) in &overlay.objects {
            let kind = written["kind"].as_str().unwrap();
            let name = written["metadata"]["name"].as_str().unwrap();
            let mut args = vec![kind, name];
            if let Some(namespace) = written["metadata"]["namespace"].as_str() {
                args.extend(["-n", namespace]);
            }
            let stored = cluster.get(&args);
            compare(
                &format!("{}: {identity}", overlay.profile),
                written,
                &stored,
                &mut differences,
            );
        }
    }
    assert!(
        differences.is_empty(),
        "stored differently from what palgen wrote:\n{}",
        differences.join("\n")
    );
}

/// Records where `stored` lacks or changes a value of `written`.
fn compare(path: &str, written: &Value, stored: &Value, differences: &mut Vec<String>) {
    match (written, stored) {
        (Value::Object(written), Value::Object(stored)) => {
            for (key, value) in written {
                // Kubernetes documents stringData as write-only: the server
                // merges it into data.
                if key == "stringData" {
                    continue;
                }
                match stored.get(key) {
                    Some(stored_value) => {
                        compare(&format!("{path}.{key}"), value, stored_value, differences)
                    }
                    None if value.is_null() => {}
                    None => differences.push(format!("{path}.{key}: {value} is not stored")),
                }
            }
        }
        (Value::Array(written), Value::Array(stored)) if written.len() == stored.len() => {
            for (index, (w, s)) in written.iter().zip(stored).enumerate() {
                compare(&format!("{path}[{index}]"), w, s, differences);
            }
        }
        (written, stored) if written == stored => {}
        (written, stored) => differences.push(format!("{path}: wrote {written}, stored {stored}")),
    }
}

#[test]
fn statefulsets_create_their_pods_and_claims_spread_over_the_zones() {
    let (cluster, applied) = applied();
    for overlay in applied.iter().filter(|a| a.apply.success) {
        let namespace = &overlay.namespace;
        if overlay
            .objects
            .keys()
            .any(|identity| identity.starts_with("Cluster/"))
        {
            continue; // the CloudNativePG operator makes its pods
        }
        let sets = cluster.items("statefulsets", namespace);
        assert!(!sets.is_empty(), "{}: no StatefulSet", overlay.profile);
        cluster.wait_until(
            namespace,
            &format!("{}: every StatefulSet ready", overlay.profile),
            Duration::from_secs(120),
            |cluster| {
                cluster.items("statefulsets", namespace).iter().all(|set| {
                    set["status"]["readyReplicas"].as_i64().unwrap_or(0)
                        == set["spec"]["replicas"].as_i64().unwrap_or(1)
                })
            },
        );
        let zones = cluster.node_zones();
        for set in sets {
            let name = set["metadata"]["name"].as_str().unwrap();
            let replicas = set["spec"]["replicas"].as_u64().unwrap_or(1) as usize;
            let pods: Vec<Value> = cluster
                .items("pods", namespace)
                .into_iter()
                .filter(|pod| pod["metadata"]["ownerReferences"][0]["name"].as_str() == Some(name))
                .collect();
            assert_eq!(pods.len(), replicas, "{}: pods of {name}", overlay.profile);
            let claims = set["spec"]["volumeClaimTemplates"]
                .as_array()
                .map_or(0, Vec::len);
            for pod in &pods {
                let pod_name = pod["metadata"]["name"].as_str().unwrap();
                for template in set["spec"]["volumeClaimTemplates"]
                    .as_array()
                    .unwrap_or(&vec![])
                {
                    let claim = format!(
                        "{}-{pod_name}",
                        template["metadata"]["name"].as_str().unwrap()
                    );
                    let phase = cluster.get(&["pvc", &claim, "-n", namespace])["status"]["phase"]
                        .as_str()
                        .unwrap_or_default()
                        .to_owned();
                    assert_eq!(phase, "Bound", "{}: claim {claim}", overlay.profile);
                }
            }
            assert!(claims > 0, "{}: {name} keeps no data", overlay.profile);
            // Zone spread as the constraints ask: the pods their selector
            // picks (this set's and any other's) differ by at most maxSkew
            // between the three zones.
            let constraints = set["spec"]["template"]["spec"]["topologySpreadConstraints"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            for constraint in constraints
                .iter()
                .filter(|c| c["topologyKey"] == "topology.kubernetes.io/zone")
            {
                let mut per_zone: BTreeMap<&str, i64> =
                    ZONES.iter().map(|zone| (*zone, 0)).collect();
                for pod in cluster.items("pods", namespace) {
                    if selects(&constraint["labelSelector"], &pod["metadata"]["labels"]) {
                        let node = pod["spec"]["nodeName"].as_str().unwrap();
                        *per_zone.get_mut(zones[node].as_str()).unwrap() += 1;
                    }
                }
                let skew = per_zone.values().max().unwrap() - per_zone.values().min().unwrap();
                assert!(
                    skew <= constraint["maxSkew"].as_i64().unwrap(),
                    "{}: pods of {name} over the zones: {per_zone:?}",
                    overlay.profile
                );
            }
        }
    }
}

#[test]
fn deployments_and_disruption_budgets_behave() {
    let (cluster, applied) = applied();
    for overlay in applied.iter().filter(|a| a.apply.success) {
        let namespace = &overlay.namespace;
        cluster.wait_until(
            namespace,
            &format!(
                "{}: Deployments available, budgets computed",
                overlay.profile
            ),
            Duration::from_secs(120),
            |cluster| {
                let deployments = cluster.items("deployments", namespace);
                let budgets = cluster.items("poddisruptionbudgets", namespace);
                deployments.iter().all(|d| {
                    d["status"]["availableReplicas"].as_i64() == d["spec"]["replicas"].as_i64()
                }) && budgets.iter().all(|b| {
                    let status = &b["status"];
                    status["expectedPods"].as_i64().unwrap_or(0) > 0
                        && status["currentHealthy"] == status["expectedPods"]
                })
            },
        );
        for budget in cluster.items("poddisruptionbudgets", namespace) {
            let status = &budget["status"];
            let name = budget["metadata"]["name"].as_str().unwrap();
            assert!(
                status["disruptionsAllowed"].as_i64().unwrap_or(0) >= 1,
                "{}: PodDisruptionBudget {name} allows no voluntary disruption with every pod healthy: {status}",
                overlay.profile
            );
        }
    }
}

#[test]
fn a_job_made_from_each_cronjob_is_admitted() {
    let (cluster, applied) = applied();
    let mut checked = 0;
    for overlay in applied.iter().filter(|a| a.apply.success) {
        let namespace = &overlay.namespace;
        for cronjob in cluster.items("cronjobs", namespace) {
            let name = cronjob["metadata"]["name"].as_str().unwrap();
            let job = format!("{name}-now");
            let from = format!("cronjob/{name}");
            let run = cluster.kubectl(&["create", "job", &job, "--from", &from, "-n", namespace]);
            assert!(
                run.success && run.warnings().is_empty(),
                "{}: job from {name}: {}",
                overlay.profile,
                run.stderr
            );
            cluster.wait_until(
                namespace,
                &format!("{}: the job's pod created", overlay.profile),
                Duration::from_secs(60),
                |cluster| {
                    cluster
                        .items("pods", namespace)
                        .iter()
                        .any(|pod| pod["metadata"]["labels"]["job-name"] == job.as_str())
                },
            );
            checked += 1;
        }
    }
    assert!(checked > 0, "no CronJob in any overlay");
}

/// `palgen migrate`'s Cluster, which imports the running StatefulSet's
/// database, is accepted by the server with CloudNativePG's CRDs installed
/// (a server-side dry run: admission and validation, nothing stored).
#[test]
fn the_migrate_cluster_is_accepted() {
    let (cluster, _) = applied();
    // The Cluster names namespace paless; an empty one, so that no Cluster
    // left by another test (the plan test's engine switch) is updated
    // instead of created.
    cluster.fresh_namespace("paless");
    let ensure = cluster.kubectl_stdin(
        &[
            "apply",
            "--server-side",
            "--field-manager=palgen-test",
            "-f",
            "-",
        ],
        "{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"metadata\":{\"name\":\"paless\"}}",
    );
    assert!(ensure.success, "namespace paless: {}", ensure.stderr);
    let profiles_dir = cnpg::profiles_dir();
    let profiles_dir = profiles_dir.path().to_str().unwrap();
    for profile in ["cnpg-aws-large", "cnpg-gcp-small", "cnpg-dev-medium"] {
        let migrate = palgen(&[
            "--profiles-dir",
            profiles_dir,
            "migrate",
            "--profile",
            profile,
        ]);
        assert!(migrate.status.success(), "{profile}: {}", stderr(&migrate));
        let printed = String::from_utf8(migrate.stdout).unwrap();
        assert!(printed.contains("kind: Cluster"), "{profile}: {printed}");
        let run = cluster.kubectl_stdin(
            &[
                "apply",
                "--server-side",
                "--dry-run=server",
                "--field-manager=palgen-test",
                "-f",
                "-",
            ],
            &printed,
        );
        assert!(
            run.success && run.warnings().is_empty(),
            "{profile}: the migrate Cluster is refused:\n{}",
            run.stderr
        );
    }
}
