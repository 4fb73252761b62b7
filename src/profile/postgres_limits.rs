//! Refusals of settings PostgreSQL itself would refuse, or that would not
//! fit the pod: every numeric parameter palgen writes within PostgreSQL's
//! range, the memory limit able to hold what the server needs, the WAL
//! within its share of the data volume.

use super::blame::Blame;
use super::error::SettingsError;
use crate::model::derived::{Derived, WAL_SIZE_FLOOR, WAL_VOLUME_SHARE};
use crate::model::pg_ranges::pg_range;
use crate::model::quantity::Bytes;
use crate::model::server_processes::ServerProcesses;
use crate::model::settings::Settings;

/// A value palgen writes into postgresql.conf, and the keys it comes from.
struct Written {
    parameter: &'static str,
    /// In bytes for memory parameters, else the number itself.
    value: i128,
    /// How the value came about, for the message.
    rule: String,
    keys: &'static [&'static str],
}

const MEMORY_KEYS: &[&str] = &["resources.limits.memory"];
const WAL_KEYS: &[&str] = &["storage.size", "postgres.max_wal_size"];

fn written(s: &Settings, d: &Derived) -> Vec<Written> {
    let t = &d.postgresql;
    let memory = |parameter, p: &crate::model::derived::Parameter, keys| Written {
        parameter,
        value: i128::from(p.amount.as_bytes()),
        rule: format!("{}: {}", p.value, p.rule),
        keys,
    };
    let number = |parameter, value: u64, rule: String, keys| Written {
        parameter,
        value: i128::from(value),
        rule,
        keys,
    };
    let mut all = vec![
        number(
            "max_connections",
            u64::from(s.connections.max_connections),
            "connections.max_connections".to_owned(),
            &["connections.max_connections"],
        ),
        number(
            "superuser_reserved_connections",
            u64::from(s.connections.superuser_reserved),
            "connections.superuser_reserved".to_owned(),
            &["connections.superuser_reserved"],
        ),
        number(
            "log_min_duration_statement",
            u64::from(s.postgres.slow_query_ms),
            "postgres.slow_query_ms".to_owned(),
            &["postgres.slow_query_ms"],
        ),
        memory("shared_buffers", &t.shared_buffers, MEMORY_KEYS),
        memory("effective_cache_size", &t.effective_cache_size, MEMORY_KEYS),
        memory("maintenance_work_mem", &t.maintenance_work_mem, MEMORY_KEYS),
        memory(
            "work_mem",
            &t.work_mem,
            &["resources.limits.memory", "connections.max_connections"],
        ),
        memory("wal_buffers", &t.wal_buffers, MEMORY_KEYS),
        memory("min_wal_size", &t.min_wal_size, WAL_KEYS),
        memory("max_wal_size", &t.max_wal_size, WAL_KEYS),
    ];
    if s.replication.read_replicas > 0 {
        all.push(Written {
            parameter: "max_slot_wal_keep_size",
            value: i128::from(s.replication.max_slot_wal_keep_size.as_bytes()),
            rule: "replication.max_slot_wal_keep_size".to_owned(),
            keys: &["replication.max_slot_wal_keep_size"],
        });
    }
    if let Some(p) = &t.parallel {
        for (parameter, value) in [
            ("max_worker_processes", p.max_worker_processes),
            ("max_parallel_workers", p.max_parallel_workers),
            (
                "max_parallel_workers_per_gather",
                p.max_parallel_workers_per_gather,
            ),
            (
                "max_parallel_maintenance_workers",
                p.max_parallel_maintenance_workers,
            ),
        ] {
            all.push(number(
                parameter,
                value,
                p.rule.clone(),
                &["resources.limits.cpu"],
            ));
        }
    }
    all
}

/// Every numeric parameter palgen writes within PostgreSQL's range.
pub(super) fn validate_ranges(
    s: &Settings,
    d: &Derived,
    r: &Blame<'_>,
) -> Result<(), SettingsError> {
    let major = s.image.major();
    for w in written(s, d) {
        let range = pg_range(w.parameter, major).expect("every written parameter has a range");
        let (value, unit) = match range.unit_bytes() {
            Some(unit_bytes) => (
                w.value / i128::from(unit_bytes),
                format!(" x {}", range.unit),
            ),
            None if range.unit.is_empty() => (w.value, String::new()),
            None => (w.value, format!(" {}", range.unit)),
        };
        let accepted = i64::try_from(value).is_ok_and(|v| range.accepts(v));
        if !accepted {
            let side = if value < i128::from(range.min) {
                "below"
            } else {
                "above"
            };
            return Err(r.invalid(
                r.most_specific(w.keys),
                format!(
                    "gives {} = {value}{unit} ({}), {side} what PostgreSQL {major} accepts: {} to {}{unit}",
                    w.parameter, w.rule, range.min, range.max
                ),
            ));
        }
    }
    let processes = ServerProcesses::of(s, &d.postgresql);
    if processes.counted() > processes.most() {
        let (others, which) = processes.others_counted();
        return Err(r.invalid(
            r.most_specific(&["connections.max_connections", "resources.limits.cpu"]),
            format!(
                "max_connections {} + {} worker processes + {others} ({which}) = {} server processes; PostgreSQL {} accepts at most {}, so max_connections at most {}",
                processes.max_connections,
                processes.workers,
                processes.counted(),
                processes.major,
                processes.most(),
                processes.most_connections()
            ),
        ));
    }
    Ok(())
}

/// The memory limit holds PostgreSQL's shared memory, /dev/shm, and what
/// the backends use privately.
pub(super) fn validate_memory(
    s: &Settings,
    d: &Derived,
    r: &Blame<'_>,
) -> Result<(), SettingsError> {
    let limit = s.resources.limits.memory;
    if d.memory.total.amount > limit {
        let blamed = r.most_specific(&[
            "resources.limits.memory",
            "postgres.shm_size",
            "connections.max_connections",
            "connections.web_pods",
            "connections.worker_pods",
            "connections.per_pod",
        ]);
        return Err(r.invalid(
            blamed,
            format!(
                "the memory limit {limit} cannot hold {}; raise resources.limits.memory, or lower postgres.shm_size or the connections the application opens",
                d.memory.explained
            ),
        ));
    }
    Ok(())
}

/// An explicit max_wal_size within its share of the data volume.
pub(super) fn validate_wal(s: &Settings, r: &Blame<'_>) -> Result<(), SettingsError> {
    let Some(max_wal_size) = s.postgres.max_wal_size else {
        return Ok(());
    };
    let share = Bytes::from_bytes(s.storage.size.as_bytes() / WAL_VOLUME_SHARE);
    if max_wal_size < WAL_SIZE_FLOOR || max_wal_size > share {
        let blamed = r.most_specific(&["storage.size", "postgres.max_wal_size"]);
        return Err(r.invalid(
            blamed,
            format!(
                "max_wal_size {max_wal_size} with a data volume of {}: accepted from {WAL_SIZE_FLOOR} (two WAL segments) to {share} (a quarter of the volume)",
                s.storage.size
            ),
        ));
    }
    Ok(())
}
