//! `palgen plan` against what Kubernetes does: for each change a team makes
//! to a profile, v1 is rendered and applied to the test control plane
//! (scripts/control-plane.sh), v2 is planned, rendered and applied
//! server-side. What plan calls in place or rolling applies cleanly (and rolls
//! pods exactly when it says); what it calls impossible the server refuses;
//! then its procedure, run step by step as printed, ends with v2 applied and
//! no pod or claim lost that the procedure does not say it replaces.

mod common;
mod kube;

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use serde_json::Value;

use common::{palgen_in, stderr, stdout};
use kube::Cluster;

/// The namespace every built-in profile deploys into (the procedures name it).
const NAMESPACE: &str = "paless";
/// The profile each case writes, v1 then v2.
const PROFILE: &str = "team";

/// One change: the profile before and after, and what the server must do
/// with the new overlay when it is applied directly.
struct Case {
    name: &'static str,
    before: &'static str,
    after: &'static str,
}

const CASES: &[Case] = &[
    Case {
        name: "memory up",
        before: "extends: aws-medium\n",
        after: "extends: aws-medium\nresources:\n  limits:\n    memory: 3Gi\n",
    },
    Case {
        name: "cpu up",
        before: "extends: gcp-small\n",
        after: "extends: gcp-small\nresources:\n  limits:\n    cpu: 2000m\n",
    },
    Case {
        name: "image minor",
        before: "extends: aws-small\nimage: postgres:18.1\n",
        after: "extends: aws-small\nimage: postgres:18.2\n",
    },
    Case {
        name: "pool size",
        before: "extends: aws-large\n",
        after: "extends: aws-large\npgbouncer:\n  replicas: 3\n",
    },
    Case {
        name: "replicas down",
        before: "extends: aws-large\n",
        after: "extends: aws-large\nreplication:\n  read_replicas: 1\n",
    },
    Case {
        name: "storage up",
        before: "extends: aws-medium\n",
        after: "extends: aws-medium\nstorage:\n  size: 80Gi\n",
    },
    Case {
        name: "storage down",
        before: "extends: aws-medium\n",
        after: "extends: aws-medium\nstorage:\n  size: 20Gi\n",
    },
    Case {
        name: "storage class",
        before: "extends: aws-medium\n",
        after: "extends: aws-medium\nstorage:\n  class: gp3-fast\n",
    },
    Case {
        name: "image major",
        before: "extends: aws-small\nimage: postgres:17.6\n",
        after: "extends: aws-small\nimage: postgres:18.1\n",
    },
    Case {
        name: "backup off",
        before: "extends: gcp-small\n",
        after: "extends: gcp-small\nbackup:\n  enabled: false\n",
    },
    Case {
        name: "tls issuer",
        before: "extends: aws-small\ntls:\n  source: issuer\n  issuer:\n    name: platform-ca\n",
        after: "extends: aws-small\ntls:\n  source: issuer\n  issuer:\n    name: other-ca\n",
    },
    Case {
        name: "engine switch",
        before: "extends: aws-small\n",
        after: "extends: aws-small\nengine: cloudnative-pg\n",
    },
];

/// Steps addressed to a person, and why the test has nothing to do for
/// each: no application runs here, no container ever writes to a volume,
/// and the operators' controllers do not run (their CRDs are installed).
const STEPS_FOR_A_PERSON: &[(&str, &str)] = &[
    ("stop the application", "no application runs here"),
    ("start the application again", "no application runs here"),
    (
        "give the application the password",
        "no application runs here",
    ),
    (
        "copy what you keep off PVC",
        "no container ever wrote to the volume",
    ),
    (
        "`kubectl apply -k` leaves PVC",
        "no container ever wrote to the volume: nothing to copy off",
    ),
    (
        "install cert-manager, the CloudNativePG operator",
        "the control plane has their CRDs; their controllers do not run here",
    ),
];

struct Finding {
    class: String,
    kind: String,
    name: String,
    description: String,
}

/// The unsafe classes, as plan prints them.
const UNSAFE: [&str; 4] = [
    "CANNOT BE APPLIED",
    "DATA-INCOMPATIBLE",
    "DATA MIGRATION",
    "DESTRUCTIVE",
];

/// The findings of `palgen plan`'s text output, and the overlay's procedure.
fn findings(plan: &str) -> (Vec<Finding>, Vec<String>) {
    let labels: Vec<&str> = ["in place", "rolls pods"]
        .into_iter()
        .chain(UNSAFE)
        .collect();
    let found = plan
        .lines()
        .filter_map(|line| {
            let line = line.strip_prefix("  ")?;
            let label = labels.iter().find(|label| line.starts_with(*label))?;
            let (object, description) = line[label.len()..]
                .trim_start()
                .split_once(": ")
                .expect("kind name: description");
            let (kind, name) = object.split_once(' ').expect("kind name");
            Some(Finding {
                class: (*label).to_owned(),
                kind: kind.to_owned(),
                name: name.to_owned(),
                description: description.to_owned(),
            })
        })
        .collect();
    (found, common::overlay_procedure(plan, PROFILE))
}

/// Runs a command line in `dir` with palgen and kubectl reaching the test
/// control plane, as a user's shell would.
fn shell(cluster: &Cluster, dir: &Path, line: &str) -> std::process::Output {
    let palgen_dir = Path::new(env!("CARGO_BIN_EXE_palgen")).parent().unwrap();
    let path = format!(
        "{}:{}",
        palgen_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    Command::new("bash")
        .arg("-c")
        .arg(format!("set -euo pipefail\n{line}"))
        .current_dir(dir)
        .env("PATH", path)
        .env("KUBECONFIG", cluster.kubeconfig())
        .output()
        .expect("bash runs")
}

fn must(cluster: &Cluster, dir: &Path, case: &str, line: &str) -> String {
    let output = shell(cluster, dir, line);
    assert!(
        output.status.success(),
        "{case}: `{line}` failed:\n{}{}",
        stdout(&output),
        stderr(&output)
    );
    stdout(&output)
}

/// A clean namespace; the case's v1 rendered and committed in a git
/// repository at `dir`, applied, its workloads ready.
fn deploy_v1(cluster: &Cluster, dir: &Path, case: &Case) {
    cluster.fresh_namespace(NAMESPACE);
    let _ = fs::remove_dir_all(dir);
    fs::create_dir_all(dir.join("profiles")).unwrap();
    fs::write(
        dir.join("profiles").join(format!("{PROFILE}.yaml")),
        case.before,
    )
    .unwrap();
    must(
        cluster,
        dir,
        case.name,
        &format!(
            "git init -q . && git config user.email test@example.com && git config user.name test\n\
             palgen render --profile {PROFILE}\n\
             git add -A && git commit -q -m v1"
        ),
    );
    let apply = apply_overlay(cluster, dir);
    assert!(
        apply.success && apply.warnings().is_empty(),
        "{}: apply v1: {}",
        case.name,
        apply.stderr
    );
    wait_ready(cluster, case.name);
}

fn overlay() -> String {
    format!("k8s/overlays/{PROFILE}")
}

/// The overlay as rendered in `dir`, applied server-side.
fn apply_overlay(cluster: &Cluster, dir: &Path) -> kube::Run {
    cluster.kubectl_in(
        dir,
        &[
            "apply",
            "-k",
            &overlay(),
            "--server-side",
            "--field-manager=palgen-test",
        ],
    )
}

fn wait_ready(cluster: &Cluster, case: &str) {
    cluster.wait_until(
        NAMESPACE,
        &format!("{case}: workloads ready"),
        Duration::from_secs(180),
        |cluster| {
            cluster.items("statefulsets", NAMESPACE).iter().all(|set| {
                let status = &set["status"];
                status["readyReplicas"].as_i64().unwrap_or(0)
                    == set["spec"]["replicas"].as_i64().unwrap_or(1)
                    && status["updatedReplicas"] == status["replicas"]
            }) && cluster.items("deployments", NAMESPACE).iter().all(|d| {
                d["status"]["updatedReplicas"] == d["spec"]["replicas"]
                    && d["status"]["availableReplicas"] == d["spec"]["replicas"]
            })
        },
    );
}

/// Pod template revision of every StatefulSet and Deployment.
fn revisions(cluster: &Cluster) -> BTreeMap<String, String> {
    let mut revisions = BTreeMap::new();
    for set in cluster.items("statefulsets", NAMESPACE) {
        revisions.insert(
            format!("StatefulSet {}", set["metadata"]["name"].as_str().unwrap()),
            set["status"]["updateRevision"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
        );
    }
    for replica_set in cluster.items("replicasets", NAMESPACE) {
        if replica_set["spec"]["replicas"].as_i64().unwrap_or(0) > 0 {
            let owner = replica_set["metadata"]["ownerReferences"][0]["name"]
                .as_str()
                .unwrap_or_default();
            revisions.insert(
                format!("Deployment {owner}"),
                replica_set["metadata"]["labels"]["pod-template-hash"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
            );
        }
    }
    revisions
}

/// Claim name to uid.
fn claims(cluster: &Cluster) -> BTreeMap<String, String> {
    cluster
        .items("persistentvolumeclaims", NAMESPACE)
        .iter()
        .map(|claim| {
            (
                claim["metadata"]["name"].as_str().unwrap().to_owned(),
                claim["metadata"]["uid"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[test]
fn plan_verdicts_and_procedures_hold_on_the_control_plane() {
    let cluster = Cluster::connect();
    let scratch = tempfile::tempdir().expect("temporary directory");
    let dir = scratch.path().join("repo");
    let mut checked = Vec::new();
    for case in CASES {
        deploy_v1(&cluster, &dir, case);
        let before = revisions(&cluster);
        let claims_before = claims(&cluster);
        fs::write(
            dir.join("profiles").join(format!("{PROFILE}.yaml")),
            case.after,
        )
        .unwrap();
        let plan = palgen_in(&dir, &["plan", "--profile", PROFILE]);
        assert!(
            plan.status.success(),
            "{}: plan: {}",
            case.name,
            stderr(&plan)
        );
        let (found, procedure) = findings(&stdout(&plan));
        assert!(
            !found.is_empty(),
            "{}: plan found nothing:\n{}",
            case.name,
            stdout(&plan)
        );
        let refused: Vec<&Finding> = found
            .iter()
            .filter(|f| f.class == "CANNOT BE APPLIED")
            .collect();
        let unsafe_found = found.iter().any(|f| UNSAFE.contains(&f.class.as_str()));

        if !unsafe_found {
            assert!(
                procedure.is_empty(),
                "{}: a procedure for a safe change",
                case.name
            );
            must(
                &cluster,
                &dir,
                case.name,
                &format!("palgen render --profile {PROFILE}"),
            );
            let apply = apply_overlay(&cluster, &dir);
            assert!(
                apply.success && apply.warnings().is_empty(),
                "{}: plan says it applies, the server says:\n{}",
                case.name,
                apply.stderr
            );
            wait_ready(&cluster, case.name);
            let after = revisions(&cluster);
            for (workload, revision) in &before {
                let rolled = after.get(workload) != Some(revision);
                let said = found.iter().any(|f| {
                    f.class == "rolls pods" && format!("{} {}", f.kind, f.name) == *workload
                });
                assert_eq!(
                    rolled, said,
                    "{}: {workload} rolled: {rolled}, plan said rolls pods: {said}",
                    case.name
                );
            }
        } else {
            if !refused.is_empty() {
                expect_refusal(&cluster, &dir, case, &refused);
            }
            run_procedure(&cluster, &dir, case, &procedure);
            wait_ready(&cluster, case.name);
        }
        let diff = cluster.kubectl_in(
            &dir,
            &[
                "diff",
                "--server-side",
                "--field-manager=palgen-test",
                // The procedure's own `kubectl apply -k` owns the fields
                // now: compare values, whoever owns them.
                "--force-conflicts",
                "-k",
                &overlay(),
            ],
        );
        assert!(
            diff.success,
            "{}: the cluster does not hold v2 after the plan's steps:\n{}{}",
            case.name, diff.stdout, diff.stderr
        );
        let claims_after = claims(&cluster);
        for (claim, uid) in &claims_before {
            let replaced_by_a_step = procedure
                .iter()
                .any(|step| deleted_claims(step).contains(&claim.as_str()));
            match claims_after.get(claim) {
                Some(now) if !replaced_by_a_step => {
                    assert_eq!(now, uid, "{}: claim {claim} was replaced", case.name)
                }
                None if !replaced_by_a_step => {
                    panic!(
                        "{}: claim {claim} is gone, and no step deletes it",
                        case.name
                    )
                }
                _ => {}
            }
        }
        checked.push(case.name);
    }
    assert_eq!(checked.len(), CASES.len());
}

/// v2 applied as it is (a server-side dry run of a copy rendered with
/// --accept-unsafe) is refused on each object plan calls impossible.
fn expect_refusal(cluster: &Cluster, dir: &Path, case: &Case, refused: &[&Finding]) {
    let copy = dir.with_file_name("v2-as-is");
    let _ = fs::remove_dir_all(&copy);
    must(
        cluster,
        dir,
        case.name,
        &format!("cp -r . {}", copy.display()),
    );
    must(
        cluster,
        &copy,
        case.name,
        &format!("palgen render --profile {PROFILE} --accept-unsafe"),
    );
    let apply = cluster.kubectl_in(
        &copy,
        &[
            "apply",
            "-k",
            &overlay(),
            "--server-side",
            "--dry-run=server",
            "--field-manager=palgen-test",
        ],
    );
    assert!(
        !apply.success,
        "{}: plan says impossible, the server accepts it",
        case.name
    );
    for finding in refused {
        // The object, and the field plan's description starts with, or
        // the part of it the server reports (a claim's whole `spec`).
        let named = format!("\"{}\"", finding.name);
        let field = finding.description.split([' ', ':']).next().unwrap();
        let reported = field
            .match_indices('.')
            .map(|(at, _)| &field[..at])
            .chain([field])
            .any(|path| apply.stderr.contains(&format!(": {path}:")));
        assert!(
            apply.stderr.contains(&named) && reported,
            "{}: the server's refusal does not name {} {} ({}):\n{}",
            case.name,
            finding.kind,
            finding.name,
            finding.description,
            apply.stderr
        );
    }
}

/// Runs the overlay's procedure as printed. After the review step the test
/// commits, as the step asks. Where a step waits for something no process
/// here does, the test plays its part first and says so:
/// - a claim's capacity: it resizes the volume and reports the claim's new
///   capacity, as the CSI resizer and kubelet do;
/// - a rollout of a StatefulSet with new claims: it provisions the claims
///   (`Cluster::wait_until`), as the storage driver does;
/// - a CloudNativePG Cluster's readiness: it sets the Ready condition, as
///   the operator does once its instances run.
///
/// A step that runs a program inside a container (`kubectl exec`) cannot
/// run here, where no container starts: the test writes the empty output
/// the step redirects to a file, and the PostgreSQL suites run those
/// commands on real servers. A step addressed to a person must be one of
/// `STEPS_FOR_A_PERSON`.
fn run_procedure(cluster: &Cluster, dir: &Path, case: &Case, procedure: &[String]) {
    assert!(
        !procedure.is_empty(),
        "{}: an unsafe change without a procedure",
        case.name
    );
    for step in procedure {
        let command = step.split("   # ").next().unwrap();
        let program = command.split_whitespace().next().unwrap_or_default();
        if !["palgen", "git", "kubectl", "diff"].contains(&program) {
            let Some((_, why)) = STEPS_FOR_A_PERSON
                .iter()
                .find(|(start, _)| step.starts_with(start))
            else {
                panic!(
                    "{}: a step the test cannot run as written: {step}",
                    case.name
                )
            };
            eprintln!(
                "{}: for a person, nothing to do here ({why}): {step}",
                case.name
            );
            continue;
        }
        if command.contains(" exec ") {
            if let Some((_, file)) = command.rsplit_once(" > ") {
                fs::write(dir.join(file.trim()), "").unwrap();
            }
            continue;
        }
        if let Some(claim) = waits_for_capacity(step) {
            play_resizer(cluster, &claim);
        }
        if command.contains(" rollout status ") {
            wait_ready(cluster, case.name);
        }
        if let Some(job) = waits_for_job(command) {
            wait_complete(cluster, case.name, job);
        }
        if let Some(name) = waits_for_cluster(command) {
            play_operator(cluster, name);
        }
        let printed = must(cluster, dir, case.name, step);
        if let Some(expected) = step.split("repeat until it prints ").nth(1) {
            assert_eq!(printed.trim(), expected.trim(), "{}: {step}", case.name);
        }
        if program == "git" && command.starts_with("git diff") {
            must(cluster, dir, case.name, "git add -A && git commit -q -m v2");
        }
    }
}

/// The claims a `kubectl delete pvc` step deletes.
fn deleted_claims(step: &str) -> Vec<&str> {
    let command = step.split("   # ").next().unwrap();
    match command.split_once(" delete pvc ") {
        Some((_, rest)) => rest
            .split_whitespace()
            .take_while(|word| !word.starts_with('-'))
            .collect(),
        None => Vec::new(),
    }
}

/// The Job a `kubectl wait job/NAME` step waits for.
fn waits_for_job(command: &str) -> Option<&str> {
    command
        .split_whitespace()
        .find_map(|word| word.strip_prefix("job/"))
}

/// Provisions the claims the Job's pod mounts, as the storage driver does,
/// until the Job has completed (kwok completes a Job's running pods).
fn wait_complete(cluster: &Cluster, case: &str, job: &str) {
    cluster.wait_until(
        NAMESPACE,
        &format!("{case}: Job {job} complete"),
        Duration::from_secs(180),
        |cluster| {
            let job: Value = cluster.get(&["job", job, "-n", NAMESPACE]);
            job["status"]["succeeded"].as_i64() == Some(1)
        },
    );
}

/// The CloudNativePG Cluster a `kubectl wait cluster/NAME` step waits for.
fn waits_for_cluster(command: &str) -> Option<&str> {
    command
        .split_whitespace()
        .find_map(|word| word.strip_prefix("cluster/"))
}

fn play_operator(cluster: &Cluster, name: &str) {
    let patch = r#"{"status":{"conditions":[{"type":"Ready","status":"True","reason":"ClusterIsReady","message":"set by the test, which plays the operator","lastTransitionTime":"2026-01-01T00:00:00Z"}]}}"#;
    let run = cluster.kubectl(&[
        "patch",
        "cluster.postgresql.cnpg.io",
        name,
        "-n",
        NAMESPACE,
        "--type=merge",
        "--subresource=status",
        "-p",
        patch,
    ]);
    assert!(run.success, "Cluster {name} Ready: {}", run.stderr);
}

/// The claim a "get pvc NAME ... repeat until it prints SIZE" step waits for.
fn waits_for_capacity(step: &str) -> Option<String> {
    if !step.contains("repeat until it prints") {
        return None;
    }
    let words: Vec<&str> = step.split_whitespace().collect();
    let at = words.iter().position(|w| *w == "pvc")?;
    words.get(at + 1).map(|claim| (*claim).to_owned())
}

fn play_resizer(cluster: &Cluster, claim: &str) {
    let pvc: Value = cluster.get(&["pvc", claim, "-n", NAMESPACE]);
    let size = pvc["spec"]["resources"]["requests"]["storage"]
        .as_str()
        .unwrap();
    let volume = pvc["spec"]["volumeName"].as_str().unwrap();
    let patch = format!("{{\"spec\":{{\"capacity\":{{\"storage\":\"{size}\"}}}}}}");
    let run = cluster.kubectl(&["patch", "pv", volume, "-p", &patch]);
    assert!(run.success, "resize volume {volume}: {}", run.stderr);
    let patch = format!("{{\"status\":{{\"capacity\":{{\"storage\":\"{size}\"}}}}}}");
    let run = cluster.kubectl(&[
        "patch",
        "pvc",
        claim,
        "-n",
        NAMESPACE,
        "--subresource=status",
        "-p",
        &patch,
    ]);
    assert!(run.success, "claim {claim} capacity: {}", run.stderr);
}
