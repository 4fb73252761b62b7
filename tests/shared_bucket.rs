//! Two profiles never write backups to the same place of an object store:
//! `render` refuses it naming both, and profiles that share a
//! CloudNativePG destination archive under their own Barman server names.

mod common;

use std::fs;

use common::{palgen_in, stderr};

fn profiles(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    fs::create_dir(dir.path().join("profiles")).unwrap();
    for (name, text) in files {
        fs::write(dir.path().join(format!("profiles/{name}.yaml")), text).unwrap();
    }
    dir
}

#[test]
fn two_profiles_with_one_off_site_prefix_are_refused_naming_both() {
    let dir = profiles(&[
        (
            "acme",
            "extends: aws-large\nbackup:\n  offsite:\n    prefix: prod\n    role_arn: arn:aws:iam::123456789012:role/backup\n",
        ),
        ("acme-eu", "extends: acme\n"),
        ("acme-us", "extends: acme\n"),
    ]);
    let refused = palgen_in(dir.path(), &["render", "--all"]);
    assert_eq!(refused.status.code(), Some(2), "{}", stderr(&refused));
    assert_eq!(
        stderr(&refused),
        "palgen: error: profiles acme and acme-eu write backups to the same place, s3://paless-postgres-backups/prod (backup.offsite) and s3://paless-postgres-backups/prod (backup.offsite): each one's retention would delete the other's backups; give one of them its own prefix\n"
    );
    assert!(!dir.path().join("k8s").exists(), "render wrote something");
    let two = palgen_in(
        dir.path(),
        &["render", "--profile", "acme-us", "--profile", "acme-eu"],
    );
    assert_eq!(two.status.code(), Some(2));
    assert!(
        stderr(&two).contains("profiles acme-eu and acme-us write backups to the same place"),
        "{}",
        stderr(&two)
    );
    // One of them alone is fine.
    let one = palgen_in(dir.path(), &["render", "--profile", "acme-eu", "-q"]);
    assert!(one.status.success(), "{}", stderr(&one));
}

#[test]
fn profiles_sharing_a_cloudnative_pg_destination_archive_under_their_own_names() {
    let dir = profiles(&[
        (
            "shop",
            "extends: aws-large\nengine: cloudnative-pg\ncloudnative_pg:\n  backup_destination: s3://acme-backups/postgres\n",
        ),
        ("shop-eu", "extends: shop\n"),
        ("shop-us", "extends: shop\n"),
        // Inside shop's archive directory.
        (
            "nested",
            "extends: aws-large\nengine: cloudnative-pg\ncloudnative_pg:\n  backup_destination: s3://acme-backups/postgres/shop\n",
        ),
    ]);
    let rendered = palgen_in(
        dir.path(),
        &[
            "render",
            "--profile",
            "shop-eu",
            "--profile",
            "shop-us",
            "-q",
        ],
    );
    assert!(rendered.status.success(), "{}", stderr(&rendered));
    for name in ["shop-eu", "shop-us"] {
        let cluster = fs::read_to_string(
            dir.path()
                .join(format!("k8s/overlays/{name}/cluster-postgres-cluster.yaml")),
        )
        .unwrap();
        assert!(
            cluster.contains(&format!("serverName: {name}\n")),
            "{cluster}"
        );
    }
    let refused = palgen_in(
        dir.path(),
        &["render", "--profile", "shop", "--profile", "nested"],
    );
    assert_eq!(refused.status.code(), Some(2));
    assert!(
        stderr(&refused).contains("profiles nested and shop write backups to the same place, s3://acme-backups/postgres/shop/nested (cloudnative_pg.backup_destination) and s3://acme-backups/postgres/shop (cloudnative_pg.backup_destination)"),
        "{}",
        stderr(&refused)
    );
}
