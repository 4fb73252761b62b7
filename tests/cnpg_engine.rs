//! The `cloudnative-pg` engine: what a profile with it builds instead of
//! palgen's own StatefulSets, checked for every platform and size against
//! the settings of the built-in profile it extends.

mod cnpg;
mod common;

use cnpg::{
    MINIO_PROFILE, build, conf_settings, object_store_of, of_kind, one, profiles_dir, settings,
};
use common::{PROFILES, palgen, stderr, stdout};

/// Parameters CloudNativePG's webhook rejects in `spec.postgresql.parameters`
/// (its fixed-parameter list, in its documentation and `pkg/postgres`),
/// written out here independently of palgen's own list.
const FIXED_BY_CLOUDNATIVE_PG: [&str; 74] = [
    "allow_system_table_mods",
    "archive_cleanup_command",
    "archive_command",
    "archive_mode",
    "archive_timeout",
    "bonjour",
    "bonjour_name",
    "cluster_name",
    "config_file",
    "data_directory",
    "data_sync_retry",
    "dynamic_shared_memory_type",
    "event_source",
    "external_pid_file",
    "full_page_writes",
    "hba_file",
    "hot_standby",
    "huge_pages",
    "ident_file",
    "jit_provider",
    "listen_addresses",
    "log_destination",
    "log_directory",
    "log_file_mode",
    "log_filename",
    "log_rotation_age",
    "log_rotation_size",
    "log_truncate_on_rotation",
    "logging_collector",
    "pg_failover_slots.primary_dsn",
    "pg_failover_slots.standby_slot_names",
    "port",
    "primary_conninfo",
    "primary_slot_name",
    "promote_trigger_file",
    "recovery_end_command",
    "recovery_min_apply_delay",
    "recovery_target",
    "recovery_target_action",
    "recovery_target_inclusive",
    "recovery_target_lsn",
    "recovery_target_name",
    "recovery_target_time",
    "recovery_target_timeline",
    "recovery_target_xid",
    "restart_after_crash",
    "restore_command",
    "shared_memory_type",
    "shared_preload_libraries",
    "ssl",
    "ssl_ca_file",
    "ssl_cert_file",
    "ssl_ciphers",
    "ssl_crl_file",
    "ssl_dh_params_file",
    "ssl_ecdh_curve",
    "ssl_key_file",
    "ssl_max_protocol_version",
    "ssl_min_protocol_version",
    "ssl_passphrase_command",
    "ssl_passphrase_command_supports_reload",
    "ssl_prefer_server_ciphers",
    "stats_temp_directory",
    "synchronized_standby_slots",
    "synchronous_standby_names",
    "syslog_facility",
    "syslog_ident",
    "syslog_sequence_numbers",
    "syslog_split_messages",
    "temp_tablespaces",
    "unix_socket_directories",
    "unix_socket_group",
    "unix_socket_permissions",
    "wal_level",
];

/// The statefulset engine's postgresql.conf of a built-in profile.
fn statefulset_conf(profile: &str) -> std::collections::BTreeMap<String, String> {
    let output = palgen(&["build", "--profile", profile]);
    assert!(output.status.success(), "{}", stderr(&output));
    let objects: Vec<serde_json::Value> = serde_saphyr::from_multiple(&stdout(&output)).unwrap();
    let config = objects
        .iter()
        .find(|o| {
            o["kind"] == "ConfigMap"
                && o["metadata"]["name"]
                    .as_str()
                    .is_some_and(|n| n.starts_with("postgres-config-"))
        })
        .expect("the statefulset engine's config map");
    conf_settings(config["data"]["postgresql.conf"].as_str().unwrap())
}

#[test]
fn no_parameter_the_operator_fixes_is_emitted_and_the_rest_is_carried_over() {
    let dir = profiles_dir();
    for parent in PROFILES {
        let objects = build(dir.path(), &format!("cnpg-{parent}"));
        let parameters = one(&objects, "Cluster")["spec"]["postgresql"]["parameters"]
            .as_object()
            .unwrap()
            .clone();
        let fixed: Vec<&String> = parameters
            .keys()
            .filter(|k| FIXED_BY_CLOUDNATIVE_PG.contains(&k.as_str()))
            .collect();
        assert!(fixed.is_empty(), "{parent}: emits {fixed:?}");

        // The statefulset engine's file sets several of them, so the filter
        // is what keeps them out; every other setting arrives unchanged.
        let conf = statefulset_conf(parent);
        for set_by_statefulset in ["listen_addresses", "port", "hba_file", "logging_collector"] {
            assert!(
                conf.contains_key(set_by_statefulset),
                "{parent}: {set_by_statefulset}"
            );
        }
        for (name, value) in &conf {
            let left_to_operator = FIXED_BY_CLOUDNATIVE_PG.contains(&name.as_str())
                || name == "max_wal_senders"
                || name == "max_replication_slots";
            if left_to_operator {
                continue;
            }
            assert_eq!(
                parameters.get(name).and_then(|v| v.as_str()),
                Some(value.as_str()),
                "{parent}: {name}"
            );
        }
        assert_eq!(
            parameters.len(),
            conf.keys()
                .filter(|k| !FIXED_BY_CLOUDNATIVE_PG.contains(&k.as_str()))
                .filter(|k| *k != "max_wal_senders" && *k != "max_replication_slots")
                .count(),
            "{parent}: parameters that are not in postgresql.conf"
        );
    }
}

#[test]
fn every_platform_and_size_builds_operator_objects_from_its_settings() {
    let dir = profiles_dir();
    for parent in PROFILES {
        let (platform, size) = parent.split_once('-').unwrap();
        let name = format!("cnpg-{parent}");
        let objects = build(dir.path(), &name);
        let s = settings(dir.path(), &name);
        assert_eq!(s["engine"], "cloudnative-pg", "{name}");

        for kind in [
            "StatefulSet",
            "Deployment",
            "CronJob",
            "ConfigMap",
            "Secret",
        ] {
            assert!(of_kind(&objects, kind).is_empty(), "{name}: has a {kind}");
        }
        let cluster = &one(&objects, "Cluster")["spec"];
        let replicas = s["replication"]["read_replicas"].as_u64().unwrap();
        assert_eq!(cluster["instances"], 1 + replicas, "{name}");
        assert_eq!(cluster["enablePDB"], replicas > 0, "{name}");
        assert_eq!(cluster["storage"]["size"], s["storage"]["size"], "{name}");
        assert_eq!(
            cluster["storage"]["storageClass"], s["storage"]["class"],
            "{name}"
        );
        assert_eq!(cluster["walStorage"].is_object(), size == "large", "{name}");
        assert_eq!(
            cluster["resources"]["limits"]["memory"], s["resources"]["limits"]["memory"],
            "{name}"
        );
        assert!(
            cluster["imageName"].as_str().unwrap().contains(":18"),
            "{name}: a PostgreSQL 18 image"
        );
        let initdb = &cluster["bootstrap"]["initdb"];
        assert_eq!(initdb["database"], "paperless");
        assert_eq!(initdb["owner"], "paperless");
        let template_sql = initdb["postInitTemplateSQL"].to_string();
        assert!(
            template_sql.contains("uuid-ossp") && template_sql.contains("pgcrypto"),
            "{name}: {template_sql}"
        );
        assert_eq!(cluster["managed"]["roles"][0]["name"], "paperless");
        assert_eq!(cluster["affinity"]["enablePodAntiAffinity"], true);
        assert_eq!(
            cluster["topologySpreadConstraints"].is_array(),
            s["scheduling"]["spread_zones"] == true,
            "{name}"
        );

        let pooler = &one(&objects, "Pooler")["spec"];
        assert_eq!(pooler["pgbouncer"]["poolMode"], "session");
        assert_eq!(pooler["instances"], 2);
        assert_eq!(pooler["cluster"]["name"], "postgres-cluster");

        let policies = of_kind(&objects, "NetworkPolicy");
        let selects = |key: &str| {
            policies
                .iter()
                .any(|p| p["spec"]["podSelector"]["matchLabels"][key].is_string())
        };
        assert!(
            selects("cnpg.io/cluster") && selects("cnpg.io/poolerName"),
            "{name}"
        );

        match object_store_of(platform) {
            None => {
                assert!(of_kind(&objects, "ObjectStore").is_empty(), "{name}");
                assert!(of_kind(&objects, "ScheduledBackup").is_empty(), "{name}");
                assert!(cluster["plugins"].is_null(), "{name}");
            }
            Some((destination, identity)) => {
                let store = &one(&objects, "ObjectStore")["spec"];
                assert_eq!(store["configuration"]["destinationPath"], destination);
                // Workload identity: IRSA, GKE Workload Identity, Azure
                // Workload Identity, each by its own annotation.
                let (credentials, annotation) = match platform {
                    "aws" => ("s3Credentials", "eks.amazonaws.com/role-arn"),
                    "gcp" => ("googleCredentials", "iam.gke.io/gcp-service-account"),
                    _ => ("azureCredentials", "azure.workload.identity/client-id"),
                };
                assert!(store["configuration"][credentials].is_object(), "{name}");
                let annotations = cluster["serviceAccountTemplate"]["metadata"]["annotations"]
                    .as_object()
                    .unwrap();
                assert_eq!(annotations.len(), 1, "{name}: {annotations:?}");
                assert_eq!(annotations[annotation], identity, "{name}");
                let plugin = &cluster["plugins"][0];
                assert_eq!(plugin["isWALArchiver"], true);
                assert_eq!(
                    plugin["parameters"]["barmanObjectName"],
                    one(&objects, "ObjectStore")["metadata"]["name"]
                );
                let backup = &one(&objects, "ScheduledBackup")["spec"];
                assert_eq!(backup["method"], "plugin");
                let schedule = backup["schedule"].as_str().unwrap();
                assert_eq!(schedule.split_whitespace().count(), 6, "{name}: {schedule}");
                assert!(
                    schedule.ends_with(s["backup"]["schedule"].as_str().unwrap()),
                    "{name}: {schedule}"
                );
            }
        }
        assert!(of_kind(&objects, "PodMonitor").is_empty(), "{name}");
    }
}

#[test]
fn monitoring_adds_pod_monitors_for_instances_and_pooler() {
    let dir = profiles_dir();
    std::fs::write(
        dir.path().join("watched.yaml"),
        "extends: cnpg-gcp-medium\nmonitoring:\n  service_monitor: true\n",
    )
    .unwrap();
    let objects = build(dir.path(), "watched");
    let monitors = of_kind(&objects, "PodMonitor");
    let selected: Vec<String> = monitors
        .iter()
        .map(|m| m["spec"]["selector"]["matchLabels"].to_string())
        .collect();
    assert_eq!(monitors.len(), 2, "{selected:?}");
    assert!(selected.iter().any(|s| s.contains("cnpg.io/cluster")));
    assert!(selected.iter().any(|s| s.contains("cnpg.io/poolerName")));
}

#[test]
fn a_single_instance_has_no_disruption_budget() {
    let dir = profiles_dir();
    let objects = build(dir.path(), "cnpg-aws-medium");
    assert_eq!(one(&objects, "Cluster")["spec"]["instances"], 1);
    assert_eq!(one(&objects, "Cluster")["spec"]["enablePDB"], false);
}

#[test]
fn impossible_cloudnative_pg_settings_are_refused_with_file_line_and_key() {
    let cases = [
        (
            "extends: dev-small\nengine: cloudnative-pg\nbackup:\n  enabled: true\n",
            "bad.yaml:2: engine: cloudnative-pg with backup.enabled needs backup.offsite",
        ),
        (
            "extends: aws-small\nengine: cloudnative-pg\ncloudnative_pg:\n  backup_destination: ftp://x/y\n",
            "bad.yaml:4: cloudnative_pg.backup_destination: \"ftp://x/y\" is not an object-store URL",
        ),
        (
            "extends: dev-small\nengine: cloudnative-pg\ncloudnative_pg:\n  image: ghcr.io/cloudnative-pg/postgresql:17.6\n",
            "bad.yaml:4: cloudnative_pg.image: cloudnative_pg.image ghcr.io/cloudnative-pg/postgresql:17.6 runs PostgreSQL 17 but image postgres:18 runs 18",
        ),
        ("extends: dev-small\nengine: cloudnativepg\n", "bad.yaml:2:"),
        // The operator's webhook refuses a WAL volume max_wal_size fills
        // (tests/operators.rs sends it the same Cluster).
        (
            "extends: dev-small\nengine: cloudnative-pg\ncloudnative_pg:\n  wal_size: 2Gi\n",
            "bad.yaml:4: cloudnative_pg.wal_size: 2Gi does not hold max_wal_size 2560MB",
        ),
        (
            "extends: gcp-small\nengine: cloudnative-pg\ncloudnative_pg:\n  backup_destination: gs://b/p\n  backup_endpoint: http://minio:9000\n",
            "bad.yaml:5: cloudnative_pg.backup_endpoint: an endpoint is for S3-compatible servers",
        ),
    ];
    for (yaml, expected) in cases {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("bad.yaml"), yaml).unwrap();
        let output = palgen(&[
            "--profiles-dir",
            dir.path().to_str().unwrap(),
            "build",
            "--profile",
            "bad",
        ]);
        let error = stderr(&output);
        assert_eq!(output.status.code(), Some(2), "{yaml}: {error}");
        assert_eq!(error.lines().count(), 1, "{error}");
        assert!(
            error.contains(&format!("{}/{expected}", dir.path().display())),
            "for {yaml:?}\n got: {error}\nwant: {expected}"
        );
    }
}

#[test]
fn migrate_imports_the_database_from_the_running_statefulset_server() {
    let dir = profiles_dir();
    let profiles = dir.path().to_str().unwrap();
    let migrated = palgen(&[
        "--profiles-dir",
        profiles,
        "migrate",
        "--profile",
        "cnpg-aws-large",
    ]);
    assert!(migrated.status.success(), "{}", stderr(&migrated));
    let text = stdout(&migrated);
    assert!(text.starts_with("# Generated by palgen"), "{text}");
    let migration: serde_json::Value = serde_saphyr::from_str(&text).unwrap();

    // What the statefulset deployment it replaces runs: its Service, the
    // Secret and key of its superuser password, its NetworkPolicy.
    let old = common::objects_by_identity(&stdout(&palgen(&["build", "--profile", "aws-large"])));
    let statefulset = &old["StatefulSet/paless/postgres"];
    let service = statefulset["spec"]["serviceName"].as_str().unwrap();
    assert!(old.contains_key(&format!("Service/paless/{service}")));
    let container = &statefulset["spec"]["template"]["spec"]["containers"][0];
    let password_file = container["env"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == "POSTGRES_PASSWORD_FILE")
        .expect("the superuser password comes from a file")["value"]
        .as_str()
        .unwrap()
        .to_owned();
    let (mount_dir, key) = password_file.rsplit_once('/').unwrap();
    let volume = container["volumeMounts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["mountPath"] == mount_dir)
        .unwrap()["name"]
        .clone();
    let secret = statefulset["spec"]["template"]["spec"]["volumes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["name"] == volume)
        .unwrap()["secret"]["secretName"]
        .clone();

    let spec = &migration["spec"];
    let import = &spec["bootstrap"]["initdb"]["import"];
    assert_eq!(import["type"], "microservice");
    assert_eq!(import["databases"], serde_json::json!(["paperless"]));
    let source = import["source"]["externalCluster"].as_str().unwrap();
    let external = spec["externalClusters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == source)
        .expect("the import's source is an external cluster");
    assert_eq!(
        external["connectionParameters"]["host"],
        format!("{service}.paless.svc")
    );
    assert_eq!(external["connectionParameters"]["user"], "postgres");
    assert_eq!(external["connectionParameters"]["dbname"], "paperless");
    assert_eq!(external["password"]["name"], secret);
    assert_eq!(external["password"]["key"], key);

    // The old NetworkPolicy must admit the new pods, or the import cannot
    // connect: the operator copies the inherited labels onto them.
    let admitted = &old["NetworkPolicy/paless/postgres"]["spec"]["ingress"][0]["from"][0]["podSelector"]
        ["matchLabels"];
    for (label, value) in admitted.as_object().unwrap() {
        assert_eq!(
            &spec["inheritedMetadata"]["labels"][label], value,
            "{label}"
        );
    }

    // Apart from the bootstrap, the Cluster the overlay applies later.
    let built = build(dir.path(), "cnpg-aws-large");
    let steady = one(&built, "Cluster").clone();
    let mut migration = migration.clone();
    migration["spec"]["bootstrap"]["initdb"]
        .as_object_mut()
        .unwrap()
        .remove("import");
    migration["spec"]
        .as_object_mut()
        .unwrap()
        .remove("externalClusters");
    assert_eq!(migration, steady);

    let refused = palgen(&["migrate", "--profile", "aws-large"]);
    assert_eq!(refused.status.code(), Some(2));
    assert_eq!(stderr(&refused).lines().count(), 1, "{}", stderr(&refused));
    assert!(
        stderr(&refused).contains("engine is statefulset"),
        "{}",
        stderr(&refused)
    );
}

#[test]
fn show_diff_and_the_overlay_readme_name_the_engine() {
    let dir = profiles_dir();
    let profiles = dir.path().to_str().unwrap();
    let shown = stdout(&palgen(&[
        "--profiles-dir",
        profiles,
        "show",
        "--profile",
        "cnpg-gcp-large",
    ]));
    assert!(shown.contains("engine: cloudnative-pg"), "{shown}");
    assert!(
        shown.contains("destination: gs://paless-backups/postgres"),
        "{shown}"
    );
    assert!(
        shown.contains(&format!(
            "engine: {}/cnpg-gcp-large.yaml:2",
            dir.path().display()
        )),
        "show names where the engine was set:\n{shown}"
    );
    let builtin = stdout(&palgen(&["show", "--profile", "gcp-large"]));
    assert!(builtin.contains("engine: statefulset"), "{builtin}");

    let diff = stdout(&palgen(&[
        "--profiles-dir",
        profiles,
        "diff",
        "gcp-large",
        "cnpg-gcp-large",
    ]));
    assert!(
        diff.contains("statefulset") && diff.contains("cloudnative-pg"),
        "{diff}"
    );
    assert!(
        diff.contains("Cluster") && diff.contains("StatefulSet"),
        "{diff}"
    );

    let out = tempfile::tempdir().unwrap();
    let rendered = palgen(&[
        "--profiles-dir",
        profiles,
        "render",
        "--profile",
        "cnpg-gcp-large",
        "--out",
        out.path().to_str().unwrap(),
    ]);
    assert!(rendered.status.success(), "{}", stderr(&rendered));
    let readme =
        std::fs::read_to_string(out.path().join("overlays/cnpg-gcp-large/README.md")).unwrap();
    assert!(
        readme.contains("| engine | CloudNativePG: Cluster `postgres-cluster`"),
        "{readme}"
    );
    assert!(readme.contains("Pooler postgres"), "{readme}");
    assert!(!readme.contains("StatefulSet"), "{readme}");
    assert!(
        readme.contains("palgen migrate --profile cnpg-gcp-large"),
        "{readme}"
    );
}

/// Every form of schedule Kubernetes accepts in a CronJob (and so in
/// `backup.schedule`) but `@every`, which palgen refuses on this engine.
const SCHEDULE_FORMS: [&str; 17] = [
    "30 2 * * *",
    "*/15 * * * *",
    "0 0 1 jan,jul *",
    "0 3 * * mon-fri",
    "0 3 * * SUN",
    "0 0 ? * ?",
    "5/15 * * * *",
    "0 0 29 2 *",
    "0 0 30 2 1",
    "0 1-5/2 * * *",
    "@yearly",
    "@annually",
    "@monthly",
    "@weekly",
    "@daily",
    "@midnight",
    "@hourly",
];

/// The ScheduledBackup schedule palgen writes for each form, fed with the
/// form itself to a Go program that parses the two as Kubernetes and
/// CloudNativePG 1.30 do (robfig/cron v3's standard parser; v1's Parse and
/// the webhook's six-field warning) and compares their next activations.
#[test]
fn every_kubernetes_schedule_form_is_a_six_field_cloudnative_pg_schedule() {
    let dir = tempfile::tempdir().unwrap();
    let mut pairs = String::new();
    for (index, form) in SCHEDULE_FORMS.iter().enumerate() {
        let name = format!("schedule-{index}");
        std::fs::write(
            dir.path().join(format!("{name}.yaml")),
            format!(
                "extends: aws-small\nengine: cloudnative-pg\ncloudnative_pg:\n  backup_destination: s3://paless-backups/postgres\nbackup:\n  schedule: \"{form}\"\n"
            ),
        )
        .unwrap();
        let objects = build(dir.path(), &name);
        let schedule = one(&objects, "ScheduledBackup")["spec"]["schedule"]
            .as_str()
            .unwrap()
            .to_owned();
        pairs.push_str(&format!("{form}\t{schedule}\n"));
    }
    let checked = go_schedule_check(&pairs);
    assert!(
        checked.status.success(),
        "{}{}",
        stdout(&checked),
        stderr(&checked)
    );
    assert_eq!(
        stdout(&checked)
            .lines()
            .filter(|l| l.ends_with("\tok"))
            .count(),
        SCHEDULE_FORMS.len(),
        "{}",
        stdout(&checked)
    );
}

/// The checker refuses what CloudNativePG refuses or warns about, and a
/// schedule that fires at other instants: the comparison can fail.
#[test]
fn the_schedule_check_catches_a_schedule_cloudnative_pg_misreads() {
    let checked =
        go_schedule_check("@daily\t0 @daily\n30 2 * * *\t30 2 * * *\n0 3 * * *\t0 0 3 * * 1\n");
    assert!(!checked.status.success());
    let report = stdout(&checked);
    let lines: Vec<&str> = report.lines().collect();
    assert!(lines[0].contains("FAIL CloudNativePG refuses"), "{report}");
    assert!(lines[1].contains("FAIL CloudNativePG warns"), "{report}");
    assert!(lines[2].contains("FAIL activation"), "{report}");
}

fn go_schedule_check(pairs: &str) -> std::process::Output {
    use std::io::Write as _;
    let mut child = std::process::Command::new(common::tool("go"))
        .args(["run", "."])
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/cnpg-cron"))
        .env("GOFLAGS", "-buildvcs=false")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("go runs; ./scripts/test.sh installs it");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(pairs.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

#[test]
fn an_s3_compatible_store_takes_the_access_keys_of_a_secret() {
    let dir = profiles_dir();
    std::fs::write(dir.path().join("minio.yaml"), MINIO_PROFILE).unwrap();
    let objects = build(dir.path(), "minio");
    let configuration = &one(&objects, "ObjectStore")["spec"]["configuration"];
    assert_eq!(configuration["endpointURL"], "http://minio.minio.svc:9000");
    assert_eq!(
        configuration["s3Credentials"],
        serde_json::json!({
            "accessKeyId": {"name": "minio-backup-credentials", "key": "access-key-id"},
            "secretAccessKey": {"name": "minio-backup-credentials", "key": "secret-access-key"},
        })
    );
    // No workload identity: no annotation on the instances' ServiceAccount.
    assert!(
        one(&objects, "Cluster")["spec"]["serviceAccountTemplate"].is_null(),
        "{objects:?}"
    );
}

/// Each `tls.source` maps to the Cluster's `certificates`: the Secret the
/// profile's TLS settings make (cert-manager, with the names of the
/// Cluster's and the Pooler's Services) or the user creates.
#[test]
fn tls_settings_become_the_clusters_certificates() {
    let dir = profiles_dir();
    for (name, tls, certificate_issuer) in [
        ("private-ca", "", Some("postgres-ca")),
        (
            "issuer",
            "  source: issuer\n  issuer:\n    name: letsencrypt\n",
            Some("letsencrypt"),
        ),
        ("secret", "  source: secret\n  secret: acme-tls\n", None),
    ] {
        std::fs::write(
            dir.path().join(format!("{name}.yaml")),
            format!("extends: cnpg-aws-large\ntls:\n  enabled: true\n{tls}"),
        )
        .unwrap();
        let objects = build(dir.path(), name);
        let certificates = &one(&objects, "Cluster")["spec"]["certificates"];
        let secret = certificates["serverTLSSecret"].as_str().unwrap();
        assert_eq!(certificates["serverCASecret"], secret, "{name}");
        let issued: Vec<&serde_json::Value> = of_kind(&objects, "Certificate")
            .into_iter()
            .filter(|c| c["spec"]["secretName"] == secret)
            .collect();
        match certificate_issuer {
            Some(issuer) => {
                let [certificate] = issued[..] else {
                    panic!("{name}: {issued:?}")
                };
                assert_eq!(certificate["spec"]["issuerRef"]["name"], issuer, "{name}");
                let dns_names = certificate["spec"]["dnsNames"].as_array().unwrap();
                for host in [
                    "postgres-cluster-rw.paless.svc",
                    "postgres-cluster-ro.paless.svc",
                    "postgres-cluster-r.paless.svc",
                    "postgres.paless.svc",
                ] {
                    assert!(dns_names.iter().any(|n| n == host), "{name}: {host}");
                }
            }
            None => {
                assert_eq!(secret, "acme-tls");
                assert!(of_kind(&objects, "Certificate").is_empty(), "{name}");
            }
        }
    }
    std::fs::write(
        dir.path().join("plain.yaml"),
        "extends: cnpg-aws-large\ntls:\n  enabled: false\n",
    )
    .unwrap();
    let plain = build(dir.path(), "plain");
    assert!(one(&plain, "Cluster")["spec"]["certificates"].is_null());
    assert!(of_kind(&plain, "Certificate").is_empty());
}

/// The overlay README of a cloudnative-pg profile names what the profile
/// still needs from its user: a key to set, or the Secrets to create.
#[test]
fn the_overlay_readme_names_what_the_profile_still_needs() {
    let dir = profiles_dir();
    std::fs::write(dir.path().join("minio.yaml"), MINIO_PROFILE).unwrap();
    std::fs::write(
        dir.path().join("no-identity.yaml"),
        "extends: aws-large\nengine: cloudnative-pg\ncloudnative_pg:\n  backup_destination: s3://acme/postgres\ntls:\n  source: secret\n  secret: acme-tls\n",
    )
    .unwrap();
    let out = tempfile::tempdir().unwrap();
    let rendered = palgen(&[
        "--profiles-dir",
        dir.path().to_str().unwrap(),
        "render",
        "--profile",
        "minio",
        "--profile",
        "no-identity",
        "--out",
        out.path().to_str().unwrap(),
        "-q",
    ]);
    assert!(rendered.status.success(), "{}", stderr(&rendered));
    let readme = |name: &str| {
        std::fs::read_to_string(out.path().join(format!("overlays/{name}/README.md"))).unwrap()
    };
    let needs = |name: &str| {
        readme(name)
            .lines()
            .find(|l| l.starts_with("| needs from you |"))
            .unwrap_or_else(|| panic!("{name}: {}", readme(name)))
            .to_owned()
    };
    assert!(
        needs("minio").contains("Secret `minio-backup-credentials` with keys `access-key-id` and `secret-access-key` for `http://minio.minio.svc:9000`"),
        "{}",
        needs("minio")
    );
    let no_identity = needs("no-identity");
    assert!(
        no_identity.contains("**set `cloudnative_pg.backup_identity` in your profile**"),
        "{no_identity}"
    );
    assert!(
        no_identity.contains("Secret `acme-tls` with `tls.crt`, `tls.key` and `ca.crt`"),
        "{no_identity}"
    );
}
