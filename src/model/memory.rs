//! What the database container's memory limit must hold, and PostgreSQL's
//! shared memory as `postgres -C shared_memory_size` reports it.
//!
//! The estimate is a formula fitted to the computation of PostgreSQL 15 and
//! 18 and rounded up: shared_buffers plus its buffer descriptors and hash
//! tables (2.5%), the WAL buffers, a fixed part, and the per-process state
//! of every backend slot (lock table, PGPROC, ...). From 17 on, the SLRU
//! caches grow with shared_buffers up to 4GB; from 18 on, every slot also
//! holds up to 64 asynchronous I/O handles. The server tests prove the
//! estimate is never below what either server computes and at most
//! 3% + 16MB above it.

use serde::Serialize;

use crate::model::derived::{Parameter, Tuning, parameter};
use crate::model::quantity::Bytes;
use crate::model::server_processes::{ASYNC_IO_MAJOR, ServerProcesses};
use crate::model::settings::Settings;

/// Shared memory that does not grow with any setting palgen writes.
const FIXED_SHARED_MEMORY: Bytes = Bytes::mebibytes(12);
/// Shared memory per backend slot (PGPROC, lock table entries at the
/// default max_locks_per_transaction of 64, snapshots, ...).
const PER_BACKEND_SHARED_MEMORY: Bytes = Bytes::from_bytes(50 << 10);
/// The major whose SLRU caches (transaction_buffers and its siblings at
/// their default 0) grow with shared_buffers.
const SCALED_SLRU_MAJOR: u32 = 17;
/// They stop growing at this shared_buffers, and take about 1% of it.
const SLRU_GROWTH_CAP: Bytes = Bytes::gibibytes(4);
const SLRU_SHARE_PERCENT: u64 = 1;
/// One asynchronous I/O handle with its iovecs and their data at the
/// default io_max_combine_limit (measured: 527 bytes).
const IO_HANDLE_BYTES: u64 = 544;
/// io_max_concurrency at its default -1: shared_buffers pages per slot,
/// between 1 and 64.
const IO_HANDLES_CAP: u64 = 64;
const PAGE_BYTES: u64 = 8 << 10;

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
    let processes = ServerProcesses::of(settings, tuning);
    let slots = processes.slots();
    let max_connections = processes.max_connections;
    let slru = if processes.major >= SCALED_SLRU_MAJOR {
        shared_buffers.min(SLRU_GROWTH_CAP.as_bytes()) / 100 * SLRU_SHARE_PERCENT
    } else {
        0
    };
    let io_handles = if processes.major >= ASYNC_IO_MAJOR {
        (shared_buffers / PAGE_BYTES / slots.max(1)).clamp(1, IO_HANDLES_CAP)
    } else {
        0
    };
    let per_slot = PER_BACKEND_SHARED_MEMORY.as_bytes() + io_handles * IO_HANDLE_BYTES;
    let shared = [
        shared_buffers,
        shared_buffers / 40,
        slru,
        tuning.wal_buffers.amount.as_bytes(),
        FIXED_SHARED_MEMORY.as_bytes(),
        slots.saturating_mul(per_slot),
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
            shared_memory_rule(tuning, &processes, slru > 0, io_handles),
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

/// How the estimate came about, naming only the terms of this major.
fn shared_memory_rule(
    tuning: &Tuning,
    processes: &ServerProcesses,
    slru: bool,
    io_handles: u64,
) -> String {
    let mut terms = vec![format!(
        "shared_buffers {} x 1.025",
        tuning.shared_buffers.value
    )];
    if slru {
        terms.push(format!(
            "SLRU caches {SLRU_SHARE_PERCENT}% x min(shared_buffers, {})",
            SLRU_GROWTH_CAP.to_postgres_units()
        ));
    }
    terms.push(format!("wal_buffers {}", tuning.wal_buffers.value));
    terms.push(FIXED_SHARED_MEMORY.to_postgres_units());
    let per_backend = PER_BACKEND_SHARED_MEMORY.to_postgres_units();
    let per_slot = if io_handles > 0 {
        format!("({per_backend} + {io_handles} I/O handles x {IO_HANDLE_BYTES}B)")
    } else {
        per_backend
    };
    terms.push(format!(
        "{per_slot} x {} backend slots (max_connections {} + {} workers + {} others)",
        processes.slots(),
        processes.max_connections,
        processes.workers,
        processes.other_slots()
    ));
    terms.join(" + ")
}

fn whole_mb_up(bytes: u64) -> Bytes {
    Bytes::from_bytes(bytes.div_ceil(1 << 20).saturating_mul(1 << 20))
}
