//! The server processes PostgreSQL counts and sizes its shared state for,
//! by major: what bounds max_connections, and how many backend slots the
//! shared memory holds. Both changed in PostgreSQL 18, which counts 16
//! autovacuum worker slots instead of 3 workers and their launcher, and
//! gives every slot asynchronous I/O handles.

use crate::contract::MAX_WAL_SENDERS;
use crate::model::derived::Tuning;
use crate::model::settings::Settings;

/// PostgreSQL's `MAX_BACKENDS`.
const MAX_BACKENDS: u64 = 262_143;
/// PostgreSQL's default max_worker_processes, where palgen leaves it.
const DEFAULT_WORKER_PROCESSES: u64 = 8;
/// The major that introduced `autovacuum_worker_slots` and asynchronous I/O.
pub const ASYNC_IO_MAJOR: u32 = 18;
/// PostgreSQL 18's autovacuum launcher and slot sync worker: kept out of
/// `MAX_BACKENDS`, given backend slots.
const SPECIAL_WORKERS_18: u64 = 2;
/// PostgreSQL 18's `NUM_AUXILIARY_PROCS`, 32 of them I/O worker slots.
const AUXILIARY_SLOTS_18: u64 = 38;
/// The slots 15 to 17 size shared memory for besides max_connections and
/// the workers (WAL senders, autovacuum, auxiliary processes), fitted to
/// 15's own computation.
const OTHER_SLOTS_15: u64 = 22;

/// What one profile's server runs besides its connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServerProcesses {
    pub major: u32,
    pub max_connections: u64,
    pub workers: u64,
}

impl ServerProcesses {
    pub fn of(settings: &Settings, tuning: &Tuning) -> ServerProcesses {
        ServerProcesses {
            major: settings.image.major(),
            max_connections: u64::from(settings.connections.max_connections),
            workers: tuning
                .parallel
                .as_ref()
                .map_or(DEFAULT_WORKER_PROCESSES, |p| p.max_worker_processes),
        }
    }

    /// Processes PostgreSQL adds to max_connections and the worker
    /// processes before comparing with [`ServerProcesses::most`], at the
    /// defaults palgen keeps, and what they are.
    pub fn others_counted(&self) -> (u64, &'static str) {
        let wal_senders = u64::from(MAX_WAL_SENDERS);
        if self.major >= ASYNC_IO_MAJOR {
            (
                16 + wal_senders,
                "16 autovacuum worker slots and 10 WAL senders",
            )
        } else {
            (
                3 + 1 + wal_senders,
                "3 autovacuum workers, their launcher and 10 WAL senders",
            )
        }
    }

    /// The most server processes PostgreSQL accepts.
    pub fn most(&self) -> u64 {
        if self.major >= ASYNC_IO_MAJOR {
            MAX_BACKENDS - SPECIAL_WORKERS_18
        } else {
            MAX_BACKENDS
        }
    }

    /// max_connections + workers + the others counted.
    pub fn counted(&self) -> u64 {
        self.max_connections + self.workers + self.others_counted().0
    }

    /// The largest max_connections these workers leave room for.
    pub fn most_connections(&self) -> u64 {
        self.most()
            .saturating_sub(self.workers + self.others_counted().0)
    }

    /// Backend slots PostgreSQL sizes its shared memory for beyond
    /// max_connections and the workers.
    pub fn other_slots(&self) -> u64 {
        if self.major >= ASYNC_IO_MAJOR {
            self.others_counted().0 + SPECIAL_WORKERS_18 + AUXILIARY_SLOTS_18
        } else {
            OTHER_SLOTS_15
        }
    }

    /// All backend slots of the shared memory.
    pub fn slots(&self) -> u64 {
        self.max_connections + self.workers + self.other_slots()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn processes(major: u32, max_connections: u64) -> ServerProcesses {
        ServerProcesses {
            major,
            max_connections,
            workers: DEFAULT_WORKER_PROCESSES,
        }
    }

    #[test]
    fn the_most_connections_depend_on_the_major() {
        // Both values were found by starting the real servers one
        // connection below and above them.
        assert_eq!(processes(15, 100).most_connections(), 262_121);
        assert_eq!(processes(18, 100).most_connections(), 262_107);
    }

    #[test]
    fn counted_processes_reach_the_most_exactly_at_the_most_connections() {
        for major in [15, 18] {
            let at = processes(major, processes(major, 0).most_connections());
            assert_eq!(at.counted(), at.most(), "PostgreSQL {major}");
        }
    }

    #[test]
    fn eighteen_sizes_shared_memory_for_more_slots() {
        assert_eq!(processes(15, 100).slots(), 100 + 8 + 22);
        assert_eq!(processes(18, 100).slots(), 100 + 8 + 16 + 10 + 2 + 38);
    }
}
