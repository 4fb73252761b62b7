//! User profiles with `engine: cloudnative-pg` for every platform and size,
//! as the README's custom profiles show them, and the objects they build.

#![allow(dead_code)] // each test crate uses a different subset

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value;

use crate::common::{PROFILES, palgen, stderr, stdout};

/// The object-store destination and workload identity each platform's
/// profile names (dev keeps backups off, so it needs neither).
pub fn object_store_of(platform: &str) -> Option<(&'static str, &'static str)> {
    match platform {
        "aws" => Some((
            "s3://paless-backups/postgres",
            "arn:aws:iam::123456789012:role/paless-postgres-backup",
        )),
        "gcp" => Some((
            "gs://paless-backups/postgres",
            "paless-backup@paless-prod.iam.gserviceaccount.com",
        )),
        "azure" => Some((
            "https://palessbackups.blob.core.windows.net/backups/postgres",
            "00000000-0000-0000-0000-000000000001",
        )),
        _ => None,
    }
}

/// k3s with MinIO: an S3-compatible server, reached with the access keys
/// of a Secret. Extends `cnpg-dev-small` of [`write_profiles`].
pub const MINIO_PROFILE: &str = "extends: cnpg-dev-small
backup:
  enabled: true
cloudnative_pg:
  backup_destination: s3://paless-backups/postgres
  backup_endpoint: http://minio.minio.svc:9000
  backup_credentials_secret: minio-backup-credentials
";

/// `cnpg-<platform>-<size>.yaml` for every built-in profile.
pub fn write_profiles(dir: &Path) {
    for parent in PROFILES {
        let platform = parent.split_once('-').unwrap().0;
        let mut text = format!("extends: {parent}\nengine: cloudnative-pg\n");
        if let Some((destination, identity)) = object_store_of(platform) {
            text.push_str(&format!(
                "cloudnative_pg:\n  backup_destination: {destination}\n  backup_identity: \"{identity}\"\n"
            ));
        }
        std::fs::write(dir.join(format!("cnpg-{parent}.yaml")), text).unwrap();
    }
}

pub fn profiles_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    write_profiles(dir.path());
    dir
}

/// `palgen build` of a profile, as objects in the order printed.
pub fn build(profiles_dir: &Path, profile: &str) -> Vec<Value> {
    let dir = profiles_dir.to_str().unwrap();
    let output = palgen(&["--profiles-dir", dir, "build", "--profile", profile]);
    assert!(output.status.success(), "{profile}: {}", stderr(&output));
    serde_saphyr::from_multiple::<Value>(&stdout(&output))
        .unwrap()
        .into_iter()
        .filter(|d| !d.is_null())
        .collect()
}

pub fn of_kind<'a>(objects: &'a [Value], kind: &str) -> Vec<&'a Value> {
    objects.iter().filter(|o| o["kind"] == kind).collect()
}

pub fn one<'a>(objects: &'a [Value], kind: &str) -> &'a Value {
    let found = of_kind(objects, kind);
    assert_eq!(found.len(), 1, "one {kind} expected");
    found[0]
}

/// `palgen show --format json` of a profile: its resolved settings.
pub fn settings(profiles_dir: &Path, profile: &str) -> Value {
    let dir = profiles_dir.to_str().unwrap();
    let output = palgen(&[
        "--profiles-dir",
        dir,
        "show",
        "--profile",
        profile,
        "--format",
        "json",
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    serde_json::from_str::<Value>(&stdout(&output)).unwrap()["settings"].clone()
}

/// `name = value` lines of a postgresql.conf, values unquoted.
pub fn conf_settings(conf: &str) -> BTreeMap<String, String> {
    conf.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| {
            let v = v.trim();
            let v = v
                .strip_prefix('\'')
                .and_then(|v| v.strip_suffix('\''))
                .unwrap_or(v);
            (k.trim().to_owned(), v.to_owned())
        })
        .collect()
}
