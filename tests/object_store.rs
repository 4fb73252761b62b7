//! One object store for both engines: `backup.offsite` is where the
//! statefulset engine's dumps go and where the cloudnative-pg engine's
//! Barman Cloud plugin archives WAL and base backups. A built-in profile
//! therefore renders with `engine: cloudnative-pg` added and nothing else;
//! the engine's own keys of issue 17 still work, with a deprecation warning.

mod common;

use std::fs;
use std::path::Path;

use common::{PROFILES, objects_by_identity, palgen_in, stderr, stdout};
use serde_json::Value;

fn with_profile(yaml: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temporary directory");
    fs::create_dir(dir.path().join("profiles")).unwrap();
    fs::write(dir.path().join("profiles/acme.yaml"), yaml).unwrap();
    dir
}

/// The ObjectStore's configuration `render` wrote for `acme`, and stderr.
fn rendered_store(dir: &Path) -> (Option<Value>, String) {
    let rendered = palgen_in(dir, &["render", "--profile", "acme", "--quiet"]);
    assert_eq!(rendered.status.code(), Some(0), "{}", stderr(&rendered));
    let built = palgen_in(dir, &["build", "--profile", "acme"]);
    assert!(built.status.success(), "{}", stderr(&built));
    let objects = objects_by_identity(&stdout(&built));
    let store = objects
        .get("ObjectStore/paless/postgres-backups")
        .map(|store| store["spec"]["configuration"].clone());
    (store, stderr(&rendered))
}

#[test]
fn every_built_in_profile_renders_with_only_the_engine_added() {
    for profile in PROFILES {
        let dir = with_profile(&format!("extends: {profile}\nengine: cloudnative-pg\n"));
        let (store, _) = rendered_store(dir.path());
        let destination = store
            .as_ref()
            .map(|store| store["destinationPath"].as_str().unwrap().to_owned());
        let expected = match profile.split('-').next().unwrap() {
            // dev keeps no backups: no object store.
            "dev" => None,
            "aws" => Some("s3://paless-postgres-backups"),
            "gcp" => Some("gs://paless-postgres-backups"),
            // The storage account is the user's to set; render warns.
            _ => Some("https://.blob.core.windows.net/paless-postgres-backups"),
        };
        assert_eq!(destination.as_deref(), expected, "{profile}");
    }
}

#[test]
fn the_identity_and_prefix_of_backup_offsite_reach_the_wal_archive() {
    let dir = with_profile(
        "extends: aws-large\nengine: cloudnative-pg\nbackup:\n  offsite:\n    bucket: acme-backups\n    prefix: prod\n    role_arn: arn:aws:iam::123456789012:role/acme-backup\n",
    );
    let (store, err) = rendered_store(dir.path());
    assert_eq!(err, "");
    let store = store.expect("an ObjectStore");
    assert_eq!(store["destinationPath"], "s3://acme-backups/prod");
    assert_eq!(store["s3Credentials"]["inheritFromIAMRole"], true);
    let built = palgen_in(dir.path(), &["build", "--profile", "acme"]);
    let objects = objects_by_identity(&stdout(&built));
    let cluster = objects
        .iter()
        .find(|(key, _)| key.starts_with("Cluster/"))
        .map(|(_, cluster)| cluster)
        .expect("a Cluster");
    assert_eq!(
        cluster["spec"]["serviceAccountTemplate"]["metadata"]["annotations"]["eks.amazonaws.com/role-arn"],
        "arn:aws:iam::123456789012:role/acme-backup"
    );
}

#[test]
fn an_s3_compatible_server_takes_the_credentials_secret_of_backup_offsite() {
    let dir = with_profile(
        "extends: dev-small\nengine: cloudnative-pg\nbackup:\n  enabled: true\n  offsite:\n    provider: s3\n    bucket: paless\n    region: us-east-1\n    endpoint: http://minio.minio:9000\n    credentials_secret: minio-keys\n",
    );
    let (store, err) = rendered_store(dir.path());
    assert_eq!(err, "");
    let store = store.expect("an ObjectStore");
    assert_eq!(store["destinationPath"], "s3://paless");
    assert_eq!(store["endpointURL"], "http://minio.minio:9000");
    assert_eq!(store["s3Credentials"]["accessKeyId"]["name"], "minio-keys");
}

#[test]
fn the_engines_old_keys_still_work_with_a_warning_naming_the_new_key() {
    let dir = with_profile(
        "extends: aws-large\nengine: cloudnative-pg\ncloudnative_pg:\n  backup_destination: s3://acme-backups/prod\n  backup_identity: arn:aws:iam::123456789012:role/acme-backup\n",
    );
    let (store, err) = rendered_store(dir.path());
    let store = store.expect("an ObjectStore");
    assert_eq!(store["destinationPath"], "s3://acme-backups/prod");
    assert_eq!(store["s3Credentials"]["inheritFromIAMRole"], true);
    assert_eq!(
        err,
        "palgen: warning: profiles/acme.yaml:4: cloudnative_pg.backup_destination is deprecated and will be refused in the next release; set backup.offsite (provider, bucket, prefix, account), which both engines read\n\
         palgen: warning: profiles/acme.yaml:5: cloudnative_pg.backup_identity is deprecated and will be refused in the next release; set backup.offsite.role_arn, gcp_service_account or azure_client_id, which both engines read\n"
    );
}

#[test]
fn two_profiles_archiving_to_one_place_of_the_shared_store_are_refused() {
    let dir = with_profile(
        "extends: aws-large\nengine: cloudnative-pg\nbackup:\n  offsite:\n    prefix: tenants\n",
    );
    // The dumps of `other` would land in acme's archive: tenants/acme.
    fs::write(
        dir.path().join("profiles/other.yaml"),
        "extends: aws-small\nbackup:\n  offsite:\n    prefix: tenants/acme\n",
    )
    .unwrap();
    let refused = palgen_in(
        dir.path(),
        &[
            "render",
            "--profile",
            "acme",
            "--profile",
            "other",
            "--quiet",
        ],
    );
    assert_eq!(refused.status.code(), Some(2), "{}", stderr(&refused));
    let err = stderr(&refused);
    assert!(
        err.contains("acme") && err.contains("other") && err.contains("tenants/acme"),
        "{err}"
    );
    assert!(!dir.path().join("k8s").exists());
}
