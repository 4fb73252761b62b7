//! A profile whose off-site backup cannot authenticate (no role, service
//! account, client id or credentials Secret) is said at render time: one
//! warning line on stderr from render, check and plan (exit status
//! unchanged), a column of `palgen list`, and exit 2 with `--strict`.

mod common;

use std::fs;
use std::path::Path;

use common::{palgen_in, stderr, stdout};

/// A working directory whose profiles are the user profiles given.
fn with_profiles(profiles: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temporary directory");
    fs::create_dir(dir.path().join("profiles")).unwrap();
    for (name, yaml) in profiles {
        fs::write(dir.path().join(format!("profiles/{name}.yaml")), yaml).unwrap();
    }
    dir
}

fn run(dir: &Path, args: &[&str]) -> (Option<i32>, String, String) {
    let output = palgen_in(dir, args);
    (output.status.code(), stdout(&output), stderr(&output))
}

const WARNING: &str = "palgen: warning: acme: the off-site backup cannot authenticate to its bucket; set backup.offsite.role_arn in the profile\n";

#[test]
fn render_check_and_plan_warn_once_with_the_key_to_set() {
    let dir = with_profiles(&[("acme", "extends: aws-large\n")]);
    let root = dir.path();
    let (code, _, err) = run(root, &["render", "--profile", "acme", "--quiet"]);
    assert_eq!((code, err.as_str()), (Some(0), WARNING));
    let (code, _, err) = run(root, &["check", "--quiet"]);
    assert_eq!((code, err.as_str()), (Some(0), WARNING));
    let (code, _, err) = run(root, &["plan", "--quiet"]);
    assert_eq!((code, err.as_str()), (Some(0), WARNING));
    // Drift keeps its own status; the warning comes on top.
    fs::remove_file(root.join("k8s/overlays/acme/kustomization.yaml")).unwrap();
    let (code, _, err) = run(root, &["check", "--quiet"]);
    assert_eq!((code, err.as_str()), (Some(1), WARNING));
}

#[test]
fn strict_turns_the_warning_into_exit_2() {
    let dir = with_profiles(&[("acme", "extends: aws-large\n")]);
    let root = dir.path();
    let (code, _, err) = run(root, &["render", "--profile", "acme", "--strict"]);
    assert_eq!(code, Some(2), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.starts_with("palgen: error: --strict:")
            && err.contains("acme (backup.offsite.role_arn)"),
        "{err}"
    );
    assert!(!root.join("k8s").exists(), "--strict wrote the tree");
    run(root, &["render", "--profile", "acme", "--quiet"]);
    for args in [&["check", "--strict"][..], &["plan", "--strict"][..]] {
        let (code, _, err) = run(root, args);
        assert_eq!(code, Some(2), "{args:?}: {err}");
        assert!(err.contains("acme (backup.offsite.role_arn)"), "{err}");
    }
}

#[test]
fn a_profile_with_its_identity_is_not_warned_about() {
    let dir = with_profiles(&[
        (
            "acme",
            "extends: aws-large\nbackup:\n  offsite:\n    role_arn: arn:aws:iam::123456789012:role/paless-backup\n",
        ),
        (
            "gke",
            "extends: gcp-small\nbackup:\n  offsite:\n    gcp_service_account: backup@paless.iam.gserviceaccount.com\n",
        ),
        ("laptop", "extends: dev-small\n"),
    ]);
    let root = dir.path();
    for args in [
        &[
            "render",
            "--profile",
            "acme",
            "--profile",
            "gke",
            "--profile",
            "laptop",
            "--quiet",
            "--strict",
        ][..],
        &["check", "--quiet", "--strict"][..],
        &["plan", "--quiet", "--strict", "--profile", "acme"][..],
    ] {
        let (code, _, err) = run(root, args);
        assert_eq!((code, err.as_str()), (Some(0), ""), "{args:?}");
    }
}

#[test]
fn the_wal_archive_of_cloudnative_pg_is_checked_too() {
    let dir = with_profiles(&[
        (
            "acme",
            "extends: aws-large\nengine: cloudnative-pg\ncloudnative_pg:\n  backup_destination: s3://paless-backups/acme\n",
        ),
        (
            "minio",
            "extends: dev-small\nengine: cloudnative-pg\nbackup:\n  enabled: true\ncloudnative_pg:\n  backup_destination: s3://paless-backups/minio\n  backup_endpoint: http://minio.minio:9000\n",
        ),
    ]);
    let (code, _, err) = run(
        dir.path(),
        &[
            "render",
            "--profile",
            "acme",
            "--profile",
            "minio",
            "--quiet",
        ],
    );
    assert_eq!(code, Some(0), "{err}");
    assert!(
        err.contains("acme: the off-site backup cannot authenticate to its bucket; set cloudnative_pg.backup_identity in the profile\n"),
        "{err}"
    );
    assert!(
        err.contains("minio: the off-site backup cannot authenticate to its bucket; set cloudnative_pg.backup_credentials_secret in the profile\n"),
        "{err}"
    );
}

#[test]
fn list_shows_the_key_each_profile_lacks() {
    let dir = with_profiles(&[
        (
            "acme",
            "extends: aws-large\nbackup:\n  offsite:\n    role_arn: arn:aws:iam::123456789012:role/paless-backup\n",
        ),
        (
            "azure-tenant",
            "extends: azure-small\nbackup:\n  offsite:\n    account: palessbackups\n",
        ),
    ]);
    let (code, out, err) = run(dir.path(), &["list"]);
    assert_eq!(code, Some(0), "{err}");
    let row = |profile: &str| {
        out.lines()
            .find(|line| line.split_whitespace().next() == Some(profile))
            .unwrap_or_else(|| panic!("no row {profile}\n{out}"))
            .to_owned()
    };
    assert!(
        out.lines().next().unwrap().contains("BACKUP IDENTITY"),
        "{out}"
    );
    assert!(
        row("aws-large").contains("  set backup.offsite.role_arn  "),
        "{out}"
    );
    assert!(row("acme").contains("  ok  "), "{out}");
    assert!(row("dev-small").contains("  -  "), "{out}");
    assert!(
        row("azure-tenant").contains("  set backup.offsite.azure_client_id  "),
        "{out}"
    );
}
