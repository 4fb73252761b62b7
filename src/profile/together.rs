//! Settings that only make sense together: a key that nothing reads unless
//! another key has a given value is refused, naming both, instead of being
//! silently ignored.
//!
//! A key counts as written when a profile file more specific than the base
//! sets it, at least as specifically as the key that turns it off: a user
//! who turns off a whole feature of a built-in parent (`backup.enabled:
//! false` under aws-large) does not have to unset the parent's details too,
//! but a user who writes a detail the profile does not use is told.

use super::blame::Blame;
use super::error::SettingsError;
use crate::model::settings::{CertificateSource, Engine, Settings};

/// A key whose value is read only when `needs` holds.
struct Dependent {
    key: &'static str,
    /// The key whose value decides, and the value it must have.
    needs: &'static str,
    needs_value: &'static str,
}

pub(super) fn validate(s: &Settings, r: &Blame<'_>) -> Result<(), SettingsError> {
    let mut unused: Vec<(Dependent, String)> = Vec::new();
    let mut unless = |held: bool, keys: &[&'static str], needs, needs_value, now: String| {
        if !held {
            for key in keys {
                unused.push((
                    Dependent {
                        key,
                        needs,
                        needs_value,
                    },
                    now.clone(),
                ));
            }
        }
    };

    unless(
        s.tls.enabled,
        &[
            "tls.source",
            "tls.secret",
            "tls.issuer.name",
            "tls.issuer.kind",
            "tls.issuer.group",
        ],
        "tls.enabled",
        "true",
        "false".to_owned(),
    );
    unless(
        s.tls.source == CertificateSource::Issuer,
        &["tls.issuer.name", "tls.issuer.kind", "tls.issuer.group"],
        "tls.source",
        "issuer",
        s.tls.source.name().to_owned(),
    );
    unless(
        s.engine == Engine::CloudNativePg,
        &[
            "cloudnative_pg.backup_destination",
            "cloudnative_pg.backup_endpoint",
            "cloudnative_pg.backup_identity",
            "cloudnative_pg.backup_credentials_secret",
        ],
        "engine",
        "cloudnative-pg",
        "statefulset".to_owned(),
    );
    unless(
        s.backup.enabled,
        &[
            "cloudnative_pg.backup_destination",
            "cloudnative_pg.backup_endpoint",
            "cloudnative_pg.backup_identity",
            "cloudnative_pg.backup_credentials_secret",
        ],
        "backup.enabled",
        "true",
        "false".to_owned(),
    );
    unless(
        s.backup.enabled || !s.backup.offsite.enabled(),
        &["backup.offsite.provider"],
        "backup.enabled",
        "true",
        "false".to_owned(),
    );
    for (dependent, now) in unused {
        let Some(origin) = r.origins.get(dependent.key) else {
            continue;
        };
        let decided_at = r.origins.get(dependent.needs).map_or(0, |o| o.layer);
        if origin.layer > 0 && origin.layer >= decided_at {
            return Err(r.invalid(
                dependent.key,
                format!(
                    "is read only with {}: {}, and {} is {now} (set both, or remove {})",
                    dependent.needs, dependent.needs_value, dependent.needs, dependent.key
                ),
            ));
        }
    }
    Ok(())
}
