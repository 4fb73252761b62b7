//! Backups of two profiles must not share a place in an object store: each
//! one's retention would delete the other's backups (the dump job prunes
//! its prefix, Barman its server's directory). Checked over the profiles
//! one `render` writes.

use std::fmt;

use super::Profile;
use crate::model::offsite::Provider;
use crate::model::settings::Engine;

/// Where a profile writes backups: an object store, and a path in it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Place {
    /// The store: scheme, bucket or account and container, and the endpoint
    /// of an S3-compatible server.
    store: String,
    /// Path components under the store.
    path: Vec<String>,
    /// The setting that chose it.
    key: &'static str,
}

impl fmt::Display for Place {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{} ({})", self.store, self.path.join("/"), self.key)
    }
}

fn components(path: &str) -> Vec<String> {
    path.split('/')
        .filter(|part| !part.is_empty())
        .map(str::to_owned)
        .collect()
}

/// The places a profile's backups go to.
fn places(profile: &Profile) -> Vec<Place> {
    let s = &profile.settings;
    if !s.backup.enabled {
        return Vec::new();
    }
    let mut places = Vec::new();
    match s.engine {
        Engine::CloudNativePg => {
            if let Some(store) = &s.cloudnative_pg.object_store {
                let (scheme, rest) = store.destination.split_once("://").unwrap_or(("", ""));
                let mut path = components(rest);
                let bucket = if path.is_empty() {
                    String::new()
                } else {
                    path.remove(0)
                };
                // Barman writes under the server name: the profile's.
                path.push(profile.name.clone());
                places.push(Place {
                    store: format!(
                        "{scheme}://{bucket}{}",
                        store
                            .endpoint
                            .as_ref()
                            .map(|e| format!(" at {e}"))
                            .unwrap_or_default()
                    ),
                    path,
                    key: store.key,
                });
            }
        }
        Engine::StatefulSet => {
            let o = &s.backup.offsite;
            let store = match o.provider {
                Provider::None => None,
                Provider::S3 if o.endpoint.is_empty() => Some(format!("s3://{}", o.bucket)),
                Provider::S3 => Some(format!("s3://{} at {}", o.bucket, o.endpoint)),
                Provider::Gcs => Some(format!("gs://{}", o.bucket)),
                Provider::AzureBlob => Some(format!(
                    "https://{}.blob.core.windows.net/{}",
                    o.account, o.bucket
                )),
            };
            if let Some(store) = store {
                places.push(Place {
                    store,
                    path: components(&o.prefix),
                    key: "backup.offsite",
                });
            }
        }
    }
    places
}

/// Whether one place holds the other (or both are the same).
fn overlaps(a: &Place, b: &Place) -> bool {
    a.store == b.store && (a.path.starts_with(&b.path) || b.path.starts_with(&a.path))
}

#[derive(Debug, thiserror::Error)]
#[error(
    "profiles {first} and {second} write backups to the same place, {first_place} and {second_place}: each one's retention would delete the other's backups; give one of them its own prefix"
)]
pub struct SharedBucketError {
    first: String,
    second: String,
    first_place: String,
    second_place: String,
}

/// Refuses two of `profiles` whose backups would share a place.
pub fn refuse_shared_places(profiles: &[Profile]) -> Result<(), SharedBucketError> {
    let mut all: Vec<(&Profile, Place)> = profiles
        .iter()
        .flat_map(|p| places(p).into_iter().map(move |place| (p, place)))
        .collect();
    // Named in order, whatever order the profiles were asked for in.
    all.sort_by(|a, b| a.0.name.cmp(&b.0.name));
    for (index, (first, a)) in all.iter().enumerate() {
        for (second, b) in &all[index + 1..] {
            if first.name != second.name && overlaps(a, b) {
                return Err(SharedBucketError {
                    first: first.name.clone(),
                    second: second.name.clone(),
                    first_place: a.to_string(),
                    second_place: b.to_string(),
                });
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn place(store: &str, path: &str) -> Place {
        Place {
            store: store.to_owned(),
            path: components(path),
            key: "backup.offsite",
        }
    }

    #[test]
    fn a_place_inside_another_overlaps_and_a_sibling_does_not() {
        let prod = place("s3://b", "prod");
        assert!(overlaps(&prod, &place("s3://b", "prod/")));
        assert!(overlaps(&prod, &place("s3://b", "prod/eu")));
        assert!(!overlaps(&prod, &place("s3://b", "production")));
        assert!(!overlaps(&prod, &place("s3://c", "prod")));
        assert!(!overlaps(
            &prod,
            &place("s3://b at http://minio:9000", "prod")
        ));
    }
}
