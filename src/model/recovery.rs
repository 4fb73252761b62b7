//! How long a start after a crash may take: PostgreSQL replays the WAL
//! written since the last checkpoint, at most about `max_wal_size` of it,
//! before it accepts connections. The startup probe's budget covers that
//! replay on the profile's disk, so that no probe setting is shorter than a
//! recovery the configuration allows.

use serde::Serialize;

use crate::model::quantity::Bytes;
use crate::model::settings::Settings;

/// Replay reads WAL sequentially and writes pages: assumed no faster than
/// the slowest built-in SSD class's baseline throughput (a 32GiB Azure
/// Premium SSD, P4: 25MB/s), in MiB per second.
const SSD_REPLAY_MIB_PER_SECOND: u64 = 25;
/// A disk of unknown speed (local-path on a laptop, spinning disks).
const OTHER_REPLAY_MIB_PER_SECOND: u64 = 10;
/// Starting the server around the replay: shared memory, the data
/// directory's fsync after a crash, the entrypoint.
const START_SECONDS: u64 = 60;
/// The budget before it was derived: profiles with little WAL keep it.
const FLOOR_SECONDS: u64 = 600;
/// How often the startup probe runs.
pub const STARTUP_PERIOD_SECONDS: u64 = 10;

/// The startup probe's budget and the arithmetic behind it.
#[derive(Debug, Clone, Serialize)]
pub struct StartupBudget {
    pub seconds: u64,
    pub rule: String,
}

impl StartupBudget {
    /// Failed startup probes the kubelet tolerates: the budget in periods.
    pub fn failure_threshold(&self) -> i32 {
        i32::try_from(self.seconds.div_ceil(STARTUP_PERIOD_SECONDS)).unwrap_or(i32::MAX)
    }
}

pub fn startup_budget(settings: &Settings, max_wal_size: Bytes) -> StartupBudget {
    let (rate, disk) = if settings.storage.ssd {
        (SSD_REPLAY_MIB_PER_SECOND, "SSD")
    } else {
        (OTHER_REPLAY_MIB_PER_SECOND, "disk of unknown speed")
    };
    let replay = max_wal_size.as_bytes().div_ceil(rate << 20);
    let needed = replay + START_SECONDS;
    let seconds = needed.max(FLOOR_SECONDS);
    StartupBudget {
        seconds,
        rule: format!(
            "replay of max_wal_size {max_wal_size} at {rate}MiB/s ({disk}) = {replay}s, \
             + {START_SECONDS}s to start = {needed}s, at least {FLOOR_SECONDS}s"
        ),
    }
}
