//! palgen's knowledge of PostgreSQL's limits, checked against two real
//! servers, Debian's `postgresql` (15) and PostgreSQL 18, the major of the
//! image the manifests name (see `pg/mod.rs` and `pg/pg18.rs`):
//!
//! - the table of parameter ranges palgen refuses profiles by equals the
//!   server's `pg_settings`, and covers every numeric parameter of every
//!   generated postgresql.conf;
//! - the shared memory palgen estimates for a profile is never below what
//!   `postgres -C shared_memory_size` computes for its postgresql.conf, and
//!   at most 3% + 16MB above it;
//! - a CPU limit of thousands of cores still gives worker counts the server
//!   accepts;
//! - the most connections palgen accepts for the image's major start that
//!   server, and one more is refused by both.

mod common;
mod pg;
#[path = "../src/model/pg_ranges.rs"]
mod pg_ranges;

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::{PROFILES, palgen, stderr, stdout};
use pg::{
    Daemon, Generated, PostgresInstall, TempCluster, conf_for_server, free_port, parse_conf,
    postgres_install, postgres18, run, unit_size,
};
use pg_ranges::{pg_range, pg_ranges};
use serde_json::Value;

/// The estimate may exceed the server's value by this share plus
/// [`SLACK_MB`], no more.
const SLACK_PERCENT: u64 = 3;
const SLACK_MB: u64 = 16;

#[test]
fn the_range_table_equals_pg_settings_of_debian_postgresql() {
    the_range_table_equals_pg_settings(postgres_install());
}

#[test]
fn the_range_table_equals_pg_settings_of_postgresql_18() {
    the_range_table_equals_pg_settings(postgres18());
}

fn the_range_table_equals_pg_settings(install: &'static PostgresInstall) {
    let generated = Generated::render();
    let mut cluster = TempCluster::with_install(install);
    cluster.start(&generated.base_server());
    let ranges = pg_ranges(install.major);
    let names: Vec<String> = ranges
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
    let from_table: BTreeMap<&str, (i64, i64, &str)> = ranges
        .iter()
        .map(|range| (range.name, (range.min, range.max, range.unit)))
        .collect();
    assert_eq!(
        from_table, from_server,
        "src/model/pg_ranges.rs differs from pg_settings of {}",
        install.version
    );
}

#[test]
fn every_numeric_parameter_written_is_in_the_table_and_within_the_range_of_debian_postgresql() {
    every_numeric_parameter_written_is_in_the_table_and_within_its_range(postgres_install());
}

#[test]
fn every_numeric_parameter_written_is_in_the_table_and_within_the_range_of_postgresql_18() {
    every_numeric_parameter_written_is_in_the_table_and_within_its_range(postgres18());
}

fn every_numeric_parameter_written_is_in_the_table_and_within_its_range(
    install: &'static PostgresInstall,
) {
    let generated = Generated::render();
    let mut confs = vec![("base".to_owned(), generated.base("postgresql.conf"))];
    for profile in PROFILES {
        confs.push((
            profile.to_owned(),
            generated.file(profile, "postgresql.conf"),
        ));
    }
    let mut cluster = TempCluster::with_install(install);
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
            let Some(range) = pg_range(&entry.name, install.major) else {
                wrong.push(format!(
                    "{profile}: {} is written but has no range in the table",
                    entry.name
                ));
                continue;
            };
            // In the parameter's unit, as pg_settings counts it.
            let value: f64 = setting.normalise(&entry.value).parse().unwrap();
            // Bytes, or microseconds for time, as normalise counts them.
            let unit = range
                .unit_bytes()
                .map(|bytes| bytes as f64)
                .or_else(|| unit_size(range.unit).map(|(_, micros)| micros))
                .unwrap_or(1.0);
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
        "extends: aws-small\nresources:\n  limits:\n    memory: 512Mi\npostgres:\n  shm_size: 64Mi\nconnections:\n  max_connections: 50\n",
    ),
    (
        "big-memory",
        "extends: aws-large\nresources:\n  limits:\n    memory: 64Gi\n    cpu: \"16\"\n",
    ),
];

/// Renders built-in and user profiles with the image `postgres:<major>`;
/// their postgresql.conf and the shared memory `palgen show` estimates for
/// each, in MB.
fn confs_and_estimates(profiles: &[&str], major: u32) -> Vec<(String, String, u64)> {
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
        .map(|base| {
            let profile = &format!("{base}-pg{major}");
            fs::write(
                profiles_dir.join(format!("{profile}.yaml")),
                format!("extends: {base}\nimage: postgres:{major}\n"),
            )
            .unwrap();
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
            (profile.clone(), conf, estimate)
        })
        .collect()
}

/// `postgres -C NAME` with a configuration file: what the server would run
/// with, or why it refuses the file.
fn postgres_c(cluster: &TempCluster, conf: &str, name: &str) -> Result<String, String> {
    let output = run(postgres_with(cluster, conf).args(["-C", name]));
    if output.status.success() {
        Ok(stdout(&output).trim().to_owned())
    } else {
        Err(stderr(&output))
    }
}

/// `postgres` on the cluster's data directory with `conf` as the server
/// would read it.
fn postgres_with(cluster: &TempCluster, conf: &str) -> Command {
    let sandbox = cluster.sandbox();
    let text = conf_for_server(conf, sandbox.install().major).text;
    let path: PathBuf = sandbox.write("postgresql.conf.probe", &text);
    let data: &Path = &sandbox.path().join("data");
    let mut command = sandbox.command(sandbox.program("postgres"));
    command
        .arg("-D")
        .arg(data)
        .arg("-c")
        .arg(format!("config_file={}", path.display()))
        // The file names the pod's certificate, which this machine has not;
        // TLS changes neither shared memory nor the values asked for.
        .args(["-c", "ssl=off"]);
    command
}

#[test]
fn shared_memory_estimate_covers_what_debian_postgresql_computes() {
    shared_memory_estimate_covers_what_postgres_computes(postgres_install());
}

#[test]
fn shared_memory_estimate_covers_what_postgresql_18_computes() {
    shared_memory_estimate_covers_what_postgres_computes(postgres18());
}

/// The built-in profiles name PostgreSQL 18; for another server, each
/// profile is rendered for that server's major, so that palgen estimates
/// what that server computes.
fn shared_memory_estimate_covers_what_postgres_computes(install: &'static PostgresInstall) {
    let mut profiles = vec!["dev-small", "aws-medium", "aws-large"];
    profiles.extend(STRETCHED.iter().map(|(name, _)| *name));
    let cluster = TempCluster::with_install(install);
    let mut report = Vec::new();
    let mut wrong = Vec::new();
    for (profile, conf, estimate) in confs_and_estimates(&profiles, install.major) {
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
    eprintln!("{}:\n{}", install.version, report.join("\n"));
    assert!(
        wrong.is_empty(),
        "{}:\n{}",
        install.version,
        wrong.join("\n")
    );
}

#[test]
fn thousands_of_cores_give_worker_counts_debian_postgresql_accepts() {
    thousands_of_cores_give_worker_counts_the_server_accepts(postgres_install());
}

#[test]
fn thousands_of_cores_give_worker_counts_postgresql_18_accepts() {
    thousands_of_cores_give_worker_counts_the_server_accepts(postgres18());
}

fn thousands_of_cores_give_worker_counts_the_server_accepts(install: &'static PostgresInstall) {
    let cluster = TempCluster::with_install(install);
    let (_, conf, _) = confs_and_estimates(&["many-cores"], install.major).remove(0);
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
fn palgen_and_postgresql_15_agree_on_the_most_server_processes() {
    // 262121 + 8 workers + 3 autovacuum workers + their launcher + 10 WAL
    // senders = MAX_BACKENDS (262143).
    palgen_and_the_server_agree_on_the_most_server_processes(postgres_install(), 262_121);
}

#[test]
fn palgen_and_postgresql_18_agree_on_the_most_server_processes() {
    // 262107 + 8 workers + 16 autovacuum worker slots + 10 WAL senders =
    // MAX_BACKENDS less the autovacuum launcher and the slot sync worker.
    palgen_and_the_server_agree_on_the_most_server_processes(postgres18(), 262_107);
}

/// The most connections palgen accepts with the default 8 workers for the
/// server's major: the server must start with that file, and refuse it with
/// one connection more, which palgen refuses too.
fn palgen_and_the_server_agree_on_the_most_server_processes(
    install: &'static PostgresInstall,
    most_connections: u32,
) {
    let major = install.major;
    let most = format!(
        "extends: aws-small\nimage: postgres:{major}\nresources:\n  limits:\n    memory: 2Ti\nconnections:\n  max_connections: {most_connections}\n"
    );
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("most.yaml"), &most).unwrap();
    fs::write(
        dir.path().join("one-more.yaml"),
        most.replace(
            &format!("max_connections: {most_connections}"),
            &format!("max_connections: {}", most_connections + 1),
        ),
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
        stderr(&refused).contains(&format!("max_connections at most {most_connections}")),
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
    let line = format!("\nmax_connections = {most_connections}\n");
    assert!(conf.contains(&line), "{conf}");
    let cluster = TempCluster::with_install(install);
    let started = start_until_shared_memory(&cluster, &conf);
    assert!(
        started.contains(SHARED_MEMORY_REFUSED),
        "{}: the server refused the most connections palgen accepts:\n{started}",
        install.version
    );
    let one_more = conf.replace(
        line.trim(),
        &format!("max_connections = {}", most_connections + 1),
    );
    let refusal = start_until_shared_memory(&cluster, &one_more);
    assert!(
        !refusal.contains(SHARED_MEMORY_REFUSED) && refusal.contains("max_connections"),
        "{}: the server did not refuse one connection more:\n{refusal}",
        install.version
    );
}

/// How PostgreSQL stops when it cannot allocate its shared memory.
const SHARED_MEMORY_REFUSED: &str = "could not map anonymous shared memory";

/// The log of a server started with `conf` and `huge_pages = on`. It checks
/// the whole configuration first (PostgreSQL 18 counts its server processes
/// only when it starts, not for `postgres -C`); on a machine without huge
/// pages reserved for it, it then stops where it would allocate its shared
/// memory, so the 13GB that 262,000 backend slots need are never taken.
fn start_until_shared_memory(cluster: &TempCluster, conf: &str) -> String {
    let mut server = Daemon::spawn(
        cluster.sandbox(),
        "postgres-start",
        postgres_with(cluster, conf)
            .args(["-c", "huge_pages=on", "-c", "listen_addresses="])
            .arg("-c")
            .arg(format!("unix_socket_directories={}", cluster.sockets()))
            .arg("-c")
            .arg(format!("port={}", free_port())),
    );
    let outcome = server.wait_ready(|| Err("still starting".to_owned()));
    let log = server.log();
    let exited = format!("{} exited", server.name());
    assert!(
        outcome.is_err_and(|why| why.starts_with(&exited)),
        "the server kept running: this machine has huge pages for its shared memory, so \
         this test cannot stop it before it allocates it:\n{log}"
    );
    log
}
