//! The ranges PostgreSQL accepts for the numeric parameters palgen writes
//! into postgresql.conf, as `pg_settings` reports them (`min_val`,
//! `max_val`, `unit`). A test compares this table with a real server's
//! `pg_settings`, and checks that every numeric parameter of every
//! generated postgresql.conf is in it, so the table cannot drift.
//!
//! This file depends on nothing else of palgen, so that test can include it.

/// One parameter's range, in the parameter's own unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PgRange {
    pub name: &'static str,
    pub min: i64,
    pub max: i64,
    /// `pg_settings.unit`: empty for plain numbers.
    pub unit: &'static str,
}

const fn range(name: &'static str, min: i64, max: i64, unit: &'static str) -> PgRange {
    PgRange {
        name,
        min,
        max,
        unit,
    }
}

/// PostgreSQL's `INT_MAX`, the upper bound of most integer parameters.
const INT_MAX: i64 = 2_147_483_647;
/// PostgreSQL's `MAX_BACKENDS`.
const MAX_BACKENDS: i64 = 262_143;

pub const PG_RANGES: [PgRange; 20] = [
    range("effective_cache_size", 1, INT_MAX, "8kB"),
    range("effective_io_concurrency", 0, 1000, ""),
    range("log_min_duration_statement", -1, INT_MAX, "ms"),
    range("log_temp_files", -1, INT_MAX, "kB"),
    range("maintenance_work_mem", 1024, INT_MAX, "kB"),
    range("max_connections", 1, MAX_BACKENDS, ""),
    range("max_parallel_maintenance_workers", 0, 1024, ""),
    range("max_parallel_workers", 0, 1024, ""),
    range("max_parallel_workers_per_gather", 0, 1024, ""),
    range("max_replication_slots", 0, MAX_BACKENDS, ""),
    range("max_slot_wal_keep_size", -1, INT_MAX, "MB"),
    range("max_wal_senders", 0, MAX_BACKENDS, ""),
    range("max_wal_size", 2, INT_MAX, "MB"),
    range("max_worker_processes", 0, MAX_BACKENDS, ""),
    range("min_wal_size", 2, INT_MAX, "MB"),
    range("port", 1, 65535, ""),
    range("shared_buffers", 16, 1_073_741_823, "8kB"),
    range("superuser_reserved_connections", 0, MAX_BACKENDS, ""),
    range("wal_buffers", -1, 262_143, "8kB"),
    range("work_mem", 64, INT_MAX, "kB"),
];

/// The range of a parameter palgen writes.
pub fn pg_range(name: &str) -> Option<&'static PgRange> {
    PG_RANGES.iter().find(|range| range.name == name)
}

impl PgRange {
    /// Bytes in one of the parameter's units, for memory parameters.
    pub fn unit_bytes(&self) -> Option<u64> {
        match self.unit {
            "kB" => Some(1 << 10),
            "8kB" => Some(8 << 10),
            "MB" => Some(1 << 20),
            _ => None,
        }
    }

    /// Whether a value in the parameter's unit is accepted.
    pub fn accepts(&self, value: i64) -> bool {
        (self.min..=self.max).contains(&value)
    }
}
