//! Values derived from a profile's settings, computed once when the profile
//! is resolved: PostgreSQL's memory and planner settings (PGTune's rules for
//! a web workload) and the connection budget with PgBouncer's pool sizes.
//!
//! Each value keeps the rule it came from, so `palgen show` can explain it,
//! validation can quote it, and templates and object builders only read it.

use serde::Serialize;

use crate::model::memory::{self, MemoryNeed};
use crate::model::quantity::Bytes;
use crate::model::recovery::{self, StartupBudget};
use crate::model::settings::{Engine, Settings};

const MAINTENANCE_WORK_MEM_CAP: Bytes = Bytes::gibibytes(8);
const WORK_MEM_FLOOR: Bytes = Bytes::mebibytes(4);
const WAL_BUFFERS_CAP: Bytes = Bytes::mebibytes(16);
/// PGTune rounds wal_buffers above this up to the cap: 16MB is what the
/// WAL writer works best with.
const WAL_BUFFERS_NEAR_CAP: Bytes = Bytes::mebibytes(14);
const WAL_BUFFERS_FLOOR: Bytes = Bytes::from_bytes(32 << 10);
/// PGTune's CPU count at which parallel query becomes worth configuring.
const PARALLEL_FROM_CORES: u64 = 4;
/// PGTune's cap on the workers of one Gather or one index build (web load).
const PARALLEL_PER_OPERATION_CAP: u64 = 4;
/// PostgreSQL's maximum of max_parallel_workers: a CPU limit of thousands
/// of cores must still give a configuration the server accepts.
const PARALLEL_WORKERS_CAP: u64 = 1024;
/// Below this, huge pages save little; and on a node that has huge pages
/// but a pod without a hugepages limit, PostgreSQL's `huge_pages = try`
/// maps them anyway and dies of SIGBUS on first touch.
const HUGE_PAGES_FROM: Bytes = Bytes::gibibytes(2);
/// PGTune's web values, where the data volume leaves room for them.
const MAX_WAL_SIZE_DEFAULT: Bytes = Bytes::gibibytes(4);
const MIN_WAL_SIZE_DEFAULT: Bytes = Bytes::gibibytes(1);
/// Two 16MB WAL segments: PostgreSQL refuses to start with less.
pub const WAL_SIZE_FLOOR: Bytes = Bytes::mebibytes(32);
/// WAL may take at most this share of the data volume (1/4): the rest is
/// for the data, and for WAL kept beyond max_wal_size when archiving or a
/// replica lags.
pub const WAL_VOLUME_SHARE: u64 = 4;

/// Everything derived from one profile's settings.
#[derive(Debug, Clone, Serialize)]
pub struct Derived {
    pub connection_budget: Budget,
    pub postgresql: Tuning,
    /// What the memory limit must hold.
    pub memory: MemoryNeed,
    /// How long the database may take to start, crash recovery included.
    pub startup: StartupBudget,
}

pub fn derive(settings: &Settings) -> Derived {
    let mut postgresql = tuning(settings);
    let connection_budget = budget(settings);
    if let Some(work_mem) = memory::fitted_work_mem(settings, &postgresql, &connection_budget) {
        postgresql.work_mem = work_mem;
    }
    Derived {
        memory: memory::need(settings, &postgresql, &connection_budget),
        connection_budget,
        startup: recovery::startup_budget(settings, postgresql.max_wal_size.amount),
        postgresql,
    }
}

/// The connections the application needs and what the server leaves it.
#[derive(Debug, Clone, Serialize)]
pub struct Budget {
    pub app_pods: u32,
    pub needed: u32,
    pub needed_with_margin: u32,
    /// Present when PgBouncer stands between the pods and the server.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pgbouncer: Option<Pool>,
    /// Connections PostgreSQL must accept from the application side: the
    /// pools' total behind PgBouncer, else the pods' own.
    pub server_connections: u32,
    /// Connections left for the application once superusers and tools
    /// (exporter, backup) have theirs.
    pub available: u32,
    pub rule: String,
    /// The need as arithmetic, for messages.
    #[serde(skip)]
    pub need_explained: String,
    /// What the server leaves, as arithmetic, for messages.
    #[serde(skip)]
    pub available_explained: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Pool {
    pub replicas: u32,
    /// Server connections each replica may open: every client (so one
    /// replica can carry the load while another restarts), but no more than
    /// an even share of what the server accepts.
    pub pool_size_per_replica: u32,
    pub max_client_conn_per_replica: u32,
    pub rule: String,
}

fn budget(settings: &Settings) -> Budget {
    let c = &settings.connections;
    // Saturating: absurd counts must reach the budget check, not overflow.
    let app_pods = c.web_pods.saturating_add(c.worker_pods);
    let needed = app_pods.saturating_mul(c.per_pod);
    let with_margin = u64::from(needed) * (100 + u64::from(c.safety_margin_percent));
    let needed_with_margin = u32::try_from(with_margin.div_ceil(100)).unwrap_or(u32::MAX);
    let tool_connections =
        u32::from(settings.monitoring.exporter) + u32::from(settings.backup.enabled);
    let available = c
        .max_connections
        .saturating_sub(c.superuser_reserved)
        .saturating_sub(tool_connections);
    // CloudNativePG's engine always puts its Pooler in front.
    let pooled =
        app_pods >= settings.pgbouncer.from_app_pods || settings.engine == Engine::CloudNativePg;
    let pgbouncer = pooled.then(|| {
        let replicas = settings.pgbouncer.replicas;
        let pool_size = needed_with_margin.min(available / replicas.max(1));
        Pool {
            replicas,
            pool_size_per_replica: pool_size,
            max_client_conn_per_replica: needed_with_margin,
            rule: format!(
                "{}: PgBouncer (session pooling); pool per replica = min({needed_with_margin} clients with margin, {available} available / {replicas} replicas) = {pool_size}, {} server connections at most",
                if settings.engine == Engine::CloudNativePg {
                    "the cloudnative-pg engine's Pooler".to_owned()
                } else {
                    format!("{app_pods} app pods >= {}", settings.pgbouncer.from_app_pods)
                },
                pool_size.saturating_mul(replicas)
            ),
        }
    });
    let server_connections = pgbouncer.as_ref().map_or(needed_with_margin, |pool| {
        pool.pool_size_per_replica.saturating_mul(pool.replicas)
    });
    let need_explained = format!(
        "({} web + {} worker pods) x {} per pod = {needed}, +{}% margin = {needed_with_margin}",
        c.web_pods, c.worker_pods, c.per_pod, c.safety_margin_percent
    );
    let available_explained = format!(
        "available {available} (max_connections {} - {} reserved - {tool_connections} for exporter and backup)",
        c.max_connections, c.superuser_reserved
    );
    Budget {
        app_pods,
        needed,
        needed_with_margin,
        pgbouncer,
        server_connections,
        available,
        rule: format!(
            "{need_explained}; server connections {server_connections} <= {available_explained}"
        ),
        need_explained,
        available_explained,
    }
}

impl Budget {
    pub fn uses_pgbouncer(&self) -> bool {
        self.pgbouncer.is_some()
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Tuning {
    pub shared_buffers: Parameter,
    pub effective_cache_size: Parameter,
    pub maintenance_work_mem: Parameter,
    /// Each autovacuum worker's; without it every worker may take
    /// maintenance_work_mem.
    pub autovacuum_work_mem: Parameter,
    pub work_mem: Parameter,
    pub wal_buffers: Parameter,
    pub min_wal_size: Parameter,
    pub max_wal_size: Parameter,
    pub huge_pages: Choice,
    /// Present only where the CPU limit gives at least four cores.
    pub parallel: Option<Parallel>,
    /// Present only for SSD-backed storage classes.
    pub ssd: Option<SsdPlanner>,
}

/// A value in PostgreSQL's own syntax, and how it was computed.
#[derive(Debug, Clone, Serialize)]
pub struct Parameter {
    pub value: String,
    pub rule: String,
    #[serde(skip)]
    pub amount: Bytes,
}

/// A parameter that takes a word, and why this one.
#[derive(Debug, Clone, Serialize)]
pub struct Choice {
    pub value: &'static str,
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

pub(crate) fn parameter(bytes: Bytes, rule: String) -> Parameter {
    Parameter {
        value: bytes.to_postgres_units(),
        rule,
        amount: bytes,
    }
}

/// PGTune's wal_buffers: 3% of shared_buffers, near or above 16MB exactly
/// 16MB, at least 32kB.
fn wal_buffers(shared_buffers: Bytes) -> Bytes {
    let raw = whole_kb(shared_buffers.as_bytes() * 3 / 100);
    if raw > WAL_BUFFERS_NEAR_CAP {
        WAL_BUFFERS_CAP
    } else {
        raw.max(WAL_BUFFERS_FLOOR)
    }
}

/// max_wal_size as the profile sets it, else PGTune's 4GB scaled down to a
/// quarter of the data volume; min_wal_size 1GB, at most a quarter of that.
fn wal_sizes(settings: &Settings) -> (Parameter, Parameter) {
    let volume = settings.storage.size;
    let share = Bytes::from_bytes(volume.as_bytes() / WAL_VOLUME_SHARE / (1 << 20) * (1 << 20));
    let max = match settings.postgres.max_wal_size {
        Some(set) => parameter(set, "set by postgres.max_wal_size".to_owned()),
        None => parameter(
            MAX_WAL_SIZE_DEFAULT.min(share).max(WAL_SIZE_FLOOR),
            format!("4GB, at most a quarter of the data volume {volume}"),
        ),
    };
    let min = MIN_WAL_SIZE_DEFAULT
        .min(Bytes::from_bytes(
            max.amount.as_bytes() / 4 / (1 << 20) * (1 << 20),
        ))
        .max(WAL_SIZE_FLOOR);
    let min = parameter(
        min,
        format!("1GB, at most max_wal_size {} / 4, at least 32MB", max.value),
    );
    (min, max)
}

fn tuning(settings: &Settings) -> Tuning {
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
    let wal_buffers = wal_buffers(shared_buffers);
    let (min_wal_size, max_wal_size) = wal_sizes(settings);
    let per_operation = cores.div_ceil(2).min(PARALLEL_PER_OPERATION_CAP);
    let workers = cores.min(PARALLEL_WORKERS_CAP);
    let huge_pages = if shared_buffers < HUGE_PAGES_FROM {
        Choice {
            value: "off",
            rule: format!(
                "shared_buffers {} below 2GB: little to gain, and SIGBUS on nodes with huge pages",
                shared_buffers.to_postgres_units()
            ),
        }
    } else {
        Choice {
            value: "try",
            rule: format!(
                "shared_buffers {} from 2GB on: use huge pages where the pod has a hugepages limit",
                shared_buffers.to_postgres_units()
            ),
        }
    };

    Tuning {
        shared_buffers: parameter(shared_buffers, format!("memory limit {limit} / 4")),
        effective_cache_size: parameter(
            effective_cache_size,
            format!("memory limit {limit} x 3/4"),
        ),
        maintenance_work_mem: parameter(
            maintenance,
            format!("memory limit {limit} / 16, at most 8GB"),
        ),
        autovacuum_work_mem: parameter(
            whole_kb(maintenance.as_bytes() / memory::AUTOVACUUM_MAX_WORKERS),
            format!(
                "maintenance_work_mem {} / autovacuum_max_workers {}: all workers together take one maintenance_work_mem",
                maintenance.to_postgres_units(),
                memory::AUTOVACUUM_MAX_WORKERS
            ),
        ),
        work_mem: parameter(
            work_mem,
            format!(
                "(memory limit {limit} - shared_buffers {}) / ((max_connections {max_connections} + {parallel_term}) x 3) = {}, at least 4MB",
                shared_buffers.to_postgres_units(),
                work_mem_raw.to_postgres_units()
            ),
        ),
        wal_buffers: parameter(
            wal_buffers,
            format!(
                "3% of shared_buffers {}, 16MB from 14MB on, at least 32kB",
                shared_buffers.to_postgres_units()
            ),
        ),
        min_wal_size,
        max_wal_size,
        huge_pages,
        parallel: (cores >= PARALLEL_FROM_CORES).then(|| Parallel {
            max_worker_processes: workers,
            max_parallel_workers: workers,
            max_parallel_workers_per_gather: per_operation,
            max_parallel_maintenance_workers: per_operation,
            rule: format!(
                "CPU limit {cpu} = {cores} cores (parallel query from 4 cores on; workers at most 1024, per gather and per index build ceil(cores / 2), at most 4)"
            ),
        }),
        ssd: settings.storage.ssd.then_some(SsdPlanner {
            random_page_cost: "1.1",
            effective_io_concurrency: 200,
        }),
    }
}
