//! Security checks on the generated tree with a real scanner (Checkov), and
//! the rule that no committed non-dev file carries a credential.

mod common;

use std::fs;
use std::path::Path;
use std::process::Command;

use serde_json::Value;

use common::{PROFILES, palgen, repo_root, stdout, tool};

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

    // Every skip is justified in the README, check by check.
    let readme = fs::read_to_string(repo_root().join("README.md")).expect("README.md");
    for skipped in results(&report)["skipped_checks"]
        .as_array()
        .into_iter()
        .flatten()
    {
        let id = skipped["check_id"].as_str().unwrap_or_default();
        assert!(
            readme.contains(id),
            "skipped check {id} is not explained in README.md"
        );
    }
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
