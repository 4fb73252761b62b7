//! The `cloudnative_pg` section: resolved for every profile (so `show`
//! prints it), validated where the profile runs the `cloudnative-pg` engine.

use super::{MIN_STORAGE, Resolver, SettingsError};
use crate::image::Image;
use crate::settings::{Cloud, CloudNativePg, Engine, ObjectStore, Settings, is_dns_label};

pub(super) fn resolve(r: &mut Resolver<'_>) -> Result<CloudNativePg, SettingsError> {
    let image_text = r.take("cloudnative_pg.image", |l| l.cloudnative_pg.image.as_ref())?;
    let image = image_text
        .parse::<Image>()
        .map_err(|e| r.invalid("cloudnative_pg.image", e.to_string()))?;
    let destination = r.take_optional("cloudnative_pg.backup_destination", |l| {
        l.cloudnative_pg.backup_destination.as_ref()
    });
    let endpoint = r.take_optional("cloudnative_pg.backup_endpoint", |l| {
        l.cloudnative_pg.backup_endpoint.as_ref()
    });
    let identity = r.take_optional("cloudnative_pg.backup_identity", |l| {
        l.cloudnative_pg.backup_identity.as_ref()
    });
    Ok(CloudNativePg {
        image,
        operator_namespace: r.take("cloudnative_pg.operator_namespace", |l| {
            l.cloudnative_pg.operator_namespace.as_ref()
        })?,
        wal_size: r.take_optional("cloudnative_pg.wal_size", |l| {
            l.cloudnative_pg.wal_size.as_ref()
        }),
        object_store: destination.map(|destination| ObjectStore {
            destination,
            endpoint,
            identity,
        }),
    })
}

pub(super) fn validate(s: &Settings, r: &Resolver<'_>) -> Result<(), SettingsError> {
    let c = &s.cloudnative_pg;
    if !is_dns_label(&c.operator_namespace) {
        return Err(r.invalid(
            "cloudnative_pg.operator_namespace",
            format!("{:?} is not a valid namespace name", c.operator_namespace),
        ));
    }
    if s.engine != Engine::CloudNativePg {
        return Ok(());
    }
    if c.image.major() != s.image.major() {
        return Err(r.invalid(
            r.most_specific(&["image", "cloudnative_pg.image"]),
            format!(
                "cloudnative_pg.image {} runs PostgreSQL {} but image {} runs {}; both must be the same major",
                c.image,
                c.image.major(),
                s.image,
                s.image.major()
            ),
        ));
    }
    if let Some(size) = c.wal_size {
        if size < MIN_STORAGE {
            return Err(r.invalid(
                "cloudnative_pg.wal_size",
                format!("{size} is below the minimum of {MIN_STORAGE}"),
            ));
        }
    }
    match &c.object_store {
        None if s.backup.enabled => Err(r.invalid(
            "engine",
            "cloudnative-pg with backup.enabled needs cloudnative_pg.backup_destination, \
             the object store for WAL and base backups: s3://BUCKET/PREFIX, gs://BUCKET/PREFIX \
             or https://ACCOUNT.blob.core.windows.net/CONTAINER/PREFIX"
                .to_owned(),
        )),
        None => Ok(()),
        Some(store) => validate_object_store(store, r),
    }
}

fn validate_object_store(store: &ObjectStore, r: &Resolver<'_>) -> Result<(), SettingsError> {
    let Some(cloud) = Cloud::of(&store.destination) else {
        return Err(r.invalid(
            "cloudnative_pg.backup_destination",
            format!(
                "{:?} is not an object-store URL; write s3://BUCKET/PREFIX, gs://BUCKET/PREFIX \
                 or https://ACCOUNT.blob.core.windows.net/CONTAINER/PREFIX",
                store.destination
            ),
        ));
    };
    if let Some(endpoint) = &store.endpoint {
        if cloud != Cloud::S3 {
            return Err(r.invalid(
                "cloudnative_pg.backup_endpoint",
                "an endpoint is for S3-compatible servers; it needs an s3:// destination"
                    .to_owned(),
            ));
        }
        let scheme_ok = endpoint.starts_with("https://") || endpoint.starts_with("http://");
        if !scheme_ok || endpoint.chars().any(char::is_whitespace) {
            return Err(r.invalid(
                "cloudnative_pg.backup_endpoint",
                format!("{endpoint:?} is not an http:// or https:// URL"),
            ));
        }
    }
    if let Some(identity) = &store.identity {
        if identity.is_empty() || identity.chars().any(char::is_whitespace) {
            return Err(r.invalid(
                "cloudnative_pg.backup_identity",
                format!("{identity:?} is not an identity (an IAM role ARN, a Google service account e-mail or an Azure client ID)"),
            ));
        }
    }
    Ok(())
}
