//! PostgreSQL memory and planner settings derived from a profile's limits,
//! following PGTune's rules for a web workload.
//!
//! Each value keeps the rule it came from, so `palgen show` can explain it
//! and the template only prints.

use serde::Serialize;

use crate::quantity::Bytes;
use crate::settings::Settings;

const MAINTENANCE_WORK_MEM_CAP: Bytes = Bytes::gibibytes(8);
const WORK_MEM_FLOOR: Bytes = Bytes::mebibytes(4);
const WAL_BUFFERS_CAP: Bytes = Bytes::mebibytes(16);
/// PGTune's CPU count at which parallel query becomes worth configuring.
const PARALLEL_FROM_CORES: u64 = 4;

#[derive(Debug, Clone, Serialize)]
pub struct Tuning {
    pub shared_buffers: Derived,
    pub effective_cache_size: Derived,
    pub maintenance_work_mem: Derived,
    pub work_mem: Derived,
    pub wal_buffers: Derived,
    /// Present only where the CPU limit gives at least four cores.
    pub parallel: Option<Parallel>,
    /// Present only for SSD-backed storage classes.
    pub ssd: Option<SsdPlanner>,
}

/// A value in PostgreSQL's own syntax, and how it was computed.
#[derive(Debug, Clone, Serialize)]
pub struct Derived {
    pub value: String,
    pub rule: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Parallel {
    pub max_worker_processes: u64,
    pub max_parallel_workers: u64,
    pub max_parallel_workers_per_gather: u64,
    pub max_parallel_maintenance_workers: u64,
    pub rule: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct SsdPlanner {
    pub random_page_cost: &'static str,
    pub effective_io_concurrency: u32,
}

/// Rounds down to whole kilobytes, the smallest unit PostgreSQL accepts here.
fn whole_kb(bytes: u64) -> Bytes {
    Bytes::from_bytes(bytes / 1024 * 1024)
}

fn derived(bytes: Bytes, rule: String) -> Derived {
    Derived {
        value: bytes.to_postgres_units(),
        rule,
    }
}

pub fn derive(settings: &Settings) -> Tuning {
    let limit = settings.resources.limits.memory;
    let cpu = settings.resources.limits.cpu;
    let cores = cpu.whole_cores();
    let max_connections = u64::from(settings.connections.max_connections);

    let shared_buffers = whole_kb(limit.as_bytes() / 4);
    let effective_cache_size = whole_kb(limit.as_bytes() / 4 * 3);
    let maintenance = whole_kb(limit.as_bytes() / 16).min(MAINTENANCE_WORK_MEM_CAP);

    let parallel_term = if cores >= PARALLEL_FROM_CORES {
        cores
    } else {
        8
    };
    let work_mem_raw = whole_kb(
        (limit.as_bytes() - shared_buffers.as_bytes()) / ((max_connections + parallel_term) * 3),
    );
    let work_mem = work_mem_raw.max(WORK_MEM_FLOOR);
    let wal_buffers = whole_kb(shared_buffers.as_bytes() * 3 / 100).min(WAL_BUFFERS_CAP);

    Tuning {
        shared_buffers: derived(shared_buffers, format!("memory limit {limit} / 4")),
        effective_cache_size: derived(effective_cache_size, format!("memory limit {limit} x 3/4")),
        maintenance_work_mem: derived(
            maintenance,
            format!("memory limit {limit} / 16, at most 8GB"),
        ),
        work_mem: derived(
            work_mem,
            format!(
                "(memory limit {limit} - shared_buffers {}) / ((max_connections {max_connections} + {parallel_term}) x 3) = {}, at least 4MB",
                shared_buffers.to_postgres_units(),
                work_mem_raw.to_postgres_units()
            ),
        ),
        wal_buffers: derived(
            wal_buffers,
            format!(
                "3% of shared_buffers {}, at most 16MB",
                shared_buffers.to_postgres_units()
            ),
        ),
        parallel: (cores >= PARALLEL_FROM_CORES).then(|| Parallel {
            max_worker_processes: cores,
            max_parallel_workers: cores,
            max_parallel_workers_per_gather: cores / 2,
            max_parallel_maintenance_workers: cores / 2,
            rule: format!("CPU limit {cpu} = {cores} cores (parallel query from 4 cores on)"),
        }),
        ssd: settings.storage.ssd.then_some(SsdPlanner {
            random_page_cost: "1.1",
            effective_io_concurrency: 200,
        }),
    }
}
