//! Whether resolved settings can work: values Kubernetes and PostgreSQL
//! accept, a connection budget that fits, each refusal naming the key and
//! the file that set it.

use super::offsite;
use super::resolve::{Resolver, SettingsError};
use crate::model::derived::Derived;
use crate::model::quantity::Bytes;
use crate::model::settings::{Settings, is_dns_label, is_dns_subdomain};

/// The smallest data volume palgen will generate: PostgreSQL's own files and a
/// little WAL already take hundreds of megabytes.
const MIN_STORAGE: Bytes = Bytes::gibibytes(1);

/// The largest `max_connections` PostgreSQL accepts.
const MAX_CONNECTIONS_LIMIT: u32 = 262_143;

/// PostgreSQL's default `max_wal_senders` is 10; keep room for a base backup.
const MAX_READ_REPLICAS: u32 = 8;

pub(super) fn validate(s: &Settings, d: &Derived, r: &Resolver<'_>) -> Result<(), SettingsError> {
    validate_storage(s, r)?;
    validate_resources(s, r)?;
    validate_connections(s, d, r)?;
    validate_backup(s, r)?;
    offsite::validate(s, r)?;
    validate_images(s, r)?;
    validate_replication(s, r)
}

/// The data volume: a class Kubernetes accepts, room for PostgreSQL.
fn validate_storage(s: &Settings, r: &Resolver<'_>) -> Result<(), SettingsError> {
    if !is_dns_subdomain(&s.storage.class) {
        return Err(r.invalid(
            "storage.class",
            format!(
                "{:?} is not a valid StorageClass name (lower-case letters, digits, '-' and '.')",
                s.storage.class
            ),
        ));
    }
    if s.storage.size < MIN_STORAGE {
        return Err(r.invalid(
            "storage.size",
            format!("{} is below the minimum of {MIN_STORAGE}", s.storage.size),
        ));
    }
    Ok(())
}

/// Requests and limits: positive, limits at least the requests.
fn validate_resources(s: &Settings, r: &Resolver<'_>) -> Result<(), SettingsError> {
    let amounts = [
        (
            "resources.requests.memory",
            s.resources.requests.memory.as_bytes(),
        ),
        (
            "resources.requests.cpu",
            s.resources.requests.cpu.as_millicores(),
        ),
        (
            "resources.limits.memory",
            s.resources.limits.memory.as_bytes(),
        ),
        (
            "resources.limits.cpu",
            s.resources.limits.cpu.as_millicores(),
        ),
    ];
    for (key, amount) in amounts {
        if amount == 0 {
            return Err(r.invalid(key, "must be greater than zero".to_owned()));
        }
    }
    if s.resources.limits.memory < s.resources.requests.memory {
        return Err(r.invalid(
            "resources.limits.memory",
            format!(
                "limit {} is below the request {}",
                s.resources.limits.memory, s.resources.requests.memory
            ),
        ));
    }
    if s.resources.limits.cpu < s.resources.requests.cpu {
        return Err(r.invalid(
            "resources.limits.cpu",
            format!(
                "limit {} is below the request {}",
                s.resources.limits.cpu, s.resources.requests.cpu
            ),
        ));
    }
    if s.postgres.shm_size >= s.resources.limits.memory {
        return Err(r.invalid(
            "postgres.shm_size",
            format!(
                "{} must stay below the memory limit {}: /dev/shm is counted against it",
                s.postgres.shm_size, s.resources.limits.memory
            ),
        ));
    }
    Ok(())
}

/// The connection budget, directly or through PgBouncer.
fn validate_connections(s: &Settings, d: &Derived, r: &Resolver<'_>) -> Result<(), SettingsError> {
    let c = &s.connections;
    let budget = &d.connection_budget;
    for (key, value) in [
        ("connections.max_connections", c.max_connections),
        ("connections.per_pod", c.per_pod),
        ("connections.web_pods", c.web_pods),
    ] {
        if value == 0 {
            return Err(r.invalid(key, "must be greater than zero".to_owned()));
        }
    }
    if c.max_connections > MAX_CONNECTIONS_LIMIT {
        return Err(r.invalid(
            "connections.max_connections",
            format!(
                "{} is above PostgreSQL's maximum of {MAX_CONNECTIONS_LIMIT}",
                c.max_connections
            ),
        ));
    }
    if c.superuser_reserved >= c.max_connections {
        return Err(r.invalid(
            "connections.superuser_reserved",
            format!(
                "{} leaves no connection of max_connections {} for the application",
                c.superuser_reserved, c.max_connections
            ),
        ));
    }
    // Session pooling gives every client its own server connection, so the
    // pool must hold all clients, and all pools together must fit the server.
    let over_budget = budget.needed_with_margin > budget.available
        || (budget.uses_pgbouncer() && budget.server_connections < budget.needed_with_margin);
    if over_budget {
        let through_pool = match &budget.pgbouncer {
            Some(pool) => format!(
                ", through PgBouncer {} replicas x pool {} = {}",
                pool.replicas, pool.pool_size_per_replica, budget.server_connections
            ),
            None => String::new(),
        };
        let blamed = r.most_specific(&[
            "connections.max_connections",
            "connections.superuser_reserved",
            "connections.web_pods",
            "connections.worker_pods",
            "connections.per_pod",
            "connections.safety_margin_percent",
            "pgbouncer.replicas",
            "pgbouncer.from_app_pods",
        ]);
        return Err(r.invalid(
            blamed,
            format!(
                "connection budget exceeded: {}{through_pool}; {}",
                budget.need_explained, budget.available_explained
            ),
        ));
    }
    if s.pgbouncer.replicas < 2 {
        return Err(r.invalid(
            "pgbouncer.replicas",
            format!(
                "{} is too few: a single PgBouncer is a single point of failure; use at least 2",
                s.pgbouncer.replicas
            ),
        ));
    }
    Ok(())
}

/// The backup schedule, retention and volume.
fn validate_backup(s: &Settings, r: &Resolver<'_>) -> Result<(), SettingsError> {
    if !is_cron_schedule(&s.backup.schedule) {
        return Err(r.invalid(
            "backup.schedule",
            format!(
                "{:?} is not a cron schedule; write five fields such as \"30 2 * * *\"",
                s.backup.schedule
            ),
        ));
    }
    if s.backup.retention_days == 0 {
        return Err(r.invalid("backup.retention_days", "must be at least 1 day".to_owned()));
    }
    if s.backup.size < MIN_STORAGE {
        return Err(r.invalid(
            "backup.size",
            format!("{} is below the minimum of {MIN_STORAGE}", s.backup.size),
        ));
    }
    Ok(())
}

/// Sidecar and pooler images pinned; the scraper namespace a valid name.
fn validate_images(s: &Settings, r: &Resolver<'_>) -> Result<(), SettingsError> {
    for (key, image) in [
        ("monitoring.exporter_image", &s.monitoring.exporter_image),
        ("pgbouncer.image", &s.pgbouncer.image),
        ("backup.offsite.image", &s.backup.offsite.image),
    ] {
        if !is_pinned_image(image) {
            return Err(r.invalid(
                key,
                format!(
                    "{image:?} is not a pinned image; write repository:tag or repository@sha256:<digest>, not latest"
                ),
            ));
        }
    }
    if !is_dns_label(&s.monitoring.scraper_namespace) {
        return Err(r.invalid(
            "monitoring.scraper_namespace",
            format!(
                "{:?} is not a valid namespace name",
                s.monitoring.scraper_namespace
            ),
        ));
    }
    Ok(())
}

/// Replicas the primary can serve, WAL retention the volume can hold.
fn validate_replication(s: &Settings, r: &Resolver<'_>) -> Result<(), SettingsError> {
    if s.replication.read_replicas > MAX_READ_REPLICAS {
        return Err(r.invalid(
            "replication.read_replicas",
            format!(
                "{} is more than {MAX_READ_REPLICAS}: each replica holds a replication slot and a WAL sender on the primary",
                s.replication.read_replicas
            ),
        ));
    }
    if s.replication.max_slot_wal_keep_size >= s.storage.size {
        return Err(r.invalid(
            "replication.max_slot_wal_keep_size",
            format!(
                "{} must stay below the data volume {}: WAL kept for a lagging replica would fill it",
                s.replication.max_slot_wal_keep_size, s.storage.size
            ),
        ));
    }
    Ok(())
}

/// Five cron fields (minute, hour, day of month, month, day of week), each a
/// list of `*`, values or ranges with an optional `/step`, within the range
/// Kubernetes accepts for the field; months and weekdays also by name.
fn is_cron_schedule(schedule: &str) -> bool {
    const MONTHS: [&str; 12] = [
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    ];
    const DAYS: [&str; 7] = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];
    let ranges: [(u32, u32, &[&str], u32); 5] = [
        (0, 59, &[], 0),
        (0, 23, &[], 0),
        (1, 31, &[], 0),
        (1, 12, &MONTHS, 1),
        (0, 7, &DAYS, 0),
    ];
    let fields: Vec<&str> = schedule.split_whitespace().collect();
    fields.len() == 5
        && fields
            .iter()
            .zip(ranges)
            .all(|(field, (low, high, names, first))| {
                let value = |text: &str| -> Option<u32> {
                    let by_name = names
                        .iter()
                        .position(|name| name.eq_ignore_ascii_case(text))
                        .and_then(|i| u32::try_from(i).ok())
                        .map(|i| i + first);
                    let number = by_name.or_else(|| text.parse().ok())?;
                    (low..=high).contains(&number).then_some(number)
                };
                field.split(',').all(|item| {
                    let (range, step) = match item.split_once('/') {
                        Some((range, step)) => (range, Some(step)),
                        None => (item, None),
                    };
                    let step_ok = step.is_none_or(|s| s.parse::<u32>().is_ok_and(|n| n >= 1));
                    let range_ok = range == "*"
                        || match range.split_once('-') {
                            Some((from, to)) => {
                                matches!((value(from), value(to)), (Some(a), Some(b)) if a <= b)
                            }
                            None => value(range).is_some(),
                        };
                    step_ok && range_ok
                })
            })
}

/// An image reference with a tag other than `latest`, or a digest.
fn is_pinned_image(image: &str) -> bool {
    if image.is_empty() || image.chars().any(char::is_whitespace) {
        return false;
    }
    if image.contains("@sha256:") {
        return true;
    }
    let last_segment = image.rsplit('/').next().unwrap_or(image);
    matches!(last_segment.split_once(':'), Some((name, tag)) if !name.is_empty() && !tag.is_empty() && tag != "latest")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cron_schedules_follow_kubernetes_ranges() {
        for good in [
            "30 2 * * *",
            "*/15 * * * *",
            "0 0 1 jan,jul *",
            "0 3 * * mon-fri",
            "0 0 * * 7",
        ] {
            assert!(is_cron_schedule(good), "{good}");
        }
        for bad in [
            "daily",
            "* * * *",
            "60 * * * *",
            "0 24 * * *",
            "0 0 0 * *",
            "0 0 * 13 *",
            "0 0 * * 8",
            "*/0 * * * *",
            "5-1 * * * *",
        ] {
            assert!(!is_cron_schedule(bad), "{bad}");
        }
    }
}
