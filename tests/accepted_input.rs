//! Profiles that look unusual but are right, through the real binary: what
//! Kubernetes and the container runtimes accept, palgen accepts too, and
//! writes what they mean.

mod common;

use std::fs;

use common::{objects_by_identity, palgen, stderr, stdout};
use serde_json::Value;

/// `palgen build` of a user profile `a` with this text.
fn build(yaml: &str) -> std::collections::BTreeMap<String, Value> {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("a.yaml"), yaml).unwrap();
    let output = palgen(&[
        "--profiles-dir",
        dir.path().to_str().unwrap(),
        "build",
        "--profile",
        "a",
    ]);
    assert!(output.status.success(), "{yaml}: {}", stderr(&output));
    objects_by_identity(&stdout(&output))
}

/// The postgresql.conf of a built profile, from its ConfigMap.
fn postgresql_conf(objects: &std::collections::BTreeMap<String, Value>) -> String {
    objects
        .iter()
        .find(|(key, _)| key.starts_with("ConfigMap/paless/postgres-config-"))
        .map(|(_, config_map)| {
            config_map["data"]["postgresql.conf"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .expect("the postgres-config ConfigMap")
}

#[test]
fn cron_descriptors_kubernetes_accepts_are_written_as_they_are() {
    for schedule in [
        "@daily",
        "@hourly",
        "@weekly",
        "@every 12h",
        "0 3 * * sun",
        "0 0 ? * ?",
    ] {
        let objects = build(&format!(
            "extends: aws-small\nbackup:\n  schedule: \"{schedule}\"\n"
        ));
        assert_eq!(
            objects["CronJob/paless/postgres-backup"]["spec"]["schedule"],
            schedule
        );
    }
}

#[test]
fn a_tag_that_names_the_major_as_pg_nn_runs_that_major() {
    let objects = build("extends: aws-small\nimage: timescale/timescaledb:2.17.2-pg17\n");
    let postgres =
        &objects["StatefulSet/paless/postgres"]["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(postgres["image"], "timescale/timescaledb:2.17.2-pg17");
    let pgdata = postgres["env"]
        .as_array()
        .unwrap()
        .iter()
        .find(|env| env["name"] == "PGDATA")
        .unwrap();
    // PostgreSQL 17's layout, not 18's /var/lib/postgresql/18/docker.
    assert_eq!(pgdata["value"], "/var/lib/postgresql/data/pgdata");
    assert!(!postgresql_conf(&objects).contains("io_method"));
}

#[test]
fn beta_and_rc_tags_run_the_major_they_name() {
    for (image, pgdata) in [
        ("postgres:19beta1", "/var/lib/postgresql/19/docker"),
        ("postgres:18rc1-bookworm", "/var/lib/postgresql/18/docker"),
    ] {
        let objects = build(&format!("extends: aws-small\nimage: {image}\n"));
        let postgres =
            &objects["StatefulSet/paless/postgres"]["spec"]["template"]["spec"]["containers"][0];
        assert_eq!(postgres["image"], image);
        let env = postgres["env"].as_array().unwrap();
        let found = env.iter().find(|env| env["name"] == "PGDATA").unwrap();
        assert_eq!(found["value"], pgdata, "{image}");
    }
}

#[test]
fn a_null_storage_provision_means_false() {
    // aws-large defines its StorageClass; `provision: ~` (or an empty
    // value) clears it, as `false` does, rather than inheriting it.
    for yaml in [
        "extends: aws-large\nstorage:\n  provision: ~\n",
        "extends: aws-large\nstorage:\n  provision:\n",
        "extends: aws-large\nstorage:\n  provision: false\n",
    ] {
        let objects = build(yaml);
        assert!(
            !objects.keys().any(|key| key.starts_with("StorageClass/")),
            "{yaml}: {:?}",
            objects.keys().collect::<Vec<_>>()
        );
    }
    let objects = build("extends: aws-large\n");
    assert!(objects.keys().any(|key| key.starts_with("StorageClass/")));
}

#[test]
fn max_wal_size_follows_the_data_volume() {
    // A 2Gi volume: 4GB would not fit; a quarter of it is 512MB.
    let conf = postgresql_conf(&build("extends: aws-small\nstorage:\n  size: 2Gi\n"));
    assert!(conf.contains("\nmax_wal_size = 512MB\n"), "{conf}");
    assert!(conf.contains("\nmin_wal_size = 128MB\n"), "{conf}");
    // Set explicitly within the quarter: written as set.
    let conf = postgresql_conf(&build(
        "extends: aws-small\npostgres:\n  max_wal_size: 1Gi\n",
    ));
    assert!(conf.contains("\nmax_wal_size = 1GB\n"), "{conf}");
    assert!(conf.contains("\nmin_wal_size = 256MB\n"), "{conf}");
}

#[test]
fn huge_pages_are_left_to_postgres_from_2gb_of_shared_buffers() {
    let conf = postgresql_conf(&build(
        "extends: aws-large\nresources:\n  limits:\n    memory: 8Gi\n",
    ));
    assert!(conf.contains("\nhuge_pages = try\n"), "{conf}");
    let conf = postgresql_conf(&build("extends: aws-large\n"));
    assert!(conf.contains("\nhuge_pages = off\n"), "{conf}");
}
