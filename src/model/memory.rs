//! What the database container's memory limit must hold, and PostgreSQL's
//! shared memory as `postgres -C shared_memory_size` reports it.
//!
//! The limit holds that shared memory, /dev/shm, one maintenance operation,
//! the autovacuum workers' memory, and per planned backend: a sort or hash
//! (work_mem x hash_mem_multiplier), its own heap and its page tables for
//! the shared memory it maps.
//!
//! The shared memory estimate is a formula fitted to the computation of PostgreSQL 15 and
//! 18 and rounded up: shared_buffers plus its buffer descriptors and hash
//! tables (2.5%), the WAL buffers, a fixed part, and the per-process state
//! of every backend slot (lock table, PGPROC, ...). From 17 on, the SLRU
//! caches grow with shared_buffers up to 4GB; from 18 on, every slot also
//! holds up to 64 asynchronous I/O handles. The server tests prove the
//! estimate is never below what either server computes and at most
//! 3% + 16MB above it.

use serde::Serialize;

use crate::model::derived::{Budget, Parameter, Tuning, parameter};
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
/// PostgreSQL's default autovacuum_max_workers, which palgen leaves.
pub const AUTOVACUUM_MAX_WORKERS: u64 = 3;
/// PostgreSQL's default hash_mem_multiplier (2.0 since 15), which palgen
/// leaves: a hash table may take this many times work_mem.
const HASH_MEM_MULTIPLIER: u64 = 2;
/// A backend's own heap beyond work_mem (catalog, relation and plan
/// caches): a PostgreSQL 18 backend of aws-large holds about 3.7MB after
/// catalog queries and a sort (the server tests measure it), rounded up.
pub const BACKEND_PRIVATE: Bytes = Bytes::mebibytes(4);
/// Page tables: 8 bytes for each 4kB page of shared memory a backend maps.
const SHARED_BYTES_PER_PAGE_TABLE_BYTE: u64 = 512;
/// PostgreSQL's smallest work_mem.
const WORK_MEM_MINIMUM: Bytes = Bytes::from_bytes(64 << 10);

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

/// What the limit holds besides work_mem, for one profile.
struct Parts {
    processes: ServerProcesses,
    slru: bool,
    io_handles: u64,
    /// The shared memory segment, estimated.
    shared: Bytes,
    /// shared + /dev/shm + maintenance + autovacuum.
    fixed: u64,
    backends: u64,
    /// The application's connections: its clients, at most the pools'.
    application: u64,
    reserved_and_tools: u64,
    wal_senders: u64,
    page_tables: u64,
}

fn parts(settings: &Settings, tuning: &Tuning, budget: &Budget) -> Parts {
    let shared_buffers = tuning.shared_buffers.amount.as_bytes();
    let processes = ServerProcesses::of(settings, tuning);
    let slots = processes.slots();
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
    let fixed = [
        shared.as_bytes(),
        settings.postgres.shm_size.as_bytes(),
        tuning.maintenance_work_mem.amount.as_bytes(),
        tuning
            .autovacuum_work_mem
            .amount
            .as_bytes()
            .saturating_mul(AUTOVACUUM_MAX_WORKERS),
    ]
    .into_iter()
    .fold(0u64, u64::saturating_add);
    // The connections the budget plans for: the application's (through
    // PgBouncer's session pools no more server connections than clients),
    // the superusers', the tools', a WAL sender per replica. Parallel
    // workers share their leader's query: PGTune's work_mem already divides
    // by them.
    let c = &settings.connections;
    let application = budget.server_connections.min(budget.needed_with_margin);
    let reserved_and_tools = u64::from(c.max_connections.saturating_sub(budget.available));
    let wal_senders = u64::from(settings.replication.read_replicas);
    Parts {
        processes,
        slru: slru > 0,
        io_handles,
        shared,
        fixed,
        application: u64::from(application),
        backends: u64::from(application) + reserved_and_tools + wal_senders,
        reserved_and_tools,
        wal_senders,
        page_tables: shared.as_bytes() / SHARED_BYTES_PER_PAGE_TABLE_BYTE,
    }
}

impl Parts {
    /// What a backend takes besides work_mem.
    fn backend_base(&self) -> u64 {
        BACKEND_PRIVATE.as_bytes().saturating_add(self.page_tables)
    }

    fn total(&self, backends: u64, work_mem: Bytes) -> Bytes {
        let per_backend = work_mem
            .as_bytes()
            .saturating_mul(HASH_MEM_MULTIPLIER)
            .saturating_add(self.backend_base());
        Bytes::from_bytes(
            self.fixed
                .saturating_add(backends.saturating_mul(per_backend)),
        )
    }
}

/// work_mem lowered where PGTune's value would not let the planned
/// backends fit the memory limit (each may hash with hash_mem_multiplier
/// times it), at least PostgreSQL's minimum of 64kB; None where it fits.
pub fn fitted_work_mem(settings: &Settings, tuning: &Tuning, budget: &Budget) -> Option<Parameter> {
    let parts = parts(settings, tuning, budget);
    let limit = settings.resources.limits.memory;
    if parts.total(parts.backends, tuning.work_mem.amount) <= limit {
        return None;
    }
    let left = limit
        .as_bytes()
        .saturating_sub(parts.fixed)
        .saturating_sub(parts.backends.saturating_mul(parts.backend_base()));
    let fitted = left / parts.backends.max(1) / HASH_MEM_MULTIPLIER;
    // Whole megabytes where it can, so that a small change elsewhere (one
    // more replica) does not change postgresql.conf and roll the pods.
    let step: u64 = if fitted >= 1 << 20 { 1 << 20 } else { 1 << 10 };
    let work_mem = Bytes::from_bytes(fitted / step * step).max(WORK_MEM_MINIMUM);
    Some(parameter(
        work_mem,
        format!(
            "{}; lowered so that {} backends fit the memory limit {limit}: (limit - {} for shared memory, /dev/shm, maintenance and autovacuum - {} backends x {} private and page tables) / ({} x hash_mem_multiplier {HASH_MEM_MULTIPLIER}), down to whole MB, at least 64kB",
            tuning.work_mem.rule,
            parts.backends,
            whole_mb_up(parts.fixed).to_postgres_units(),
            parts.backends,
            whole_kb_up(parts.backend_base()).to_postgres_units(),
            parts.backends,
        ),
    ))
}

pub fn need(settings: &Settings, tuning: &Tuning, budget: &Budget) -> MemoryNeed {
    let parts = parts(settings, tuning, budget);
    let max_connections = parts.processes.max_connections;
    let shm = settings.postgres.shm_size;
    let work_mem = tuning.work_mem.amount;
    let total = parts.total(parts.backends, work_mem);
    let every_connection = parts.total(max_connections + parts.wal_senders, work_mem);
    let explained = format!(
        "shared memory {} + /dev/shm {shm} + maintenance_work_mem {} + autovacuum_max_workers {AUTOVACUUM_MAX_WORKERS} x autovacuum_work_mem {} + {} backends ({} application + {} reserved and tools + {} WAL senders) x (work_mem {} x hash_mem_multiplier {HASH_MEM_MULTIPLIER} + {} private + {} page tables) = {}",
        parts.shared.to_postgres_units(),
        tuning.maintenance_work_mem.value,
        tuning.autovacuum_work_mem.value,
        parts.backends,
        parts.application,
        parts.reserved_and_tools,
        parts.wal_senders,
        work_mem.to_postgres_units(),
        BACKEND_PRIVATE.to_postgres_units(),
        whole_kb_up(parts.page_tables).to_postgres_units(),
        whole_mb_up(total.as_bytes()).to_postgres_units(),
    );
    MemoryNeed {
        shared_memory: parameter(
            parts.shared,
            shared_memory_rule(tuning, &parts.processes, parts.slru, parts.io_handles),
        ),
        total: parameter(
            whole_mb_up(total.as_bytes()),
            format!(
                "{explained}, at most the memory limit {}; all max_connections {max_connections} connected would take {}",
                settings.resources.limits.memory,
                whole_mb_up(every_connection.as_bytes()).to_postgres_units()
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

fn whole_kb_up(bytes: u64) -> Bytes {
    Bytes::from_bytes(bytes.div_ceil(1 << 10).saturating_mul(1 << 10))
}

fn whole_mb_up(bytes: u64) -> Bytes {
    Bytes::from_bytes(bytes.div_ceil(1 << 20).saturating_mul(1 << 20))
}
