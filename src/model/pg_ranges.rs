//! The ranges PostgreSQL accepts for the numeric parameters palgen writes
//! into postgresql.conf, as `pg_settings` reports them (`min_val`,
//! `max_val`, `unit`), by major. A test compares this table with the
//! `pg_settings` of real servers (15 and 18), and checks that every numeric
//! parameter of every generated postgresql.conf is in it, so the table
//! cannot drift.
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

/// The ranges of PostgreSQL 15, the oldest major palgen supports.
const PG15_RANGES: [PgRange; 21] = [
    range("autovacuum_work_mem", -1, INT_MAX, "kB"),
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

/// Ranges that changed, and the major they hold from. 16 and 17 are not
/// measured here: they keep 15's ranges, the narrower ones.
const CHANGED_RANGES: [(u32, PgRange); 1] =
    [(18, range("maintenance_work_mem", 64, INT_MAX, "kB"))];

/// Parameters that are new, and the major that introduced them.
const ADDED_RANGES: [(u32, PgRange); 1] =
    [(18, range("idle_replication_slot_timeout", 0, INT_MAX, "s"))];

/// The ranges of the parameters palgen writes, for a server of `major`.
pub fn pg_ranges(major: u32) -> Vec<PgRange> {
    PG15_RANGES
        .iter()
        .map(|range| {
            CHANGED_RANGES
                .iter()
                .rev()
                .find(|(since, changed)| changed.name == range.name && major >= *since)
                .map_or(*range, |(_, changed)| *changed)
        })
        .chain(
            ADDED_RANGES
                .iter()
                .filter(|(since, _)| major >= *since)
                .map(|(_, added)| *added),
        )
        .collect()
}

/// The range of a parameter palgen writes, for a server of `major`.
pub fn pg_range(name: &str, major: u32) -> Option<PgRange> {
    pg_ranges(major)
        .into_iter()
        .find(|range| range.name == name)
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
