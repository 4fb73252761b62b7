//! What the database container's memory limit must hold, and PostgreSQL's
//! shared memory as `postgres -C shared_memory_size` reports it.
//!
//! The estimate is a formula fitted to PostgreSQL 15's own computation and
//! rounded up: shared_buffers plus its buffer descriptors and hash tables
//! (2.5%), the WAL buffers, a fixed part, and the per-process state of every
//! backend PostgreSQL sizes shared memory for (lock table, PGPROC, ...).
//! The server tests prove it is never below what the server computes and at
//! most 3% + 16MB above it.

use serde::Serialize;

use crate::model::derived::{Parameter, Tuning, parameter};
use crate::model::quantity::Bytes;
use crate::model::settings::Settings;

/// Shared memory that does not grow with any setting palgen writes.
const FIXED_SHARED_MEMORY: Bytes = Bytes::mebibytes(12);
/// Shared memory per backend slot (PGPROC, lock table entries at the
/// default max_locks_per_transaction of 64, snapshots, ...).
const PER_BACKEND_SHARED_MEMORY: u64 = 50 << 10;
/// Backend slots beyond max_connections and the background workers: the
/// WAL senders (10, also where palgen does not write max_wal_senders), the
/// autovacuum workers (3) and their launcher, and auxiliary processes
/// (checkpointer, WAL writer, I/O workers of PostgreSQL 18, ...).
const OTHER_BACKENDS: u64 = 10 + 3 + 1 + 8;
/// PostgreSQL's default max_worker_processes, where palgen leaves it.
const DEFAULT_WORKER_PROCESSES: u64 = 8;

#[derive(Debug, Clone, Serialize)]
pub struct MemoryNeed {
    /// PostgreSQL's main shared memory segment, estimated.
    pub shared_memory: Parameter,
    /// All the limit must hold: shared memory, /dev/shm, one maintenance
    /// operation and one work_mem per connection.
    pub total: Parameter,
    #[serde(skip)]
    pub explained: String,
}

pub fn need(settings: &Settings, tuning: &Tuning) -> MemoryNeed {
    let shared_buffers = tuning.shared_buffers.amount.as_bytes();
    let workers = tuning
        .parallel
        .as_ref()
        .map_or(DEFAULT_WORKER_PROCESSES, |p| p.max_worker_processes);
    let max_connections = u64::from(settings.connections.max_connections);
    let backends = max_connections + workers + OTHER_BACKENDS;
    let shared = [
        shared_buffers,
        shared_buffers / 40,
        tuning.wal_buffers.amount.as_bytes(),
        FIXED_SHARED_MEMORY.as_bytes(),
        backends.saturating_mul(PER_BACKEND_SHARED_MEMORY),
    ]
    .into_iter()
    .fold(0u64, u64::saturating_add);
    let shared = whole_mb_up(shared);
    let shm = settings.postgres.shm_size;
    let maintenance = tuning.maintenance_work_mem.amount;
    let work_mem = tuning.work_mem.amount;
    let connections_work_mem =
        Bytes::from_bytes(max_connections.saturating_mul(work_mem.as_bytes()));
    let total = Bytes::from_bytes(
        shared
            .as_bytes()
            .saturating_add(shm.as_bytes())
            .saturating_add(maintenance.as_bytes())
            .saturating_add(connections_work_mem.as_bytes()),
    );
    let explained = format!(
        "shared memory {} + /dev/shm {shm} + maintenance_work_mem {} + max_connections {max_connections} x work_mem {} = {}",
        shared.to_postgres_units(),
        maintenance.to_postgres_units(),
        work_mem.to_postgres_units(),
        whole_mb_up(total.as_bytes()).to_postgres_units(),
    );
    MemoryNeed {
        shared_memory: parameter(
            shared,
            format!(
                "shared_buffers {} x 1.025 + wal_buffers {} + 12MB + 50kB x {backends} backends (max_connections {max_connections} + {workers} workers + {OTHER_BACKENDS} others)",
                tuning.shared_buffers.value, tuning.wal_buffers.value
            ),
        ),
        total: parameter(
            whole_mb_up(total.as_bytes()),
            format!(
                "{explained}, at most the memory limit {}",
                settings.resources.limits.memory
            ),
        ),
        explained,
    }
}

fn whole_mb_up(bytes: u64) -> Bytes {
    Bytes::from_bytes(bytes.div_ceil(1 << 20).saturating_mul(1 << 20))
}
