//! From profile files to settings: walk the profile's layers in order (base,
//! platform, size, user files), take the last value set for each key,
//! remember which file and line it came from, and validate the result, so
//! that every error and every `palgen show` line points at its source.

use serde_saphyr::Spanned;

use super::blame::Blame;
use super::error::SettingsError;
use super::layer::{Layer, ProvisionLayer};
use super::offsite;
use super::suggest::did_you_mean;
use super::validate;
use crate::model::derived::{self, Derived};
use crate::model::image::Image;
use crate::model::offsite::Offsite;
use crate::model::settings::{
    Amounts, Backup, CloudNativePg, Connections, Monitoring, ObjectStore, Origin, Origins,
    PgBouncer, Postgres, ProvisionedClass, Replication, Resources, Scheduling, Settings, Storage,
};
use crate::model::settings::{
    Audit, CertificateSource, DEPRECATED_DESTINATION_KEY, Engine, IssuerRef, LogStatement, Tls,
};

/// A profile file and its parsed content, ready to be layered.
pub struct SourcedLayer<'a> {
    pub file: &'a str,
    pub layer: &'a Layer,
}

pub(super) struct Resolver<'a> {
    layers: &'a [SourcedLayer<'a>],
    origins: Origins,
}

impl<'a> Resolver<'a> {
    /// Who set what so far, to blame the right file for an invalid value.
    pub(super) fn blame(&self) -> Blame<'_> {
        Blame {
            origins: &self.origins,
        }
    }

    /// The value of the last layer that sets `key`, remembering where it was set.
    pub(super) fn take<T: Clone + 'a>(
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

    pub(super) fn take_optional<T: Clone + 'a>(
        &mut self,
        key: &'static str,
        field: impl Fn(&'a Layer) -> Option<&'a Spanned<T>>,
    ) -> Option<T> {
        self.take(key, field).ok()
    }
}

/// With `resources.guaranteed` the requests are the limits: a request of a
/// user's own profile that differs would be silently dropped, so it is
/// refused (the built-in sizes' requests are for the platforms that are not
/// guaranteed).
fn refuse_own_requests(
    origins: &Origins,
    requests: &Amounts,
    limits: &Amounts,
) -> Result<(), SettingsError> {
    let differs = [
        (
            "resources.requests.memory",
            requests.memory != limits.memory,
        ),
        ("resources.requests.cpu", requests.cpu != limits.cpu),
    ];
    for (key, differs) in differs {
        let own = origins
            .get(key)
            .is_some_and(|origin| !origin.file.starts_with(BUILTIN_DIR));
        if differs && own {
            return Err(Blame { origins }.invalid(
                key,
                "differs from its limit while resources.guaranteed is true (requests equal the limits); set resources.guaranteed: false to request less".to_owned(),
            ));
        }
    }
    Ok(())
}

/// Where the built-in profile files are, as their origins name them.
const BUILTIN_DIR: &str = "profiles/builtin/";

/// The `cloudnative_pg` section: resolved for every profile (so `show`
/// prints it), validated where the profile runs the `cloudnative-pg` engine.
/// Its object store is `backup.offsite`'s, unless the profile still sets
/// the deprecated `cloudnative_pg.backup_*` keys.
fn resolve_cloudnative_pg(
    r: &mut Resolver<'_>,
    engine: Engine,
    offsite: &Offsite,
) -> Result<CloudNativePg, SettingsError> {
    let image_text = r.take("cloudnative_pg.image", |l| l.cloudnative_pg.image.as_ref())?;
    let image = image_text
        .parse::<Image>()
        .map_err(|e| r.blame().invalid("cloudnative_pg.image", e.to_string()))?;
    let destination = r.take_optional("cloudnative_pg.backup_destination", |l| {
        l.cloudnative_pg.backup_destination.as_ref()
    });
    let endpoint = r.take_optional("cloudnative_pg.backup_endpoint", |l| {
        l.cloudnative_pg.backup_endpoint.as_ref()
    });
    let identity = r.take_optional("cloudnative_pg.backup_identity", |l| {
        l.cloudnative_pg.backup_identity.as_ref()
    });
    let credentials_secret = r.take_optional("cloudnative_pg.backup_credentials_secret", |l| {
        l.cloudnative_pg.backup_credentials_secret.as_ref()
    });
    Ok(CloudNativePg {
        image,
        operator_namespace: r.take("cloudnative_pg.operator_namespace", |l| {
            l.cloudnative_pg.operator_namespace.as_ref()
        })?,
        wal_size: r.take_optional("cloudnative_pg.wal_size", |l| {
            l.cloudnative_pg.wal_size.as_ref()
        }),
        object_store: match destination {
            Some(destination) => Some(ObjectStore {
                destination,
                endpoint,
                identity,
                credentials_secret,
                key: DEPRECATED_DESTINATION_KEY,
            }),
            None if engine == Engine::CloudNativePg => offsite.object_store(),
            None => None,
        },
    })
}

/// Merges the layers (first is the base, last wins) and validates the result.
pub fn resolve(layers: &[SourcedLayer<'_>]) -> Result<(Settings, Derived, Origins), SettingsError> {
    let mut r = Resolver {
        layers,
        origins: Origins::new(),
    };
    let description = r.take("description", |l| l.description.as_ref())?;
    let namespace = r.take("namespace", |l| l.namespace.as_ref())?;
    let image_text = r.take("image", |l| l.image.as_ref())?;
    let image = image_text
        .parse::<Image>()
        .map_err(|e| r.blame().invalid("image", e.to_string()))?;

    let provision: Option<ProvisionLayer> =
        r.take_optional("storage.provision", |l| l.storage.provision.as_ref());
    let storage = Storage {
        class: r.take("storage.class", |l| l.storage.class.as_ref())?,
        size: r.take("storage.size", |l| l.storage.size.as_ref())?,
        ssd: r.take("storage.ssd", |l| l.storage.ssd.as_ref())?,
        provision: match provision {
            Some(ProvisionLayer::Class(class)) => Some(ProvisionedClass {
                provisioner: class.provisioner,
                parameters: class.parameters,
            }),
            Some(ProvisionLayer::Off(true)) => {
                return Err(r.blame().invalid(
                    "storage.provision",
                    "true is not accepted: write false to use a class the cluster has, or a mapping with provisioner and parameters to define one".to_owned(),
                ));
            }
            Some(ProvisionLayer::Off(false)) | None => None,
        },
    };
    let guaranteed = r.take("resources.guaranteed", |l| l.resources.guaranteed.as_ref())?;
    let limits = Amounts {
        memory: r.take("resources.limits.memory", |l| {
            l.resources.limits.memory.as_ref()
        })?,
        cpu: r.take("resources.limits.cpu", |l| l.resources.limits.cpu.as_ref())?,
    };
    let requests = Amounts {
        memory: r.take("resources.requests.memory", |l| {
            l.resources.requests.memory.as_ref()
        })?,
        cpu: r.take("resources.requests.cpu", |l| {
            l.resources.requests.cpu.as_ref()
        })?,
    };
    if guaranteed {
        refuse_own_requests(&r.origins, &requests, &limits)?;
    }
    let resources = Resources {
        guaranteed,
        // Guaranteed: the request is the limit, whatever a size requests
        // for the platforms that are not (validate refuses a user's own
        // request that differs).
        requests: if guaranteed { limits } else { requests },
        limits,
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
        max_wal_size: r.take_optional("postgres.max_wal_size", |l| {
            l.postgres.max_wal_size.as_ref()
        }),
    };
    let dev_credentials = r.take("dev_credentials", |l| l.dev_credentials.as_ref())?;
    let backup = Backup {
        enabled: r.take("backup.enabled", |l| l.backup.enabled.as_ref())?,
        schedule: r.take("backup.schedule", |l| l.backup.schedule.as_ref())?,
        retention_days: r.take("backup.retention_days", |l| {
            l.backup.retention_days.as_ref()
        })?,
        size: r.take("backup.size", |l| l.backup.size.as_ref())?,
        offsite: offsite::resolve(&mut r)?,
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
        node_selector: r.take("scheduling.node_selector", |l| {
            l.scheduling.node_selector.as_ref()
        })?,
        tolerations: r.take("scheduling.tolerations", |l| {
            l.scheduling.tolerations.as_ref()
        })?,
        priority_class_name: r.take("scheduling.priority_class_name", |l| {
            l.scheduling.priority_class_name.as_ref()
        })?,
        priority_class_value: r.take("scheduling.priority_class_value", |l| {
            l.scheduling.priority_class_value.as_ref()
        })?,
        node_affinity: r.take("scheduling.node_affinity", |l| {
            l.scheduling.node_affinity.as_ref()
        })?,
    };

    let engine = r.take("engine", |l| l.engine.as_ref())?;
    let cloudnative_pg = resolve_cloudnative_pg(&mut r, engine, &backup.offsite)?;
    let tls = resolve_tls(&mut r)?;
    let audit = resolve_audit(&mut r)?;

    let settings = Settings {
        engine,
        cloudnative_pg,
        description,
        namespace,
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
        tls,
        audit,
    };
    let derived = derived::derive(&settings);
    validate::validate(&settings, &derived, &r.blame())?;
    Ok((settings, derived, r.origins))
}

fn resolve_tls(r: &mut Resolver<'_>) -> Result<Tls, SettingsError> {
    let source_text: String = r.take("tls.source", |l| l.tls.source.as_ref())?;
    let source = CertificateSource::parse(&source_text).ok_or_else(|| {
        r.blame().invalid(
            "tls.source",
            format!(
                "{source_text:?} is not a certificate source; write one of {}",
                CertificateSource::NAMES.join(", ")
            ),
        )
    })?;
    let issuer = IssuerRef {
        name: r.take_optional("tls.issuer.name", |l| l.tls.issuer.name.as_ref()),
        kind: r.take("tls.issuer.kind", |l| l.tls.issuer.kind.as_ref())?,
        group: r.take("tls.issuer.group", |l| l.tls.issuer.group.as_ref())?,
    };
    Ok(Tls {
        enabled: r.take("tls.enabled", |l| l.tls.enabled.as_ref())?,
        source,
        secret: r.take("tls.secret", |l| l.tls.secret.as_ref())?,
        issuer,
    })
}

fn resolve_audit(r: &mut Resolver<'_>) -> Result<Audit, SettingsError> {
    let level: String = r.take("audit.log_statement", |l| l.audit.log_statement.as_ref())?;
    let log_statement = LogStatement::parse(&level).ok_or_else(|| {
        r.blame().invalid(
            "audit.log_statement",
            format!(
                "{level:?} is not a log_statement level{}; write one of {}",
                did_you_mean(&level, LogStatement::NAMES),
                LogStatement::NAMES.join(", ")
            ),
        )
    })?;
    Ok(Audit {
        log_statement,
        connections: r.take("audit.connections", |l| l.audit.connections.as_ref())?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::quantity::Bytes;

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
            .map(|(settings, _, _)| settings)
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
        // 96 server connections need more than 1Gi (the memory estimate).
        let settings = resolve_with(
            "connections:\n  web_pods: 4\n  worker_pods: 4\npgbouncer:\n  replicas: 3\nresources:\n  limits:\n    memory: 2Gi\n",
        )
        .unwrap();
        let budget = derived::derive(&settings).connection_budget;
        assert_eq!(budget.pgbouncer.unwrap().pool_size_per_replica, 32);
        assert_eq!(budget.server_connections, 96);
        // 14 pods x 5 = 70, +50% = 105 clients > 96: refused.
        let error = resolve_with("connections:\n  web_pods: 7\n  worker_pods: 7\n").unwrap_err();
        assert!(
            error.contains("through PgBouncer 2 replicas x pool 48 = 96"),
            "{error}"
        );
    }
}
