//! palgen's knowledge of PostgreSQL's limits, checked against the real
//! server (Debian's `postgresql`, see `pg/mod.rs`):
//!
//! - the table of parameter ranges palgen refuses profiles by equals the
//!   server's `pg_settings`, and covers every numeric parameter of every
//!   generated postgresql.conf;
//! - the shared memory palgen estimates for a profile is never below what
//!   `postgres -C shared_memory_size` computes for its postgresql.conf, and
//!   at most 3% + 16MB above it;
//! - a CPU limit of thousands of cores still gives worker counts the server
//!   accepts.

mod common;
mod pg;
#[path = "../src/model/pg_ranges.rs"]
mod pg_ranges;

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

use common::{PROFILES, palgen, stderr, stdout};
use pg::{Generated, TempCluster, conf_for_server, parse_conf, pg_program, run, server_major};
use pg_ranges::{PG_RANGES, pg_range};
use serde_json::Value;

/// The estimate may exceed the server's value by this share plus
/// [`SLACK_MB`], no more.
const SLACK_PERCENT: u64 = 3;
const SLACK_MB: u64 = 16;

#[test]
fn the_range_table_equals_pg_settings_of_the_real_server() {
    let generated = Generated::render();
    let mut cluster = TempCluster::new();
    cluster.start(&generated.base_server());
    let names: Vec<String> = PG_RANGES
        .iter()
        .map(|range| format!("'{}'", range.name))
        .collect();
    let rows = cluster.psql(
        "postgres",
        &format!(
            "SELECT concat_ws('|', name, min_val, max_val, coalesce(unit, '')) FROM pg_settings \
             WHERE name IN ({}) ORDER BY name",
            names.join(", ")
        ),
    );
    let from_server: BTreeMap<&str, (i64, i64, &str)> = rows
        .lines()
        .map(|row| {
            let fields: Vec<&str> = row.split('|').collect();
            let number = |text: &str| -> i64 {
                text.parse()
                    .unwrap_or_else(|_| panic!("{row}: not an integer range"))
            };
            (fields[0], (number(fields[1]), number(fields[2]), fields[3]))
        })
        .collect();
    let from_table: BTreeMap<&str, (i64, i64, &str)> = PG_RANGES
        .iter()
        .map(|range| (range.name, (range.min, range.max, range.unit)))
        .collect();
    assert_eq!(
        from_table,
        from_server,
        "src/model/pg_ranges.rs differs from pg_settings of PostgreSQL {}",
        server_major()
    );
}

#[test]
fn every_numeric_parameter_written_is_in_the_table_and_within_its_range() {
    let generated = Generated::render();
    let mut confs = vec![("base".to_owned(), generated.base("postgresql.conf"))];
    for profile in PROFILES {
        confs.push((
            profile.to_owned(),
            generated.file(profile, "postgresql.conf"),
        ));
    }
    let mut cluster = TempCluster::new();
    cluster.start(&generated.base_server());
    let names: BTreeSet<String> = confs
        .iter()
        .flat_map(|(_, conf)| parse_conf(conf).into_iter().map(|entry| entry.name))
        .collect();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let settings = cluster.settings(&names);

    let mut wrong = Vec::new();
    for (profile, conf) in &confs {
        for entry in parse_conf(conf) {
            let Some(setting) = settings.get(&entry.name) else {
                // A parameter of a newer major (io_method): postgres.rs proves
                // these are exactly the ones this server does not know.
                continue;
            };
            if setting.vartype != "integer" {
                continue;
            }
            let Some(range) = pg_range(&entry.name) else {
                wrong.push(format!(
                    "{profile}: {} is written but has no range in the table",
                    entry.name
                ));
                continue;
            };
            // In the parameter's unit, as pg_settings counts it.
            let value: f64 = setting.normalise(&entry.value).parse().unwrap();
            let unit = range.unit_bytes().map_or(1.0, |bytes| bytes as f64);
            let in_units = (value / unit).floor() as i64;
            if !range.accepts(in_units) {
                wrong.push(format!(
                    "{profile}: {} = {} is outside {}..{}",
                    entry.name, entry.value, range.min, range.max
                ));
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

/// User profiles that stretch the estimate: many connections, many workers,
/// little memory, a large memory limit.
const STRETCHED: [(&str, &str); 4] = [
    (
        "many-connections",
        "extends: aws-large\nresources:\n  limits:\n    memory: 16Gi\nconnections:\n  max_connections: 2000\n",
    ),
    (
        "many-cores",
        "extends: aws-large\nresources:\n  limits:\n    memory: 8Gi\n    cpu: \"5000\"\n",
    ),
    (
        "little-memory",
        "extends: aws-small\nresources:\n  requests:\n    memory: 256Mi\n  limits:\n    memory: 512Mi\npostgres:\n  shm_size: 64Mi\nconnections:\n  max_connections: 50\n",
    ),
    (
        "big-memory",
        "extends: aws-large\nresources:\n  limits:\n    memory: 64Gi\n    cpu: \"16\"\n",
    ),
];

/// Renders built-in and user profiles; their postgresql.conf and the shared
/// memory `palgen show` estimates for each, in MB.
fn confs_and_estimates(profiles: &[&str]) -> Vec<(String, String, u64)> {
    let dir = tempfile::tempdir().unwrap();
    let profiles_dir = dir.path().join("profiles");
    fs::create_dir(&profiles_dir).unwrap();
    for (name, yaml) in STRETCHED {
        fs::write(profiles_dir.join(format!("{name}.yaml")), yaml).unwrap();
    }
    let out = dir.path().join("k8s");
    let profiles_arg = profiles_dir.to_str().unwrap();
    profiles
        .iter()
        .map(|profile| {
            let rendered = palgen(&[
                "--profiles-dir",
                profiles_arg,
                "render",
                "--profile",
                profile,
                "--out",
                out.to_str().unwrap(),
            ]);
            assert!(rendered.status.success(), "{}", stderr(&rendered));
            let overlay_conf = out.join("overlays").join(profile).join("postgresql.conf");
            let conf = fs::read_to_string(&overlay_conf)
                .or_else(|_| fs::read_to_string(out.join("base/postgresql.conf")))
                .unwrap();
            let shown = palgen(&[
                "--profiles-dir",
                profiles_arg,
                "show",
                "--profile",
                profile,
                "--format",
                "json",
            ]);
            assert!(shown.status.success(), "{}", stderr(&shown));
            let json: Value = serde_json::from_str(&stdout(&shown)).unwrap();
            let estimate = json["derived"]["memory"]["shared_memory"]["value"]
                .as_str()
                .and_then(|value| value.strip_suffix("MB"))
                .and_then(|mb| mb.parse().ok())
                .unwrap_or_else(|| panic!("{profile}: no shared memory estimate in {json}"));
            (profile.to_string(), conf, estimate)
        })
        .collect()
}

/// `postgres -C NAME` with a configuration file: what the server would run
/// with, or why it refuses the file.
fn postgres_c(cluster: &TempCluster, conf: &str, name: &str) -> Result<String, String> {
    let text = conf_for_server(conf, server_major()).text;
    let path: PathBuf = cluster.sandbox().write("postgresql.conf.probe", &text);
    let data: &Path = &cluster.sandbox().path().join("data");
    let output = run(cluster
        .sandbox()
        .command(pg_program("postgres"))
        .arg("-D")
        .arg(data)
        .arg("-c")
        .arg(format!("config_file={}", path.display()))
        // The file names the pod's certificate, which this machine has not;
        // TLS changes neither shared memory nor the values asked for.
        .args(["-c", "ssl=off"])
        .args(["-C", name]));
    if output.status.success() {
        Ok(stdout(&output).trim().to_owned())
    } else {
        Err(stderr(&output))
    }
}

#[test]
fn shared_memory_estimate_covers_what_postgres_computes() {
    let mut profiles = vec!["dev-small", "aws-medium", "aws-large"];
    profiles.extend(STRETCHED.iter().map(|(name, _)| *name));
    let cluster = TempCluster::new();
    let mut report = Vec::new();
    let mut wrong = Vec::new();
    for (profile, conf, estimate) in confs_and_estimates(&profiles) {
        let real: u64 = postgres_c(&cluster, &conf, "shared_memory_size")
            .unwrap_or_else(|error| panic!("{profile}: postgres -C refused the file: {error}"))
            .parse()
            .unwrap();
        let ceiling = real + real * SLACK_PERCENT / 100 + SLACK_MB;
        report.push(format!("{profile}: estimate {estimate}MB, server {real}MB"));
        if estimate < real || estimate > ceiling {
            wrong.push(format!(
                "{profile}: estimate {estimate}MB, server {real}MB (accepted {real}..={ceiling})"
            ));
        }
    }
    eprintln!("{}", report.join("\n"));
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn thousands_of_cores_give_worker_counts_the_server_accepts() {
    let cluster = TempCluster::new();
    let (_, conf, _) = confs_and_estimates(&["many-cores"]).remove(0);
    for (name, expected) in [
        ("max_worker_processes", "1024"),
        ("max_parallel_workers", "1024"),
        ("max_parallel_workers_per_gather", "4"),
        ("max_parallel_maintenance_workers", "4"),
    ] {
        let value = postgres_c(&cluster, &conf, name)
            .unwrap_or_else(|error| panic!("postgres -C {name} refused the file: {error}"));
        assert_eq!(value, expected, "{name}");
    }
}

#[test]
fn palgen_and_the_server_agree_on_the_most_server_processes() {
    // The most connections palgen accepts with the default 8 workers: the
    // server must accept that file, and refuse it with one connection more,
    // which palgen refuses too.
    let most = "extends: aws-small\nresources:\n  limits:\n    memory: 2Ti\nconnections:\n  max_connections: 262121\n";
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("most.yaml"), most).unwrap();
    fs::write(
        dir.path().join("one-more.yaml"),
        most.replace("262121", "262122"),
    )
    .unwrap();
    let profiles_dir = dir.path().to_str().unwrap();
    let shown = |profile: &str| {
        palgen(&[
            "--profiles-dir",
            profiles_dir,
            "build",
            "--profile",
            profile,
        ])
    };
    let accepted = shown("most");
    assert!(accepted.status.success(), "{}", stderr(&accepted));
    let refused = shown("one-more");
    assert_eq!(refused.status.code(), Some(2), "{}", stderr(&refused));
    assert!(
        stderr(&refused).contains("max_connections at most 262121"),
        "{}",
        stderr(&refused)
    );

    let conf = common::objects_by_identity(&stdout(&accepted))
        .into_iter()
        .find(|(key, _)| key.starts_with("ConfigMap/paless/postgres-config-"))
        .and_then(|(_, config_map)| {
            config_map["data"]["postgresql.conf"]
                .as_str()
                .map(str::to_owned)
        })
        .expect("the postgres-config ConfigMap");
    assert!(conf.contains("\nmax_connections = 262121\n"), "{conf}");
    let cluster = TempCluster::new();
    assert_eq!(
        postgres_c(&cluster, &conf, "max_connections").as_deref(),
        Ok("262121")
    );
    let one_more = conf.replace("max_connections = 262121", "max_connections = 262122");
    let error = postgres_c(&cluster, &one_more, "max_connections").unwrap_err();
    assert!(error.contains("max_connections"), "{error}");
}
