//! From profile files to settings: walk the profile's layers in order (base,
//! platform, size, user files), take the last value set for each key,
//! remember which file and line it came from, and validate the result, so
//! that every error and every `palgen show` line points at its source.

use serde_saphyr::Spanned;

use super::layer::{Layer, ProvisionLayer};
use crate::image::Image;
use crate::quantity::Bytes;
use crate::settings::{
    Amounts, Backup, Connections, Monitoring, Origin, Origins, PgBouncer, Postgres,
    ProvisionedClass, Replication, Resources, Scheduling, Settings, Storage, is_dns_label,
    is_dns_subdomain,
};

mod cloudnative_pg;

/// The smallest data volume palgen will generate: PostgreSQL's own files and a
/// little WAL already take hundreds of megabytes.
const MIN_STORAGE: Bytes = Bytes::gibibytes(1);

/// The largest `max_connections` PostgreSQL accepts.
const MAX_CONNECTIONS_LIMIT: u32 = 262_143;

/// PostgreSQL's default `max_wal_senders` is 10; keep room for a base backup.
const MAX_READ_REPLICAS: u32 = 8;

/// A profile file and its parsed content, ready to be layered.
pub struct SourcedLayer<'a> {
    pub file: &'a str,
    pub layer: &'a Layer,
}

#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("{origin}: {key}: {message}")]
    Invalid {
        origin: Origin,
        key: &'static str,
        message: String,
    },
    #[error("{file}: {key} is not set by this profile or any file it builds on")]
    Missing { file: String, key: &'static str },
}

struct Resolver<'a> {
    layers: &'a [SourcedLayer<'a>],
    origins: Origins,
}

impl<'a> Resolver<'a> {
    /// The value of the last layer that sets `key`, remembering where it was set.
    fn take<T: Clone + 'a>(
        &mut self,
        key: &'static str,
        field: impl Fn(&'a Layer) -> Option<&'a Spanned<T>>,
    ) -> Result<T, SettingsError> {
        let found = self
            .layers
            .iter()
            .enumerate()
            .rev()
            .find_map(|(index, sourced)| {
                field(sourced.layer).map(|value| (index, sourced.file, value))
            });
        match found {
            Some((layer, file, spanned)) => {
                let origin = Origin {
                    file: file.to_owned(),
                    line: spanned.referenced.line(),
                    layer,
                };
                self.origins.insert(key, origin);
                Ok(spanned.value.clone())
            }
            None => Err(SettingsError::Missing {
                file: self.layers.last().map_or("", |l| l.file).to_owned(),
                key,
            }),
        }
    }

    fn take_optional<T: Clone + 'a>(
        &mut self,
        key: &'static str,
        field: impl Fn(&'a Layer) -> Option<&'a Spanned<T>>,
    ) -> Option<T> {
        self.take(key, field).ok()
    }

    /// Of several keys that together make a value invalid, the one set by the
    /// most specific file: the file the user most likely just wrote.
    fn most_specific(&self, keys: &[&'static str]) -> &'static str {
        keys.iter()
            .copied()
            .rev()
            .max_by_key(|key| self.origins.get(key).map_or(0, |o| o.layer))
            .unwrap_or(keys[0])
    }

    fn invalid(&self, key: &'static str, message: String) -> SettingsError {
        SettingsError::Invalid {
            origin: self.origins.get(key).cloned().unwrap_or(Origin {
                file: String::new(),
                line: 0,
                layer: 0,
            }),
            key,
            message,
        }
    }
}

/// Merges the layers (first is the base, last wins) and validates the result.
pub fn resolve(layers: &[SourcedLayer<'_>]) -> Result<(Settings, Origins), SettingsError> {
    let mut r = Resolver {
        layers,
        origins: Origins::new(),
    };
    let description = r.take("description", |l| l.description.as_ref())?;
    let image_text = r.take("image", |l| l.image.as_ref())?;
    let image = image_text
        .parse::<Image>()
        .map_err(|e| r.invalid("image", e.to_string()))?;

    let provision: Option<ProvisionLayer> =
        r.take_optional("storage.provision", |l| l.storage.provision.as_ref());
    let storage = Storage {
        class: r.take("storage.class", |l| l.storage.class.as_ref())?,
        size: r.take("storage.size", |l| l.storage.size.as_ref())?,
        ssd: r.take("storage.ssd", |l| l.storage.ssd.as_ref())?,
        provision: provision.map(|p| ProvisionedClass {
            provisioner: p.provisioner,
            parameters: p.parameters,
        }),
    };
    let resources = Resources {
        requests: Amounts {
            memory: r.take("resources.requests.memory", |l| {
                l.resources.requests.memory.as_ref()
            })?,
            cpu: r.take("resources.requests.cpu", |l| {
                l.resources.requests.cpu.as_ref()
            })?,
        },
        limits: Amounts {
            memory: r.take("resources.limits.memory", |l| {
                l.resources.limits.memory.as_ref()
            })?,
            cpu: r.take("resources.limits.cpu", |l| l.resources.limits.cpu.as_ref())?,
        },
    };
    let connections = Connections {
        max_connections: r.take("connections.max_connections", |l| {
            l.connections.max_connections.as_ref()
        })?,
        superuser_reserved: r.take("connections.superuser_reserved", |l| {
            l.connections.superuser_reserved.as_ref()
        })?,
        web_pods: r.take("connections.web_pods", |l| l.connections.web_pods.as_ref())?,
        worker_pods: r.take("connections.worker_pods", |l| {
            l.connections.worker_pods.as_ref()
        })?,
        per_pod: r.take("connections.per_pod", |l| l.connections.per_pod.as_ref())?,
        safety_margin_percent: r.take("connections.safety_margin_percent", |l| {
            l.connections.safety_margin_percent.as_ref()
        })?,
    };
    let postgres = Postgres {
        slow_query_ms: r.take("postgres.slow_query_ms", |l| {
            l.postgres.slow_query_ms.as_ref()
        })?,
        shm_size: r.take("postgres.shm_size", |l| l.postgres.shm_size.as_ref())?,
    };
    let dev_credentials = r.take("dev_credentials", |l| l.dev_credentials.as_ref())?;
    let backup = Backup {
        enabled: r.take("backup.enabled", |l| l.backup.enabled.as_ref())?,
        schedule: r.take("backup.schedule", |l| l.backup.schedule.as_ref())?,
        retention_days: r.take("backup.retention_days", |l| {
            l.backup.retention_days.as_ref()
        })?,
        size: r.take("backup.size", |l| l.backup.size.as_ref())?,
    };
    let monitoring = Monitoring {
        exporter: r.take("monitoring.exporter", |l| l.monitoring.exporter.as_ref())?,
        exporter_image: r.take("monitoring.exporter_image", |l| {
            l.monitoring.exporter_image.as_ref()
        })?,
        service_monitor: r.take("monitoring.service_monitor", |l| {
            l.monitoring.service_monitor.as_ref()
        })?,
        scraper_namespace: r.take("monitoring.scraper_namespace", |l| {
            l.monitoring.scraper_namespace.as_ref()
        })?,
    };
    let pgbouncer = PgBouncer {
        from_app_pods: r.take("pgbouncer.from_app_pods", |l| {
            l.pgbouncer.from_app_pods.as_ref()
        })?,
        replicas: r.take("pgbouncer.replicas", |l| l.pgbouncer.replicas.as_ref())?,
        image: r.take("pgbouncer.image", |l| l.pgbouncer.image.as_ref())?,
    };

    let replication = Replication {
        read_replicas: r.take("replication.read_replicas", |l| {
            l.replication.read_replicas.as_ref()
        })?,
        max_slot_wal_keep_size: r.take("replication.max_slot_wal_keep_size", |l| {
            l.replication.max_slot_wal_keep_size.as_ref()
        })?,
    };
    let scheduling = Scheduling {
        spread_zones: r.take("scheduling.spread_zones", |l| {
            l.scheduling.spread_zones.as_ref()
        })?,
    };

    let engine = r.take("engine", |l| l.engine.as_ref())?;
    let cloudnative_pg = cloudnative_pg::resolve(&mut r)?;

    let settings = Settings {
        engine,
        cloudnative_pg,
        description,
        image,
        storage,
        resources,
        connections,
        postgres,
        dev_credentials,
        backup,
        monitoring,
        pgbouncer,
        replication,
        scheduling,
    };
    validate(&settings, &r)?;
    Ok((settings, r.origins))
}

fn validate(s: &Settings, r: &Resolver<'_>) -> Result<(), SettingsError> {
    validate_storage(s, r)?;
    validate_resources(s, r)?;
    validate_connections(s, r)?;
    validate_backup(s, r)?;
    validate_images(s, r)?;
    validate_replication(s, r)?;
    cloudnative_pg::validate(s, r)
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
fn validate_connections(s: &Settings, r: &Resolver<'_>) -> Result<(), SettingsError> {
    let c = &s.connections;
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
    let over_budget = c.needed_with_margin() > s.available_connections()
        || (s.uses_pgbouncer() && s.server_connections() < c.needed_with_margin());
    if over_budget {
        let through_pool = if s.uses_pgbouncer() {
            format!(
                ", through PgBouncer {} replicas x pool {} = {}",
                s.pgbouncer.replicas,
                s.pgbouncer_pool_size(),
                s.server_connections()
            )
        } else {
            String::new()
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
                c.need_explained(),
                s.available_explained()
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

    const BASE: &str = include_str!("../../profiles/builtin/base.yaml");

    /// Resolves the base with one override file on top; the error as text.
    fn resolve_with(override_yaml: &str) -> Result<Settings, String> {
        let base: Layer = serde_saphyr::from_str(BASE).unwrap();
        let custom: Layer = serde_saphyr::from_str(override_yaml).map_err(|e| e.to_string())?;
        let layers = [
            SourcedLayer {
                file: "profiles/base.yaml",
                layer: &base,
            },
            SourcedLayer {
                file: "custom.yaml",
                layer: &custom,
            },
        ];
        resolve(&layers)
            .map(|(settings, _)| settings)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn base_alone_is_valid() {
        let settings = resolve_with("{}").unwrap();
        assert_eq!(settings.storage.size, Bytes::gibibytes(10));
    }

    #[test]
    fn impossible_values_name_file_line_key_and_value() {
        let cases = [
            (
                "resources:\n  limits:\n    memory: 128Mi\n",
                "custom.yaml:3: resources.limits.memory: limit 128Mi is below the request 256Mi",
            ),
            (
                "resources:\n  limits:\n    cpu: 100m\n",
                "custom.yaml:3: resources.limits.cpu: limit 100m is below the request 250m",
            ),
            (
                "resources:\n  requests:\n    cpu: 0m\n",
                "custom.yaml:3: resources.requests.cpu: must be greater than zero",
            ),
            (
                "storage:\n  size: 512Mi\n",
                "custom.yaml:2: storage.size: 512Mi is below the minimum of 1Gi",
            ),
            (
                "storage:\n  class: Fast_SSD\n",
                "custom.yaml:2: storage.class: \"Fast_SSD\" is not a valid StorageClass name",
            ),
            (
                "image: postgres:latest\n",
                "custom.yaml:1: image: \"postgres:latest\" is not a PostgreSQL image",
            ),
            (
                "backup:\n  schedule: daily\n",
                "custom.yaml:2: backup.schedule: \"daily\" is not a cron schedule",
            ),
            (
                "pgbouncer:\n  image: pgbouncer\n",
                "custom.yaml:2: pgbouncer.image: \"pgbouncer\" is not a pinned image",
            ),
            (
                "connections:\n  web_pods: 0\n",
                "custom.yaml:2: connections.web_pods: must be greater than zero",
            ),
        ];
        for (yaml, expected) in cases {
            let error = resolve_with(yaml).unwrap_err();
            assert!(
                error.starts_with(expected),
                "for {yaml:?}\n got: {error}\nwant: {expected}"
            );
        }
    }

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

    #[test]
    fn over_budget_connections_are_refused_with_the_numbers() {
        let error = resolve_with("connections:\n  web_pods: 2\n  worker_pods: 2\n  per_pod: 20\n")
            .unwrap_err();
        assert!(
            error.starts_with("custom.yaml:2: connections.web_pods:"),
            "blames the user file: {error}"
        );
        assert!(
            error.contains("(2 web + 2 worker pods) x 20 per pod = 80, +50% margin = 120"),
            "{error}"
        );
        assert!(error.contains("available 96"), "{error}");
    }

    #[test]
    fn pgbouncer_pools_must_hold_every_client() {
        // 8 pods x 5 = 40, +50% = 60 clients; 3 replicas share the 96
        // connections left (100 - 3 reserved - 1 exporter): 32 each, 96 in all.
        let settings = resolve_with(
            "connections:\n  web_pods: 4\n  worker_pods: 4\npgbouncer:\n  replicas: 3\n",
        )
        .unwrap();
        assert!(settings.uses_pgbouncer());
        assert_eq!(settings.pgbouncer_pool_size(), 32);
        assert_eq!(settings.server_connections(), 96);
        // 14 pods x 5 = 70, +50% = 105 clients > 96: refused.
        let error = resolve_with("connections:\n  web_pods: 7\n  worker_pods: 7\n").unwrap_err();
        assert!(
            error.contains("through PgBouncer 2 replicas x pool 48 = 96"),
            "{error}"
        );
    }
}
