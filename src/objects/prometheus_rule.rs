//! The Prometheus Operator's PrometheusRule beside the ServiceMonitor: the
//! failures that otherwise show only on a bad day. Backups that stopped
//! succeeding, a replication slot about to lose its replica, a lagging
//! replica, and the exporter or the database gone from the metrics.

use std::collections::BTreeMap;

use serde::Serialize;

use super::custom_resource::CustomResource;
use super::labels::DATABASE;
use crate::contract;
use crate::model::settings::Settings;

pub type PrometheusRule = CustomResource<Spec>;

/// The bound: a daily backup may be two hours late before it alerts.
const BACKUP_MAX_AGE_SECONDS: u64 = 26 * 3600;
/// A slot alerts when less than this share (1/5) of max_slot_wal_keep_size
/// is left before PostgreSQL invalidates it and the replica must be rebuilt.
const SLOT_SAFE_WAL_SHARE: u64 = 5;
const REPLICA_LAG_SECONDS: u64 = 300;

#[derive(Serialize)]
pub struct Spec {
    groups: Vec<Group>,
}

#[derive(Serialize)]
struct Group {
    name: &'static str,
    rules: Vec<Rule>,
}

#[derive(Serialize)]
struct Rule {
    alert: &'static str,
    expr: String,
    #[serde(rename = "for")]
    for_: &'static str,
    labels: BTreeMap<&'static str, &'static str>,
    annotations: BTreeMap<&'static str, String>,
}

fn rule(alert: &'static str, expr: String, for_: &'static str, summary: String) -> Rule {
    Rule {
        alert,
        expr,
        for_,
        labels: BTreeMap::from([("severity", "critical")]),
        annotations: BTreeMap::from([("summary", summary)]),
    }
}

pub fn build(settings: &Settings) -> PrometheusRule {
    let namespace = format!("namespace=\"{}\"", settings.namespace);
    // The ServiceMonitor's job label is the Service's name.
    let exporter = format!("up{{job=\"{}\", {namespace}}}", contract::DATABASE_SERVICE);
    let mut rules = vec![
        rule(
            "PostgresExporterDown",
            format!("{exporter} == 0 or absent({exporter})"),
            "5m",
            "Prometheus cannot scrape the postgres exporter: no alert below can fire".to_owned(),
        ),
        rule(
            "PostgresDown",
            format!("pg_up{{{namespace}}} == 0"),
            "2m",
            "The postgres exporter cannot reach the database".to_owned(),
        ),
    ];
    if settings.backup.enabled {
        let last_success = format!(
            "kube_cronjob_status_last_successful_time{{{namespace}, cronjob=\"{}\"}}",
            contract::BACKUP_JOB
        );
        rules.push(rule(
            "PostgresBackupTooOld",
            format!(
                "time() - max({last_success}) > {BACKUP_MAX_AGE_SECONDS} or absent({last_success})"
            ),
            "15m",
            format!(
                "No successful run of CronJob {} for {}h (kube-state-metrics' last successful time)",
                contract::BACKUP_JOB,
                BACKUP_MAX_AGE_SECONDS / 3600
            ),
        ));
    }
    if settings.replication.read_replicas > 0 {
        let keep = settings.replication.max_slot_wal_keep_size;
        let threshold = keep.as_bytes() / SLOT_SAFE_WAL_SHARE;
        rules.push(rule(
            "PostgresReplicationSlotWalRetained",
            format!("pg_replication_slot_safe_wal_size_bytes{{{namespace}}} < {threshold}"),
            "5m",
            format!(
                "Replication slot {{{{ $labels.slot_name }}}} holds WAL within a fifth of max_slot_wal_keep_size {keep}: past it the replica is lost and must be re-cloned"
            ),
        ));
        rules.push(rule(
            "PostgresReplicaLag",
            format!("pg_replication_lag_seconds{{{namespace}}} > {REPLICA_LAG_SECONDS}"),
            "5m",
            format!(
                "Replica {{{{ $labels.pod }}}} replays WAL more than {REPLICA_LAG_SECONDS}s behind the primary"
            ),
        ));
    }
    PrometheusRule {
        api_version: "monitoring.coreos.com/v1",
        kind: "PrometheusRule",
        metadata: DATABASE.metadata(DATABASE.app),
        spec: Spec {
            groups: vec![Group {
                name: "paless-postgres",
                rules,
            }],
        },
    }
}
