//! The PrometheusRule that comes with the ServiceMonitor: which alerts a
//! profile gets, and their thresholds from its settings.

mod common;

use std::collections::BTreeMap;

use common::{objects_by_identity, palgen, stderr, stdout};
use serde_json::Value;

/// `palgen build` of `extends: BASE` with the ServiceMonitor on; the
/// alerts of its PrometheusRule by name, as `(expr, for)`.
fn alerts(base: &str) -> BTreeMap<String, (String, String)> {
    let dir = tempfile::tempdir().expect("temporary directory");
    std::fs::write(
        dir.path().join("watched.yaml"),
        format!("extends: {base}\nmonitoring:\n  service_monitor: true\n"),
    )
    .expect("write a profile");
    let output = palgen(&[
        "--profiles-dir",
        dir.path().to_str().expect("a UTF-8 path"),
        "build",
        "--profile",
        "watched",
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    let objects = objects_by_identity(&stdout(&output));
    let rule = objects
        .get("PrometheusRule/paless/postgres")
        .unwrap_or_else(|| panic!("{base} with a ServiceMonitor has no PrometheusRule"));
    rule["spec"]["groups"][0]["rules"]
        .as_array()
        .expect("rules")
        .iter()
        .map(|rule: &Value| {
            let text = |key: &str| rule[key].as_str().expect("a string").to_owned();
            (text("alert"), (text("expr"), text("for")))
        })
        .collect()
}

#[test]
fn aws_large_alerts_on_backups_slots_lag_and_the_exporter() {
    let alerts = alerts("aws-large");
    assert_eq!(
        alerts.keys().collect::<Vec<_>>(),
        [
            "PostgresBackupTooOld",
            "PostgresDown",
            "PostgresExporterDown",
            "PostgresReplicaLag",
            "PostgresReplicationSlotWalRetained",
        ]
    );
    let backup = &alerts["PostgresBackupTooOld"].0;
    assert!(
        backup.contains("time() - max(kube_cronjob_status_last_successful_time{namespace=\"paless\", cronjob=\"postgres-backup\"}) > 93600")
            && backup.contains("or absent("),
        "26 hours without a successful backup, or never one: {backup}"
    );
    // aws-large keeps at most 10Gi for a slot: alert with a fifth left.
    assert_eq!(
        alerts["PostgresReplicationSlotWalRetained"].0,
        "pg_replication_slot_safe_wal_size_bytes{namespace=\"paless\"} < 2147483648"
    );
    assert_eq!(
        alerts["PostgresReplicaLag"].0,
        "pg_replication_lag_seconds{namespace=\"paless\"} > 300"
    );
    assert_eq!(
        alerts["PostgresExporterDown"].0,
        "up{job=\"postgres\", namespace=\"paless\"} == 0 or absent(up{job=\"postgres\", namespace=\"paless\"})"
    );
}

#[test]
fn alerts_follow_the_profile_features() {
    // No replicas: no slot or lag alerts.
    let small = alerts("aws-small");
    assert!(small.contains_key("PostgresBackupTooOld"), "{small:?}");
    assert!(!small.contains_key("PostgresReplicaLag"), "{small:?}");
    // No backups on dev: no backup alert.
    let dev = alerts("dev-small");
    assert!(!dev.contains_key("PostgresBackupTooOld"), "{dev:?}");
    assert!(dev.contains_key("PostgresExporterDown"), "{dev:?}");
}
